"""``%openrouter jobs`` / ``wait`` / ``cancel`` / ``status VIDEO_ID`` / ``batches``: background
jobs of this kernel (``magics/_jobs.py``), the SQLite job registry (``or_magic/jobs.py``) and
OpenRouter Batch API jobs (``magics/_batches.py``)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from .. import _parsing as P
from .. import _run
from .._bundles import table_bundle
from .._common import drop_none

if TYPE_CHECKING:  # pragma: no cover
    from .._core import OpenRouterMagics
    from .._jobs import BackgroundJob


def jobs(m: OpenRouterMagics, words: list[str]) -> Any:
    """This kernel's jobs, each once; ``--all`` adds every job in the registry."""
    import os

    from .._joblist import job_rows
    from .._jobs import JOBS

    if words not in ([], ["--all"]):
        raise UsageError("usage: %openrouter jobs [--all]")
    store: list[Any] = []
    try:
        from ...jobs import get_job_store

        store = get_job_store(m._settings()).list(limit=30)
    except Exception as exc:  # the registry is optional for this listing
        print(f"(job registry unavailable: {exc})", file=sys.stderr)
    rows = job_rows(JOBS.values(), store, pid=os.getpid(), include_all=words == ["--all"])
    header = ("id", "tool", "status", "age/started", "prompt", "where")
    empty = (
        "No jobs." if words else "No jobs in this kernel (%openrouter jobs --all for every job)."
    )
    _run.show_bundles([table_bundle(header, rows, empty=empty)], rich=m._rich())


def find_job(job_id: str | None) -> BackgroundJob:
    """A background job of this kernel: by id, else the last running one, else the last one."""
    from .._jobs import JOBS

    if job_id is None:
        running = [j for j in JOBS.values() if not j.done()]
        pool = running or list(JOBS.values())
        if not pool:
            raise UsageError("No background jobs in this kernel (see %openrouter jobs)")
        return pool[-1]
    job = JOBS.get(job_id)
    if job is None:
        raise UsageError(
            f"No background job {job_id!r} in this kernel; for a video job started "
            f"before a restart use %openrouter status {job_id}"
        )
    return job


def wait(m: OpenRouterMagics, words: list[str]) -> Any:
    from .._batches import is_batch_id, line_wait

    opts = P.parse(P.wait_parser(), words)
    if is_batch_id(opts.job_id):
        return line_wait(m, opts.job_id, out=opts.out, timeout=opts.timeout)
    job = find_job(opts.job_id)
    result = job.wait(timeout=opts.timeout)
    m._store(opts.out, result)
    if hasattr(result, "bundles"):
        _run.show_bundles(result.bundles(), rich=m._rich())
    return None


def batches(m: OpenRouterMagics, words: list[str]) -> Any:
    from .._batches import line_batches

    return line_batches(m, words)


def cancel(m: OpenRouterMagics, words: list[str]) -> Any:
    from .._batches import is_batch_id, line_cancel

    if words and is_batch_id(words[0]):
        return line_cancel(words[0])
    job = find_job(words[0] if words else None)
    print(f"Cancelling {job.id}." if job.cancel() else f"Job {job.id} already {job.status}.")


def status(m: OpenRouterMagics, words: list[str]) -> Any:
    opts = P.parse(P.status_parser(), words)
    args = drop_none(
        {
            "video_id": opts.video_id,
            "save_path": opts.save,
            "wait": True if opts.wait else None,
            "max_wait_ms": int(opts.max_wait * 1000) if opts.max_wait else None,
        }
    )
    if opts.wait:
        panel = _run.cell_panel(mode=m._panel_mode(), title=f"video {opts.video_id or ''}".strip())
        raw = _run.call(m, "get_video_status", args, panel=panel)
        m._store(opts.out, m._wrap(raw))
        _run.show(m, raw, "markdown", panel=panel)
        return None
    raw = _run.quick(m, "get_video_status", args)
    m._store(opts.out, m._wrap(raw))
    _run.show_bundles(m._bundles(raw, "markdown"), rich=m._rich())
