"""A finished video job's file, downloaded with the API key and checked before it is kept.

The bytes stream straight to a temp file next to the destination (``saving.StreamTarget``),
capped at ``OPENROUTER_VIDEO_GEN_MAX_BYTES``, with a progress event every ``PROGRESS_EVERY``
bytes. The file is renamed into place only when it is complete and sniffs as a video; a failed or
cancelled download removes the temp file and leaves the job resumable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import ErrorCode, ToolError
from .base import ToolContext
from .saving import Delivered, StreamTarget
from .video_job import VideoJob, report, update_row

PROGRESS_EVERY = 8 << 20  # report download progress every 8 MiB


def _content_url(ctx: ToolContext, video_id: str, view: dict[str, Any]) -> str:
    urls = view.get("unsigned_urls")
    if isinstance(urls, list) and urls and isinstance(urls[0], str):
        full = ctx.client.resolve(urls[0])
        if ctx.client.same_origin(full):
            return full
    return f"/videos/{quote(video_id, safe='')}/content?index=0"


def _check_video(head: bytes, ctype: str) -> tuple[str, str]:
    """``(mime, ext)`` of the downloaded bytes; ``UNSUPPORTED_FORMAT`` when they are not a video."""
    from ..media.sniff import describe as describe_bytes
    from ..media.sniff import sniff, video_ext_for_mime

    s = sniff(head)
    if s is not None and s.kind == "video":
        return s.base_mime, s.ext
    if s is None and ctype.startswith("video/") and not describe_bytes(head).endswith("text"):
        return ctype, video_ext_for_mime(ctype)
    what = s.base_mime if s is not None else describe_bytes(head[:512])
    raise ToolError(
        ErrorCode.UNSUPPORTED_FORMAT,
        f"Download: expected a video but got {what} (Content-Type {ctype})",
        details={"reason": "not_a_video", "content_type": ctype},
    )


async def download(
    ctx: ToolContext, job: VideoJob, *, tool: str, save: Path | None
) -> tuple[Delivered, str]:
    """The completed job's video delivered (saved, or inline under the ceiling) and the
    Content-Type upstream sent."""
    s = ctx.settings
    url = _content_url(ctx, job.id, job.view)
    target = StreamTarget(tool=tool, kind="video", settings=s, save_path=save, default_ext=".mp4")
    next_report = PROGRESS_EVERY

    async def write(chunk: bytes) -> None:
        nonlocal next_report
        target.write(chunk)
        if target.size >= next_report:
            next_report = target.size + PROGRESS_EVERY
            await report(ctx, job, phase=f"downloading ({target.size >> 20} MiB)")

    try:
        update_row(ctx, job.id, status="downloading")
        await report(ctx, job, phase="downloading")
        try:
            ctype, _ = await ctx.client.stream_download(
                url,
                write,
                max_bytes=s.video_gen_max_bytes,
                # a whole-download deadline that allows the cap at a slow 256 KiB/s
                timeout_s=max(600.0, s.request_timeout_ms / 1000.0, s.video_gen_max_bytes / 262144),
                context="Download",
            )
        except ToolError as err:
            if err.code == ErrorCode.RESOURCE_TOO_LARGE:
                err.suggestions = [
                    "Raise OPENROUTER_VIDEO_GEN_MAX_BYTES, then resume with get_video_status",
                    *err.suggestions[1:],
                ]
            raise
        mime, ext = _check_video(target.head(), ctype)
        delivered = target.finish(mime=mime, ext=ext, noun="Video")
    except BaseException:
        target.abort()
        raise
    return delivered, ctype
