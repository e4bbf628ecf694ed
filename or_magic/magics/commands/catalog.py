"""``%openrouter models`` / ``info MODEL`` / ``health``: the model catalogue and the backend."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from .. import _parsing as P
from .._bundles import info_bundle, models_table
from .._common import drop_none
from .._run import quick, show_bundles

if TYPE_CHECKING:  # pragma: no cover
    from .._core import OpenRouterMagics


def models(m: OpenRouterMagics, words: list[str]) -> Any:
    opts = P.parse(P.models_parser(), words)
    caps = drop_none(
        {
            "vision": opts.vision or None,
            "audio": opts.audio or None,
            "video": opts.video or None,
            "image_output": opts.image_out or None,
            "audio_output": opts.audio_out or None,
            "video_output": opts.video_out or None,
        }
    )
    args = drop_none(
        {
            "query": " ".join(opts.query) or None,
            "provider": opts.provider,
            "capabilities": caps or None,
            "free_only": True if opts.free else None,
            "output_modalities": ["embeddings"] if opts.embed else None,
            "limit": max(1, min(opts.limit, 50)),
        }
    )
    raw = quick(m, "search_models", args)
    m._store(opts.out, m._wrap(raw, "markdown"))
    show_bundles([models_table(raw)], rich=m._rich())


def info(m: OpenRouterMagics, words: list[str]) -> Any:
    if len(words) != 1:
        raise UsageError("usage: %openrouter info MODEL")
    raw = quick(m, "get_model_info", {"model": m._model(words[0], "default_model")})
    show_bundles([info_bundle(raw)], rich=m._rich())


def health(m: OpenRouterMagics, words: list[str]) -> Any:
    raw = quick(m, "health_check", {})
    text = raw.text
    badge = " **`offline`**" if (raw.data or {}).get("offline") or raw.offline else ""
    md = "```text\n" + text + "\n```\n" + (f"\n{badge.strip()}" if badge else "")
    show_bundles(
        [({"text/markdown": md, "text/plain": text}, {"or_magic": {"tool": "health_check"}})],
        rich=m._rich(),
    )
