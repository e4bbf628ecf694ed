"""``%%openrouter audio`` (``generate_audio``; ``--tts`` reads the cell aloud) and
``%%openrouter speech`` (``text_to_speech``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import _parsing as P
from .._common import drop_none
from ._generation import need_prompt, run_generation

if TYPE_CHECKING:  # pragma: no cover
    from .._core import OpenRouterMagics


def run(m: OpenRouterMagics, words: list[str], cell: str) -> Any:
    opts = P.parse(P.audio_parser(), words)
    if opts.tts:
        return _speech(m, opts, cell)
    prompt = need_prompt(m, cell, opts, "audio")
    fmt = opts.audio_format
    args = drop_none(
        {
            "prompt": prompt,
            "model": m._model(opts.model, "audio_gen_model"),
            "voice": opts.voice,
            "format": fmt,
            "save_path": opts.save or m._auto_save("audio", fmt or "wav"),
        }
    )
    return run_generation(m, "generate_audio", args, opts, title="audio", prompt=prompt)


def run_speech(m: OpenRouterMagics, words: list[str], cell: str) -> Any:
    return _speech(m, P.parse(P.audio_parser(speech=True), words), cell)


def _speech(m: OpenRouterMagics, opts: Any, cell: str) -> Any:
    text = need_prompt(m, cell, opts, "speech")
    fmt = opts.audio_format
    args = drop_none(
        {
            "input": text,
            "model": m._model(opts.model, "tts_model"),
            "voice": opts.voice,
            "response_format": fmt,
            "speed": getattr(opts, "speed", None),
            "instructions": getattr(opts, "instructions", None),
            "save_path": opts.save or m._auto_save("speech", fmt or "mp3"),
        }
    )
    return run_generation(m, "text_to_speech", args, opts, title="speech", prompt=text)
