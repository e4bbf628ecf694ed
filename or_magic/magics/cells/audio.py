"""``%%openrouter audio`` (``generate_audio``; ``--tts`` reads the cell aloud) and
``%%openrouter speech`` (``text_to_speech``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import _parsing as P
from .._common import drop_none
from ._generation import need_prompt, run_generation

if TYPE_CHECKING:  # pragma: no cover
    from .._core import OpenRouterMagics


# mode → (tool, its text argument, its format argument, the model trait, default extension)
_TOOLS = {
    "audio": ("generate_audio", "prompt", "format", "audio_gen_model", "wav"),
    "speech": ("text_to_speech", "input", "response_format", "tts_model", "mp3"),
}


def run(m: OpenRouterMagics, words: list[str], cell: str) -> Any:
    opts = P.parse(P.audio_parser(), words)
    if opts.tts:
        return _speech(m, opts, cell)
    return _generate(m, opts, cell, "audio")


def run_speech(m: OpenRouterMagics, words: list[str], cell: str) -> Any:
    return _speech(m, P.parse(P.audio_parser(speech=True), words), cell)


def _speech(m: OpenRouterMagics, opts: Any, cell: str) -> Any:
    extra = {
        "speed": getattr(opts, "speed", None),
        "instructions": getattr(opts, "instructions", None),
    }
    return _generate(m, opts, cell, "speech", extra)


def _generate(
    m: OpenRouterMagics, opts: Any, cell: str, mode: str, extra: dict[str, Any] | None = None
) -> Any:
    tool, text_arg, fmt_arg, trait, ext = _TOOLS[mode]
    text = need_prompt(m, cell, opts, mode)
    fmt = opts.audio_format
    args = drop_none(
        {
            text_arg: text,
            "model": m._model(opts.model, trait),
            "voice": opts.voice,
            fmt_arg: fmt,
            **(extra or {}),
            "save_path": opts.save or m._auto_save(mode, fmt or ext),
        }
    )
    return run_generation(m, tool, args, opts, title=mode, prompt=text)
