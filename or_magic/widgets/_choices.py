"""Model pickers and allowed parameter values for the dashboard, read from the tool core.

Allowed values and defaults come from the core's front door (``or_magic.tools``), which reads the
tools' input models, so a dropdown can neither offer what a tool refuses nor miss what it accepts.
The model lists arrive as the core's ``model_catalog()`` / ``video_capabilities()`` results (the
dashboard loads them); this module only filters and labels them for the pickers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..tools import allowed_values, field_default, has_field

__all__ = [
    "DEFAULT_AUDIO_VOICES",
    "allowed_values",
    "field_default",
    "filter_models",
    "has_field",
    "is_free",
    "label",
    "modalities",
    "model_options",
    "optional_options",
    "pick_default",
]

# The voices generate_audio documents for OpenAI audio models, when a model lists none itself.
DEFAULT_AUDIO_VOICES = ("alloy", "echo", "fable", "onyx", "nova", "shimmer")


def optional_options(
    values: Iterable[Any], default_label: str = "default"
) -> list[tuple[str, Any]]:
    """Dropdown options: ``(default, None)`` first (the tool decides), then every allowed value."""
    return [(default_label, None), *((str(v), v) for v in values)]


# ---- the model catalog ------------------------------------------------------------------------


def modalities(model: dict[str, Any]) -> tuple[set[str], set[str]]:
    from ..tools import modalities as _mods

    return _mods(model)


def is_free(model: dict[str, Any]) -> bool:
    from ..tools import is_free as _free

    return _free(model)


def label(model: dict[str, Any]) -> str:
    return model["id"] + (" (free)" if is_free(model) else "")


def filter_models(
    models: Iterable[dict[str, Any]],
    *,
    inputs: Iterable[str] = (),
    outputs_any: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """Models accepting every modality in ``inputs`` and producing one of ``outputs_any``."""
    need_in = set(inputs)
    want_out = set(outputs_any)
    out = []
    for m in models:
        ins, outs = modalities(m)
        if need_in and not need_in <= ins:
            continue
        if want_out and not (want_out & outs):
            continue
        out.append(m)
    return out


def model_options(models: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    """``(label, id)`` pairs: the id, with ``(free)`` appended for free models."""
    return [(label(m), m["id"]) for m in models]


def pick_default(options: Sequence[tuple[str, str]], preferred: Iterable[str | None]) -> str | None:
    ids = [v for _, v in options]
    lower = {i.lower(): i for i in ids}
    for p in preferred:
        if p and p.lower() in lower:
            return lower[p.lower()]
    return ids[0] if ids else None
