"""speech_to_text's formats and its answer: what ``/audio/transcriptions`` takes and gives back.

* The recording's format is detected from its bytes (``stt_format``; ``STT_FORMAT_BY_MIME``);
  ``language`` must be an ISO-639-1 code (``ISO_639_1``).
* The spec's response formats are json and verbose_json only: ``text``, ``srt`` and ``vtt``
  (``LOCAL_STT_FORMATS``) are requested as verbose_json and rendered here from its segments
  (``render_transcript``), as if the server had rendered them.
* ``transcript_result`` reads the answer (JSON, or text from a server that renders itself) into the
  tool's result: the untrusted transcript, language, duration, usage and cost.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..errors import ErrorCode, ToolError
from ..result import ToolResult
from .analyze_parts import base_mime, unsupported
from .common import cache_meta, cap_text, usage_meta

if TYPE_CHECKING:  # pragma: no cover
    from .analyze import SpeechToTextInput

# ISO-639-1 (two-letter) language codes.
_ISO_639_1_WORDS = (
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu "
    "cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi "
    "ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks "
    "ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl "
    "nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl "
    "sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve "
    "vi vo wa wo xh yi yo za zh zu"
)
ISO_639_1 = frozenset(_ISO_639_1_WORDS.split())

# /audio/transcriptions formats (tool-surface §2.2): mp4 covers .m4a and .mp4.
STT_FORMAT_BY_MIME = {
    "audio/wav": "wav",
    "audio/mpeg": "mp3",
    "audio/mp4": "mp4",
    "video/mp4": "mp4",
    "audio/flac": "flac",
    "audio/ogg": "ogg",
    "audio/webm": "webm",
    "video/webm": "webm",
}
# Response formats rendered here from verbose_json (the spec has json and verbose_json only).
LOCAL_STT_FORMATS = ("text", "srt", "vtt")


def stt_format(blob: Any) -> str:
    """The ``input_audio.format`` for a recording; ``UNSUPPORTED_FORMAT`` for what the endpoint
    does not take (an Ogg file is ``opus`` when its MIME type says so)."""
    base = base_mime(blob.mime)
    if base == "audio/ogg" and "opus" in blob.mime.lower():
        return "opus"
    fmt = STT_FORMAT_BY_MIME.get(base)
    if fmt is None:
        raise unsupported(
            "audio_path",
            base,
            "mp3, m4a/mp4, wav, flac, ogg, opus, webm",
            "Convert the recording to mp3 or wav (analyze_audio also takes aiff and aac)",
        )
    return fmt


def _cue_time(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    sec, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{sec:02d}{sep}{ms:03d}"


def render_transcript(parsed: dict[str, Any], rf: str) -> str:
    """Plain text, SRT or WebVTT from a verbose_json transcription (segments, else one cue)."""
    text = parsed.get("text") if isinstance(parsed.get("text"), str) else ""
    if rf == "text":
        return text
    cues: list[tuple[float, float, str]] = []
    for seg in parsed.get("segments") or []:
        if not isinstance(seg, dict) or not isinstance(seg.get("text"), str):
            continue
        start, end = seg.get("start"), seg.get("end")
        if isinstance(start, (int, float)) and isinstance(end, (int, float)):
            cues.append((float(start), float(end), seg["text"].strip()))
    if not cues and text.strip():
        dur = parsed.get("duration")
        cues = [(0.0, float(dur) if isinstance(dur, (int, float)) else 0.0, text.strip())]
    sep = "," if rf == "srt" else "."
    blocks = [
        (f"{i}\n" if rf == "srt" else "") + f"{_cue_time(a, sep)} --> {_cue_time(b, sep)}\n{t}\n"
        for i, (a, b, t) in enumerate(cues, 1)
    ]
    body = "\n".join(blocks)
    return body if rf == "srt" else "WEBVTT\n\n" + body


def transcript_result(
    resp: Any, args: SpeechToTextInput, s: Settings, model: str, fmt: str, blob: Any, kind: str
) -> ToolResult:
    from ..client.classify import classify_upstream, error_object

    rf = args.response_format or "json"
    raw: bytes = resp.data if isinstance(resp.data, bytes) else bytes(resp.data or b"")
    ctype = {k.lower(): v for k, v in resp.headers.items()}.get("content-type", "").lower()
    meta: dict[str, Any] = {
        "model": model,
        "content_is_untrusted": True,
        "response_format": rf,
        "inputs": [
            {
                "kind": blob.kind,
                "mime": base_mime(blob.mime),
                "size_bytes": blob.size,
                "source": kind,
                "format": fmt,
            }
        ],
    }
    cm = cache_meta(resp.headers)
    if cm:
        meta["cache"] = cm
    data: dict[str, Any] | None = None
    as_text = rf in ("text", "srt", "vtt") or (
        ctype.startswith("text/") and rf not in ("json", "verbose_json")
    )
    if as_text and not ctype.startswith("application/json"):
        text = raw.decode("utf-8", errors="replace")
    else:
        try:
            parsed = json.loads(raw)
        except (ValueError, RecursionError):  # hostile nesting: treated as a non-JSON body
            if ctype.startswith("text/"):
                parsed = {"text": raw.decode("utf-8", errors="replace")}
            else:
                raise ToolError(
                    ErrorCode.UPSTREAM_HTTP,
                    "speech_to_text: the transcription response is not JSON",
                    details={"reason": "non_json", "content_type": ctype or None},
                ) from None
        if isinstance(parsed, dict) and error_object(parsed) is not None and "text" not in parsed:
            raise classify_upstream(
                resp.status, parsed, dict(resp.headers), context="speech_to_text"
            )
        if not isinstance(parsed, dict):
            parsed = {"text": parsed if isinstance(parsed, str) else json.dumps(parsed)}
        data = parsed
        if rf == "verbose_json":
            text = json.dumps(parsed, indent=2, ensure_ascii=False)
        elif rf in LOCAL_STT_FORMATS:
            text = render_transcript(parsed, rf)
            meta["rendered_locally"] = True
            data = None  # a text format, as if the server had rendered it
        else:
            text = parsed.get("text") if isinstance(parsed.get("text"), str) else ""
        if isinstance(parsed.get("language"), str):
            meta["language"] = parsed["language"]
        if isinstance(parsed.get("duration"), (int, float)):
            meta["duration_seconds"] = parsed["duration"]
        u = usage_meta(parsed.get("usage"))
        if isinstance(parsed.get("usage"), dict):
            meta["usage"] = {**parsed["usage"], **(u or {})}
            cost = parsed["usage"].get("cost")
            if isinstance(cost, (int, float)):
                meta["cost_usd"] = float(cost)
    if args.language and "language" not in meta:
        meta["language"] = args.language
    gen = {k.lower(): v for k, v in resp.headers.items()}.get("x-generation-id")
    if gen:
        meta["generation_id"] = gen
    if not text.strip():
        raise ToolError(
            ErrorCode.INTERNAL,
            "Transcription returned no text.",
            details={"response_format": rf},
            suggestions=["Check that the recording contains speech", "Try another model"],
        )
    text = cap_text(text, s, meta)
    return ToolResult(tool="speech_to_text", text=text, data=data, meta=meta)
