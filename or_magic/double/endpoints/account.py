"""The key and what it spent: ``GET /key`` (and legacy ``/auth/key``), ``/credits``, ``/generation``.

``AccountAPI`` is also the double's ledger: every handler that bills records its generation here
(``record_generation``), which adds the cost to the key's usage, and auth asks it whether a key
was revoked.
"""

from __future__ import annotations

import time
from typing import Any

from .._http import Req, Resp, bad_request, error_resp, json_resp
from ..faults import OFFLINE_PROVIDER, USER_ID
from ._base import Endpoints, route


class AccountAPI(Endpoints):
    """Keys, their usage and overrides, revocations, and the generation records by id."""

    def reset(self) -> None:
        with self.app.lock:
            self.generations: dict[str, dict[str, Any]] = {}
            self.revoked: set[str] = set()
            self.key_usage: dict[str, float] = {}
            self.key_overrides: dict[str, dict[str, Any]] = {}

    # ---- the ledger ----------------------------------------------------------------------------
    def record_generation(self, gen_id: str, req: Req, **data: Any) -> None:
        """Store the ``GET /generation`` record of ``gen_id``; its ``total_cost`` bills the key."""
        rec = {
            "id": gen_id,
            "provider_name": OFFLINE_PROVIDER,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "origin": req.headers.get("http-referer", ""),
            "http_referer": req.headers.get("http-referer"),
            "app_id": None,
            "is_byok": False,
            "cancelled": False,
            "latency": 120,
            "generation_time": 80,
            "moderation_latency": None,
            "upstream_id": gen_id.replace("gen-", "up-"),
            "router": None,
            "provider_responses": [],
            # the rest of the spec's (required, mostly nullable) GenerationResponse fields
            "user_agent": req.headers.get("user-agent"),
            "external_user": None,
            "preset_id": None,
            "workspace_id": None,
            "data_region": "global",
            "service_tier": None,
            "cache_discount": None,
            "upstream_inference_cost": None,
            "num_search_results": None,
            "num_fetches": None,
            "web_search_engine": None,
            "finish_reason": None,
            "native_finish_reason": None,
            "streamed": None,
            "tokens_prompt": None,
            "tokens_completion": None,
            "native_tokens_prompt": None,
            "native_tokens_completion": None,
            "native_tokens_completion_images": None,
            "native_tokens_reasoning": None,
            "native_tokens_cached": None,
            "num_media_prompt": None,
            "num_media_completion": None,
            "num_input_audio_prompt": None,
        }
        rec.update(data)
        cost = float(rec.get("total_cost") or 0)
        with self.app.lock:
            self.generations[gen_id] = rec
            k = req.key or ""
            self.key_usage[k] = self.key_usage.get(k, 0.0) + cost

    def has_generation(self, gen_id: str) -> bool:
        with self.app.lock:
            return gen_id in self.generations

    def is_revoked(self, key: str) -> bool:
        with self.app.lock:
            return key in self.revoked

    def revoke(self, key: str) -> None:
        with self.app.lock:
            self.revoked.add(key)

    def override(self, key: str, fields: dict[str, Any]) -> None:
        """Fields of ``GET /key`` (and ``/credits`` settings) that ``key`` sees from now on."""
        with self.app.lock:
            self.key_overrides.setdefault(key, {}).update(fields)

    # ---- handlers ------------------------------------------------------------------------------
    @route("GET", r"/key", auth=True)
    @route("GET", r"/auth/key", auth=True)
    async def key_info(self, req: Req) -> Resp:
        key = req.key
        with self.app.lock:
            usage = round(self.key_usage.get(key or "", 0.0), 10)
            overrides = dict(self.key_overrides.get(key or "", {}))
        data: dict[str, Any] = {
            "label": _mask_key(key) if key else "offline (no key)",
            "limit": None,
            "limit_remaining": None,
            "limit_reset": None,
            "include_byok_in_limit": False,
            "usage": usage,
            "usage_daily": usage,
            "usage_weekly": usage,
            "usage_monthly": usage,
            "byok_usage": 0,
            "byok_usage_daily": 0,
            "byok_usage_weekly": 0,
            "byok_usage_monthly": 0,
            "is_free_tier": key is None,
            "is_management_key": False,
            "is_provisioning_key": False,
            "creator_user_id": USER_ID,
            "expires_at": None,
            "rate_limit": {"requests": -1, "interval": "10s", "note": "deprecated"},
            "allowed_data_regions": ["global"],
            "budgets": [],
            "effective_budget": None,
            "free_model_daily_requests": {"limit": 1000, "remaining": 1000, "used": 0},
            "organization_id": None,
            "workspace_id": None,
            "offline": True,
        }
        data.update(overrides)
        return json_resp({"data": data})

    @route("GET", r"/credits", auth=True)
    async def credits(self, req: Req) -> Resp:
        """Management keys only, like OpenRouter (``key_overrides[key]["is_management_key"]``)."""
        key = req.key or ""
        with self.app.lock:
            overrides = dict(self.key_overrides.get(key, {}))
            usage = round(sum(self.key_usage.values()), 10)
        if not overrides.get("is_management_key"):
            return error_resp(403, "Only management keys can perform this operation")
        total = float(overrides.get("total_credits", 100.0))
        return json_resp({"data": {"total_credits": total, "total_usage": usage}})

    @route("GET", r"/generation", auth=True)
    async def generation(self, req: Req) -> Resp:
        gid = req.query.get("id")
        if not gid:
            raise bad_request("id: Required")
        with self.app.lock:
            rec = self.generations.get(gid)
        if rec is None:
            return error_resp(404, f"Generation {gid} not found")
        return json_resp({"data": rec})


def _mask_key(key: str) -> str:
    prefix = "sk-or-v1-" if key.startswith("sk-or-v1-") else ""
    rest = key[len(prefix) :]
    if len(rest) <= 8:
        return prefix + "..." + rest[-2:]
    return f"{prefix}{rest[:3]}...{rest[-4:]}"
