"""``%%openrouter image``: the cell is the prompt of ``generate_image``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import _parsing as P
from .._common import drop_none
from ._generation import need_prompt, run_generation

if TYPE_CHECKING:  # pragma: no cover
    from .._core import OpenRouterMagics


def run(m: OpenRouterMagics, words: list[str], cell: str) -> Any:
    opts = P.parse(P.image_parser(), words)
    prompt = need_prompt(m, cell, opts, "image")
    refs = [m._source(r).value for r in (opts.ref or [])]
    args = drop_none(
        {
            "prompt": prompt,
            "model": m._model(opts.model, "image_model"),
            "aspect_ratio": opts.aspect,
            "image_size": opts.size,
            "input_images": refs or None,
            "save_path": opts.save or m._auto_save("image", "png"),
        }
    )
    return run_generation(m, "generate_image", args, opts, title="image", prompt=prompt)
