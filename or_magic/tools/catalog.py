"""The model catalog cache: TTL, request coalescing, stable order, suffix-aware lookups.

``GET /models`` defaults to ``output_modalities=text``, hiding image/audio/video generators; we
always ask for ``all``. N concurrent callers on a cold cache cause exactly one request; an empty
catalog still counts as fresh (no refetch storm); stale data is served, marked stale, only if a
refresh fails after a successful fetch.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import ToolError
from .base import ToolContext
from .common import split_suffix


@dataclass
class CatalogState:
    models: list[dict[str, Any]] = field(default_factory=list)
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    fetched_at: float = 0.0  # monotonic; 0 = never
    fetch_count: int = 0
    inflight: dict[int, asyncio.Future] = field(default_factory=dict)  # per event loop


_lock = threading.Lock()
_states: dict[str, CatalogState] = {}


def _state(key: str) -> CatalogState:
    with _lock:
        return _states.setdefault(key, CatalogState())


def reset() -> None:
    with _lock:
        _states.clear()


def _key(ctx: ToolContext) -> str:
    return ctx.client.base_url


def is_fresh(st: CatalogState, ttl_ms: int) -> bool:
    return st.fetched_at > 0 and (time.monotonic() - st.fetched_at) * 1000 < ttl_ms


async def _fetch(ctx: ToolContext) -> list[dict[str, Any]]:
    resp = await ctx.client.request_json(
        "GET", "/models", params={"output_modalities": "all"}, context="models", timeout_s=30.0
    )
    data = resp.data.get("data") if isinstance(resp.data, dict) else None
    if not isinstance(data, list):
        data = []
    models = [m for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]
    models.sort(key=lambda m: m["id"].lower())  # stable pagination across refreshes
    return models


async def ensure_catalog(
    ctx: ToolContext, *, force: bool = False
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Return ``(models, info)``; ``info`` has ``age_s``, ``stale``, ``count``."""
    st = _state(_key(ctx))
    ttl = ctx.settings.model_cache_ttl_ms
    if not force and is_fresh(st, ttl):
        return st.models, _info(st, stale=False)
    loop = asyncio.get_running_loop()
    fut = st.inflight.get(id(loop))
    if fut is None:
        fut = loop.create_future()
        st.inflight[id(loop)] = fut
        try:
            models = await _fetch(ctx)
        except BaseException as exc:
            st.inflight.pop(id(loop), None)
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()  # mark retrieved
            if isinstance(exc, ToolError) and st.fetched_at > 0:
                return st.models, _info(st, stale=True, error=exc.message)
            raise
        st.inflight.pop(id(loop), None)
        if models or not st.models:  # keep older data if upstream suddenly answers empty
            st.models = models
            st.by_id = {m["id"].lower(): m for m in models}
        st.fetched_at = time.monotonic()
        st.fetch_count += 1
        fut.set_result(None)
        return st.models, _info(st, stale=False)
    try:
        await asyncio.shield(fut)
    except ToolError as exc:
        if st.fetched_at > 0:
            return st.models, _info(st, stale=True, error=exc.message)
        raise
    return st.models, _info(st, stale=False)


def _info(st: CatalogState, *, stale: bool, error: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "count": len(st.models),
        "age_s": round(time.monotonic() - st.fetched_at, 1) if st.fetched_at else None,
        "stale": stale,
    }
    if error:
        out["refresh_error"] = error
    return out


def cached_count(ctx: ToolContext) -> int:
    st = _state(_key(ctx))
    return len(st.models) if is_fresh(st, ctx.settings.model_cache_ttl_ms) else 0


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
    st = _state(_key(ctx))
    return lookup(st.by_id, model_id), _info(st, stale=False)


def close_matches(ctx: ToolContext, model_id: str, n: int = 5) -> list[str]:
    import difflib

    st = _state(_key(ctx))
    ids = [m["id"] for m in st.models]
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
