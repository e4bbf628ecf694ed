"""``GET /videos/models``: cached video-model capabilities and the pre-submit check.

Model-catalog style (``catalog.py``): one cache per backend (base URL), a TTL of
``OPENROUTER_MODEL_CACHE_TTL_MS``, and N concurrent callers on a cold cache cause exactly one
request. ``check(...)`` compares a request with the model's capabilities and returns the problems,
each naming the allowed values (``duration 5 is not supported by google/veo-3.1; allowed: 4, 6, 8``),
so nothing is paid for a request the API would reject anyway.
"""

from __future__ import annotations

from typing import Any

from .base import ToolContext
from .cache import CoalescingCache

_CACHE: CoalescingCache[dict[str, dict[str, Any]]] = CoalescingCache()


def reset() -> None:
    _CACHE.reset()


def fetch_count(ctx: ToolContext) -> int:
    return _CACHE.entry(ctx.client.base_url).fetch_count


async def _fetch(ctx: ToolContext) -> dict[str, dict[str, Any]]:
    resp = await ctx.client.request_json(
        "GET", "/videos/models", context="video models", timeout_s=30.0
    )
    data = resp.data.get("data") if isinstance(resp.data, dict) else None
    out: dict[str, dict[str, Any]] = {}
    for m in data if isinstance(data, list) else []:
        if isinstance(m, dict) and isinstance(m.get("id"), str):
            out[m["id"].lower()] = m
            slug = m.get("canonical_slug")
            if isinstance(slug, str):
                out.setdefault(slug.lower(), m)
    return out


async def video_models(ctx: ToolContext) -> dict[str, dict[str, Any]]:
    """Lower-cased model id → capability record (cached; raises ``ToolError`` when unreachable)."""
    e = await _CACHE.get(ctx.client.base_url, ctx.settings.model_cache_ttl_ms, lambda: _fetch(ctx))
    return e.value or {}


def find(models: dict[str, dict[str, Any]], model_id: str) -> dict[str, Any] | None:
    """Exact (case-insensitive) id, else the id without a ``:variant`` suffix."""
    m = model_id.strip().lower()
    if m in models:
        return models[m]
    base, sep, _ = m.rpartition(":")
    if sep and base in models:
        return models[base]
    return None


def _fmt(values: list[Any]) -> str:
    return ", ".join(str(v) for v in values)


def check(
    spec: dict[str, Any],
    *,
    duration: int | None = None,
    resolution: str | None = None,
    aspect_ratio: str | None = None,
    size: str | None = None,
    frames: list[str] | None = None,
    generate_audio: bool | None = None,
) -> list[str]:
    """Problems with a request for the model ``spec`` (empty when it is fine).

    A capability the catalogue does not list (missing or empty) is not checked: the API decides.
    """
    mid = spec.get("id", "this model")
    problems: list[str] = []

    def one_of(name: str, value: Any, key: str) -> None:
        allowed = spec.get(key)
        if value is None or not isinstance(allowed, list) or not allowed:
            return
        norm = [str(a).lower() for a in allowed]
        if str(value).lower() not in norm:
            problems.append(f"{name} {value} is not supported by {mid}; allowed: {_fmt(allowed)}")

    one_of("duration", duration, "supported_durations")
    one_of("resolution", resolution, "supported_resolutions")
    one_of("aspect_ratio", aspect_ratio, "supported_aspect_ratios")
    one_of("size", size, "supported_sizes")
    if frames:
        allowed = spec.get("supported_frame_images")
        if "supported_frame_images" in spec and not allowed:
            problems.append(
                f"{mid} does not accept frame images ({', '.join(frames)} given); "
                "use a model whose supported_frame_images lists them"
            )
        elif isinstance(allowed, list):
            for f in frames:
                if f not in allowed:
                    problems.append(
                        f"{f} image is not supported by {mid}; allowed: {_fmt(allowed)}"
                    )
    if generate_audio is True and spec.get("generate_audio") is False:
        problems.append(f"generate_audio is not supported by {mid}; allowed: false")
    return problems


def summary(spec: dict[str, Any]) -> dict[str, Any]:
    """The capability fields worth showing in an error's details."""
    keys = (
        "supported_durations",
        "supported_resolutions",
        "supported_aspect_ratios",
        "supported_sizes",
        "supported_frame_images",
        "generate_audio",
        "seed",
    )
    return {"model": spec.get("id"), **{k: spec.get(k) for k in keys if k in spec}}
