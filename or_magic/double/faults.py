"""Fault injection and the request log: the test-facing data types of the double.

Error bodies come in the three vintages a client must survive (openrouter-api.md §1.3–1.5, §7.3):
``shape=None`` is OpenRouter's own ``{"error":{"code","message"}}``; ``"old"`` is the widely seen
"Provider returned error" with ``metadata.provider_name`` and a JSON-string ``raw``; ``"new"`` is the
typed ``error_type`` / ``http_status`` / ``availability`` form.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

SCENARIOS = frozenset(
    {
        "reasoning_cutoff",
        "reasoning_only_stop",
        "refusal",
        "content_filter",
        "tool_calls",
        "empty",
        "no_image",
        "https_image",
        "provider_error_200",
    }
)

STATUS_MESSAGES: dict[int, str] = {
    400: "Bad Request",
    401: "No auth credentials found",
    402: "Insufficient credits. Add more using https://openrouter.ai/credits",
    403: "Forbidden",
    404: "No endpoints found for this model",
    408: "Operation timed out. Please try again later.",
    409: "Conflict",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Rate limit exceeded: free-models-per-min.",
    500: "Internal Server Error",
    502: "Provider returned error",
    503: "Service temporarily unavailable",
    504: "Gateway Timeout",
    524: "Request timed out. Please try again later.",
    529: "Provider returned error",
}

ERROR_TYPES: dict[int, str] = {
    400: "invalid_request",
    401: "authentication",
    402: "payment_required",
    403: "permission_denied",
    404: "not_found",
    408: "timeout",
    413: "payload_too_large",
    422: "unprocessable",
    429: "rate_limit_exceeded",
    500: "server",
    502: "provider_unavailable",
    503: "provider_overloaded",
    504: "timeout",
    524: "timeout",
    529: "provider_overloaded",
}

AVAILABILITY_CODES: dict[int, tuple[str, bool]] = {
    400: ("model_not_found", False),
    403: ("region_restricted", False),
    404: ("no_endpoints", False),
    429: ("capacity_exhausted", True),
    503: ("temporarily_unavailable", True),
}

OFFLINE_PROVIDER = "or_magic-offline"
USER_ID = "user_offline_double"
DOCS_URL = "https://openrouter.ai/docs/api_reference/errors-and-debugging"


@dataclass
class Fault:
    """One injected misbehaviour, matched by method + path suffix (+ optional model).

    Consumed ``times`` times (``None`` = until ``reset()``). Kinds combine: e.g. ``status=429,
    retry_after="2", delay_s=0.5``. With ``midstream_error`` (or ``error_in_200``) ``status`` is the
    code inside the error object; the HTTP status stays 200. A fault with ``model`` only hits requests for that model; on
    chat completions an error for one model makes the double fall back along ``models``.

    Hostile upstreams: ``echo`` makes the chat answer exactly that text, with ``{authorization}``
    replaced by the request's ``Authorization`` header and ``{key}`` by the bare key (a proxy or
    a prompt injection reflecting the key); streamed, ``echo_split`` cuts it into deltas of that
    many characters, so a key spans several. ``hang="keepalive"`` answers 200 SSE and then sends
    only ``: OPENROUTER PROCESSING`` comments, ``"silent"`` sends nothing; both for ``hang_s``
    seconds at most or until the client goes away. Gzip bombs, deep JSON and truncated streams
    are plain ``body`` faults built with ``gzip_bomb`` / ``deep_json`` / ``sse_body``.
    """

    path: str = "/chat/completions"
    method: str | None = None
    times: int | None = 1
    status: int | None = None
    retry_after: str | None = None
    body: dict[str, Any] | list[Any] | bytes | str | None = None
    shape: Literal["old", "new"] | None = None
    message: str | None = None
    delay_s: float = 0.0
    slow_body_s: float = 0.0
    truncate: bool = False
    malformed: bool = False
    html: bool = False
    error_in_200: bool = False
    midstream_error: bool = False
    drop: bool = False
    scenario: str | None = None
    headers: dict[str, str] | None = None
    model: str | None = None
    echo: str | None = None
    echo_split: int | None = None
    hang: Literal["keepalive", "silent"] | None = None
    hang_s: float = 30.0

    def __post_init__(self) -> None:
        if self.scenario is not None and self.scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {self.scenario!r}; one of {sorted(SCENARIOS)}")
        if self.shape not in (None, "old", "new"):
            raise ValueError("shape must be None, 'old' or 'new'")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be >= 1 or None")
        if self.method is not None:
            self.method = self.method.upper()
        if self.hang not in (None, "keepalive", "silent"):
            raise ValueError("hang must be None, 'keepalive' or 'silent'")
        if self.echo_split is not None and self.echo_split < 1:
            raise ValueError("echo_split must be >= 1")

    def matches(self, method: str, path: str, model: str | None) -> bool:
        if self.method is not None and self.method != method:
            return False
        if not path.rstrip("/").endswith(self.path.rstrip("/")):
            return False
        if self.model is None:
            return True
        return model is not None and _same_model(self.model, model)

    @property
    def is_failure(self) -> bool:
        """True when the request must not succeed normally (used for ``models`` fallback)."""
        http_error = self.status is not None and self.status >= 400 and not self.midstream_error
        return bool(http_error or self.drop or self.html or self.malformed or self.error_in_200)

    @property
    def preempts(self) -> bool:
        """True when the fault replaces the handler's answer instead of modifying it."""
        return self.is_failure or self.body is not None or self.hang is not None


def _same_model(fault_model: str, model: str) -> bool:
    """``openai/gpt-4o`` also matches ``openai/gpt-4o:nitro``; a variant id matches only itself."""
    from .catalog import split_variant

    if fault_model == model:
        return True
    base, variant = split_variant(fault_model)
    return variant is None and split_variant(model)[0] == base


@dataclass
class RecordedRequest:
    """What the double received. ``json`` is the parsed body (huge base64 strings elided)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any | None
    body_size: int
    media: list[dict[str, Any]] = field(default_factory=list)
    status: int | None = None  # status the double answered with (None while in flight)

    @property
    def auth(self) -> str | None:
        """The bearer token sent, if any."""
        value = self.headers.get("authorization", "")
        return value[7:].strip() or None if value.lower().startswith("bearer ") else None


# ---- error bodies ---------------------------------------------------------------------------


def rate_limit_headers(limit: int = 20) -> dict[str, str]:
    reset_ms = (int(time.time()) // 60 + 1) * 60_000
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(reset_ms),
    }


def error_body(
    status: int,
    message: str | None = None,
    *,
    shape: str | None = None,
    retry_after: str | None = None,
    model: str | None = None,
    metadata: dict[str, Any] | None = None,
    availability_code: str | None = None,
) -> dict[str, Any]:
    """An error body of the requested vintage for ``status``."""
    msg = message or STATUS_MESSAGES.get(status, "Error")
    etype = ERROR_TYPES.get(status, "unmapped")
    retry_s = _int_or_none(retry_after)
    if shape == "old":
        raw = json.dumps(
            {"error": {"code": status, "message": msg, "status": _upstream_status(status)}}
        )
        meta: dict[str, Any] = {
            "provider_name": OFFLINE_PROVIDER,
            "raw": raw,
            "is_byok": False,
            "error_type": etype,
            "provider_code": _upstream_status(status).lower(),
        }
        if retry_s is not None:
            meta["retry_after_seconds"] = retry_s
            meta["headers"] = {"Retry-After": str(retry_after)}
        meta.update(metadata or {})
        return {
            "error": {"code": status, "message": "Provider returned error", "metadata": meta},
            "user_id": USER_ID,
        }
    if shape == "new":
        # ``code`` (the integer status) is required by the spec; the typed fields come on top
        err: dict[str, Any] = {
            "code": status,
            "message": msg,
            "error_type": etype,
            "http_status": status,
        }
        code, retryable = AVAILABILITY_CODES.get(status, (None, False))
        code = availability_code or code
        if code is not None:
            err["availability"] = {
                "code": code,
                "retryable": retryable,
                "retry_after": retry_s,
                "requested_models": [model] if model else [],
                "affected_providers": [OFFLINE_PROVIDER] if status != 400 else [],
                "fallback_models": [],
                "docs_url": f"{DOCS_URL}#{code}",
            }
        meta = {"error_type": etype}
        if status != 500:
            meta["provider_code"] = etype
        if status >= 429:
            meta["previous_errors"] = [
                {"provider": OFFLINE_PROVIDER, "code": etype, "status": status}
            ]
        meta.update(metadata or {})
        err["metadata"] = meta
        return {"error": err}
    body: dict[str, Any] = {"error": {"code": status, "message": msg}}
    if metadata:
        body["error"]["metadata"] = dict(metadata)
    return body


def _upstream_status(status: int) -> str:
    return {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        429: "RESOURCE_EXHAUSTED",
        500: "INTERNAL",
        503: "UNAVAILABLE",
    }.get(status, "UNKNOWN")


def _int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


# ---- the Batch API (``/batches``) -------------------------------------------------------------
# Whole-request faults on ``/batches`` use ``Fault`` above (``Fault(path="/batches", method="POST",
# status=503)``, ``malformed=True``, ...). What a *submitted* batch then does is scripted here.

BATCH_STATUSES = (
    "validating",
    "in_progress",
    "finalizing",
    "completed",
    "failed",
    "expired",
    "cancelling",
    "cancelled",
)
BATCH_TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})


@dataclass
class BatchScript:
    """How the next submitted batch behaves (one script per ``POST /batches``, in order).

    ``statuses`` is the status shown on successive polls (the last one sticks); the share of
    requests finished grows with each ``in_progress`` poll. ``fail_custom_ids`` / ``fail_every``
    make single requests fail with ``fail_status`` while the batch completes (partial failure);
    ``error`` is the batch-level ``error.message`` of a ``failed`` batch.
    """

    statuses: list[str] = field(default_factory=lambda: ["validating", "in_progress", "completed"])
    fail_custom_ids: frozenset[str] = frozenset()
    fail_every: int | None = None
    fail_status: int = 502
    error: str | None = None

    def __post_init__(self) -> None:
        bad = [s for s in self.statuses if s not in BATCH_STATUSES]
        if bad or not self.statuses:
            raise ValueError(f"unknown batch statuses {bad}; use {BATCH_STATUSES}")
        if self.fail_every is not None and self.fail_every < 1:
            raise ValueError("fail_every must be >= 1")
        self.fail_custom_ids = frozenset(self.fail_custom_ids)

    def item_fails(self, position: int, custom_id: str) -> bool:
        if custom_id in self.fail_custom_ids:
            return True
        return self.fail_every is not None and (position + 1) % self.fail_every == 0


# ---- hostile bodies -------------------------------------------------------------------------


def gzip_bomb(
    inflated: int, *, prefix: bytes = b"", suffix: bytes = b"", fill: bytes = b"0"
) -> bytes:
    """``prefix + fill * n + suffix`` (``inflated`` bytes in all) gzip-compressed, built in steps.

    Serve it with ``headers={"Content-Encoding": "gzip", "Content-Type": ...}``: 256 MiB of
    zeros is about 256 KiB on the wire. Memory while building stays at about 1 MiB.
    """
    import zlib

    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    out = [comp.compress(prefix)]
    left = max(0, inflated - len(prefix) - len(suffix))
    block = fill * max(1, (1 << 20) // max(1, len(fill)))
    while left > 0:
        piece = block[:left]
        out.append(comp.compress(piece))
        left -= len(piece)
    out.append(comp.compress(suffix))
    out.append(comp.flush())
    return b"".join(out)


def deep_json(depth: int, *, opener: bytes = b"[", closer: bytes = b"]") -> bytes:
    """A JSON document nested ``depth`` levels deep (``[[[...]]]``): a RecursionError bait."""
    return opener * depth + closer * depth


def sse_body(events: list[Any], *, done: bool = True) -> bytes:
    """SSE framing of ``events`` (dicts become ``data: <json>``), ``[DONE]`` last if ``done``."""
    out = []
    for ev in events:
        data = ev if isinstance(ev, str) else json.dumps(ev, separators=(",", ":"))
        out.append(f"data: {data}\n\n")
    if done:
        out.append("data: [DONE]\n\n")
    return "".join(out).encode()


SSE_HEADERS = {"Content-Type": "text/event-stream"}


# ---- request-body faults (their own block: matched while the body is still arriving) ----------


@dataclass
class BodyCutoff(Fault):
    """Close the connection once more than ``after_bytes`` of the request body have arrived,
    before any response: what a proxy or load balancer does with an oversized upload.

    Matched (and counted down) by the double while it reads a request body, never by the
    response-phase fault matching; a request whose body stays under ``after_bytes`` passes.
    """

    after_bytes: int = 1 << 20

    def matches(self, method: str, path: str, model: str | None) -> bool:
        return False  # not a response fault; see ``matches_body``

    def matches_body(self, method: str, path: str) -> bool:
        return Fault.matches(self, method, path, None)

    @property
    def is_failure(self) -> bool:
        return True
