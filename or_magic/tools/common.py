"""Input fields and helpers shared by several tool families (chat, analyze, generation)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from ..config import Settings
from ..errors import ErrorCode, ToolError

QUANTIZATIONS = (
    "int4",
    "int8",
    "fp4",
    "mxfp4",
    "nvfp4",
    "fp6",
    "fp8",
    "mxfp8",
    "fp16",
    "bf16",
    "fp32",
    "unknown",
)
ROUTING_SUFFIXES = ("free", "nitro", "floor", "online", "exacto", "thinking", "extended")


def _non_blank(v: str) -> str:
    if not v.strip():
        raise ValueError("is required (non-blank)")
    return v


NonBlank = Annotated[str, AfterValidator(_non_blank)]
"""A required text argument that must contain more than whitespace (prompt, input, query…)."""


def _blank_to_none(v: str | None) -> str | None:
    return (v.strip() or None) if v is not None else None


OptionalText = Annotated[str | None, AfterValidator(_blank_to_none)]
"""An optional text argument, stripped, where a blank value counts as not given (voice, size…)."""


class StrictModel(BaseModel):
    """Unknown arguments are an error (a typo like ``promt`` should not be silently dropped)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ProviderPrefs(StrictModel):
    """OpenRouter provider routing (merged over the OPENROUTER_PROVIDER_* defaults)."""

    order: list[str] | None = Field(None, description="Provider slugs to try in order")
    only: list[str] | None = Field(None, description="Allow-list of provider slugs")
    ignore: list[str] | None = Field(None, description="Deny-list of provider slugs")
    quantizations: list[Literal[QUANTIZATIONS]] | None = None  # type: ignore[valid-type]
    sort: Literal["price", "throughput", "latency"] | None = None
    require_parameters: bool | None = None
    data_collection: Literal["allow", "deny"] | None = None
    allow_fallbacks: bool | None = None
    zdr: bool | None = Field(None, description="Only zero-data-retention endpoints")
    max_price: dict[str, float] | None = Field(
        None, description="USD per million tokens, e.g. {prompt: 1}"
    )


class CacheFields(StrictModel):
    cache: bool | None = Field(
        None, description="Use OpenRouter response caching (default: OPENROUTER_CACHE_RESPONSES)"
    )
    cache_ttl: int | str | None = Field(
        None,
        description="Cache lifetime: integer seconds (1–86400) or '30s' / '5m' / '1h'; sent as seconds",
    )
    cache_clear: bool | None = Field(
        None, description="Clear the cached entry for this request first"
    )

    @field_validator("cache_ttl")
    @classmethod
    def _ttl(cls, v: int | str | None) -> int | str | None:
        if v is not None:
            normalise_ttl(v)  # raises ValueError → INVALID_INPUT before any I/O
        return v


_TTL_RE = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$", re.IGNORECASE)
_TTL_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def normalise_ttl(v: int | str) -> int:
    """``5m`` → 300. The API reads leading integer seconds, so ``5m`` sent verbatim meant 5 s."""
    if isinstance(v, bool):
        raise ValueError("cache_ttl must be seconds or a duration like '5m'")
    if isinstance(v, int):
        secs = v
    else:
        m = _TTL_RE.match(str(v))
        if not m:
            raise ValueError(f"cache_ttl {v!r} is not seconds or a duration like '30s', '5m', '1h'")
        secs = int(m.group(1)) * _TTL_UNITS[m.group(2).lower()]
    if not 1 <= secs <= 86400:
        raise ValueError(f"cache_ttl must be between 1 s and 24 h, got {secs} s")
    return secs


def cache_headers(args: CacheFields, settings: Settings) -> dict[str, str]:
    h: dict[str, str] = {}
    enabled = settings.cache_responses if args.cache is None else args.cache
    if enabled:
        h["X-OpenRouter-Cache"] = "true"
    if args.cache_ttl is not None:
        h["X-OpenRouter-Cache-TTL"] = str(normalise_ttl(args.cache_ttl))
    if args.cache_clear:
        h["X-OpenRouter-Cache-Clear"] = "true"
    return h


def cache_meta(headers: dict[str, str]) -> dict[str, Any] | None:
    low = {k.lower(): v for k, v in headers.items()}
    status = low.get("x-openrouter-cache-status")
    if not status:
        return None
    out: dict[str, Any] = {"status": status}
    for key, name in (("x-openrouter-cache-age", "age"), ("x-openrouter-cache-ttl", "ttl")):
        raw = low.get(key)
        if raw is not None:
            try:
                out[name] = float(raw) if "." in raw else int(raw)
            except ValueError:
                pass
    return out


# Provider keys each endpoint's request schema accepts (OpenRouter OpenAPI spec, as in the official
# SDK: ProviderPreferences, ImageGenerationProviderPreferences, SpeechRequestProvider,
# STTRequestProvider, VideoGenerationRequestProvider). ``None`` = every routing key.
PROVIDER_KEYS: dict[str, frozenset[str] | None] = {
    "chat": None,
    "rerank": None,
    "images": frozenset({"order", "only", "ignore", "sort", "allow_fallbacks", "options"}),
    "speech": frozenset({"data_collection", "zdr", "options"}),
    "transcription": frozenset({"data_collection", "zdr", "options"}),
    "video": frozenset({"options"}),
}


def merge_provider(
    prefs: ProviderPrefs | dict[str, Any] | None, settings: Settings, *, endpoint: str = "chat"
) -> dict[str, Any] | None:
    """Env defaults, overridden key by key by the call; ``None`` and empty lists dropped, False kept.

    Keys the endpoint's schema lacks are refused (INVALID_INPUT, before anything is sent) when the
    call gave them, and dropped when they only come from the OPENROUTER_PROVIDER_* defaults (those
    are chat routing defaults; they must not break a speech or video call). ``max_price`` values
    are sent as decimal strings, the spec's type (the docs' examples use numbers).
    """
    allowed = PROVIDER_KEYS.get(endpoint)
    out = settings.provider_defaults()
    given = (
        prefs.model_dump(exclude_none=True) if isinstance(prefs, BaseModel) else dict(prefs or {})
    )
    if allowed is not None:
        out = {k: v for k, v in out.items() if k in allowed}
        bad = sorted(k for k, v in given.items() if v is not None and k not in allowed)
        if bad:
            raise ToolError(
                ErrorCode.INVALID_INPUT,
                f"provider: {', '.join(bad)} not supported by the {endpoint} endpoint "
                f"(it accepts {', '.join(sorted(allowed))})",
                details={"field": "provider", "unsupported": bad, "endpoint": endpoint},
            )
    for k, v in given.items():
        if v is None:
            continue
        out[k] = v
    out = {k: v for k, v in out.items() if v is not None and v != []}
    if isinstance(out.get("max_price"), dict):
        out["max_price"] = {k: _price_str(v) for k, v in out["max_price"].items()}
    return out or None


def _price_str(v: Any) -> Any:
    """1 → "1", 0.5 → "0.5", 1e-7 → "0.0000001" (no exponent); strings pass through."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return v
    from decimal import Decimal

    return format(Decimal(str(v)).normalize(), "f")


def resolve_max_tokens(value: int | None, settings: Settings) -> int | None:
    return value if value is not None else settings.max_tokens


def add_max_tokens_and_provider(body: dict[str, Any], args: Any, settings: Settings) -> None:
    """Put ``max_tokens`` (the call's, else OPENROUTER_MAX_TOKENS) and the merged chat
    ``provider`` preferences on a chat-completions ``body``, each only when there is one."""
    mt = resolve_max_tokens(args.max_tokens, settings)
    if mt is not None:
        body["max_tokens"] = mt
    provider = merge_provider(args.provider, settings)
    if provider:
        body["provider"] = provider


def cap_text(text: str, settings: Settings, meta: dict[str, Any]) -> str:
    cap = settings.max_result_text_chars
    if cap and len(text) > cap:
        omitted = len(text) - cap
        meta["result_truncated"] = True
        return (
            text[:cap]
            + f"\n\n[… truncated: {omitted} chars omitted (OPENROUTER_MAX_RESULT_TEXT_CHARS={cap})]"
        )
    return text


def clean_model(model: str | None) -> str | None:
    if model is None:
        return None
    m = model.strip()
    return m or None


def split_suffix(model_id: str) -> tuple[str, str | None]:
    """``openai/gpt-4o:nitro`` → (``openai/gpt-4o``, ``nitro``)."""
    base, sep, suffix = model_id.rpartition(":")
    if sep and suffix.lower() in ROUTING_SUFFIXES and base:
        return base, suffix.lower()
    return model_id, None


def usage_meta(usage: Any) -> dict[str, Any] | None:
    if not isinstance(usage, dict):
        return None
    keep = ("prompt_tokens", "completion_tokens", "total_tokens", "cost", "is_byok")
    out = {k: usage[k] for k in keep if k in usage}
    for k in ("prompt_tokens_details", "completion_tokens_details"):
        if isinstance(usage.get(k), dict):
            out[k] = usage[k]
    return out or None


def add_usage_and_cost(meta: dict[str, Any], usage: dict[str, Any] | None) -> None:
    """Put ``usage`` on a result's ``meta`` and its ``cost`` as ``cost_usd`` (what the budget and
    the session totals read), each only when there is one."""
    if usage:
        meta["usage"] = usage
        if isinstance(usage.get("cost"), (int, float)):
            meta["cost_usd"] = float(usage["cost"])


def invalid(message: str, **details: Any) -> ToolError:
    return ToolError(ErrorCode.INVALID_INPUT, message, details=details or None)


def no_media_error(
    noun: str, text: str, finish: Any, model: str, *, missing: str, suggestions: list[str]
) -> ToolError:
    """``UPSTREAM_REFUSED`` for a generation answer without the media it was asked for, showing
    the text that came instead; ``details.reason`` is ``content_filter`` when the finish reason
    says so, else ``missing`` (``no_image_in_response``, ``no_audio_in_stream``)."""
    reason = "content_filter" if finish == "content_filter" else missing
    return ToolError(
        ErrorCode.UPSTREAM_REFUSED,
        f"Model returned no {noun}. Text response: {text[:300] or '(none)'}",
        details={"reason": reason, "finish_reason": finish, "model": model},
        suggestions=suggestions,
    )
