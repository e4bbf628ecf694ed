"""Model pickers and allowed parameter values, read from the tool core so they cannot drift.

Enums come from the tools' pydantic input models (``Literal`` annotations); the model lists come
from the cached catalog (``GET /models``) and, for video, the cached ``GET /videos/models``
capabilities, both through the core's context (its client), never HTTP from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal, get_args, get_origin

from ..tools.enums import ASPECT_RATIOS, IMAGE_SIZES

# Used only when a tool family is not registered (so its tab still shows sensible choices).
FALLBACKS: dict[tuple[str, str], tuple[str, ...]] = {
    ("generate_image", "aspect_ratio"): ASPECT_RATIOS,
    ("generate_image", "image_size"): IMAGE_SIZES,
    ("generate_audio", "format"): ("wav", "mp3", "flac", "opus", "pcm16"),
    ("text_to_speech", "response_format"): ("mp3", "opus", "aac", "flac", "wav", "pcm"),
    ("chat_completion", "reasoning_effort"): (
        "max",
        "xhigh",
        "high",
        "medium",
        "low",
        "minimal",
        "none",
    ),
    ("analyze_image", "detail"): ("auto", "low", "high", "original"),
}

# The voices generate_audio documents for OpenAI audio models, when a model lists none itself.
DEFAULT_AUDIO_VOICES = ("alloy", "echo", "fable", "onyx", "nova", "shimmer")


def _literals(tp: Any) -> list[Any]:
    """Every ``Literal`` value inside an annotation (``Literal[...] | None``, ``list[Literal]``)."""
    if get_origin(tp) is Literal:
        return list(get_args(tp))
    out: list[Any] = []
    for arg in get_args(tp):
        for v in _literals(arg):
            if v not in out:
                out.append(v)
    return out


def input_model(tool: str) -> Any | None:
    from ..tools.registry import get_tool

    spec = get_tool(tool)
    return spec.input_model if spec is not None else None


def has_field(tool: str, field: str) -> bool:
    model = input_model(tool)
    return model is not None and field in model.model_fields


def allowed_values(tool: str, field: str) -> tuple[Any, ...]:
    """The ``Literal`` values of ``tool``'s ``field`` (fallback list if the tool is absent)."""
    model = input_model(tool)
    if model is not None and field in model.model_fields:
        values = _literals(model.model_fields[field].annotation)
        if values:
            return tuple(values)
    return FALLBACKS.get((tool, field), ())


def field_default(tool: str, field: str, fallback: Any = None) -> Any:
    model = input_model(tool)
    if model is None or field not in model.model_fields:
        return fallback
    d = model.model_fields[field].default
    return fallback if d is None or type(d).__name__ == "PydanticUndefinedType" else d


def optional_options(
    values: Iterable[Any], default_label: str = "default"
) -> list[tuple[str, Any]]:
    """Dropdown options: ``(default, None)`` first (the tool decides), then every allowed value."""
    return [(default_label, None), *((str(v), v) for v in values)]


# ---- the model catalog ------------------------------------------------------------------------


def context(settings: Any) -> Any:
    from ..tools.base import ToolContext

    return ToolContext(tool="dashboard", settings=settings)


async def load_models(settings: Any) -> list[dict[str, Any]]:
    """Every catalog model (``output_modalities=all``), cached by the core."""
    from ..tools.catalog import ensure_catalog

    models, _info = await ensure_catalog(context(settings))
    return list(models)


async def load_video_models(settings: Any) -> dict[str, dict[str, Any]]:
    """Lower-cased id → ``GET /videos/models`` capability record (cached by the core)."""
    from ..tools.video_catalog import video_models

    return dict(await video_models(context(settings)))


def modalities(model: dict[str, Any]) -> tuple[set[str], set[str]]:
    from ..tools.catalog import modalities as _mods

    return _mods(model)


def is_free(model: dict[str, Any]) -> bool:
    from ..tools.catalog import is_free as _free

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
