"""analyze_image, analyze_audio, analyze_video, speech_to_text, and our mixed analyze_media.

Media can come from a sandboxed local path, an http(s) URL (SSRF-guarded download), a strict
``data:`` URL, or (Python API) a notebook object passed as an ``object://`` handle - see
``or_magic.media.sources``. Every check (arguments, ``cache_ttl``, sandbox, SSRF, caps, sniffing,
image preparation) happens before the request to OpenRouter.

Images are re-encoded by ``prepare_image`` and sent as small ``image_url`` data URLs. Audio and
video are never held as base64 text: the request body is a ``StreamingJSON`` whose ``B64Ref``
parts are encoded chunk by chunk from the (usually file-backed) ``Blob`` while httpx sends it.

This module holds each tool's whole life: the input models, the model choice, the handlers, the
answer (``finish_analysis``) and the registration. Its steps live in siblings: ``analyze_parts``
(a source loaded into its message content part) and ``analyze_transcript`` (speech_to_text's
formats and the transcription answer).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .. import log
from ..config import DEFAULT_AUDIO_MODEL, DEFAULT_VIDEO_MODEL, DEFAULT_VISION_MODEL, Settings
from ..errors import ToolError
from ..result import ToolResult
from .analyze_parts import Loaded, add_source, cache_mark, message_content
from .analyze_transcript import ISO_639_1, LOCAL_STT_FORMATS, stt_format, transcript_result
from .base import ToolContext, ToolSpec, analysis_annotations, describe
from .common import (
    CacheFields,
    ProviderPrefs,
    add_max_tokens_and_provider,
    cache_headers,
    cap_text,
    clean_model,
    merge_provider,
)
from .completion import check_answer, completion_meta, run_completion
from .enums import IMAGE_DETAILS, STT_RESPONSE_FORMATS

MAX_IMAGES = 16
MAX_SOURCES = 16

DEFAULT_IMAGE_QUESTION = "What's in this image?"
DEFAULT_AUDIO_QUESTION = "Please transcribe and analyze this audio file."
DEFAULT_VIDEO_QUESTION = "Describe what happens in this video, step by step."
DEFAULT_MEDIA_QUESTION = "Describe and analyze these inputs."

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


def _question(q: str | None, default: str) -> str:
    return q if isinstance(q, str) and q.strip() else default


def _chat_body(
    model: str, question: str, parts: list[dict[str, Any]], args: _AnalyzeBase, s: Settings
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "messages": [
            {"role": "user", "content": message_content(question, parts, args.cache_input)}
        ],
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
    loaded: Loaded,
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
    loaded = Loaded()
    try:
        sources = [args.image_path, *(args.image_paths or [])]
        for i, src in enumerate(sources):
            label = "image_path" if i == 0 else f"image_paths[{i - 1}]"
            await add_source(
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
    loaded = Loaded()
    try:
        await add_source(
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
    loaded = Loaded()
    try:
        from ..safety.fetch import display_url, parse_target

        try:
            parse_target(src)  # shape, scheme, no credentials; nothing is fetched
        except ToolError as err:
            raise err.with_prefix("video_path") from None
        part = {"type": "video_url", "video_url": {"url": src}}
        loaded.parts.append(cache_mark(part, args.cache_input))
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
    loaded = Loaded()
    try:
        for i, src in enumerate(args.sources):
            await add_source(
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
        fmt = stt_format(blob)
        body: dict[str, Any] = {
            "model": model,
            "input_audio": {"data": B64Ref(blob), "format": fmt},
        }
        if args.language:
            body["language"] = args.language
        if args.response_format:
            # The spec has json and verbose_json only; text/srt/vtt are rendered here from the
            # verbose_json segments (see analyze_transcript.render_transcript).
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
    return transcript_result(resp, args, s, model, fmt, blob, kind)


# ---- registration -------------------------------------------------------------------------------

_FAILS_COMMON = (
    "UNSAFE_PATH when a local path leaves OPENROUTER_INPUT_DIR (traversal, absolute path elsewhere, "
    "symlink out); INVALID_INPUT for a missing/empty file, a blank or malformed source, a bad data URL "
    "or bad arguments; UPSTREAM_REFUSED for a URL on a private/loopback/metadata host (see "
    "OPENROUTER_URL_ALLOWLIST), credits or moderation; RESOURCE_TOO_LARGE over the size caps; "
    "UNSUPPORTED_FORMAT when the content is not {what} (detected from bytes, not the extension) or is "
    "truncated; UPSTREAM_TIMEOUT / UPSTREAM_HTTP for the download or the model call; MODEL_NOT_FOUND."
)

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
        annotations=analysis_annotations(title),
    )


TOOLS = [
    _spec("analyze_image", "Analyze an image", _IMAGE_DESC, AnalyzeImageInput, analyze_image),
    _spec("analyze_audio", "Analyze audio", _AUDIO_DESC, AnalyzeAudioInput, analyze_audio),
    _spec("analyze_video", "Analyze a video", _VIDEO_DESC, AnalyzeVideoInput, analyze_video),
    _spec("speech_to_text", "Speech to text", _STT_DESC, SpeechToTextInput, speech_to_text),
    _spec("analyze_media", "Analyze mixed media", _MEDIA_DESC, AnalyzeMediaInput, analyze_media),
]
