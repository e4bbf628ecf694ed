"""Turn an upstream failure into a ``ToolError`` with the right code and useful advice.

The structured body decides first: ``error.code`` / ``error.http_status``, ``metadata.error_type``,
``availability.code`` and ``metadata.raw`` (often a JSON string from the provider). Message text
heuristics are only a fallback for bodies that carry nothing structured (old providers, proxies).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import (
    SUGGEST_HEALTH_CHECK,
    SUGGEST_SEARCH_MODELS,
    SUGGEST_VALIDATE_MODEL,
    ErrorCode,
    ToolError,
)
from ..redact import redact
from .retry import retry_after_from

MAX_MESSAGE = 600

S_TOPUP = "Top up credits at https://openrouter.ai/settings/credits"
S_FREE = "Switch to a free-tier model (append :free to the slug)"
S_KEY = "Check OPENROUTER_API_KEY (create or rotate one at https://openrouter.ai/settings/keys)"
S_PRIVACY = (
    "Your account's data policy (ZDR / training) excludes every endpoint of this model: pick a model "
    "with a ZDR endpoint (see GET /endpoints/zdr) or adjust https://openrouter.ai/settings/privacy"
)
S_STATUS = "Check https://status.openrouter.ai"
S_RETRY = "Retry after a brief delay"
S_REPHRASE = "Rephrase the prompt"
S_OTHER_PROVIDER = "Try a different provider via provider.order or another model"

_AVAIL_CODES: dict[str, tuple[ErrorCode, str]] = {
    "model_not_found": (ErrorCode.MODEL_NOT_FOUND, "model_not_found"),
    "wrong_endpoint": (ErrorCode.INVALID_INPUT, "wrong_endpoint"),
    "no_endpoints": (ErrorCode.MODEL_NOT_FOUND, "no_endpoints"),
    "model_deprecated": (ErrorCode.MODEL_NOT_FOUND, "model_deprecated"),
    "model_unavailable_upstream": (ErrorCode.MODEL_NOT_FOUND, "model_unavailable_upstream"),
    "free_variant_ended": (ErrorCode.MODEL_NOT_FOUND, "free_variant_ended"),
    "capacity_exhausted": (ErrorCode.UPSTREAM_REFUSED, "rate_limit"),
    "temporarily_unavailable": (ErrorCode.UPSTREAM_HTTP, "temporarily_unavailable"),
    "region_restricted": (ErrorCode.UPSTREAM_REFUSED, "region_restricted"),
    "privacy_restricted": (ErrorCode.ZDR_INCOMPATIBLE, "privacy_restricted"),
    "constraint_filtered": (ErrorCode.INVALID_INPUT, "constraint_filtered"),
}

_ERROR_TYPES: dict[str, tuple[ErrorCode, str]] = {
    "authentication": (ErrorCode.INVALID_CREDENTIALS, "authentication"),
    "payment_required": (ErrorCode.UPSTREAM_REFUSED, "credits"),
    "rate_limit_exceeded": (ErrorCode.UPSTREAM_REFUSED, "rate_limit"),
    "content_policy_violation": (ErrorCode.UPSTREAM_REFUSED, "policy"),
    "refusal": (ErrorCode.UPSTREAM_REFUSED, "refusal"),
    "context_length_exceeded": (ErrorCode.INVALID_INPUT, "context_length_exceeded"),
    "max_tokens_exceeded": (ErrorCode.INVALID_INPUT, "max_tokens_exceeded"),
    "token_limit_exceeded": (ErrorCode.INVALID_INPUT, "token_limit_exceeded"),
    "string_too_long": (ErrorCode.INVALID_INPUT, "string_too_long"),
    "invalid_request": (ErrorCode.INVALID_INPUT, "invalid_request"),
    "invalid_prompt": (ErrorCode.INVALID_INPUT, "invalid_prompt"),
    "not_found": (ErrorCode.MODEL_NOT_FOUND, "not_found"),
    "precondition_failed": (ErrorCode.INVALID_INPUT, "precondition_failed"),
    "payload_too_large": (ErrorCode.RESOURCE_TOO_LARGE, "payload_too_large"),
    "unprocessable": (ErrorCode.INVALID_INPUT, "unprocessable"),
    "invalid_image": (ErrorCode.UNSUPPORTED_FORMAT, "invalid_image"),
    "unsupported_image_format": (ErrorCode.UNSUPPORTED_FORMAT, "unsupported_image_format"),
    "image_too_large": (ErrorCode.RESOURCE_TOO_LARGE, "image_too_large"),
    "image_too_small": (ErrorCode.INVALID_INPUT, "image_too_small"),
    "image_download_failed": (ErrorCode.INVALID_INPUT, "image_download_failed"),
    "image_not_found": (ErrorCode.INVALID_INPUT, "image_not_found"),
    "provider_overloaded": (ErrorCode.UPSTREAM_HTTP, "provider_overloaded"),
    "provider_unavailable": (ErrorCode.UPSTREAM_HTTP, "provider_unavailable"),
    "server": (ErrorCode.UPSTREAM_HTTP, "server"),
    "timeout": (ErrorCode.UPSTREAM_TIMEOUT, "timeout"),
    "unmapped": (ErrorCode.UPSTREAM_HTTP, "unmapped"),
}

_AUTH_PHRASES = (
    "invalid api key",
    "missing api key",
    "no auth credentials",
    "user not found",
    "authentication failed",
    "invalid credentials",
    "no cookie auth credentials",
    "api key is disabled",
    "only management keys",
)


def _as_int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.isdigit() and len(v) == 3:
        return int(v)
    return None


def _parse_raw(raw: Any) -> Any:
    if isinstance(raw, str):
        s = raw.strip()
        if s.startswith("{"):
            try:
                return json.loads(s)
            except (ValueError, RecursionError):  # hostile nesting: keep the string
                return raw
    return raw


def _raw_message(raw: Any) -> str | None:
    raw = _parse_raw(raw)
    if isinstance(raw, dict):
        inner = raw.get("error", raw)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
        if isinstance(inner, str):
            return inner
    if isinstance(raw, str) and raw.strip():
        return raw.strip()
    return None


def error_object(body: Any) -> dict[str, Any] | None:
    """The ``error`` object of a body, in any of the shapes OpenRouter has used."""
    if not isinstance(body, dict):
        return None
    err = body.get("error")
    if isinstance(err, dict):
        return err
    if isinstance(err, str):
        return {"message": err}
    if body.get("type") == "error" and isinstance(body.get("error"), (dict, str)):
        return error_object({"error": body["error"]})
    return None


def classify_upstream(
    status: int | None,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    *,
    context: str = "",
) -> ToolError:
    """Classify an HTTP error response (or an error object found in a 200 body / SSE chunk)."""
    err = error_object(body) or {}
    meta = err.get("metadata") if isinstance(err.get("metadata"), dict) else {}
    avail = err.get("availability") if isinstance(err.get("availability"), dict) else {}

    code_status = _as_int(err.get("code")) or _as_int(err.get("http_status"))
    eff_status = code_status or status
    message = err.get("message") if isinstance(err.get("message"), str) else None
    raw_msg = _raw_message(meta.get("raw")) if meta else None
    if (
        message
        and raw_msg
        and raw_msg not in message
        and message.lower().startswith("provider returned error")
    ):
        message = f"{message}: {raw_msg}"
    elif not message:
        message = raw_msg or (f"HTTP {eff_status}" if eff_status else "upstream error")
    message = redact(message, limit=MAX_MESSAGE)
    if context:
        message = f"{context}: {message}"

    error_type = err.get("error_type") or (meta.get("error_type") if meta else None)
    retry_after = retry_after_from(headers, body)

    details: dict[str, Any] = {}
    if eff_status:
        details["status"] = eff_status
    if isinstance(meta, dict):
        for k in ("provider_name", "provider_code", "reasons", "limit_source"):
            if meta.get(k) is not None:
                details[k] = meta[k]
    if avail:
        for k in (
            "code",
            "requested_models",
            "excluded_by",
            "fallback_models",
            "affected_providers",
        ):
            if avail.get(k) is not None:
                details["availability_" + k if k == "code" else k] = avail[k]

    code, reason = _decide(eff_status, error_type, avail, meta, message)
    details["reason"] = reason
    suggestions = _suggest(code, reason, retry_after, avail, meta)
    return ToolError(
        code,
        message,
        details=details,
        suggestions=suggestions,
        retry_after_seconds=retry_after
        if code in (ErrorCode.UPSTREAM_REFUSED, ErrorCode.UPSTREAM_HTTP, ErrorCode.UPSTREAM_TIMEOUT)
        else None,
    )


Outcome = tuple[ErrorCode, str]

# Status codes that mean one thing whatever the body says.
_STATUS_MEANS: dict[int, Outcome] = {
    401: (ErrorCode.INVALID_CREDENTIALS, "authentication"),
    402: (ErrorCode.UPSTREAM_REFUSED, "credits"),
    408: (ErrorCode.UPSTREAM_TIMEOUT, "timeout"),
    504: (ErrorCode.UPSTREAM_TIMEOUT, "timeout"),
    524: (ErrorCode.UPSTREAM_TIMEOUT, "timeout"),
    413: (ErrorCode.RESOURCE_TOO_LARGE, "payload_too_large"),
}


def _mentions_missing_model(lower: str) -> bool:
    return "not a valid model id" in lower or (
        "model" in lower
        and any(p in lower for p in ("does not exist", "not found", "invalid model"))
    )


def _any_of(*phrases: str) -> Callable[[str], bool]:
    return lambda lower: any(p in lower for p in phrases)


# Message heuristics for unstructured bodies, first match wins (order matters: a message about
# credentials is not also read as a policy refusal).
_MESSAGE_RULES: tuple[tuple[Callable[[str], bool], Outcome], ...] = (
    (_any_of(*_AUTH_PHRASES), (ErrorCode.INVALID_CREDENTIALS, "authentication")),
    (
        _any_of("insufficient credits", "insufficient balance", "requires more credits"),
        (ErrorCode.UPSTREAM_REFUSED, "credits"),
    ),
    (
        _any_of("zero data retention", "zdr", "data policy"),
        (ErrorCode.ZDR_INCOMPATIBLE, "privacy_restricted"),
    ),
    (_mentions_missing_model, (ErrorCode.MODEL_NOT_FOUND, "model_not_found")),
    (
        _any_of("content policy", "content_policy", "moderation", "refused"),
        (ErrorCode.UPSTREAM_REFUSED, "policy"),
    ),
    (
        _any_of("context length", "context_length", "maximum context"),
        (ErrorCode.INVALID_INPUT, "context_length_exceeded"),
    ),
    (_any_of("rate limit", "rate-limit"), (ErrorCode.UPSTREAM_REFUSED, "rate_limit")),
)


def _decide(
    status: int | None,
    error_type: Any,
    avail: dict[str, Any],
    meta: dict[str, Any],
    message: str,
) -> Outcome:
    """(code, reason), most specific evidence first: the availability block, a status that
    means one thing, the typed ``error_type``, a 403's flavour, the message, the status class."""
    acode = avail.get("code") if avail else None
    if isinstance(acode, str) and acode in _AVAIL_CODES:
        return _AVAIL_CODES[acode]
    if status in _STATUS_MEANS:
        return _STATUS_MEANS[status]
    if isinstance(error_type, str) and error_type in _ERROR_TYPES:
        return _ERROR_TYPES[error_type]
    lower = message.lower()
    if status == 403 or error_type == "permission_denied":
        return _forbidden(lower, meta)
    if status == 429:
        return ErrorCode.UPSTREAM_REFUSED, "rate_limit"
    for matches, outcome in _MESSAGE_RULES:
        if matches(lower):
            return outcome
    return _by_status_class(status, lower)


def _forbidden(lower: str, meta: dict[str, Any]) -> Outcome:
    """A 403's flavours: moderation (``metadata.reasons``), guardrails, key limits, credentials."""
    if meta.get("reasons") or "flagged" in lower or "moderation" in lower:
        return ErrorCode.UPSTREAM_REFUSED, "moderation"
    if (
        "guardrail" in lower
        or lower.split(": ", 1)[-1].startswith("request blocked")
        or "blocked:" in lower
    ):
        return ErrorCode.UPSTREAM_REFUSED, "guardrail"
    if "limit" in lower and "key" in lower:
        return ErrorCode.UPSTREAM_REFUSED, "key_limit"
    if any(p in lower for p in _AUTH_PHRASES):
        return ErrorCode.INVALID_CREDENTIALS, "permission"
    return ErrorCode.UPSTREAM_REFUSED, "forbidden"


def _by_status_class(status: int | None, lower: str) -> Outcome:
    """Nothing specific matched: 404, another 4xx, a 5xx, a timeout message, or unknown."""
    if status == 404:
        return ErrorCode.MODEL_NOT_FOUND, "not_found"
    if status is not None and 400 <= status < 500:
        return ErrorCode.INVALID_INPUT, "bad_request"
    if status is not None and status >= 500:
        return ErrorCode.UPSTREAM_HTTP, "server"
    if "timed out" in lower or "timeout" in lower:
        return ErrorCode.UPSTREAM_TIMEOUT, "timeout"
    return ErrorCode.UPSTREAM_HTTP, "unknown"


def _suggest(
    code: ErrorCode,
    reason: str,
    retry_after: float | None,
    avail: dict[str, Any],
    meta: dict[str, Any],
) -> list[str]:
    wait = (
        f"Wait {retry_after:g}s and retry"
        if retry_after is not None
        else "Wait and retry with exponential backoff"
    )
    if code is ErrorCode.INVALID_CREDENTIALS:
        return [S_KEY, SUGGEST_HEALTH_CHECK]
    if reason == "credits":
        return [
            S_TOPUP,
            S_FREE,
            "Lower max_tokens: OpenRouter reserves max_tokens against your balance",
        ]
    if reason == "key_limit":
        return [
            "This key hit its spending limit; raise it at https://openrouter.ai/settings/keys",
            S_FREE,
        ]
    if code is ErrorCode.ZDR_INCOMPATIBLE:
        return [S_PRIVACY]
    if code is ErrorCode.MODEL_NOT_FOUND:
        out = [SUGGEST_SEARCH_MODELS, SUGGEST_VALIDATE_MODEL]
        fb = avail.get("fallback_models") if avail else None
        if isinstance(fb, list) and fb:
            out.insert(0, "Try one of: " + ", ".join(str(x) for x in fb[:5]))
        return out
    if reason == "rate_limit":
        return [wait, "Pass a models=[...] fallback list, or add credits to lift free-tier limits"]
    if reason in ("policy", "moderation", "refusal", "guardrail"):
        return [S_REPHRASE, S_OTHER_PROVIDER]
    if reason == "region_restricted":
        return ["This model is not available in your region; choose another model"]
    if reason == "constraint_filtered":
        return [
            "Relax provider constraints (provider.only/ignore/quantizations/max_price) or remove require_parameters"
        ]
    if reason == "context_length_exceeded":
        return ["Shorten the prompt or history, or choose a model with a longer context_length"]
    if code is ErrorCode.UPSTREAM_TIMEOUT:
        return [
            "Retry",
            "Raise OPENROUTER_REQUEST_TIMEOUT_MS, lower max_tokens, or pick a faster model (:nitro)",
        ]
    if code is ErrorCode.RESOURCE_TOO_LARGE:
        return ["Send a smaller input (downscale images, trim audio/video)"]
    if code is ErrorCode.UNSUPPORTED_FORMAT:
        return ["Convert the input to PNG/JPEG (images) or a common audio/video format"]
    if code is ErrorCode.UPSTREAM_HTTP:
        return [wait if retry_after is not None else S_RETRY, S_STATUS]
    if code is ErrorCode.INVALID_INPUT:
        return ["Check the arguments against the tool's input schema"]
    return []


def classify_transport(exc: BaseException, *, context: str = "") -> ToolError:
    """Map an httpx transport exception (no HTTP response) to a code."""
    import httpx

    name = type(exc).__name__
    prefix = f"{context}: " if context else ""
    if isinstance(exc, httpx.TimeoutException):
        kind = {
            "ConnectTimeout": "connecting",
            "ReadTimeout": "reading the response",
            "WriteTimeout": "sending the request",
            "PoolTimeout": "waiting for a free connection",
        }.get(name, "waiting")
        return ToolError(
            ErrorCode.UPSTREAM_TIMEOUT,
            f"{prefix}timed out {kind}",
            details={"reason": "timeout", "exception": name},
            suggestions=["Retry", "Raise OPENROUTER_REQUEST_TIMEOUT_MS or lower max_tokens"],
        )
    if isinstance(exc, httpx.ConnectError):
        reason = "connection_refused" if "refused" in str(exc).lower() else "connect_error"
        if "name or service" in str(exc).lower() or "nodename" in str(exc).lower():
            reason = "dns"
        return ToolError(
            ErrorCode.UPSTREAM_HTTP,
            f"{prefix}could not connect to the API ({redact(str(exc), limit=200) or name})",
            details={"reason": reason, "exception": name},
            suggestions=["Check your network and OPENROUTER_BASE_URL", S_STATUS],
        )
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        too_large = _probably_too_large(exc, prefix)
        if too_large is not None:
            return too_large
        return ToolError(
            ErrorCode.UPSTREAM_HTTP,
            f"{prefix}the connection broke mid-response ({name})",
            details={"reason": "connection_reset", "exception": name},
            suggestions=[S_RETRY, S_STATUS],
        )
    return ToolError(
        ErrorCode.UPSTREAM_HTTP,
        f"{prefix}{redact(str(exc), limit=300) or name}",
        details={"reason": "transport", "exception": name},
        suggestions=[S_RETRY],
    )


# The extension key the client's response hook sets once response headers arrived.
RESPONSE_STARTED = "or_magic.response_started"
# A request body at least this large, cut off before any response, was most likely refused for
# its size (a proxy's body limit closes the connection instead of answering 413).
LARGE_REQUEST_BYTES = 1 << 20


def _probably_too_large(exc: BaseException, prefix: str) -> ToolError | None:
    """``RESOURCE_TOO_LARGE`` when the connection closed before any response to a large body."""
    try:
        request = exc.request  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):  # httpx raises RuntimeError when no request is set
        return None
    if request.extensions.get(RESPONSE_STARTED):
        return None  # the answer had begun: a broken response, not a refused upload
    declared = request.headers.get("content-length", "")
    size = int(declared) if declared.isdigit() else 0
    if size < LARGE_REQUEST_BYTES:
        return None
    return ToolError(
        ErrorCode.RESOURCE_TOO_LARGE,
        f"{prefix}the upstream closed the connection before answering a {size / 1048576:.1f} MiB "
        f"request ({type(exc).__name__}): the request was probably too large",
        details={
            "reason": "request_too_large",
            "size_bytes": size,
            "exception": type(exc).__name__,
        },
        suggestions=[
            "Send smaller media: shorter or lower-resolution video/audio, fewer or smaller images",
            "Pass a public https URL instead of a local file where the model accepts one",
        ],
    )
