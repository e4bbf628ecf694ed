"""The audio API: ``POST /audio/speech`` (text to speech) and ``POST /audio/transcriptions``.

Speech answers real audio bytes (a PCM/WAV tone whose length follows the text, or the shipped MP3
and Opus clips); a transcription describes the audio it received (format, size, duration) in the
requested ``response_format``.
"""

from __future__ import annotations

import math
from typing import Any

from .. import _media
from .._http import Req, Resp, bad_request, json_resp, require_model, required_text, text_resp
from ._base import Endpoints, route

#: Bytes per second assumed for a clip whose duration its header does not tell.
_BYTES_PER_SECOND = {"mp3": 16_000, "pcm16": 48_000, "wav": 44_100, "flac": 60_000}


class AudioAPI(Endpoints):
    """Stateless: every answer is computed from the request alone."""

    @route("POST", r"/audio/speech", auth=True)
    async def speech(self, req: Req) -> Resp:
        body = req.body()
        model = require_model(body, "speech", "text-to-speech")
        text = required_text(body, "input")
        voice = body.get("voice")
        voices = model.get("supported_voices") or []
        if voice is not None and voices and voice not in voices:
            raise bad_request(
                f"voice '{voice}' is not supported by {model['id']}. Supported voices: {', '.join(voices)}"
            )
        fmt = body.get("response_format", "pcm")
        speed = body.get("speed", 1.0)
        if (
            not isinstance(speed, (int, float))
            or isinstance(speed, bool)
            or not 0.25 <= speed <= 4.0
        ):
            raise bad_request("speed must be a number from 0.25 to 4.0")
        seconds = min(10.0, max(0.5, 0.3 * len(text.split()) / float(speed)))

        def pcm_fn() -> bytes:
            return _media.pcm_tone(round(seconds, 2), _media.tone_freq(_media.digest(text, voice)))

        if fmt == "mp3":
            raw, ctype = _media.asset_bytes("speech.mp3"), "audio/mpeg"
        elif fmt == "opus":
            raw, ctype = _media.asset_bytes("speech.opus"), "audio/ogg"
        elif fmt == "pcm":
            raw, ctype = pcm_fn(), "audio/pcm"
        elif fmt == "wav":
            raw, ctype = _media.wav(pcm_fn()), "audio/wav"
        else:
            raise bad_request(
                f"response_format '{fmt}' is not supported by {model['id']}. Supported: mp3, opus, pcm, wav"
            )
        gen_id = self.app.new_id("gen", req.body_hash)
        chars = len(text)
        cost = round(chars * float(model["pricing"].get("completion", "0") or 0) / 4, 10)
        self.app.account_api.record_generation(
            gen_id, req, model=model["id"], api_type="tts", total_cost=cost, usage=cost
        )
        return Resp(200, {"Content-Type": ctype, "X-Generation-Id": gen_id}, body=raw)

    @route("POST", r"/audio/transcriptions", auth=True)
    async def transcriptions(self, req: Req) -> Resp:
        ctype = req.headers.get("content-type", "")
        if ctype.startswith("multipart/"):
            raise bad_request(
                "Send a JSON body with input_audio {data, format}; multipart is not supported"
            )
        body = req.body()
        model = require_model(body, "transcription", "speech-to-text")
        audio, fmt = _input_audio(body)
        size, head = _media.b64_info(audio["data"], 4096)
        if size == 0:
            raise bad_request("input_audio.data: empty audio")
        duration = _media.wav_duration(head, size)
        if duration is None:
            duration = round(size / _BYTES_PER_SECOND.get(fmt, 16_000), 3)
        language = body.get("language") or "en"
        text = (
            f"Offline transcription by the or_magic double ({model['id']}): {fmt} audio, "
            f"{size} bytes, about {duration:.1f} seconds."
        )
        rf = body.get("response_format") or "json"
        gen_id = self.app.new_id("gen", req.body_hash)
        cost = round(duration * float(model["pricing"].get("audio", "0") or 0), 10)
        self.app.account_api.record_generation(
            gen_id, req, model=model["id"], api_type="stt", total_cost=cost, usage=cost
        )
        headers = {"X-Generation-Id": gen_id}
        if rf == "text":
            return text_resp(text, headers)
        if rf in ("srt", "vtt"):
            return text_resp(_subtitles(rf, text, duration), headers)
        if rf not in ("json", "verbose_json"):
            raise bad_request("response_format must be one of json, text, srt, verbose_json, vtt")
        result: dict[str, Any] = {
            "text": text,
            "language": language,
            "duration": duration,
            "usage": {"seconds": math.ceil(duration), "cost": cost},
        }
        if rf == "verbose_json":
            result["segments"] = [{"id": 0, "start": 0.0, "end": duration, "text": text}]
        return json_resp(result, headers=headers)


def _input_audio(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """``(input_audio, its format)``, both required; the 400 otherwise."""
    audio = body.get("input_audio")
    if (
        not isinstance(audio, dict)
        or not isinstance(audio.get("data"), str)
        or not audio["data"].strip()
    ):
        raise bad_request("input_audio.data: Required (base64 audio)")
    fmt = audio.get("format")
    if not isinstance(fmt, str) or not fmt:
        raise bad_request("input_audio.format: Required")
    return audio, fmt


def _subtitles(rf: str, text: str, duration: float) -> str:
    """One cue spanning the whole clip, as SRT or WebVTT."""
    sep = "," if rf == "srt" else "."
    start, end = _timestamp(0, sep), _timestamp(duration, sep)
    if rf == "srt":
        return f"1\n{start} --> {end}\n{text}\n"
    return f"WEBVTT\n\n{start} --> {end}\n{text}\n"


def _timestamp(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"
