"""What every handler of the double reads and returns: ``Req``, ``Resp``, ``ApiError``, answers.

The ASGI entry (``app.py``) parses a request once into a ``Req``; a handler (``endpoints/``)
returns a ``Resp`` or raises ``ApiError``, and ``_wire.py`` writes the ``Resp`` to the socket.
The checks here are the ones several API families make on a request body (a model id that must
exist and serve this endpoint, a required string), so their 400 bodies read the same everywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .catalog import find_model, has_output
from .faults import OFFLINE_PROVIDER, Fault, RecordedRequest, error_body

PREFIX = "/api/v1"

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


@dataclass
class Resp:
    """A response before it hits the wire; exactly one of body / chunks / stream is set."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    chunks: list[bytes] | None = None  # SSE pieces, already framed
    stream: Iterator[bytes] | None = None  # lazily generated binary body
    length: int | None = None  # Content-Length for ``stream``
    drop: bool = False
    fault: Fault | None = None  # a model-specific fault chosen by the handler


@dataclass
class Req:
    method: str
    path: str  # below /api/v1
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    body_hash: str
    record: RecordedRequest
    params: dict[str, str] = field(default_factory=dict)
    entry_fault: Fault | None = None  # a non-preempting fault taken at entry (scenario, ...)

    @property
    def key(self) -> str | None:
        return self.record.auth

    @property
    def origin(self) -> str:
        return "http://" + self.headers.get("host", "127.0.0.1")

    def body(self) -> dict[str, Any]:
        if not isinstance(self.json, dict):
            raise bad_request("Request body must be a JSON object")
        return self.json


Handler = Callable[[Req], Awaitable[Resp]]
#: One row of the routing table: method, path pattern below ``PREFIX``, handler, key required.
Route = tuple[str, re.Pattern[str], Handler, bool]


class ApiError(Exception):
    """An HTTP error answer (status + JSON body) raised from inside a handler."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}

    def message(self, default: str) -> str:
        """The body's ``error.message`` (``default`` when the body has none)."""
        err = self.body.get("error") if isinstance(self.body, dict) else None
        return str(err.get("message") if isinstance(err, dict) else default)


def bad_request(message: str, **kw: Any) -> ApiError:
    return ApiError(400, error_body(400, message, **kw))


# ---- answers ----------------------------------------------------------------------------------


def json_resp(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Resp:
    body = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return Resp(status=status, headers=h, body=body)


def error_resp(status: int, message: str | None = None, **kw: Any) -> Resp:
    return json_resp(error_body(status, message, **kw), status)


def text_resp(text: str, headers: dict[str, str]) -> Resp:
    """A ``text/plain`` 200 (transcripts as text, SRT or VTT)."""
    return Resp(200, {"Content-Type": "text/plain; charset=utf-8", **headers}, body=text.encode())


def sse_headers(gen_id: str | None = None) -> dict[str, str]:
    h = {
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",
    }
    if gen_id:
        h["X-Generation-Id"] = gen_id
    return h


def sse_frames(events: list[Any], *, crlf: bool, keepalive: bool) -> list[bytes]:
    """Frame SSE payloads, with ``: OPENROUTER PROCESSING`` comments when ``keepalive``."""
    nl = "\r\n" if crlf else "\n"
    comment = f": OPENROUTER PROCESSING{nl}{nl}".encode()
    out: list[bytes] = [comment] if keepalive else []
    for i, ev in enumerate(events):
        data = (
            ev if isinstance(ev, str) else json.dumps(ev, ensure_ascii=False, separators=(",", ":"))
        )
        out.append(f"data: {data}{nl}{nl}".encode())
        if keepalive and i % 3 == 2 and i < len(events) - 2:
            out.append(comment)
    return out


def service_info(origin: str) -> dict[str, Any]:
    """What ``GET /`` and ``GET /api/v1`` answer: says this is the double, and where it lives."""
    return {
        "name": "or_magic OpenRouter double",
        "offline": True,
        "base_url": origin + PREFIX,
        "provider": OFFLINE_PROVIDER,
    }


# ---- reading a request body -------------------------------------------------------------------


def required_text(body: dict[str, Any], key: str) -> str:
    """``body[key]`` when it is a string with something besides whitespace; else the 400."""
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"{key}: Required (a non-empty string)")
    return value


def required_model_id(body: dict[str, Any]) -> str:
    """``body["model"]``, which every generation endpoint requires (the 400 when missing)."""
    model_id = body.get("model")
    if not isinstance(model_id, str) or not model_id.strip():
        raise bad_request("model: Required")
    return model_id


def invalid_model(model_id: str) -> ApiError:
    """The 400 for an id the catalogue does not know."""
    return ApiError(
        400, error_body(400, f"{model_id} is not a valid model ID", shape="new", model=model_id)
    )


def wrong_endpoint(model_id: str, message: str) -> ApiError:
    """The 400 for a known model sent to an endpoint that does not serve it."""
    return ApiError(
        400,
        error_body(400, message, shape="new", model=model_id, availability_code="wrong_endpoint"),
    )


def require_model(body: dict[str, Any], output: str, what: str) -> dict[str, Any]:
    """The catalogue record of ``body["model"]``, which must produce ``output`` (``what`` names
    the endpoint's job in the 400 for a model that does not)."""
    model_id = required_model_id(body)
    model = find_model(model_id)
    if model is None:
        raise invalid_model(model_id)
    if not has_output(model, output):
        raise wrong_endpoint(model_id, f"{model['id']} does not support {what}")
    return model
