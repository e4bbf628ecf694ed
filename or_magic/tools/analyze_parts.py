"""How the analyze tools turn each source into a message content part (image, audio or video).

A source (sandboxed path, http(s) URL, ``data:`` URL, ``object://`` handle) is loaded by
``or_magic.media.sources.load_source``, then sent by kind:

* an image is re-encoded by ``prepare_image`` (off the event loop) into a small ``image_url`` data
  URL, with the optional ``detail`` hint;
* audio is an ``input_audio`` part in one of ``CHAT_AUDIO_FORMATS``, detected from the bytes;
* video is a ``video_url`` data URL in one of the ``VIDEO_MIME_BY_FMT`` containers.

Audio and video are never held as base64 text: their parts carry a ``B64Ref`` to the (usually
file-backed) ``Blob``, encoded chunk by chunk while httpx sends the body. ``Loaded`` owns every
blob until the call ends. ``message_content`` puts the parts and the question in the order prompt
caching needs.
"""

from __future__ import annotations

from typing import Any

from ..config import Settings
from ..errors import ErrorCode, ToolError
from .base import ToolContext

# input_audio formats OpenRouter documents for chat models (pcm16/pcm24 need raw PCM, which
# cannot be sniffed; pass WAV, or a numpy array with its rate through the Python API).
CHAT_AUDIO_FORMATS = ("wav", "mp3", "aiff", "aac", "ogg", "flac", "m4a")
# video_url data URL containers, with the MIME type sent for each.
VIDEO_MIME_BY_FMT = {
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "mpeg": "video/mpeg",
}


class Loaded:
    """One loaded input: the blob(s) to close, its content part, and its meta entry."""

    def __init__(self) -> None:
        self.blobs: list[Any] = []
        self.parts: list[dict[str, Any]] = []
        self.inputs: list[dict[str, Any]] = []
        self.kinds: set[str] = set()

    def close(self) -> None:
        for b in self.blobs:
            try:
                b.close()
            except Exception:  # pragma: no cover - best effort
                pass
        self.blobs.clear()


def base_mime(mime: str) -> str:
    return mime.split(";", 1)[0].strip().lower()


def _input_meta(blob: Any, source: str, **extra: Any) -> dict[str, Any]:
    from ..media.sources import source_type

    entry: dict[str, Any] = {
        "kind": blob.kind,
        "mime": base_mime(blob.mime),
        "size_bytes": blob.size,
        "source": source_type(source),
    }
    entry.update(extra)
    return entry


def cache_mark(part: dict[str, Any], cache_input: bool | None) -> dict[str, Any]:
    """The media part as sent: the spec allows ``cache_control`` on text parts only, so the
    breakpoint goes on a text part after the media (see ``message_content``), never on the part itself."""
    return part


CACHE_BREAKPOINT_TEXT = "(end of the attached media)"


def message_content(
    question: str, parts: list[dict[str, Any]], cache_input: bool | None
) -> list[Any]:
    """Question first; with ``cache_input`` the media comes first, then a short text part that
    carries the cache breakpoint, then the question — so a new question reuses the cached media
    prefix (a breakpoint caches everything before it)."""
    if not cache_input or not parts:
        return [{"type": "text", "text": question}, *parts]
    marker = {
        "type": "text",
        "text": CACHE_BREAKPOINT_TEXT,
        "cache_control": {"type": "ephemeral"},
    }
    return [*parts, marker, {"type": "text", "text": question}]


def unsupported(label: str, what: str, allowed: str, suggestion: str) -> ToolError:
    return ToolError(
        ErrorCode.UNSUPPORTED_FORMAT,
        f"{label}: {what} is not accepted here (supported: {allowed})",
        details={"reason": "format_not_accepted", "detected": what},
        suggestions=[suggestion],
    )


def _image_part(blob: Any, settings: Settings, detail: str | None, label: str) -> tuple[Any, dict]:
    from ..media.image import prepare_image

    try:
        prepared = prepare_image(blob, settings)
    except ToolError as err:
        raise err.with_prefix(label) from None
    url: dict[str, Any] = {"url": prepared.data_url(limit=None)}
    if detail:
        url["detail"] = detail
    return prepared, {"type": "image_url", "image_url": url}


def _audio_fmt(blob: Any, label: str) -> str:
    from ..media.sniff import audio_fmt_from_mime

    fmt = audio_fmt_from_mime(blob.mime)
    if fmt not in CHAT_AUDIO_FORMATS:
        raise unsupported(
            label,
            base_mime(blob.mime),
            ", ".join(CHAT_AUDIO_FORMATS),
            "Convert the audio to mp3 or wav (speech_to_text also takes webm)",
        )
    return fmt  # type: ignore[return-value]


def _audio_part(blob: Any, label: str) -> tuple[str, dict[str, Any]]:
    from ..client.body import B64Ref

    fmt = _audio_fmt(blob, label)
    return fmt, {"type": "input_audio", "input_audio": {"data": B64Ref(blob), "format": fmt}}


def _video_mime(blob: Any, label: str) -> str:
    from ..media.sniff import video_fmt_from_mime

    fmt = video_fmt_from_mime(blob.mime)
    mime = VIDEO_MIME_BY_FMT.get(fmt or "")
    if mime is None:
        raise unsupported(
            label,
            base_mime(blob.mime),
            "mp4, mov, webm, mpeg",
            "Convert the video to mp4 (H.264/AAC)",
        )
    return mime


def _video_part(blob: Any, label: str) -> tuple[str, dict[str, Any]]:
    from ..client.body import B64Ref

    mime = _video_mime(blob, label)
    return mime, {
        "type": "video_url",
        "video_url": {"url": B64Ref(blob, prefix=f"data:{mime};base64,")},
    }


async def add_source(
    loaded: Loaded,
    source: str,
    *,
    kinds: tuple[str, ...],
    ctx: ToolContext,
    label: str,
    detail: str | None,
    cache_input: bool | None,
) -> None:
    """Load one source and append its part + meta (blobs are owned by ``loaded``)."""
    from ..media.sources import load_source

    s = ctx.settings
    blob = await load_source(
        source,
        kind=kinds,  # type: ignore[arg-type]
        settings=s,
        to_file=kinds != ("image",),
        label=label,
    )
    loaded.blobs.append(blob)
    kind = blob.kind
    if kind == "image":
        from ..media.offload import run_cpu

        prepared, part = await run_cpu(_image_part, blob, s, detail, label)
        loaded.blobs.append(prepared)
        meta = _input_meta(
            blob, source, sent_mime=base_mime(prepared.mime), sent_bytes=prepared.size
        )
    elif kind == "audio":
        fmt, part = _audio_part(blob, label)
        meta = _input_meta(blob, source, format=fmt)
    else:
        mime, part = _video_part(blob, label)
        meta = _input_meta(blob, source, sent_mime=mime)
    loaded.parts.append(cache_mark(part, cache_input))
    loaded.inputs.append(meta)
    loaded.kinds.add(kind)
