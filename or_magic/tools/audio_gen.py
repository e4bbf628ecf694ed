"""generate_audio (speech or music from a chat model, streamed) and text_to_speech (``/audio/speech``).

generate_audio facts (openrouter-api.md §4): audio output needs ``stream: true``, and gpt-audio
models then accept only ``format: "pcm16"``. So pcm16 is the default, and a wav/mp3/flac/opus request
to such a model is sent as pcm16 and delivered as WAV with a note saying so. Each streamed
``delta.audio.data`` chunk is decoded on its own (chunks are padded individually; the Node server
joined the base64 text first and corrupted multi-chunk audio); raw PCM16 is wrapped in a WAV header
(24 kHz, mono, 16-bit). The transcript and any ``delta.content`` text are kept.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from .. import log
from ..config import Settings
from ..errors import ErrorCode, ToolError
from ..result import ToolResult
from .base import ToolContext, ToolSpec, describe, generator_annotations
from .common import (
    CacheFields,
    NonBlank,
    OptionalText,
    ProviderPrefs,
    StrictModel,
    add_usage_and_cost,
    cache_headers,
    clean_model,
    merge_provider,
    no_media_error,
    usage_meta,
)
from .completion import chunk_choices
from .enums import AUDIO_FORMATS, TTS_FORMATS
from .saving import Delivered, deliver_bytes, resolve_save, save_failure_code

PCM_RATE = 24_000
DEFAULT_VOICE = "alloy"
DEFAULT_TTS_VOICE = "flux-alexis-en"

_SAVE_DESC = (
    "Write the audio to this file under OPENROUTER_OUTPUT_DIR (created if missing; traversal, "
    "absolute paths outside it and symlinks are refused with UNSAFE_PATH before anything is paid "
    "for). The extension is corrected to the detected type (raw PCM is saved as .wav). Without "
    "save_path the audio is inline up to OPENROUTER_AUDIO_INLINE_MAX_BYTES (1 MiB), else saved "
    "under OPENROUTER_OUTPUT_DIR/or_magic-output/ and the path returned."
)


def pcm16_only(model: str) -> bool:
    """gpt-audio models stream only pcm16 (a 400 otherwise)."""
    m = model.lower()
    return "gpt-audio" in m or "audio-preview" in m


def is_music_model(model: str) -> bool:
    m = model.lower()
    return "lyria" in m or "music" in m


class GenerateAudioInput(StrictModel):
    prompt: NonBlank = Field(
        ..., description="What to say (speech models) or what to compose (music models)"
    )
    model: str | None = Field(
        None,
        description="Audio-output chat model (default OPENROUTER_DEFAULT_AUDIO_GEN_MODEL, "
        "openai/gpt-audio); music models such as google/lyria-3-pro-preview work too",
    )
    voice: OptionalText = Field(
        None, description="Voice (default alloy): alloy, echo, fable, onyx, nova, shimmer, …"
    )
    format: Literal[AUDIO_FORMATS] | None = Field(  # type: ignore[valid-type]
        None,
        description="Audio format to request. Default pcm16 (delivered as WAV). gpt-audio models "
        "only stream pcm16: asking them for wav/mp3/flac/opus sends pcm16 and delivers WAV, with a "
        "note in the result",
    )
    save_path: str | None = Field(None, description=_SAVE_DESC)
    provider: ProviderPrefs | None = None


class TextToSpeechInput(CacheFields):
    input: NonBlank = Field(..., description="The text to speak")
    model: str | None = Field(
        None,
        description="TTS model (default OPENROUTER_DEFAULT_TTS_MODEL, deepgram/flux-tts:free)",
    )
    voice: OptionalText = Field(
        None, description="Voice; default flux-alexis-en for the Deepgram Flux models"
    )
    response_format: Literal[TTS_FORMATS] = Field(  # type: ignore[valid-type]
        "mp3", description="Audio format (default mp3); raw pcm is delivered as WAV"
    )
    speed: float | None = Field(None, ge=0.25, le=4.0, description="0.25–4.0")
    instructions: str | None = Field(None, description="Style instructions (models that take them)")
    save_path: str | None = Field(None, description=_SAVE_DESC)
    provider: ProviderPrefs | None = None


# ---- streamed base64 -----------------------------------------------------------------------------

_WS = re.compile(r"\s+")
_SEGMENTS = re.compile(r"[^=]*=+|[^=]+")


class Base64Chunks:
    """Decodes a stream of base64 pieces into bytes, chunk by chunk.

    Works both when every chunk is padded on its own (what the API does: joining the text first
    would put ``=`` in the middle) and when one encoding is split at arbitrary points: a padded
    segment is decoded as a whole, an unpadded tail keeps its last incomplete quad for the next
    piece. ``max_bytes`` caps the total (``RESOURCE_TOO_LARGE``).
    """

    def __init__(self, max_bytes: int, label: str) -> None:
        self.buf = bytearray()
        self.max_bytes = max_bytes
        self.label = label
        self.chunks = 0
        self._carry = ""

    def feed(self, piece: str) -> None:
        if not piece:
            return
        self.chunks += 1
        s = self._carry + _WS.sub("", piece)
        self._carry = ""
        segs = _SEGMENTS.findall(s)
        for i, seg in enumerate(segs):
            if seg.endswith("="):
                if len(seg) % 4 and i == len(segs) - 1:
                    self._carry = seg  # the rest of its padding is in the next piece
                else:
                    self._decode(seg)
            else:
                n = len(seg) - len(seg) % 4
                if n:
                    self._decode(seg[:n])
                self._carry = seg[n:]

    def close(self) -> bytes:
        if self._carry:
            # An unpadded final quad: restore the padding it omitted.
            self._decode(self._carry + "=" * (-len(self._carry) % 4))
            self._carry = ""
        return bytes(self.buf)

    def _decode(self, seg: str) -> None:
        try:
            data = base64.b64decode(seg, validate=True)
        except (binascii.Error, ValueError):
            raise ToolError(
                ErrorCode.UNSUPPORTED_FORMAT,
                f"{self.label}: chunk {self.chunks} of the audio stream is not valid base64",
                details={"reason": "bad_base64", "chunk": self.chunks},
            ) from None
        if len(self.buf) + len(data) > self.max_bytes:
            raise ToolError(
                ErrorCode.RESOURCE_TOO_LARGE,
                f"{self.label}: the generated audio is larger than {self.max_bytes} bytes",
                details={"limit_bytes": self.max_bytes},
                suggestions=["Ask for shorter audio, or raise OPENROUTER_AUDIO_MAX_DOWNLOAD_BYTES"],
            )
        self.buf += data


# ---- container detection --------------------------------------------------------------------------


def audio_container(
    data: bytes, *, raw_pcm_expected: bool, rate: int = PCM_RATE
) -> tuple[bytes, str, str, str | None]:
    """``(bytes, mime, ext, note)``: a known container as is, raw PCM16 wrapped as WAV."""
    from ..media.audio import wrap_pcm16_wav
    from ..media.sniff import sniff

    s = sniff(data[:8192])
    if s is not None and s.kind in ("audio", "video") and (not raw_pcm_expected or s.fmt == "wav"):
        mime = s.mime if s.kind == "audio" else s.mime.replace("video/", "audio/", 1)
        ext = s.ext if s.kind == "audio" else ".m4a" if s.fmt == "mp4" else s.ext
        return data, mime, ext, None
    if raw_pcm_expected or s is None:
        wav = wrap_pcm16_wav(data, rate=rate, channels=1)
        return wav, "audio/wav", ".wav", f"raw PCM16 wrapped as WAV ({rate} Hz, mono, 16-bit)"
    raise ToolError(
        ErrorCode.UNSUPPORTED_FORMAT,
        f"the model returned {s.base_mime}, not audio",
        details={"reason": "not_audio", "detected": s.base_mime},
    )


def _duration(wav_or_other: bytes, mime: str) -> float | None:
    if mime != "audio/wav":
        return None
    try:
        from ..media.audio import wav_info

        info = wav_info(wav_or_other)
        return round(info.frames / info.rate, 3) if info.rate else None
    except ToolError:
        return None


@dataclass
class _DeliveredAudio:
    """An answer's audio after delivery: its bytes in their container, and where they went."""

    data: bytes
    mime: str
    wrap_note: str | None  # set when raw PCM16 was wrapped as WAV
    delivered: Delivered
    on_disk: bool  # saved (save_path, or too big to inline): the delivery text names the file

    def meta(self, model: str) -> dict[str, Any]:
        """The start of the result's meta: the model, the audio's type and size, where it went."""
        return {
            "model": model,
            "mime": self.mime,
            "size_bytes": len(self.data),
            **self.delivered.meta,
        }


def _deliver_audio(
    raw: bytes,
    *,
    raw_pcm_expected: bool,
    rate: int = PCM_RATE,
    tool: str,
    noun: str,
    settings: Settings,
    save: Path | None,
    item_meta: dict[str, Any] | None = None,
) -> _DeliveredAudio:
    """Both tools' last step: the bytes in a container (``audio_container``), inline or saved."""
    data, mime, ext, wrap_note = audio_container(raw, raw_pcm_expected=raw_pcm_expected, rate=rate)
    d = deliver_bytes(
        data,
        kind="audio",
        mime=mime,
        ext=ext,
        settings=settings,
        tool=tool,
        save_path=save,
        noun=noun,
        item_meta=item_meta,
        paid=True,  # both tools deliver after the request: a failed save keeps the bytes
    )
    on_disk = save is not None or "auto_saved" in d.meta
    return _DeliveredAudio(data, mime, wrap_note, d, on_disk)


# ---- generate_audio ------------------------------------------------------------------------------


async def generate_audio(args: GenerateAudioInput, ctx: ToolContext) -> ToolResult:
    """Stream one audio answer: plan the request, collect the stream, then deliver and describe it.

    A save that fails only after the request (the folder swapped, removed or made unwritable
    meanwhile) keeps the paid audio: a success carrying the save error's code, ``meta.saved =
    False`` and the audio inline (``saving``, ``paid``); error results carry no media.
    """
    s = ctx.settings
    save = resolve_save(args.save_path, s)
    plan = _plan_audio(args, s)
    log.audit(
        "generate_audio.start",
        model=plan.model,
        prompt_preview=log.preview(args.prompt, 80),
        voice=plan.voice,
        format=plan.sent,
        save=save is not None,
    )
    got = _AudioStream(Base64Chunks(s.audio_max_download_bytes, "generate_audio"))
    events = ctx.client.stream_sse(
        "/chat/completions", plan.body, context="generate_audio (stream)"
    )
    async with contextlib.aclosing(events):
        async for event in events:
            await got.take(event, ctx)
    raw = got.decoder.close()
    said, plain = "".join(got.transcript).strip(), "".join(got.text).strip()
    if not raw:
        raise _no_audio(said or plain, got.finish, plan.model)
    out = _deliver_audio(
        raw,
        raw_pcm_expected=plan.sent == "pcm16",
        tool="generate_audio",
        noun="Audio",
        settings=s,
        save=save,
        item_meta={"transcript": said} if said else None,
    )
    if out.wrap_note:
        plan.notes.append(out.wrap_note)
    meta = _audio_meta(plan, got, out, said, plain)
    if out.on_disk:
        lines = [out.delivered.text] + ([f"Transcript: {said}"] if said else [])
    else:
        lines = [said or plain or "Audio generated successfully."]
    if plan.notes and plan.requested and plan.requested not in ("pcm16", "wav"):
        lines.append(f"Note: {plan.notes[0]}.")
    item = out.delivered.item
    await ctx.media(item)
    code = save_failure_code([out.delivered])
    return ToolResult(
        tool="generate_audio", text="\n".join(lines), code=code, media=[item], meta=meta
    )


@dataclass
class _AudioPlan:
    """The request generate_audio sends, and why it differs from what was asked (``notes``)."""

    model: str
    requested: str | None
    sent: str
    voice: str | None
    notes: list[str]
    body: dict[str, Any]


def _plan_audio(args: GenerateAudioInput, s: Settings) -> _AudioPlan:
    """pcm16 by default and for pcm16-only models (noted); music models get no voice, no text."""
    model = clean_model(args.model) or s.default_audio_gen_model
    music = is_music_model(model)
    requested = args.format
    sent = requested or "pcm16"
    notes: list[str] = []
    if requested and requested != "pcm16" and pcm16_only(model):
        sent = "pcm16"
        notes.append(
            f"{model} streams only pcm16, so pcm16 was requested and delivered as WAV "
            f"instead of {requested}"
        )
    audio_cfg: dict[str, Any] = {"format": sent}
    voice = None if music else (args.voice or DEFAULT_VOICE)
    if voice:
        audio_cfg["voice"] = voice
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": args.prompt}],
        "modalities": ["audio"] if music else ["text", "audio"],
        "audio": audio_cfg,
        "stream": True,
    }
    provider = merge_provider(args.provider, s)
    if provider:
        body["provider"] = provider
    return _AudioPlan(model, requested, sent, voice, notes, body)


@dataclass
class _AudioStream:
    """What the SSE stream carried: audio bytes (decoded chunk by chunk), transcript, text, ends."""

    decoder: Base64Chunks
    transcript: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    finish: Any = None
    usage: Any = None
    served: Any = None
    gen_id: Any = None
    truncated: bool = False

    async def take(self, event: dict[str, Any], ctx: ToolContext) -> None:
        """One event: the stream's end marker, a whole non-streamed answer, or a chunk of deltas."""
        if event.get("__truncated__"):  # closed before a finish_reason or [DONE]
            self.truncated = True
        elif "__full_response__" in event:  # a server that ignored stream: true
            self._take_full(event["__full_response__"])
        else:
            await self._take_chunk(event, ctx)

    def _take_full(self, full: Any) -> None:
        choice = (full.get("choices") or [{}])[0] if isinstance(full, dict) else {}
        msg = choice.get("message") or {}
        self._take_audio(msg.get("audio") if isinstance(msg.get("audio"), dict) else {})
        if isinstance(msg.get("content"), str):
            self.text.append(msg["content"])
        self.finish = choice.get("finish_reason")
        self.usage = full.get("usage")
        self.served, self.gen_id = full.get("model"), full.get("id")

    async def _take_chunk(self, event: dict[str, Any], ctx: ToolContext) -> None:
        self.served = event.get("model") or self.served
        self.gen_id = event.get("id") or self.gen_id
        if isinstance(event.get("usage"), dict):
            self.usage = event["usage"]
        for choice, delta in chunk_choices(event):
            if isinstance(delta.get("audio"), dict):
                self._take_audio(delta["audio"])
            if isinstance(delta.get("content"), str) and delta["content"]:
                self.text.append(delta["content"])
                await ctx.text(delta["content"])
            if choice.get("finish_reason"):
                self.finish = choice["finish_reason"]

    def _take_audio(self, audio: dict[str, Any]) -> None:
        if isinstance(audio.get("data"), str):
            self.decoder.feed(audio["data"])
        if isinstance(audio.get("transcript"), str):
            self.transcript.append(audio["transcript"])


def _no_audio(said: str, finish: Any, model: str) -> ToolError:
    """UPSTREAM_REFUSED for a stream without audio, showing whatever text came instead."""
    return no_media_error(
        "audio",
        said,
        finish,
        model,
        missing="no_audio_in_stream",
        suggestions=[
            "Rephrase the prompt",
            "Check the model outputs audio (search_models with output modality audio)",
        ],
    )


def _audio_meta(
    plan: _AudioPlan, got: _AudioStream, out: _DeliveredAudio, said: str, plain: str
) -> dict[str, Any]:
    """The result's meta: what was served and delivered, then only the optional facts present."""
    meta = out.meta(got.served or plan.model)
    dur = _duration(out.data, out.mime)
    if dur is not None:
        meta["duration_s"] = dur
    meta.update(
        format_requested=plan.requested, format_sent=plan.sent, audio_chunks=got.decoder.chunks
    )
    optional = {
        "voice": plan.voice,
        "transcript": said,
        "text": plain,
        "notes": plan.notes,
        "finish_reason": got.finish,
        "truncated": got.truncated,  # the audio may end early
    }
    meta.update((k, v) for k, v in optional.items() if v)
    add_usage_and_cost(meta, usage_meta(got.usage))
    if got.gen_id:
        meta["generation_id"] = got.gen_id
    return meta


# ---- text_to_speech ------------------------------------------------------------------------------

_RATE_PARAM = re.compile(r"rate=(\d+)", re.IGNORECASE)


async def text_to_speech(args: TextToSpeechInput, ctx: ToolContext) -> ToolResult:
    """One speech request; a save that fails after it keeps the paid audio inline with the
    error's code, as ``generate_audio`` does."""
    s = ctx.settings
    save = resolve_save(args.save_path, s)
    model = clean_model(args.model) or s.default_tts_model
    voice = args.voice
    if voice is None and model.lower().startswith("deepgram/flux-tts"):
        voice = DEFAULT_TTS_VOICE
    body: dict[str, Any] = {
        "model": model,
        "input": args.input,
        # The spec's formats are mp3 and pcm: wav is requested as pcm and wrapped here.
        "response_format": "pcm" if args.response_format == "wav" else args.response_format,
    }
    if voice:
        body["voice"] = voice
    if args.speed is not None:
        body["speed"] = args.speed
    if args.instructions:
        body["instructions"] = args.instructions
    provider = merge_provider(args.provider, s, endpoint="speech")
    if provider:
        body["provider"] = provider
    log.audit(
        "text_to_speech.start",
        model=model,
        input_preview=log.preview(args.input, 80),
        voice=voice,
        format=args.response_format,
        save=save is not None,
    )
    resp = await ctx.client.request_bytes(
        "POST",
        "/audio/speech",
        json=body,
        headers=cache_headers(args, s),
        timeout_s=max(60.0, s.request_timeout_ms / 1000.0 / 2),
        context="text_to_speech",
        max_bytes=s.audio_max_download_bytes,
    )
    ctype = (resp.content_type or "audio/mpeg").lower()
    if "html" in ctype:
        raise ToolError(
            ErrorCode.UPSTREAM_HTTP,
            f"text_to_speech: got an HTML page ({ctype}) instead of audio",
            details={"reason": "html", "status": resp.status, "content_type": ctype},
            suggestions=["Check OPENROUTER_BASE_URL points at the API (…/api/v1)"],
        )
    if not resp.data:
        raise ToolError(
            ErrorCode.UPSTREAM_REFUSED,
            "text_to_speech: the model returned no audio (empty body)",
            details={"reason": "empty_audio", "model": model},
            suggestions=["Retry", "Try another voice or model"],
        )
    pcm = args.response_format in ("pcm", "wav") or ctype.split(";")[0].strip() in (
        "audio/pcm",
        "audio/l16",
    )
    m = _RATE_PARAM.search(ctype)
    rate = int(m.group(1)) if m and 1 <= int(m.group(1)) <= 768_000 else PCM_RATE
    out = _deliver_audio(
        resp.data,
        raw_pcm_expected=pcm,
        rate=rate,
        tool="text_to_speech",
        noun="Speech",
        settings=s,
        save=save,
    )
    meta = out.meta(model)
    if voice:
        meta["voice"] = voice
    dur = _duration(out.data, out.mime)
    if dur is not None:
        meta["duration_s"] = dur
    if out.wrap_note:
        meta["notes"] = [out.wrap_note]
    headers = {k.lower(): v for k, v in resp.headers.items()}
    if headers.get("x-generation-id"):
        meta["generation_id"] = headers["x-generation-id"]
    if out.on_disk:
        text = out.delivered.text
    else:
        text = f"Speech generated ({len(out.data)} bytes, {out.mime})."
    item = out.delivered.item
    await ctx.media(item)
    code = save_failure_code([out.delivered])
    return ToolResult(tool="text_to_speech", text=text, code=code, media=[item], meta=meta)


# ---- registration -------------------------------------------------------------------------------


TOOLS = [
    ToolSpec(
        name="generate_audio",
        title="Generate audio (speech or music)",
        description=describe(
            "Generate speech or music with an audio-output chat model (streamed), returned inline "
            "or saved. gpt-audio models only stream pcm16: that is the default, delivered as a WAV "
            "file (24 kHz, mono, 16-bit); asking them for wav/mp3/flac/opus still works but you "
            "get WAV, with a note.",
            use_when="you want a model to speak a reply in a voice, or compose a short piece of "
            "music (music models such as google/lyria-3-pro-preview); the transcript is returned too.",
            not_when="you just need plain text-to-speech of a fixed text (text_to_speech is "
            "cheaper and exact), or you want to transcribe audio (speech_to_text / analyze_audio).",
            good=[
                '{"prompt": "Say hello to the team in a cheerful voice", "voice": "nova"}',
                '{"prompt": "Read this haiku slowly: ...", "save_path": "haiku.wav"}',
                '{"prompt": "A calm 20-second piano loop", "model": "google/lyria-3-pro-preview"}',
            ],
            bad=[
                '{"prompt": ""} (empty)',
                '{"prompt": "x", "format": "aac"} (formats: wav, mp3, flac, opus, pcm16)',
            ],
            fails="INVALID_INPUT for bad arguments; UNSAFE_PATH for a save_path outside "
            "OPENROUTER_OUTPUT_DIR (before any spend); UPSTREAM_REFUSED when the model returns no "
            "audio (its text is included); RESOURCE_TOO_LARGE over OPENROUTER_AUDIO_MAX_DOWNLOAD_BYTES; "
            "MODEL_NOT_FOUND; UPSTREAM_HTTP / UPSTREAM_TIMEOUT; a save_path that fails only "
            "after the request (its folder swapped or made unwritable meanwhile) still returns "
            "the paid audio: a success with that code in _meta.code and saved: false.",
            works_with="text_to_speech for exact narration; analyze_audio to check the result.",
        ),
        input_model=GenerateAudioInput,
        handler=generate_audio,
        annotations=generator_annotations("Generate audio"),
    ),
    ToolSpec(
        name="text_to_speech",
        title="Text to speech",
        description=describe(
            "Turn text into speech with OpenRouter's speech endpoint (POST /audio/speech).",
            use_when="you need an exact text read aloud (narration, prompts, accessibility).",
            not_when="you want the model to write and speak its own reply, or music (generate_audio).",
            good=[
                '{"input": "Welcome to the demo."}',
                '{"input": "Bonjour", "model": "openai/gpt-4o-mini-tts", "voice": "alloy", "response_format": "wav", "save_path": "hi.wav"}',
            ],
            bad=['{"input": "   "} (blank)', '{"input": "x", "speed": 9} (0.25–4.0)'],
            fails="INVALID_INPUT for bad arguments or a voice/format the model does not take; "
            "UNSAFE_PATH for a save_path outside OPENROUTER_OUTPUT_DIR (before any spend); "
            "UPSTREAM_REFUSED for an empty answer; UPSTREAM_HTTP for an HTML page; MODEL_NOT_FOUND; "
            "a save_path that fails only after the request (its folder swapped or made "
            "unwritable meanwhile) still returns the paid audio: a success with that code "
            "in _meta.code and saved: false.",
            works_with="speech_to_text / analyze_audio to check the result.",
        ),
        input_model=TextToSpeechInput,
        handler=text_to_speech,
        annotations=generator_annotations("Text to speech"),
    ),
]
