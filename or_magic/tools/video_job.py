"""One video job after it was submitted: its state, its registry row, polling, and how it ends.

``video_gen`` submits the job and follows it (``_follow``); this module holds what following
needs, so the entry module reads as the lifecycle and this one as its steps:

* ``VideoJob`` is what one call knows about the job; ``record_job`` / ``update_row`` keep its row
  in the SQLite job registry (the registry never fails the video: errors are logged), so
  ``get_video_status`` can resume it after a restart.
* ``poll_loop`` polls until a terminal status or the deadline: transient errors (5xx, 408, 429,
  rate limits, timeouts) are retried up to ``MAX_POLL_ERRORS`` in a row, a 404 is
  ``INVALID_INPUT`` (upstream does not know the id), anything else ends the call with the
  ``video_id`` to resume with.
* ``still_running`` (past ``max_wait_ms``: a success with ``code: JOB_STILL_RUNNING``),
  ``failure`` (failed / cancelled / expired: ``JOB_FAILED`` with upstream's reason) and
  ``completed`` (the downloaded video) are the three results.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .. import log
from ..errors import ErrorCode, ToolError
from ..result import ToolResult
from .base import ToolContext
from .common import add_usage_and_cost

if TYPE_CHECKING:  # pragma: no cover
    from .saving import Delivered

TERMINAL = ("completed", "failed", "cancelled", "expired")
MAX_POLL_ERRORS = 5


def normalise_status(raw: Any) -> str:
    s = str(raw or "").strip().lower().replace("-", "_").replace(" ", "_")
    if s == "canceled":
        return "cancelled"
    return s or "pending"


def _upstream_progress(view: dict[str, Any]) -> float | None:
    p = view.get("progress")
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        return None
    p = float(p)
    if p != p or p < 0:  # NaN, negative
        return None
    if 0 < p < 1 and isinstance(view.get("progress"), float):
        p *= 100.0  # a fraction
    return min(p, 100.0)


def _error_text(view: dict[str, Any]) -> str | None:
    err = view.get("error")
    if isinstance(err, str) and err.strip():
        return err.strip()
    if isinstance(err, dict):
        msg = err.get("message")
        if isinstance(msg, str) and msg.strip():
            return msg.strip()
    return None


def _poll_path(ctx: ToolContext, video_id: str, polling_url: str | None) -> str:
    if polling_url:
        full = ctx.client.resolve(polling_url)
        if ctx.client.same_origin(full):
            return full
    return f"/videos/{quote(video_id, safe='')}"


def _transient(err: ToolError) -> bool:
    if err.code in (ErrorCode.UPSTREAM_HTTP, ErrorCode.UPSTREAM_TIMEOUT):
        status = (err.details or {}).get("status")
        return status is None or status == 408 or status >= 500 or status == 429
    return (
        err.code == ErrorCode.UPSTREAM_REFUSED and (err.details or {}).get("reason") == "rate_limit"
    )


def resume_hint(video_id: str) -> str:
    return f'Resume with get_video_status {{"video_id": "{video_id}"}} (add "wait": true to keep polling)'


class VideoJob:
    """What one call knows about a video job while following it."""

    def __init__(
        self, video_id: str, model: str | None, polling_url: str | None, status: str
    ) -> None:
        self.id = video_id
        self.model = model
        self.polling_url = polling_url
        self.status = status
        self.raw_status = status
        self.progress: float | None = None
        self.polls = 0
        self.view: dict[str, Any] = {}
        # Set for ids the registry does not know: recorded once upstream confirms the job exists.
        self.register: Callable[[], None] | None = None


# ---- the registry row ---------------------------------------------------------------------------


def update_row(ctx: ToolContext, job_id: str, **fields: Any) -> None:
    try:
        ctx.jobs.update(job_id, **fields)
    except (sqlite3.Error, OSError) as exc:  # the registry must never fail the video
        log.warn("video.job_row_failed", video_id=job_id, error=type(exc).__name__)


def record_job(
    ctx: ToolContext,
    job: VideoJob,
    *,
    tool: str,
    prompt: str | None,
    save: Path | None,
    params: dict[str, Any],
) -> None:
    from ..jobs import backend_label

    try:
        ctx.jobs.create(
            id=job.id,
            kind="video",
            tool=tool,
            backend=backend_label(ctx.settings),
            status=job.status,
            model=job.model,
            prompt=prompt,
            save_path=str(save) if save is not None else None,
            polling_url=job.polling_url,
            params=params,
        )
    except sqlite3.IntegrityError:
        update_row(ctx, job.id, status=job.status, polling_url=job.polling_url)
    except (sqlite3.Error, OSError) as exc:
        log.warn("video.job_row_failed", video_id=job.id, error=type(exc).__name__)


# ---- polling ------------------------------------------------------------------------------------


async def _poll_once(ctx: ToolContext, job: VideoJob) -> dict[str, Any]:
    resp = await ctx.client.request_json(
        "GET",
        _poll_path(ctx, job.id, job.polling_url),
        context="get_video_status.poll",
        timeout_s=30.0,
        retries=0,
    )
    if not isinstance(resp.data, dict):
        raise ToolError(
            ErrorCode.UPSTREAM_HTTP,
            "get_video_status.poll: unexpected response shape",
            details={"reason": "shape"},
        )
    return resp.data


async def report(ctx: ToolContext, job: VideoJob, phase: str | None = None) -> None:
    """A progress event for the job: its status (or ``phase``, e.g. downloading) and percentage."""
    status = phase or job.status
    msg = f"video {job.id} — {status}"
    if job.progress is not None and phase is None:
        msg += f" ({job.progress:g}%)"
    await ctx.progress(
        progress=job.progress if phase is None else None,
        total=100.0 if job.progress is not None else None,
        message=msg,
        status=status,
    )


async def poll_loop(
    ctx: ToolContext, job: VideoJob, *, deadline: float, interval_s: float, poll_now: bool
) -> bool:
    """Poll until a terminal status (True) or the deadline (False)."""
    errors = 0
    first = True
    while True:
        if not (first and poll_now):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(interval_s, remaining))
        first = False
        try:
            view = await _poll_once(ctx, job)
        except ToolError as err:
            status = (err.details or {}).get("status")
            if status == 404:
                raise ToolError(
                    ErrorCode.INVALID_INPUT,
                    f"Upstream does not know video job {job.id} (HTTP 404)",
                    details={"video_id": job.id, "status": 404},
                    suggestions=[
                        "Check the video_id (get_video_status without video_id lists known jobs)",
                        "Jobs belong to the API key and backend that started them",
                    ],
                ) from None
            errors += 1
            if not _transient(err) or errors >= MAX_POLL_ERRORS or time.monotonic() >= deadline:
                err.details = {**(err.details or {}), "video_id": job.id}
                err.suggestions = [*err.suggestions, resume_hint(job.id)]
                raise
            log.warn("video.poll_error", video_id=job.id, code=err.code.value, attempt=errors)
            continue
        errors = 0
        job.polls += 1
        if job.register is not None:
            job.register()
            job.register = None
        job.view = view
        job.raw_status = str(view.get("status") or "")
        job.status = normalise_status(view.get("status"))
        job.progress = _upstream_progress(view)
        update_row(
            ctx,
            job.id,
            status=job.status if job.status != "completed" else "in_progress",
            upstream_status=job.raw_status or None,
            progress=job.progress,
        )
        await report(ctx, job)
        if job.status in TERMINAL:
            return True
        if time.monotonic() >= deadline:
            return False


# ---- outcomes -----------------------------------------------------------------------------------


def still_running(ctx: ToolContext, job: VideoJob, *, tool: str, waited_ms: int) -> ToolResult:
    """Past ``max_wait_ms``: a success carrying ``JOB_STILL_RUNNING`` and the id to resume with."""
    polling_url = ctx.client.resolve(job.polling_url or f"/videos/{quote(job.id, safe='')}")
    meta: dict[str, Any] = {
        "code": ErrorCode.JOB_STILL_RUNNING.value,
        "video_id": job.id,
        "polling_url": polling_url,
        "last_status": job.status,
        "polls": job.polls,
        "elapsed_ms": waited_ms,
    }
    if job.progress is not None:
        meta["progress"] = job.progress
    if job.model:
        meta["model"] = job.model
    if tool == "get_video_status":
        text = f"Video {job.id} status: {job.status}"
        if job.progress is not None:
            text += f" (progress={job.progress:g})"
        text += f". {resume_hint(job.id)}."
    else:
        text = (
            f"Video still generating after {waited_ms}ms. Use get_video_status with "
            f"video_id={job.id} to resume."
        )
    return ToolResult(
        tool=tool,
        text=text,
        code=ErrorCode.JOB_STILL_RUNNING.value,
        data={"video_id": job.id, "status": job.status, "polling_url": polling_url},
        meta=meta,
    )


def failure(ctx: ToolContext, job: VideoJob) -> ToolError:
    """``JOB_FAILED`` for a job upstream failed, cancelled or expired, with upstream's reason."""
    reason = _error_text(job.view)
    if job.status == "failed":
        message = reason or "Upstream marked the job failed."
        suggestions = [
            "Rephrase the prompt (content policy failures are common)",
            "Try another model",
        ]
    elif job.status == "cancelled":
        message = f"Video job {job.id} was cancelled upstream" + (f": {reason}" if reason else ".")
        suggestions = ["Start the generation again"]
    else:
        message = f"Video job {job.id} expired before it was downloaded" + (
            f": {reason}" if reason else "."
        )
        suggestions = ["Generate it again; finished videos are kept upstream only for a while"]
    err = {"code": ErrorCode.JOB_FAILED.value, "message": message, "status": job.status}
    update_row(ctx, job.id, status=job.status, error=err)
    return ToolError(
        ErrorCode.JOB_FAILED,
        message,
        details={"video_id": job.id, "status": job.status, "upstream_error": reason},
        suggestions=suggestions,
    )


def completed(
    ctx: ToolContext, job: VideoJob, *, tool: str, delivered: Delivered, ctype: str, elapsed_ms: int
) -> ToolResult:
    """The downloaded video's result (what upstream reported about the job in ``meta``); the
    registry row becomes ``completed`` with the file, so a later status call answers from disk."""
    item = delivered.item
    usage = job.view.get("usage") if isinstance(job.view.get("usage"), dict) else None
    meta: dict[str, Any] = {
        "video_id": job.id,
        "status": "completed",
        "mime": item.mime,
        "size_bytes": item.size_bytes,
        "polls": job.polls,
        "elapsed_ms": elapsed_ms,
    }
    if job.model:
        meta["model"] = job.model
    meta.update(delivered.meta)
    add_usage_and_cost(meta, usage)
    urls = job.view.get("unsigned_urls")
    if isinstance(urls, list) and urls:
        meta["unsigned_urls"] = urls
    if job.view.get("generation_id"):
        meta["generation_id"] = job.view["generation_id"]
    if ctype and ctype != item.mime:
        meta["content_type"] = ctype
    update_row(
        ctx,
        job.id,
        status="completed",
        upstream_status=job.raw_status or "completed",
        cost=meta.get("cost_usd"),
        error=None,
        result={
            "path": item.path,
            "mime": item.mime,
            "size_bytes": item.size_bytes,
            "generation_id": meta.get("generation_id"),
        },
    )
    return ToolResult(
        tool=tool,
        text=delivered.text,
        data={"video_id": job.id, "status": "completed", "save_path": item.path},
        media=[item],
        meta=meta,
    )
