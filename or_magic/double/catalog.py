"""The double's model catalog: plain data, importable by tests without starting anything.

``MODELS`` mirrors ``GET /api/v1/models`` records (prices are strings, USD per token, like the real
API). ``VIDEO_MODELS`` and ``IMAGE_MODELS`` are the capability records of ``/videos/models`` and
``/images/models``. Ids and capabilities follow openrouter-api.md; prices are plausible, not real.

The facts live in ``assets/catalog.json`` (one entry per model, grouped in families whose
``defaults`` every member shares); this module turns them into the full API records, deriving
what the real API repeats (slugs, modality strings, the ``reasoning`` block, default pricing keys,
a video or image model's name and creation time from its ``/models`` record).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: Routing variants a model id may carry; ``model:variant`` resolves to ``model`` when the exact
#: variant is not listed (``:free`` variants that exist are separate catalog entries, as upstream).
VARIANT_SUFFIXES = ("free", "nitro", "online", "floor", "exacto", "thinking", "extended")

_TEXT_PARAMS = [
    "max_tokens",
    "temperature",
    "top_p",
    "stop",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "response_format",
    "structured_outputs",
    "tools",
    "tool_choice",
]
_REASONING_PARAMS = [*_TEXT_PARAMS, "reasoning", "include_reasoning", "reasoning_effort"]
_ZERO_PRICES = ("prompt", "completion", "request", "image", "web_search", "internal_reasoning")

_DATA: dict[str, Any] = json.loads(
    (Path(__file__).parent / "assets" / "catalog.json").read_text(encoding="utf-8")
)
#: Voice lists by name; a model entry's ``voices`` names one.
VOICES: dict[str, list[str]] = _DATA["voices"]
OPENAI_VOICES = VOICES["openai"]
DEEPGRAM_VOICES = VOICES["deepgram"]


def _model(
    id: str,
    name: str,
    *,
    created: int,
    inputs: list[str],
    outputs: list[str],
    pricing: dict[str, str] | None = None,
    context_length: int | None = 131072,
    max_completion_tokens: int | None = 16384,
    parameters: list[str] | None = None,
    reasoning: bool = False,
    tokenizer: str = "Other",
    voices: str | None = None,
    hugging_face_id: str | None = None,
    description: str = "",
) -> dict[str, Any]:
    """The ``GET /models`` record of one catalogue entry (keyword names = the JSON keys).

    ``pricing`` lists the prices that are not zero; ``reasoning`` gives the model the reasoning
    parameters (and the ``reasoning`` block); ``parameters`` replaces the plain text ones.
    """
    if reasoning and parameters is not None:
        raise ValueError(f"{id}: give reasoning or parameters, not both")
    prices = dict.fromkeys(_ZERO_PRICES, "0")
    prices.update(pricing or {})
    default_params = _REASONING_PARAMS if reasoning else _TEXT_PARAMS
    params = list(default_params if parameters is None else parameters)
    rec: dict[str, Any] = {
        "id": id,
        "canonical_slug": id.split(":")[0] + "-20250101",
        "hugging_face_id": hugging_face_id or "",
        "name": name,
        "created": created,
        "description": description or f"{name} (offline double catalog entry).",
        "context_length": context_length,
        "architecture": {
            "modality": "+".join(inputs) + "->" + "+".join(outputs),
            "input_modalities": list(inputs),
            "output_modalities": list(outputs),
            "tokenizer": tokenizer,
            "instruct_type": None,
        },
        "pricing": prices,
        "top_provider": {
            "context_length": context_length,
            "max_completion_tokens": max_completion_tokens,
            "is_moderated": id.startswith("openai/"),
        },
        "per_request_limits": None,
        "supported_parameters": params,
        "default_parameters": {"temperature": None, "top_p": None, "frequency_penalty": None},
        "expiration_date": None,
        "links": {"details": f"/api/v1/models/{id}/endpoints"},
    }
    if "reasoning" in params:
        rec["reasoning"] = {
            "supported_efforts": ["high", "medium", "low", "minimal"],
            "default_effort": "medium",
            "default_enabled": False,
            "mandatory": False,
            "supports_max_tokens": True,
        }
    # required and nullable in the spec
    rec["supported_voices"] = list(VOICES[voices]) if voices is not None else None
    return rec


MODELS: list[dict[str, Any]] = [
    _model(**{**family.get("defaults", {}), **entry})
    for family in _DATA["families"]
    for entry in family["models"]
]

_BY_ID: dict[str, dict[str, Any]] = {m["id"]: m for m in MODELS}


def split_variant(model_id: str) -> tuple[str, str | None]:
    """``"a/b:free"`` → ``("a/b", "free")``; ids without a known variant come back unchanged."""
    base, sep, variant = model_id.rpartition(":")
    if sep and base and variant in VARIANT_SUFFIXES:
        return base, variant
    return model_id, None


def find_model(model_id: str | None) -> dict[str, Any] | None:
    """Exact id first, then the id without its routing variant; ``None`` when unknown."""
    if not isinstance(model_id, str) or not model_id:
        return None
    hit = _BY_ID.get(model_id)
    if hit is not None:
        return hit
    base, variant = split_variant(model_id)
    return _BY_ID.get(base) if variant else None


def has_output(model: dict[str, Any], modality: str) -> bool:
    return modality in model["architecture"]["output_modalities"]


def is_audio_chat_model(model_id: str) -> bool:
    """Models that only stream audio as pcm16 (the gpt-audio family), per openrouter-api.md §4."""
    return "gpt-audio" in model_id or "audio-preview" in model_id


def is_music_model(model_id: str) -> bool:
    return "lyria" in model_id or "music" in model_id


# ---- /videos/models ------------------------------------------------------------------------


def _video_model(entry: dict[str, Any]) -> dict[str, Any]:
    """A ``/videos/models`` record: the entry's capabilities, named and dated as in ``MODELS``."""
    base = _BY_ID[entry["id"]]
    named = ("id", "description", "hugging_face_id", "allowed_passthrough_parameters")
    caps = {k: v for k, v in entry.items() if k not in named}  # supported_*, audio, seed, prices
    return {
        "id": entry["id"],
        "canonical_slug": entry["id"],
        "name": base["name"],
        "description": entry["description"],
        "created": base["created"],
        "hugging_face_id": entry.get("hugging_face_id"),
        **caps,
        "creativity": None,
        "upscale_factor": None,
        "allowed_passthrough_parameters": entry["allowed_passthrough_parameters"],
    }


VIDEO_MODELS: list[dict[str, Any]] = [_video_model(e) for e in _DATA["video_models"]]

VIDEO_BY_ID: dict[str, dict[str, Any]] = {m["id"]: m for m in VIDEO_MODELS}

# ---- /images/models ------------------------------------------------------------------------

IMAGE_ASPECT_RATIOS = ["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"]
EXTENDED_ASPECT_RATIOS = ["1:4", "4:1", "1:8", "8:1"]
IMAGE_SIZES = ["1K", "2K", "4K"]


def _image_model(
    id: str,
    name: str,
    *,
    extended_aspect_ratios: bool,
    resolutions: list[str],
    formats: list[str],
    n_max: int,
) -> dict[str, Any]:
    base = _BY_ID[id]
    ratios = IMAGE_ASPECT_RATIOS + (EXTENDED_ASPECT_RATIOS if extended_aspect_ratios else [])
    return {
        "id": id,
        "name": name,
        "description": base["description"],
        "created": base["created"],
        "architecture": {
            "input_modalities": base["architecture"]["input_modalities"],
            "output_modalities": ["image"],
        },
        "supported_parameters": {
            "resolution": {"type": "enum", "values": resolutions},
            "aspect_ratio": {"type": "enum", "values": ["auto", *ratios]},
            "output_format": {"type": "enum", "values": formats},
            "quality": {"type": "enum", "values": ["auto", "low", "medium", "high"]},
            "n": {"type": "range", "min": 1, "max": n_max},
            "seed": {"type": "range", "min": 0, "max": 2_147_483_647},
        },
        "supports_streaming": True,
        "endpoints": f"/api/v1/images/models/{id}/endpoints",
        "pricing": [
            {"billable": "image", "unit": "image", "cost_usd": base["pricing"]["image_output"]}
        ],
    }


IMAGE_MODELS: list[dict[str, Any]] = [_image_model(**e) for e in _DATA["image_models"]]

IMAGE_BY_ID: dict[str, dict[str, Any]] = {m["id"]: m for m in IMAGE_MODELS}
