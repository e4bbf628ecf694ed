"""The model catalog cache: TTL, request coalescing, stable order, suffix-aware lookups.

``GET /models`` defaults to ``output_modalities=text``, hiding image/audio/video generators; we
always ask for ``all``. N concurrent callers on a cold cache cause exactly one request; an empty
catalog still counts as fresh (no refetch storm); stale data is served, marked stale, only if a
refresh fails after a successful fetch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ToolError
from .base import ToolContext
from .cache import CoalescingCache, Entry
from .common import split_suffix

Catalog = tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]  # (sorted models, by lower id)

_CACHE: CoalescingCache[Catalog] = CoalescingCache()
_EMPTY: Catalog = ([], {})


def reset() -> None:
    _CACHE.reset()


def _key(ctx: ToolContext) -> str:
    return ctx.client.base_url


async def _fetch(ctx: ToolContext) -> Catalog:
    resp = await ctx.client.request_json(
        "GET", "/models", params={"output_modalities": "all"}, context="models", timeout_s=30.0
    )
    data = resp.data.get("data") if isinstance(resp.data, dict) else None
    if not isinstance(data, list):
        data = []
    models = [m for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]
    models.sort(key=lambda m: m["id"].lower())  # stable pagination across refreshes
    return models, {m["id"].lower(): m for m in models}


def _keep_older_if_empty(old: Catalog | None, new: Catalog) -> Catalog:
    """An upstream that suddenly answers an empty list does not wipe a good catalog."""
    return old if old and old[0] and not new[0] else new


async def ensure_catalog(
    ctx: ToolContext, *, force: bool = False
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Return ``(models, info)``; ``info`` has ``age_s``, ``stale``, ``count``."""
    entry = _CACHE.entry(_key(ctx))
    try:
        await _CACHE.get(
            _key(ctx),
            ctx.settings.model_cache_ttl_ms,
            lambda: _fetch(ctx),
            force=force,
            merge=_keep_older_if_empty,
        )
    except ToolError as exc:
        if entry.fetched_at > 0:  # serve the last good catalog, marked stale
            return (entry.value or _EMPTY)[0], _info(entry, stale=True, error=exc.message)
        raise
    return (entry.value or _EMPTY)[0], _info(entry, stale=False)


def _info(entry: Entry[Catalog], *, stale: bool, error: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "count": len((entry.value or _EMPTY)[0]),
        "age_s": entry.age_s,
        "stale": stale,
    }
    if error:
        out["refresh_error"] = error
    return out


def cached_count(ctx: ToolContext) -> int:
    entry = _CACHE.entry(_key(ctx))
    return len((entry.value or _EMPTY)[0]) if entry.fresh(ctx.settings.model_cache_ttl_ms) else 0


def lookup(models_by_id: dict[str, dict[str, Any]], model_id: str) -> dict[str, Any] | None:
    """Exact (case-insensitive) id, else the id without a routing suffix (``:nitro`` …)."""
    m = model_id.strip().lower()
    if m in models_by_id:
        return models_by_id[m]
    base, suffix = split_suffix(m)
    if suffix and base in models_by_id:
        return models_by_id[base]
    return None


async def find_model(
    ctx: ToolContext, model_id: str
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    await ensure_catalog(ctx)
    entry = _CACHE.entry(_key(ctx))
    return lookup((entry.value or _EMPTY)[1], model_id), _info(entry, stale=False)


def close_matches(ctx: ToolContext, model_id: str, n: int = 5) -> list[str]:
    import difflib

    ids = [m["id"] for m in (_CACHE.entry(_key(ctx)).value or _EMPTY)[0]]
    base, _ = split_suffix(model_id.strip())
    hits = difflib.get_close_matches(base, ids, n=n, cutoff=0.5)
    tail = base.split("/")[-1].lower()
    for i in ids:
        if tail and tail in i.lower() and i not in hits:
            hits.append(i)
    return hits[:n]


def modalities(model: dict[str, Any]) -> tuple[set[str], set[str]]:
    arch = model.get("architecture") if isinstance(model.get("architecture"), dict) else {}
    ins = {str(x).lower() for x in arch.get("input_modalities") or []}
    outs = {str(x).lower() for x in arch.get("output_modalities") or []}
    if not ins and not outs and isinstance(arch.get("modality"), str) and "->" in arch["modality"]:
        left, right = arch["modality"].split("->", 1)
        ins = set(left.split("+"))
        outs = set(right.split("+"))
    return ins, outs


def is_free(model: dict[str, Any]) -> bool:
    """``:free`` variants, or every listed price is zero (per token, per image, per request…)."""
    if model.get("id", "").endswith(":free"):
        return True
    _, outs = modalities(model)
    if "video" in outs:  # billed per video second (pricing_skus), whatever the token prices say
        return False
    p = model.get("pricing") if isinstance(model.get("pricing"), dict) else {}
    nums = []
    for v in p.values():
        try:
            nums.append(float(v))
        except (TypeError, ValueError):
            continue
    return bool(nums) and all(n == 0 for n in nums)


# ---- per-catalog search index ---------------------------------------------------------------------


@dataclass(frozen=True)
class Indexed:
    """What a search needs of one model, computed once per catalog version, not per call."""

    model: dict[str, Any]
    id_lower: str
    name_lower: str
    ins: frozenset[str]
    outs: frozenset[str]
    free: bool
    line: str  # the model's line in search_models' text


_INDEXES: dict[int, tuple[list[dict[str, Any]], list[Indexed]]] = {}


def search_index(models: list[dict[str, Any]]) -> list[Indexed]:
    """The index of this catalog list (a refresh makes a new list, hence a new index)."""
    hit = _INDEXES.get(id(models))
    if hit is not None and hit[0] is models:
        return hit[1]
    index = []
    for m in models:
        ins, outs = modalities(m)
        free = is_free(m)
        line = (
            f"- {m['id']}{' (free)' if free else ''}: "
            f"{'+'.join(sorted(ins)) or '?'} -> {'+'.join(sorted(outs)) or '?'}"
        )
        index.append(
            Indexed(
                m,
                m["id"].lower(),
                str(m.get("name", "")).lower(),
                frozenset(ins),
                frozenset(outs),
                free,
                line,
            )
        )
    if len(_INDEXES) >= 4:  # one per backend in practice; old catalog versions go
        _INDEXES.clear()
    _INDEXES[id(models)] = (models, index)  # the list is held, so its id is not reused
    return index
