"""The ASGI app of the OpenRouter double: reading a request, routing, auth, faults and caching.

Plain ASGI (no framework) so the bytes on the wire are exactly what we choose: Content-Length or
chunked, SSE comments, CRLF line endings, truncated bodies and dropped connections. The pieces:

- ``_http.py``: ``Req`` / ``Resp`` / ``ApiError`` and the answers and body checks handlers share;
- ``endpoints/``: the handlers, one module (and class) per API family;
- ``_fault_answers.py``: what a preempting ``Fault`` answers; ``_wire.py``: writing a ``Resp``
  (with delays, truncation, slow bodies, hangs and drops); ``_response_cache.py``: the
  ``X-OpenRouter-Cache`` cache.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from . import _media
from ._fault_answers import fault_response
from ._http import (
    PREFIX,
    ApiError,
    Receive,
    Req,
    Resp,
    Route,
    Send,
    error_resp,
    json_resp,
    service_info,
    sse_frames,
    sse_headers,
)
from ._response_cache import CACHEABLE, ServerResponseCache
from ._wire import close_connection, send_response
from .endpoints.account import AccountAPI
from .endpoints.audio import AudioAPI
from .endpoints.batches import BatchAPI
from .endpoints.chat import ChatAPI
from .endpoints.embeddings import EmbeddingsAPI
from .endpoints.images import ImagesAPI
from .endpoints.models import ModelsAPI
from .endpoints.rerank import RerankAPI
from .endpoints.videos import VIDEO_TERMINAL, VideoAPI, VideoJob
from .faults import BodyCutoff, Fault, RecordedRequest

__all__ = [
    "BIG_BODY",
    "CACHEABLE",
    "PREFIX",
    "VIDEO_TERMINAL",
    "DoubleApp",
    "DoubleConfig",
    "Req",
    "Resp",
    "VideoJob",
    "error_resp",
    "json_resp",
]

log = logging.getLogger("or_magic.double")

BIG_BODY = 8 * 1024 * 1024  # bodies above this are parsed without holding their huge strings
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


@dataclass
class DoubleConfig:
    """How the double behaves. Read on every request, so ``OpenRouterDouble``'s live settings
    (``crlf``, ``valid_keys``, ...) change a running double at once."""

    valid_keys: set[str] | None = None
    require_auth: bool = True
    video_polls_to_complete: int = 2
    video_content_bytes: int | None = None
    crlf: bool = False
    keepalive_comments: bool = True


class DoubleApp:
    """The ASGI callable. Mutable state sits behind ``lock`` (tests touch it from their thread);
    the batch API and the response cache, which only they touch, have their own."""

    def __init__(self, config: DoubleConfig | None = None) -> None:
        self.config = config or DoubleConfig()
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        self.cache = ServerResponseCache()
        self.account_api = AccountAPI(self)
        self.chat_api = ChatAPI(self)
        self.video_api = VideoAPI(self)
        self.batch_api = BatchAPI(self)
        families = [
            self.chat_api,
            ModelsAPI(self),
            self.account_api,
            RerankAPI(self),
            ImagesAPI(self),
            EmbeddingsAPI(self),
            AudioAPI(self),
            self.video_api,
            self.batch_api,
        ]
        self._families = families
        self._routes: list[Route] = [r for family in families for r in family.routes()]
        self.reset()

    # ---- state -------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget requests, faults, the cache and every family's state."""
        with self.lock:
            self.requests: list[RecordedRequest] = []
            self.faults: list[Fault] = []
        self.cache.clear()
        for family in self._families:
            family.reset()

    @property
    def generations(self) -> dict[str, dict[str, Any]]:
        """The ``GET /generation`` records by id (the key ledger's, in ``account_api``)."""
        return self.account_api.generations

    def take_fault(
        self, method: str, path: str, model: str | None, *, model_only: bool
    ) -> Fault | None:
        """Pop (or count down) the first matching fault. ``model_only`` = only model-bound ones."""

        def wanted(f: Any) -> bool:
            if model_only and f.model is None:
                return False
            if not model_only and f.model is not None and model is None:
                return False
            return f.matches(method, path, model)

        return self._count_down_first(wanted)

    def _count_down_first(self, wanted: Callable[[Any], bool]) -> Any:
        """The first queued fault ``wanted`` accepts, its ``times`` counted down (removed at 0)."""
        with self.lock:
            for i, f in enumerate(self.faults):
                if wanted(f):
                    if f.times is not None:
                        f.times -= 1
                        if f.times <= 0:
                            del self.faults[i]
                    return f
        return None

    # ---- request-body faults (BodyCutoff) ----------------------------------------------------
    def take_body_cutoff(self, method: str, path: str) -> BodyCutoff | None:
        """The first ``BodyCutoff`` matching this request, counted down (like ``take_fault``)."""
        return self._count_down_first(
            lambda f: isinstance(f, BodyCutoff) and f.matches_body(method, path)
        )

    async def cut_body(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        query: dict[str, str],
        received: int,
        send: Send,
        receive: Receive,
    ) -> None:
        """Log the request (status 0, the bytes received so far) and drop the connection."""
        record = RecordedRequest(
            method=method, path=path, query=query, headers=headers, json=None, body_size=received
        )
        record.status = 0
        with self.lock:
            self.requests.append(record)
        await close_connection(send, receive)

    # ---- what handlers share -----------------------------------------------------------------
    def new_id(self, prefix: str = "gen", salt: str = "") -> str:
        n = next(self._ids)
        d = hashlib.sha256(f"{n}:{salt}:{time.time_ns()}".encode()).digest()
        tail = "".join(_ALNUM[b % 62] for b in d[:20])
        return f"{prefix}-{int(time.time())}-{tail}"

    def sse_resp(self, events: list[Any], gen_id: str | None = None) -> Resp:
        """A 200 event stream of ``events``, framed as configured (CRLF, keep-alive comments)."""
        chunks = sse_frames(events, crlf=self.config.crlf, keepalive=self.config.keepalive_comments)
        return Resp(200, sse_headers(gen_id), chunks=chunks)

    # ---- ASGI entry ------------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        read = await self._read_request(scope, receive, send)
        if read is None:
            return  # the client went away, or a BodyCutoff dropped the connection
        req, path, bad_json = read
        fault: Fault | None = None
        try:
            resp, fault = await self._handle(req, path, bad_json)
        except ApiError as e:
            resp = json_resp(e.body, e.status, e.headers)
        except Exception as e:  # a bug in the double: answer like OpenRouter's masked 500
            log.exception("or_magic double: unhandled error on %s %s", req.method, scope["path"])
            resp = error_resp(500, f"Internal Server Error (offline double: {type(e).__name__})")
        if resp.fault is not None:
            fault = resp.fault
        req.record.status = 0 if resp.drop else resp.status
        await send_response(resp, fault, send, receive)

    async def _read_request(
        self, scope: dict[str, Any], receive: Receive, send: Send
    ) -> tuple[Req, str | None, bool] | None:
        """``(request, path below PREFIX or None, body was not JSON)``, logged in ``requests``.

        The body is hashed and parsed as it arrives and never kept whole; ``None`` when the
        client disconnected first or a ``BodyCutoff`` cut the upload.
        """
        method = scope["method"]
        full_path = scope["path"]
        headers: dict[str, str] = {}
        for k, v in scope.get("headers", []):
            name = k.decode("latin-1").lower()
            val = v.decode("latin-1")
            headers[name] = f"{headers[name]}, {val}" if name in headers else val
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))

        buf = bytearray()
        hasher = hashlib.sha256()
        cutoff = self.take_body_cutoff(method, full_path)
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return None
            chunk = msg.get("body", b"")
            if chunk:
                buf += chunk
                hasher.update(chunk)
            if cutoff is not None and len(buf) > cutoff.after_bytes:
                await self.cut_body(method, full_path, headers, query, len(buf), send, receive)
                return None
            if not msg.get("more_body"):
                break
        size = len(buf)
        parsed: Any = None
        bad_json = False
        if size:
            try:
                parsed = _media.parse_big_json(buf) if size > BIG_BODY else json.loads(buf)
            except (ValueError, UnicodeDecodeError):
                bad_json = True
        del buf  # never keep raw bodies (media can be hundreds of MiB)

        path = full_path[len(PREFIX) :] if full_path.startswith(PREFIX + "/") else None
        record = RecordedRequest(
            method=method,
            path=full_path,
            query=query,
            headers=headers,
            json=parsed,
            body_size=size,
            media=_media.summarise_media(parsed) if parsed is not None else [],
        )
        with self.lock:
            self.requests.append(record)
        req = Req(method, path or full_path, query, headers, parsed, hasher.hexdigest(), record)
        return req, path, bad_json

    async def _handle(
        self, req: Req, path: str | None, bad_json: bool
    ) -> tuple[Resp, Fault | None]:
        if path is None:
            if req.path in ("/", PREFIX, PREFIX + "/"):
                return json_resp(service_info(req.origin)), None
            return error_resp(404, "Not Found"), None
        handler = None
        needs_auth = True
        allowed: list[str] = []
        for method, pattern, fn, auth in self._routes:
            m = pattern.fullmatch(path.rstrip("/") or "/")
            if m:
                allowed.append(method)
                if method == req.method and handler is None:
                    handler, needs_auth = fn, auth
                    req.params = m.groupdict()
        if handler is None:
            if allowed:
                return error_resp(405, f"Method {req.method} not allowed"), None
            return error_resp(404, "Not Found"), None
        # Discovery endpoints work without a key, but a key that *is* presented must be valid
        # (clients infer key validity from /models).
        if self.config.require_auth and (needs_auth or req.key):
            denied = self._check_auth(req.key)
            if denied is not None:
                return denied, None
        if bad_json:
            return error_resp(400, "Invalid JSON body"), None

        model = req.json.get("model") if isinstance(req.json, dict) else None
        is_chat = path.rstrip("/") == "/chat/completions"
        fault = self.take_fault(
            req.method,
            path,
            None if is_chat else (model if isinstance(model, str) else None),
            model_only=False,
        )
        if fault is not None and fault.preempts:
            return fault_response(fault, model if isinstance(model, str) else None), fault

        cache_key = self.cache.key_for(req, path)
        if cache_key is not None:
            hit = self.cache.lookup(cache_key, req)
            if hit is not None:
                return hit, fault

        req.entry_fault = fault
        resp = await handler(req)
        if cache_key is not None and resp.status == 200 and resp.stream is None:
            self.cache.store(cache_key, req, resp)
        return resp, fault

    def _check_auth(self, key: str | None) -> Resp | None:
        if not key:
            return error_resp(401, "No auth credentials found")
        valid = self.config.valid_keys
        if self.account_api.is_revoked(key) or (valid is not None and key not in valid):
            return error_resp(401, "User not found.")
        return None


async def _lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge startup and shutdown (the double has nothing to set up)."""
    while True:
        msg = await receive()
        if msg["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif msg["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
