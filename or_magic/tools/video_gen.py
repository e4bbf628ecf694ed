"""generate_video, generate_video_from_image and get_video_status over the async ``/videos`` API.

Lifecycle: arguments → ``save_path`` (``UNSAFE_PATH``) → frame/reference images (sandbox, SSRF,
format) → capabilities from ``GET /videos/models`` (cached) → submit (202) → a job row in the SQLite
registry → poll every ``poll_interval_ms`` until a terminal status or ``max_wait_ms`` → download with
the API key, streamed straight to a temp file next to the destination (capped at
``OPENROUTER_VIDEO_GEN_MAX_BYTES``), renamed into place only when complete.

* Statuses ``pending``, ``in_progress``, ``completed``, ``failed``, ``cancelled`` (also
  ``canceled``), ``expired``, compared case-insensitively; anything else counts as still running.
* Past ``max_wait_ms`` the result is a *success* with ``code: JOB_STILL_RUNNING`` and the
  ``video_id`` to resume with (``get_video_status``), which also works after a restart: the registry
  remembers the model, prompt, polling URL and requested ``save_path``.
* Progress goes through ``ctx.progress`` (strictly increasing, total 100 when upstream reports a
  percentage), with the status and elapsed time.
* Cancelling the caller stops polling or downloading at once, removes the temp file and leaves the
  job resumable.

This module is the whole lifecycle: the input models, the request (``_generate``), following the
job to its end (``_follow``), ``get_video_status`` and the registration. Its steps live in siblings:
``video_catalog`` (the capabilities and the pre-submit check), ``video_job`` (the job's state and
registry row, polling, the still-running / failed / completed results) and ``video_download``
(streaming the finished file).
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from .. import log
from ..errors import ErrorCode, ToolError
from ..result import ToolResult
from .base import (
    ToolContext,
    ToolSpec,
    describe,
    generator_annotations,
    idempotent_write_annotations,
)
from .common import NonBlank, OptionalText, StrictModel, clean_model, merge_provider
from .saving import file_item, resolve_save
from .video_download import download
from .video_job import (
    VideoJob,
    completed,
    failure,
    normalise_status,
    poll_loop,
    record_job,
    report,
    resume_hint,
    still_running,
    update_row,
)

MAX_REFERENCES = 50
VIDEO_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$")

_SAVE_DESC = (
    "Write the video to this file under OPENROUTER_OUTPUT_DIR (created if missing; traversal, "
    "absolute paths outside it and symlinks are refused with UNSAFE_PATH before anything is paid "
    "for). The download streams to a temp file and is renamed into place only when complete; the "
    "extension is corrected to the detected container. Without save_path the video is inline up to "
    "OPENROUTER_VIDEO_INLINE_MAX_BYTES (10 MiB), else saved under "
    "OPENROUTER_OUTPUT_DIR/or_magic-output/ and the path returned."
)


def _nonblank(v: str | None, name: str) -> str | None:
    if v is not None and not v.strip():
        raise ValueError(f"{name} must not be blank")
    return v.strip() if v is not None else None


class _VideoOptions(StrictModel):
    model: OptionalText = Field(
        None,
        description="Video model (default OPENROUTER_DEFAULT_VIDEO_GEN_MODEL, google/veo-3.1); "
        "see GET /videos/models for what each supports",
    )
    resolution: OptionalText = Field(
        None, description="e.g. 480p, 720p, 1080p, 1K, 2K, 4K (must be supported by the model)"
    )
    aspect_ratio: OptionalText = Field(None, description="e.g. 16:9, 9:16, 1:1 (model-dependent)")
    size: OptionalText = Field(None, description="WIDTHxHEIGHT, e.g. 1280x720 (model-dependent)")
    duration: int | None = Field(
        None, ge=1, description="Seconds; must be one of the model's supported durations"
    )
    seed: int | None = None
    generate_audio: bool | None = Field(
        None, description="Generate an audio track (models that support it)"
    )
    provider: dict[str, Any] | None = Field(
        None,
        description='Provider passthrough options only: {"options": {"<provider-slug>": {…}}}. '
        "The /videos API has no routing keys (order, only, …): they are refused with INVALID_INPUT",
    )
    save_path: str | None = Field(None, description=_SAVE_DESC)
    max_wait_ms: int | None = Field(
        None,
        ge=100,
        description="How long to wait before returning JOB_STILL_RUNNING (default "
        "OPENROUTER_VIDEO_MAX_WAIT_MS, 600000)",
    )
    poll_interval_ms: int | None = Field(
        None,
        ge=50,
        description="Poll interval (default OPENROUTER_VIDEO_POLL_INTERVAL_MS, 15000)",
    )


class GenerateVideoInput(_VideoOptions):
    prompt: NonBlank = Field(..., description="What should happen in the video")
    first_frame_image: str | None = Field(
        None, description="Image the video starts from (path, http(s) URL or data URL)"
    )
    last_frame_image: str | None = Field(None, description="Image the video ends on")
    reference_images: list[str] | None = Field(
        None,
        max_length=MAX_REFERENCES,
        description="Reference images for subjects/style (models that support input_references)",
    )

    @field_validator("first_frame_image", "last_frame_image")
    @classmethod
    def _frames(cls, v: str | None, info: Any) -> str | None:
        return _nonblank(v, info.field_name)

    @field_validator("reference_images")
    @classmethod
    def _refs(cls, v: list[str] | None) -> list[str] | None:
        for i, r in enumerate(v or []):
            if not r.strip():
                raise ValueError(f"entry {i} is empty")
        return v


class GenerateVideoFromImageInput(_VideoOptions):
    image: str = Field(
        ..., description="The first frame: local path (input sandbox), http(s) URL or data URL"
    )
    prompt: NonBlank = Field(..., description="What should happen, starting from the image")
    last_frame_image: str | None = Field(None, description="Optional image to end on")

    @field_validator("image")
    @classmethod
    def _image(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("image is required (non-blank)")
        return v.strip()

    @field_validator("last_frame_image")
    @classmethod
    def _last(cls, v: str | None) -> str | None:
        return _nonblank(v, "last_frame_image")


class VideoStatusInput(StrictModel):
    video_id: str | None = Field(
        None,
        description="The video_id from generate_video (omit to list recent video jobs, "
        "including ones from before a restart)",
    )
    save_path: str | None = Field(
        None,
        description="Where to save the video when it is ready (default: the save_path given "
        "when the job was started). " + _SAVE_DESC,
    )
    wait: bool = Field(
        False, description="Keep polling until the job finishes or max_wait_ms passes"
    )
    max_wait_ms: int | None = Field(None, ge=100, description="With wait: the longest wait")
    poll_interval_ms: int | None = Field(None, ge=50, description="With wait: the poll interval")
    limit: int = Field(20, ge=1, le=200, description="How many jobs to list without video_id")

    @field_validator("video_id")
    @classmethod
    def _id(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = v.strip()
        if not VIDEO_ID_RE.match(v) or ".." in v:
            raise ValueError(
                "video_id must be the id generate_video returned (letters, digits, . _ : -)"
            )
        return v


# ---- following a submitted job ----------------------------------------------------------------


async def _follow(
    ctx: ToolContext,
    job: VideoJob,
    *,
    tool: str,
    save: Path | None,
    max_wait_ms: int,
    interval_ms: int,
    poll_now: bool,
) -> ToolResult:
    """Poll until done or ``max_wait_ms``, then download: every way a job ends, as one result.

    Still running is a success (``JOB_STILL_RUNNING``); failed / cancelled / expired is
    ``JOB_FAILED``; any other error carries the ``video_id`` and a resume hint, and the job stays
    resumable, as it does when the caller cancels.
    """
    started = time.monotonic()
    deadline = started + max_wait_ms / 1000.0
    try:
        done = await poll_loop(
            ctx, job, deadline=deadline, interval_s=interval_ms / 1000.0, poll_now=poll_now
        )
        if not done:
            waited = round((time.monotonic() - started) * 1000)
            return still_running(ctx, job, tool=tool, waited_ms=waited)
        if job.status != "completed":
            raise failure(ctx, job)
        delivered, ctype = await download(ctx, job, tool=tool, save=save)
    except asyncio.CancelledError:
        # The caller stopped (Ctrl-C, MCP cancel, Stop): the job stays resumable upstream.
        update_row(ctx, job.id, status="in_progress", upstream_status=job.raw_status or None)
        log.info("video.cancelled_by_caller", video_id=job.id, last_status=job.status)
        raise
    except ToolError as err:
        if err.code != ErrorCode.JOB_FAILED and (err.details or {}).get("status") != 404:
            update_row(
                ctx,
                job.id,
                status="in_progress",
                error={"code": err.code.value, "message": err.message},
            )
            err.details = {**(err.details or {}), "video_id": job.id}
            hint = resume_hint(job.id)
            if hint not in err.suggestions:
                err.suggestions = [*err.suggestions, hint]
        raise
    elapsed = round((time.monotonic() - started) * 1000)
    result = completed(ctx, job, tool=tool, delivered=delivered, ctype=ctype, elapsed_ms=elapsed)
    await ctx.media(delivered.item)
    return result


# ---- generate_video -----------------------------------------------------------------------------


async def _check_capabilities(
    ctx: ToolContext, model: str, args: _VideoOptions, frames: list[str]
) -> dict[str, Any]:
    """Raise INVALID_INPUT / MODEL_NOT_FOUND before any money is spent. Returns notes for meta."""
    from . import video_catalog

    try:
        models = await video_catalog.video_models(ctx)
    except ToolError as err:
        if err.code == ErrorCode.INVALID_CREDENTIALS:
            raise
        log.warn("video.capabilities_unavailable", code=err.code.value)
        return {"capability_check": f"skipped ({err.code.value}: {err.message[:120]})"}
    if not models:
        return {"capability_check": "skipped (empty /videos/models)"}
    spec = video_catalog.find(models, model)
    if spec is None:
        known = sorted({m["id"] for m in models.values()})
        raise ToolError(
            ErrorCode.MODEL_NOT_FOUND,
            f"{model} is not a video generation model; video models: {', '.join(known)}",
            details={"model": model, "video_models": known},
            suggestions=[
                "Pick one of the listed video models",
                "search_models with output modality video",
            ],
        )
    problems = video_catalog.check(
        spec,
        duration=args.duration,
        resolution=args.resolution,
        aspect_ratio=args.aspect_ratio,
        size=args.size,
        frames=frames,
        generate_audio=args.generate_audio,
    )
    if problems:
        raise ToolError(
            ErrorCode.INVALID_INPUT,
            "; ".join(problems),
            details={"problems": problems, "capabilities": video_catalog.summary(spec)},
            suggestions=["Use one of the allowed values listed", "Or pick another video model"],
        )
    notes: dict[str, Any] = {"capability_check": "passed"}
    if args.seed is not None and spec.get("seed") is False:
        notes["seed_note"] = f"{spec.get('id')} ignores seed"
    # The catalogue's own spelling (``Google/Veo-3.1`` → ``google/veo-3.1``, ``1080P`` → ``1080p``).
    canon: dict[str, Any] = {}
    if isinstance(spec.get("id"), str) and spec["id"].lower() == model.lower():
        canon["model"] = spec["id"]
    for name, key in (
        ("resolution", "supported_resolutions"),
        ("aspect_ratio", "supported_aspect_ratios"),
        ("size", "supported_sizes"),
    ):
        value = getattr(args, name)
        for allowed in spec.get(key) or []:
            if value is not None and str(allowed).lower() == str(value).lower():
                canon[name] = allowed
    notes["_canonical"] = canon
    return notes


OFFLINE_POLL_INTERVAL_MS = 250


def _wait_settings(args: Any, ctx: ToolContext) -> tuple[int, int]:
    s = ctx.settings
    max_wait = args.max_wait_ms if args.max_wait_ms is not None else s.video_max_wait_ms
    interval = (
        args.poll_interval_ms if args.poll_interval_ms is not None else s.video_poll_interval_ms
    )
    if ctx.offline and args.poll_interval_ms is None and "video_poll_interval_ms" not in s.explicit:
        interval = OFFLINE_POLL_INTERVAL_MS  # the double finishes at once: don't wait 15 s offline
    return max(100, int(max_wait)), max(50, int(interval))


async def _generate(
    ctx: ToolContext,
    args: _VideoOptions,
    *,
    tool: str,
    prompt: str,
    first_frame: str | None,
    last_frame: str | None,
    references: list[str] | None,
) -> ToolResult:
    from .image_gen import load_image, reference_urls

    s = ctx.settings
    save = resolve_save(args.save_path, s)
    frame_images: list[dict[str, Any]] = []
    for ftype, src in (("first_frame", first_frame), ("last_frame", last_frame)):
        if src:
            label = (
                "image"
                if (tool == "generate_video_from_image" and ftype == "first_frame")
                else f"{ftype}_image"
            )
            blob = await load_image(src, s, label)
            try:
                url = blob.data_url(limit=None)
            finally:
                blob.close()
            frame_images.append(
                {"type": "image_url", "image_url": {"url": url}, "frame_type": ftype}
            )
    refs = await reference_urls(references, s, "reference_images")
    model = clean_model(args.model) or s.default_video_gen_model
    notes = await _check_capabilities(ctx, model, args, [f["frame_type"] for f in frame_images])
    canon = notes.pop("_canonical", {})
    model = canon.get("model", model)
    body: dict[str, Any] = {"model": model, "prompt": prompt.strip()}
    for key in ("resolution", "aspect_ratio", "size", "duration", "seed", "generate_audio"):
        v = canon.get(key, getattr(args, key))
        if v is not None:
            body[key] = v
    provider = merge_provider(args.provider, s, endpoint="video")
    if provider:
        body["provider"] = provider
    if frame_images:
        body["frame_images"] = frame_images
    if refs:
        body["input_references"] = [{"type": "image_url", "image_url": {"url": u}} for u in refs]
    max_wait, interval = _wait_settings(args, ctx)
    log.audit(
        f"{tool}.submit",
        model=model,
        prompt_preview=log.preview(prompt, 80),
        duration=args.duration,
        resolution=args.resolution,
        aspect_ratio=args.aspect_ratio,
        frames=[f["frame_type"] for f in frame_images],
        references=len(refs),
        save=save is not None,
    )
    resp = await ctx.client.request_json(
        "POST",
        "/videos",
        json=body,
        context="generate_video.submit",
        timeout_s=60.0,
        idempotent=False,  # a retried 5xx could start (and bill) a second video
    )
    env = resp.data if isinstance(resp.data, dict) else {}
    video_id = env.get("id")
    if not isinstance(video_id, str) or not video_id:
        raise ToolError(
            ErrorCode.UPSTREAM_HTTP,
            "generate_video.submit: the API accepted the job but returned no id",
            details={"reason": "no_job_id", "status": resp.status, "keys": sorted(env)[:20]},
            suggestions=["Retry later; check your OpenRouter activity page for the job"],
        )
    polling_url = env.get("polling_url") if isinstance(env.get("polling_url"), str) else None
    job = VideoJob(video_id, model, polling_url, normalise_status(env.get("status")))
    job.view = env
    record_job(
        ctx,
        job,
        tool=tool,
        prompt=prompt,
        save=save,
        params={
            k: v
            for k, v in body.items()
            if k not in ("prompt", "frame_images", "input_references", "provider")
        }
        | {"frames": [f["frame_type"] for f in frame_images], "references": len(refs)},
    )
    await report(ctx, job)
    result = await _follow(
        ctx, job, tool=tool, save=save, max_wait_ms=max_wait, interval_ms=interval, poll_now=False
    )
    result.meta.update(notes)
    return result


async def generate_video(args: GenerateVideoInput, ctx: ToolContext) -> ToolResult:
    return await _generate(
        ctx,
        args,
        tool="generate_video",
        prompt=args.prompt,
        first_frame=args.first_frame_image,
        last_frame=args.last_frame_image,
        references=args.reference_images,
    )


async def generate_video_from_image(
    args: GenerateVideoFromImageInput, ctx: ToolContext
) -> ToolResult:
    return await _generate(
        ctx,
        args,
        tool="generate_video_from_image",
        prompt=args.prompt,
        first_frame=args.image,
        last_frame=args.last_frame_image,
        references=None,
    )


# ---- get_video_status ---------------------------------------------------------------------------


def _list_jobs(args: VideoStatusInput, ctx: ToolContext) -> ToolResult:
    from ..jobs import backend_label

    try:
        jobs = ctx.jobs.list(kind="video", backend=backend_label(ctx.settings), limit=args.limit)
    except (sqlite3.Error, OSError) as exc:
        raise ToolError(
            ErrorCode.INTERNAL,
            f"The job registry in {ctx.settings.state_root} cannot be read ({type(exc).__name__})",
            details={"state_dir": str(ctx.settings.state_root)},
            suggestions=["Set OR_MAGIC_STATE_DIR to a writable directory"],
        ) from None
    rows = []
    lines = []
    for j in jobs:
        path = (j.result or {}).get("path") if j.result else None
        rows.append(
            {
                "video_id": j.id,
                "status": j.status,
                "upstream_status": j.upstream_status,
                "model": j.model,
                "prompt": log.preview(j.prompt, 80),
                "save_path": path or j.save_path,
                "created_at": j.created_at,
                "updated_at": j.updated_at,
                "cost_usd": j.cost,
                "tool": j.tool,
            }
        )
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(j.created_at))
        lines.append(
            f"{j.id}  {j.status:<11}  {j.model or '?'}  {when}  {log.preview(j.prompt, 40) or ''}"
            + (f"  → {path or j.save_path}" if (path or j.save_path) else "")
        )
    text = (
        f"{len(rows)} video job(s):\n" + "\n".join(lines) if rows else "No video jobs recorded yet."
    )
    return ToolResult(
        tool="get_video_status", text=text, data={"jobs": rows}, meta={"count": len(rows)}
    )


async def get_video_status(args: VideoStatusInput, ctx: ToolContext) -> ToolResult:
    s = ctx.settings
    save = resolve_save(args.save_path, s)  # UNSAFE_PATH before anything else
    if args.video_id is None:
        return _list_jobs(args, ctx)
    video_id = args.video_id
    try:
        row = ctx.jobs.get(video_id)
    except (sqlite3.Error, OSError) as exc:
        log.warn("video.registry_unavailable", error=type(exc).__name__)
        row = None
    if row is not None and row.kind != "video":
        raise ToolError(
            ErrorCode.INVALID_INPUT,
            f"{video_id} is a {row.kind} job, not a video",
            details={"video_id": video_id, "kind": row.kind},
            suggestions=["Use get_chat_completion_status for chat jobs"],
        )
    if save is None and row is not None and row.save_path:
        try:
            save = resolve_save(row.save_path, s)
        except ToolError as err:
            err.suggestions = [
                "The save_path recorded when the job started is no longer allowed; pass save_path",
                *err.suggestions,
            ]
            raise
    # Already downloaded to a file that is still there: answer from disk, nothing to pay or fetch.
    done_path = (row.result or {}).get("path") if row is not None and row.result else None
    if (
        row is not None
        and row.status == "completed"
        and done_path
        and Path(done_path).is_file()
        and (args.save_path is None or (save is not None and str(save) == done_path))
    ):
        mime = (row.result or {}).get("mime") or "video/mp4"
        item = file_item(done_path, kind="video", mime=mime, settings=s)
        meta = {
            "video_id": video_id,
            "status": "completed",
            "mime": mime,
            "size_bytes": item.size_bytes,
            "save_path": done_path,
            "from_registry": True,
        }
        if row.model:
            meta["model"] = row.model
        if row.cost is not None:
            meta["job_cost_usd"] = row.cost  # already counted when it was downloaded
        return ToolResult(
            tool="get_video_status",
            text=f"Video {video_id} is complete and saved at: {done_path}",
            data={"video_id": video_id, "status": "completed", "save_path": done_path},
            media=[item],
            meta=meta,
        )
    job = VideoJob(
        video_id,
        row.model if row is not None else None,
        row.polling_url if row is not None else None,
        row.status if row is not None else "pending",
    )
    if row is None:
        job.register = lambda: record_job(
            ctx, job, tool="get_video_status", prompt=None, save=save, params={}
        )
    elif args.save_path is not None:
        update_row(ctx, video_id, save_path=str(save))
    if args.wait:
        max_wait, interval = _wait_settings(args, ctx)
    else:
        max_wait, interval = 0, 50
    return await _follow(
        ctx,
        job,
        tool="get_video_status",
        save=save,
        max_wait_ms=max_wait,
        interval_ms=interval,
        poll_now=True,
    )


# ---- registration -------------------------------------------------------------------------------

_FAILS = (
    "INVALID_INPUT for bad arguments or a duration/resolution/aspect_ratio/size/frame the model "
    "does not support (the allowed values are listed, checked against GET /videos/models before "
    "anything is paid for); UNSAFE_PATH for a save_path outside OPENROUTER_OUTPUT_DIR (before any "
    "spend); MODEL_NOT_FOUND; JOB_FAILED when upstream fails, cancels or expires the job (with its "
    "reason); RESOURCE_TOO_LARGE over OPENROUTER_VIDEO_GEN_MAX_BYTES; UPSTREAM_HTTP / "
    "UPSTREAM_TIMEOUT. Not an error: past max_wait_ms the result carries code JOB_STILL_RUNNING and "
    "the video_id to resume with get_video_status."
)

TOOLS = [
    ToolSpec(
        name="generate_video",
        title="Generate a video",
        description=describe(
            "Generate a video from a text prompt (optionally first/last frame images or reference "
            "images) with OpenRouter's async video API: submit, poll with live progress, download "
            "to a file. Long jobs return JOB_STILL_RUNNING with a video_id to resume.",
            use_when="you want a short video clip from a description (text-to-video), or one that "
            "starts/ends on given frames.",
            not_when="you want a still image (generate_image) or to understand an existing video "
            "(analyze_video); for one start image, generate_video_from_image is simpler.",
            good=[
                '{"prompt": "A sunflower swaying in a breeze", "duration": 4, "resolution": "720p", "save_path": "flower.mp4"}',
                '{"prompt": "Drone shot over a coastline", "model": "bytedance/seedance-2.0-fast", "aspect_ratio": "16:9"}',
            ],
            bad=[
                '{"prompt": "x", "model": "google/veo-3.1", "duration": 5} (veo-3.1 allows 4, 6, 8)',
                '{"prompt": "x", "max_wait_ms": 10} (minimum 100)',
            ],
            fails=_FAILS,
            works_with="get_video_status (resume after JOB_STILL_RUNNING, also after a restart; "
            "list jobs); generate_image to make a first frame; analyze_video to check the result.",
        ),
        input_model=GenerateVideoInput,
        handler=generate_video,
        annotations=generator_annotations("Generate a video"),
    ),
    ToolSpec(
        name="generate_video_from_image",
        title="Animate an image into a video",
        description=describe(
            "Generate a video that starts from an image (image-to-video); the image becomes the "
            "first frame. Same lifecycle as generate_video, including JOB_STILL_RUNNING with a "
            "video_id to resume.",
            use_when="you have a picture (file, URL, data URL, notebook object) to bring to life.",
            not_when="you have no image (generate_video), or the model does not accept frame "
            "images (the error lists the models' allowed frames).",
            good=[
                '{"image": "cat.png", "prompt": "The cat slowly turns its head and blinks", "duration": 4}',
            ],
            bad=[
                '{"image": "   ", "prompt": "x"} (blank image)',
                '{"prompt": "x"} (image missing)',
            ],
            fails=_FAILS + " UNSAFE_PATH / UNSUPPORTED_FORMAT / RESOURCE_TOO_LARGE for the image.",
            works_with="generate_image (make the start frame); get_video_status.",
        ),
        input_model=GenerateVideoFromImageInput,
        handler=generate_video_from_image,
        annotations=generator_annotations("Animate an image"),
    ),
    ToolSpec(
        name="get_video_status",
        title="Video job status / resume",
        description=describe(
            "Check a video job and, when it is complete, download it (to save_path, or the path "
            "given when it started). Without video_id, lists recent video jobs, including ones "
            "started before a kernel or server restart. A job still running returns "
            "JOB_STILL_RUNNING (a success) with its status and progress.",
            use_when="generate_video returned JOB_STILL_RUNNING, or you want to resume/list jobs "
            "after a restart; wait=true keeps polling up to max_wait_ms.",
            not_when="you have not started a video yet (generate_video).",
            good=[
                '{"video_id": "job_abc123"}',
                '{"video_id": "job_abc123", "save_path": "clip.mp4", "wait": true}',
                "{} (list recent video jobs)",
            ],
            bad=['{"video_id": "../../etc/passwd"}'],
            fails="INVALID_INPUT for a malformed or unknown video_id; UNSAFE_PATH for save_path; "
            "JOB_FAILED when the job failed, was cancelled or expired; RESOURCE_TOO_LARGE; "
            "UPSTREAM_HTTP / UPSTREAM_TIMEOUT. JOB_STILL_RUNNING (success) while it runs.",
            works_with="generate_video, generate_video_from_image.",
        ),
        input_model=VideoStatusInput,
        handler=get_video_status,
        # not read-only: it writes the video file when the job is complete
        annotations=idempotent_write_annotations("Video job status"),
    ),
]
