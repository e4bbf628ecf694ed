"""analyze_image, analyze_audio, analyze_video, speech_to_text, and our mixed analyze_media.

Media can come from a sandboxed local path, an http(s) URL (SSRF-guarded download), a strict
``data:`` URL, or (Python API) a notebook object passed as an ``object://`` handle - see
``or_magic.media.sources``. Every check (arguments, ``cache_ttl``, sandbox, SSRF, caps, sniffing,
image preparation) happens before the request to OpenRouter.

Images are re-encoded by ``prepare_image`` and sent as small ``image_url`` data URLs. Audio and
video are never held as base64 text: the request body is a ``StreamingJSON`` whose ``B64Ref``
parts are encoded chunk by chunk from the (usually file-backed) ``Blob`` while httpx sends it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .. import log
from ..config import DEFAULT_AUDIO_MODEL, DEFAULT_VIDEO_MODEL, DEFAULT_VISION_MODEL, Settings
from ..errors import ErrorCode, ToolError
from ..result import ToolResult
from .base import Annotations, ToolContext, ToolSpec, describe
from .common import (
    CacheFields,
    ProviderPrefs,
    add_max_tokens_and_provider,
    cache_headers,
    cap_text,
    clean_model,
    merge_provider,
    usage_meta,
)
from .completion import check_answer, completion_meta, run_completion
from .enums import IMAGE_DETAILS, STT_RESPONSE_FORMATS

MAX_IMAGES = 16
MAX_SOURCES = 16

DEFAULT_IMAGE_QUESTION = "What's in this image?"
DEFAULT_AUDIO_QUESTION = "Please transcribe and analyze this audio file."
DEFAULT_VIDEO_QUESTION = "Describe what happens in this video, step by step."
DEFAULT_MEDIA_QUESTION = "Describe and analyze these inputs."

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

SourceArg = str
_SOURCE_DESC = (
    "Local path (inside OPENROUTER_INPUT_DIR), http(s) URL, or data: URL "
    "(Python API: also a PIL image, numpy array, matplotlib figure, bytes, Path or IPython object)"
)


# ---- inputs ---------------------------------------------------------------------------------------


def _non_blank(v: str, what: str) -> str:
    if not v.strip():
        raise ValueError(f"{what} must not be blank")
    return v.strip()


class _AnalyzeBase(CacheFields):
    model: str | None = Field(None, description="Model id (default per tool, see description)")
    cache_input: bool | None = Field(
        None,
        description="Mark the media part for prompt caching (cache_control: ephemeral); "
        "useful when asking several questions about the same large input",
    )
    provider: ProviderPrefs | None = None
    max_tokens: int | None = Field(
        None, ge=1, description="Upper bound on the answer (default OPENROUTER_MAX_TOKENS)"
    )
    temperature: float | None = Field(None, ge=0, le=2)

    @field_validator("question", mode="before", check_fields=False)
    @classmethod
    def _question(cls, v: Any) -> Any:
        if v is not None and not isinstance(v, str):
            raise ValueError("question must be a string")
        return v


class AnalyzeImageInput(_AnalyzeBase):
    image_path: SourceArg = Field(..., description="The image. " + _SOURCE_DESC)
    question: str = Field(DEFAULT_IMAGE_QUESTION, description="What to ask about the image")
    image_paths: list[SourceArg] | None = Field(
        None,
        max_length=MAX_IMAGES - 1,
        description="More images sent in the same message (same source rules)",
    )
    detail: Literal[IMAGE_DETAILS] | None = Field(  # type: ignore[valid-type]
        None, description="Vision detail hint (image_url.detail)"
    )

    @field_validator("image_path")
    @classmethod
    def _path(cls, v: str) -> str:
        return _non_blank(v, "image_path")

    @field_validator("image_paths")
    @classmethod
    def _paths(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            return [_non_blank(p, f"image_paths[{i}]") for i, p in enumerate(v)]
        return v


class AnalyzeAudioInput(_AnalyzeBase):
    audio_path: SourceArg = Field(
        ...,
        description="The audio (wav, mp3, aiff, aac, ogg/opus, flac, m4a; detected from "
        "content). " + _SOURCE_DESC,
    )
    question: str = Field(DEFAULT_AUDIO_QUESTION, description="What to ask about the audio")

    @field_validator("audio_path")
    @classmethod
    def _path(cls, v: str) -> str:
        return _non_blank(v, "audio_path")


class AnalyzeVideoInput(_AnalyzeBase):
    video_path: SourceArg = Field(
        ..., description="The video (mp4, mov, webm, mpeg). " + _SOURCE_DESC
    )
    question: str = Field(DEFAULT_VIDEO_QUESTION, description="What to ask about the video")
    pass_url: bool = Field(
        False,
        description="Send an https video_path to the model as a plain URL instead of "
        "downloading it (provider-specific: e.g. YouTube links on Gemini)",
    )

    @field_validator("video_path")
    @classmethod
    def _path(cls, v: str) -> str:
        return _non_blank(v, "video_path")

    @model_validator(mode="after")
    def _pass_url(self) -> AnalyzeVideoInput:
        if self.pass_url and self.video_path[:7].lower() == "http://":
            raise ValueError("pass_url needs an https:// URL (plain http is not forwarded)")
        return self


class AnalyzeMediaInput(_AnalyzeBase):
    sources: list[SourceArg] = Field(
        ...,
        min_length=1,
        max_length=MAX_SOURCES,
        description="Images, audio and video mixed, in order; each is detected from its "
        "content. " + _SOURCE_DESC,
    )
    question: str = Field(DEFAULT_MEDIA_QUESTION, description="What to ask about the inputs")
    detail: Literal[IMAGE_DETAILS] | None = Field(  # type: ignore[valid-type]
        None, description="Vision detail hint for the images"
    )

    @field_validator("sources")
    @classmethod
    def _sources(cls, v: list[str]) -> list[str]:
        return [_non_blank(p, f"sources[{i}]") for i, p in enumerate(v)]


class SpeechToTextInput(CacheFields):
    audio_path: SourceArg = Field(
        ...,
        description="The recording (mp3, m4a/mp4, wav, flac, ogg, opus, webm; detected from "
        "content). " + _SOURCE_DESC,
    )
    model: str | None = Field(
        None,
        description="Transcription model (default OPENROUTER_DEFAULT_STT_MODEL, openai/whisper-1; "
        "also openai/gpt-4o-transcribe, openai/gpt-4o-mini-transcribe)",
    )
    language: str | None = Field(
        None, description="ISO-639-1 code of the spoken language, e.g. 'en', 'de'"
    )
    response_format: Literal[STT_RESPONSE_FORMATS] | None = Field(  # type: ignore[valid-type]
        None, description="json (default), text, srt, verbose_json or vtt"
    )
    temperature: float | None = Field(None, ge=0, le=1)
    provider: ProviderPrefs | None = None

    @field_validator("audio_path")
    @classmethod
    def _path(cls, v: str) -> str:
        return _non_blank(v, "audio_path")

    @field_validator("language")
    @classmethod
    def _lang(cls, v: str | None) -> str | None:
        if v is None:
            return v
        code = v.strip().lower()
        if code not in ISO_639_1:
            raise ValueError(f"language must be an ISO-639-1 code such as 'en' (got {v!r})")
        return code


# ---- model choice -------------------------------------------------------------------------------


def vision_model(model: str | None, s: Settings) -> str:
    """``model`` → OPENROUTER_DEFAULT_VISION_MODEL → OPENROUTER_DEFAULT_MODEL (set by the user) →
    the built-in vision default."""
    return clean_model(model) or s.default_vision_model or s.default_model or DEFAULT_VISION_MODEL


def audio_model(model: str | None, s: Settings) -> str:
    """``model`` → OPENROUTER_DEFAULT_AUDIO_MODEL → google/gemini-2.5-flash.

    Never the chat default: the Node server fell back to it (a model without audio input).
    """
    return clean_model(model) or s.default_audio_model or DEFAULT_AUDIO_MODEL


def video_model(model: str | None, s: Settings) -> str:
    """``model`` → OPENROUTER_DEFAULT_VIDEO_MODEL → google/gemini-2.5-flash (never the chat
    default)."""
    return clean_model(model) or s.default_video_model or DEFAULT_VIDEO_MODEL


# ---- media parts ----------------------------------------------------------------------------------


class _Loaded:
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


def _base_mime(mime: str) -> str:
    return mime.split(";", 1)[0].strip().lower()


def _input_meta(blob: Any, source: str, **extra: Any) -> dict[str, Any]:
    from ..media.sources import source_type

    entry: dict[str, Any] = {
        "kind": blob.kind,
        "mime": _base_mime(blob.mime),
        "size_bytes": blob.size,
        "source": source_type(source),
    }
    entry.update(extra)
    return entry


def _cache_mark(part: dict[str, Any], cache_input: bool | None) -> dict[str, Any]:
    """The media part as sent: the spec allows ``cache_control`` on text parts only, so the
    breakpoint goes on a text part after the media (see ``_content``), never on the part itself."""
    return part


CACHE_BREAKPOINT_TEXT = "(end of the attached media)"


def _content(question: str, parts: list[dict[str, Any]], cache_input: bool | None) -> list[Any]:
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


def _unsupported(label: str, what: str, allowed: str, suggestion: str) -> ToolError:
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
        raise _unsupported(
            label,
            _base_mime(blob.mime),
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
        raise _unsupported(
            label,
            _base_mime(blob.mime),
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


async def _add_source(
    loaded: _Loaded,
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
            blob, source, sent_mime=_base_mime(prepared.mime), sent_bytes=prepared.size
        )
    elif kind == "audio":
        fmt, part = _audio_part(blob, label)
        meta = _input_meta(blob, source, format=fmt)
    else:
        mime, part = _video_part(blob, label)
        meta = _input_meta(blob, source, sent_mime=mime)
    loaded.parts.append(_cache_mark(part, cache_input))
    loaded.inputs.append(meta)
    loaded.kinds.add(kind)


def _question(q: str | None, default: str) -> str:
    return q if isinstance(q, str) and q.strip() else default


def _chat_body(
    model: str, question: str, parts: list[dict[str, Any]], args: _AnalyzeBase, s: Settings
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": _content(question, parts, args.cache_input)}],
    }
    if args.temperature is not None:
        body["temperature"] = args.temperature
    add_max_tokens_and_provider(body, args, s)
    return body


async def _complete(
    ctx: ToolContext,
    tool: str,
    args: _AnalyzeBase,
    model: str,
    question: str,
    loaded: _Loaded,
) -> ToolResult:
    s = ctx.settings
    body = _chat_body(model, question, loaded.parts, args, s)
    c = await run_completion(
        ctx,
        body,
        headers=cache_headers(args, s),
        stream=ctx.on_text is not None,
        context=tool,
    )
    return finish_analysis(c, tool, model, s, inputs=loaded.inputs)


def finish_analysis(
    c: Any, tool: str, model: str, s: Settings, *, inputs: list[dict[str, Any]] | None
) -> ToolResult:
    """An analysis answer → ``ToolResult`` (shared with the Batch API engine's results)."""
    check_answer(c, label=tool)
    meta = completion_meta(c, want_reasoning=False)
    meta.setdefault("model", model)
    text = c.text if c.text.strip() else (c.refusal or "")
    if c.refusal and not c.text.strip():
        meta["refusal"] = True
    meta["content_is_untrusted"] = True
    if inputs is not None:
        meta["inputs"] = inputs
    text = cap_text(text, s, meta)
    return ToolResult(tool=tool, text=text, meta=meta)


# ---- handlers -------------------------------------------------------------------------------------


async def analyze_image(args: AnalyzeImageInput, ctx: ToolContext) -> ToolResult:
    loaded = _Loaded()
    try:
        sources = [args.image_path, *(args.image_paths or [])]
        for i, src in enumerate(sources):
            label = "image_path" if i == 0 else f"image_paths[{i - 1}]"
            await _add_source(
                loaded,
                src,
                kinds=("image",),
                ctx=ctx,
                label=label,
                detail=args.detail,
                cache_input=args.cache_input,
            )
        model = vision_model(args.model, ctx.settings)
        question = _question(args.question, DEFAULT_IMAGE_QUESTION)
        return await _complete(ctx, "analyze_image", args, model, question, loaded)
    finally:
        loaded.close()


async def _analyze_one(
    ctx: ToolContext,
    tool: str,
    args: Any,
    source: str,
    *,
    kind: str,
    label: str,
    model_for: Callable[[str | None, Settings], str],
    default_question: str,
) -> ToolResult:
    """One source of one kind, asked one question: analyze_audio, and analyze_video on a file.

    The source is loaded before the model is resolved, so a bad path is the error reported first.
    """
    loaded = _Loaded()
    try:
        await _add_source(
            loaded,
            source,
            kinds=(kind,),
            ctx=ctx,
            label=label,
            detail=None,
            cache_input=args.cache_input,
        )
        model = model_for(args.model, ctx.settings)
        question = _question(args.question, default_question)
        return await _complete(ctx, tool, args, model, question, loaded)
    finally:
        loaded.close()


async def analyze_audio(args: AnalyzeAudioInput, ctx: ToolContext) -> ToolResult:
    return await _analyze_one(
        ctx,
        "analyze_audio",
        args,
        args.audio_path,
        kind="audio",
        label="audio_path",
        model_for=audio_model,
        default_question=DEFAULT_AUDIO_QUESTION,
    )


async def analyze_video(args: AnalyzeVideoInput, ctx: ToolContext) -> ToolResult:
    src = args.video_path
    if not (args.pass_url and src[:8].lower() == "https://"):
        return await _analyze_one(
            ctx,
            "analyze_video",
            args,
            src,
            kind="video",
            label="video_path",
            model_for=video_model,
            default_question=DEFAULT_VIDEO_QUESTION,
        )
    loaded = _Loaded()
    try:
        from ..safety.fetch import display_url, parse_target

        try:
            parse_target(src)  # shape, scheme, no credentials; nothing is fetched
        except ToolError as err:
            raise err.with_prefix("video_path") from None
        part = {"type": "video_url", "video_url": {"url": src}}
        loaded.parts.append(_cache_mark(part, args.cache_input))
        loaded.inputs.append(
            {
                "kind": "video",
                "mime": None,
                "size_bytes": None,
                "source": "url",
                "url": display_url(src),
                "passed_through": True,
            }
        )
        model = video_model(args.model, ctx.settings)
        question = _question(args.question, DEFAULT_VIDEO_QUESTION)
        return await _complete(ctx, "analyze_video", args, model, question, loaded)
    finally:
        loaded.close()


async def analyze_media(args: AnalyzeMediaInput, ctx: ToolContext) -> ToolResult:
    loaded = _Loaded()
    try:
        for i, src in enumerate(args.sources):
            await _add_source(
                loaded,
                src,
                kinds=("image", "audio", "video"),
                ctx=ctx,
                label=f"sources[{i}]",
                detail=args.detail,
                cache_input=args.cache_input,
            )
        s = ctx.settings
        if "video" in loaded.kinds:
            model = video_model(args.model, s)
        elif "audio" in loaded.kinds:
            model = audio_model(args.model, s)
        else:
            model = vision_model(args.model, s)
        question = _question(args.question, DEFAULT_MEDIA_QUESTION)
        return await _complete(ctx, "analyze_media", args, model, question, loaded)
    finally:
        loaded.close()


def _stt_format(blob: Any) -> str:
    base = _base_mime(blob.mime)
    if base == "audio/ogg" and "opus" in blob.mime.lower():
        return "opus"
    fmt = STT_FORMAT_BY_MIME.get(base)
    if fmt is None:
        raise _unsupported(
            "audio_path",
            base,
            "mp3, m4a/mp4, wav, flac, ogg, opus, webm",
            "Convert the recording to mp3 or wav (analyze_audio also takes aiff and aac)",
        )
    return fmt


async def speech_to_text(args: SpeechToTextInput, ctx: ToolContext) -> ToolResult:
    from ..client.body import B64Ref
    from ..media.sources import load_source, source_type

    s = ctx.settings
    model = clean_model(args.model) or s.default_stt_model
    kind = source_type(args.audio_path)
    log.audit(
        "speech_to_text.start",
        model=model,
        audio_path="data_url" if kind == "data_url" else args.audio_path[:80],
        response_format=args.response_format or "json",
    )
    # Audio only: MP4/WebM containers are accepted as audio (their soundtrack is transcribed).
    blob = await load_source(
        args.audio_path, kind="audio", settings=s, to_file=True, label="audio_path"
    )
    try:
        fmt = _stt_format(blob)
        body: dict[str, Any] = {
            "model": model,
            "input_audio": {"data": B64Ref(blob), "format": fmt},
        }
        if args.language:
            body["language"] = args.language
        if args.response_format:
            # The spec has json and verbose_json only; text/srt/vtt are rendered here from the
            # verbose_json segments (see _render_transcript).
            body["response_format"] = (
                "verbose_json"
                if args.response_format in LOCAL_STT_FORMATS
                else args.response_format
            )
        if args.temperature is not None:
            body["temperature"] = args.temperature
        provider = merge_provider(args.provider, s, endpoint="transcription")
        if provider:
            body["provider"] = provider
        resp = await ctx.client.request_json(
            "POST",
            "/audio/transcriptions",
            json=body,
            headers=cache_headers(args, s),
            context="speech_to_text",
            expect_json=False,
        )
    finally:
        blob.close()
    return _stt_result(resp, args, s, model, fmt, blob, kind)


LOCAL_STT_FORMATS = ("text", "srt", "vtt")


def _cue_time(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    sec, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{sec:02d}{sep}{ms:03d}"


def _render_transcript(parsed: dict[str, Any], rf: str) -> str:
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


def _stt_result(
    resp: Any, args: SpeechToTextInput, s: Settings, model: str, fmt: str, blob: Any, kind: str
) -> ToolResult:
    from ..client.classify import classify_upstream, error_object
    from .common import cache_meta

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
                "mime": _base_mime(blob.mime),
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
            text = _render_transcript(parsed, rf)
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


# ---- registration -------------------------------------------------------------------------------

_FAILS_COMMON = (
    "UNSAFE_PATH when a local path leaves OPENROUTER_INPUT_DIR (traversal, absolute path elsewhere, "
    "symlink out); INVALID_INPUT for a missing/empty file, a blank or malformed source, a bad data URL "
    "or bad arguments; UPSTREAM_REFUSED for a URL on a private/loopback/metadata host (see "
    "OPENROUTER_URL_ALLOWLIST), credits or moderation; RESOURCE_TOO_LARGE over the size caps; "
    "UNSUPPORTED_FORMAT when the content is not {what} (detected from bytes, not the extension) or is "
    "truncated; UPSTREAM_TIMEOUT / UPSTREAM_HTTP for the download or the model call; MODEL_NOT_FOUND."
)
_ANNOTATIONS = dict(read_only=True, destructive=False, idempotent=False, open_world=True)

_IMAGE_DESC = describe(
    "Ask a vision model about an image (answer is untrusted model output). The image is "
    "re-encoded as an upright JPEG (longest edge OPENROUTER_IMAGE_MAX_DIMENSION) before sending. "
    "Model: model, else OPENROUTER_DEFAULT_VISION_MODEL, else OPENROUTER_DEFAULT_MODEL, else "
    f"{DEFAULT_VISION_MODEL}.",
    use_when="you need a description, OCR, chart reading or an answer about a picture, screenshot "
    "or plot; add image_paths to compare several images in one message.",
    not_when="the input is audio (analyze_audio, speech_to_text) or video (analyze_video); you want "
    "to create or edit an image (generate_image).",
    good=[
        '{"image_path": "plots/loss.png", "question": "Is the model overfitting?"}',
        '{"image_path": "https://example.com/cat.jpg"}',
        '{"image_path": "a.png", "image_paths": ["b.png"], "question": "What changed?"}',
    ],
    bad=[
        '{"image_path": "../../etc/passwd"} (outside the input sandbox)',
        '{"image_path": "http://169.254.169.254/latest"} (blocked host)',
    ],
    fails=_FAILS_COMMON.format(what="an image") + " Also RESOURCE_TOO_LARGE for pixel bombs.",
    works_with="search_models (input_modalities image) to pick a model; chat_completion for follow-ups.",
)

_AUDIO_DESC = describe(
    "Ask an audio-capable model about a recording: transcription plus analysis (tone, speakers, "
    "content). Sent as input_audio with the format detected from the bytes. Model: model, else "
    f"OPENROUTER_DEFAULT_AUDIO_MODEL, else {DEFAULT_AUDIO_MODEL} (never the chat default).",
    use_when="you want an answer about audio content (summary, speakers, sentiment, sounds).",
    not_when="you only need a plain transcript or subtitles (speech_to_text is cheaper); the input is "
    "a video (analyze_video).",
    good=[
        '{"audio_path": "meeting.mp3", "question": "List the action items"}',
        '{"audio_path": "https://example.com/clip.wav"}',
    ],
    bad=['{"audio_path": "notes.txt"} (not audio)', '{"audio_path": ""} (blank)'],
    fails=_FAILS_COMMON.format(what="audio (wav, mp3, aiff, aac, ogg/opus, flac, m4a)"),
    works_with="speech_to_text for transcripts; generate_audio / text_to_speech for the way back.",
)

_VIDEO_DESC = describe(
    "Ask a video-capable model about a video (mp4, mov, webm, mpeg), sent as a base64 video_url "
    "streamed from disk; with pass_url=true an https URL is forwarded as is. Model: model, else "
    f"OPENROUTER_DEFAULT_VIDEO_MODEL, else {DEFAULT_VIDEO_MODEL} (never the chat default).",
    use_when="you want a description, summary or answer about what happens in a video clip.",
    not_when="you only need the soundtrack transcribed (speech_to_text); you want to create a video "
    "(generate_video).",
    good=[
        '{"video_path": "demo.mp4"}',
        '{"video_path": "https://www.youtube.com/watch?v=…", "pass_url": true}',
    ],
    bad=[
        '{"video_path": "/etc/hosts"}',
        '{"video_path": "http://x/a.mp4", "pass_url": true} (needs https)',
    ],
    fails=_FAILS_COMMON.format(what="a video"),
    works_with="generate_video output; get_video_status saved files.",
)

_MEDIA_DESC = describe(
    "Ask one model about several inputs at once - images, audio and video mixed in one message, "
    "in order; each source's type is detected from its bytes. Model: model, else the video default "
    "when a video is present, else the audio default when audio is present, else the vision default.",
    use_when="comparing or combining inputs of different kinds (a chart and a recording, frames and "
    "a clip); %%openrouter analyze a b c uses it.",
    not_when="there is a single input (use analyze_image / analyze_audio / analyze_video).",
    good=[
        '{"sources": ["slide.png", "talk.mp3"], "question": "Does the talk match the slide?"}',
    ],
    bad=['{"sources": []}', '{"sources": ["a.png", ...17 items]} (at most 16)'],
    fails=_FAILS_COMMON.format(what="an image, audio or video"),
    works_with="analyze_image, analyze_audio, analyze_video.",
)

_STT_DESC = describe(
    "Transcribe speech with a dedicated speech-to-text model (POST /audio/transcriptions). Model: "
    "model, else OPENROUTER_DEFAULT_STT_MODEL (openai/whisper-1). The transcript is untrusted.",
    use_when="you need a transcript, subtitles (srt/vtt) or timestamps (verbose_json) of a recording.",
    not_when="you want analysis or answers about the audio (analyze_audio).",
    good=[
        '{"audio_path": "interview.m4a", "language": "en"}',
        '{"audio_path": "talk.mp3", "response_format": "srt"}',
    ],
    bad=[
        '{"audio_path": "a.mp3", "language": "english"} (ISO-639-1: "en")',
        '{"audio_path": "a.mp3", "temperature": 2}',
    ],
    fails=_FAILS_COMMON.format(what="mp3, m4a/mp4, wav, flac, ogg, opus or webm audio")
    + " INTERNAL when no text comes back.",
    works_with="analyze_audio; chat_completion to summarise the transcript.",
)


def _spec(name: str, title: str, desc: str, model: Any, handler: Any) -> ToolSpec:
    return ToolSpec(
        name=name,
        title=title,
        description=desc,
        input_model=model,
        handler=handler,
        annotations=Annotations(title=title, **_ANNOTATIONS),
    )


TOOLS = [
    _spec("analyze_image", "Analyze an image", _IMAGE_DESC, AnalyzeImageInput, analyze_image),
    _spec("analyze_audio", "Analyze audio", _AUDIO_DESC, AnalyzeAudioInput, analyze_audio),
    _spec("analyze_video", "Analyze a video", _VIDEO_DESC, AnalyzeVideoInput, analyze_video),
    _spec("speech_to_text", "Speech to text", _STT_DESC, SpeechToTextInput, speech_to_text),
    _spec("analyze_media", "Analyze mixed media", _MEDIA_DESC, AnalyzeMediaInput, analyze_media),
]
