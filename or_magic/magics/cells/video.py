"""``%%openrouter video``: the cell is the prompt of ``generate_video`` (always saved)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _parsing as P
from .._common import drop_none, stamp
from ._generation import need_prompt, run_generation

if TYPE_CHECKING:  # pragma: no cover
    from .._core import OpenRouterMagics


def run(m: OpenRouterMagics, words: list[str], cell: str) -> Any:
    opts = P.parse(P.video_parser(), words)
    prompt = need_prompt(m, cell, opts, "video")
    max_wait = opts.max_wait or m.video_max_wait_s or None

    def source(word: str | None) -> Any:
        return m._source(word).value if word else None

    args = drop_none(
        {
            "prompt": prompt,
            "model": m._model(opts.model, "video_gen_model"),
            "duration": opts.duration,
            "resolution": opts.resolution,
            "aspect_ratio": opts.aspect,
            "seed": opts.seed,
            "first_frame_image": source(opts.first_frame),
            "last_frame_image": source(opts.last_frame),
            "reference_images": [m._source(r).value for r in (opts.ref or [])] or None,
            "save_path": opts.save or str(Path(m.output_dir) / f"video-{stamp()}.mp4"),
            "max_wait_ms": int(max_wait * 1000) if max_wait else None,
            "poll_interval_ms": int(opts.poll * 1000) if opts.poll else None,
        }
    )
    return run_generation(m, "generate_video", args, opts, title="video", prompt=prompt)
