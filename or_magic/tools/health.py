"""health_check: really asks the API about the key (``GET /key``), never trusts a cached catalog."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from .._version import __version__
from ..errors import ToolError
from ..redact import redact
from ..result import ToolResult
from .base import ToolContext, ToolSpec, describe, lookup_annotations
from .catalog import cached_count, ensure_catalog
from .common import StrictModel

PROTOCOL_VERSION = "2025-11-25"
KEY_FIELDS = (
    "label",
    "limit",
    "limit_remaining",
    "limit_reset",
    "usage",
    "usage_daily",
    "usage_weekly",
    "usage_monthly",
    "is_free_tier",
    "is_management_key",
    "expires_at",
)


class HealthInput(StrictModel):
    pass


class HealthOutput(BaseModel):
    model_config = ConfigDict(extra="allow")
    ok: bool
    server_version: str
    protocol_version: str
    api_key_valid: bool
    models_cached: int
    error: str | None = None


# What a failed ``GET /key`` means: only a rejection says anything about the key itself.
KEY_STATUS_TEXT = {
    "valid": "valid",
    "rejected": "NOT valid (OpenRouter rejected it)",
    "unreachable": "not checked: OpenRouter is unreachable (network down, DNS or timeout)",
    "upstream_error": "not checked: OpenRouter answered with an error (see below)",
    "unchecked": "not checked",
}
_NETWORK_REASONS = frozenset(
    {"timeout", "connect_error", "connection_refused", "dns", "connection_reset"}
)


def key_status(exc: ToolError) -> str:
    """``rejected`` / ``unreachable`` / ``upstream_error`` for a failed key check."""
    if exc.code.value == "INVALID_CREDENTIALS":
        return "rejected"
    reason = (exc.details or {}).get("reason")
    if exc.code.value == "UPSTREAM_TIMEOUT" or reason in _NETWORK_REASONS:
        return "unreachable"
    return "upstream_error"


async def health_check(args: HealthInput, ctx: ToolContext) -> ToolResult:
    data: dict[str, Any] = {
        "ok": False,
        "server_version": __version__,
        "protocol_version": PROTOCOL_VERSION,
        "api_key_valid": False,
        "models_cached": 0,
        "offline": ctx.offline,
        "base_url": ctx.client.base_url,
    }
    errors: list[str] = []
    if not ctx.offline:  # offline there is no key to check
        try:
            resp = await ctx.client.request_json(
                "GET", "/key", context="key", retries=1, timeout_s=20.0
            )
            key = resp.data.get("data") if isinstance(resp.data, dict) else None
            if isinstance(key, dict):
                data["api_key_valid"] = True
                data["key"] = {k: key.get(k) for k in KEY_FIELDS if k in key}
        except ToolError as exc:
            data["error_code"] = exc.code.value
            data["key_status"] = key_status(exc)
            errors.append(exc.message)
        else:
            data["key_status"] = "valid" if data["api_key_valid"] else "unchecked"
    try:
        models, info = await ensure_catalog(ctx)
        data["models_cached"] = cached_count(ctx) or len(models)
        data["catalog"] = info
    except ToolError as exc:
        errors.append(exc.message)
    # Offline, "ok" means the double answers; it never claims a valid key.
    data["ok"] = (bool(data["api_key_valid"]) or ctx.offline) and not errors
    if errors:
        data["error"] = redact("; ".join(errors), limit=500)
    lines = [
        f"{'OK' if data['ok'] else 'NOT OK'} — or_magic {__version__}"
        + (" (offline double)" if ctx.offline else ""),
        "API key: none set; the offline double answers (set OPENROUTER_API_KEY to go live)"
        if ctx.offline
        else f"API key: {KEY_STATUS_TEXT[data.get('key_status', 'unchecked')]}",
    ]
    k = data.get("key") or {}
    if k:
        rem = k.get("limit_remaining")
        lines.append(
            f"credits: limit {k.get('limit')}, remaining {rem}, used {k.get('usage')}"
            + (" (free tier)" if k.get("is_free_tier") else "")
        )
    lines.append(f"models cached: {data['models_cached']}")
    if data.get("error"):
        lines.append(f"error: {data['error']}")
    return ToolResult(tool="health_check", text="\n".join(lines), data=data, meta={})


TOOLS = [
    ToolSpec(
        name="health_check",
        title="Health check",
        description=describe(
            "Check the API key against the live API (GET /key), report credits/limits and the model catalog state.",
            use_when="setting up, or a call fails with INVALID_CREDENTIALS / credits errors.",
            not_when="you want model details (get_model_info).",
            good=["{}"],
            bad=['{"verbose": true} (takes no arguments)'],
            fails="never as an error: problems are reported in ok / api_key_valid / error.",
            works_with="every tool (run it first).",
        ),
        input_model=HealthInput,
        output_model=HealthOutput,
        handler=health_check,
        annotations=lookup_annotations("Health check"),
    ),
]
