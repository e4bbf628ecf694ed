"""The ASGI app of the OpenRouter double: routing, auth, faults, caching and every endpoint.

Plain ASGI (no framework) so the bytes on the wire are exactly what we choose: Content-Length or
chunked, SSE comments, CRLF line endings, truncated bodies and dropped connections.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import logging
import math
import re
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from . import _chat, _embed, _media
from ._chat import ApiError, bad_request
from .catalog import (
    IMAGE_BY_ID,
    IMAGE_MODELS,
    MODELS,
    VIDEO_BY_ID,
    VIDEO_MODELS,
    find_model,
    has_output,
    split_variant,
)
from .faults import (
    ERROR_TYPES,
    OFFLINE_PROVIDER,
    USER_ID,
    BodyCutoff,
    Fault,
    RecordedRequest,
    error_body,
    rate_limit_headers,
)

log = logging.getLogger("or_magic.double")

PREFIX = "/api/v1"
BIG_BODY = 8 * 1024 * 1024
CACHEABLE = {
    "/chat/completions",
    "/images",
    "/audio/speech",
    "/audio/transcriptions",
    "/rerank",
    "/embeddings",
}
VIDEO_TERMINAL = {"completed", "failed", "cancelled", "expired"}
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


@dataclass
class DoubleConfig:
    valid_keys: set[str] | None = None
    require_auth: bool = True
    video_polls_to_complete: int = 2
    video_content_bytes: int | None = None
    crlf: bool = False
    keepalive_comments: bool = True


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


@dataclass
class VideoJob:
    id: str
    model: str
    prompt: str
    duration: int
    resolution: str | None
    script: list[str]
    error: str | None
    generation_id: str
    cost: float
    created: int
    polls: int = 0
    status: str = "pending"


def json_resp(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Resp:
    body = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return Resp(status=status, headers=h, body=body)


def error_resp(status: int, message: str | None = None, **kw: Any) -> Resp:
    return json_resp(error_body(status, message, **kw), status)


class DoubleApp:
    """The ASGI callable. All mutable state sits behind one lock (tests touch it from their thread)."""

    def __init__(self, config: DoubleConfig | None = None) -> None:
        self.config = config or DoubleConfig()
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        from ._batches import BatchAPI

        self.batch_api = BatchAPI(self)
        self.reset()
        self._routes: list[tuple[str, re.Pattern[str], Any, bool]] = [
            ("POST", re.compile(r"/chat/completions"), self.chat, True),
            ("GET", re.compile(r"/models"), self.models, False),
            ("GET", re.compile(r"/models/count"), self.models_count, False),
            ("GET", re.compile(r"/models/user"), self.models, True),
            ("GET", re.compile(r"/models/(?P<id>.+)/endpoints"), self.model_endpoints, False),
            ("GET", re.compile(r"/model/(?P<id>.+)"), self.model_one, False),
            ("GET", re.compile(r"/key"), self.key_info, True),
            ("GET", re.compile(r"/auth/key"), self.key_info, True),
            ("GET", re.compile(r"/credits"), self.credits, True),
            ("GET", re.compile(r"/generation"), self.generation, True),
            ("POST", re.compile(r"/rerank"), self.rerank, True),
            ("GET", re.compile(r"/images/models"), self.image_models, False),
            (
                "GET",
                re.compile(r"/images/models/(?P<id>.+)/endpoints"),
                self.image_model_endpoints,
                False,
            ),
            ("POST", re.compile(r"/embeddings"), self.embeddings, True),
            ("GET", re.compile(r"/embeddings/models"), self.embedding_models, False),
            ("GET", re.compile(r"/providers"), self.providers, False),
            ("POST", re.compile(r"/images"), self.images, True),
            ("POST", re.compile(r"/audio/speech"), self.speech, True),
            ("POST", re.compile(r"/audio/transcriptions"), self.transcriptions, True),
            ("GET", re.compile(r"/videos/models"), self.video_models, False),
            ("POST", re.compile(r"/videos"), self.video_submit, True),
            ("GET", re.compile(r"/videos/(?P<id>[^/]+)/content"), self.video_content, True),
            ("GET", re.compile(r"/videos/(?P<id>[^/]+)"), self.video_poll, True),
            *self.batch_api.routes(),
        ]

    # ---- state -------------------------------------------------------------------------------
    def reset(self) -> None:
        with self.lock:
            self.requests: list[RecordedRequest] = []
            self.faults: list[Fault] = []
            self.jobs: dict[str, VideoJob] = {}
            self.video_scripts: deque[tuple[list[str], str | None]] = deque()
            self.generations: dict[str, dict[str, Any]] = {}
            self.cache: dict[str, tuple[float, Resp, str]] = {}
            self.revoked: set[str] = set()
            self.key_usage: dict[str, float] = {}
            self.key_overrides: dict[str, dict[str, Any]] = {}
        self.batch_api.reset()

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
        await _close_connection(send, receive)

    def new_id(self, prefix: str = "gen", salt: str = "") -> str:
        n = next(self._ids)
        d = hashlib.sha256(f"{n}:{salt}:{time.time_ns()}".encode()).digest()
        tail = "".join(_ALNUM[b % 62] for b in d[:20])
        return f"{prefix}-{int(time.time())}-{tail}"

    def record_generation(self, gen_id: str, req: Req, **data: Any) -> None:
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
        with self.lock:
            self.generations[gen_id] = rec
            k = req.key or ""
            self.key_usage[k] = self.key_usage.get(k, 0.0) + cost

    # ---- ASGI entry ------------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
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
                return
            chunk = msg.get("body", b"")
            if chunk:
                buf += chunk
                hasher.update(chunk)
            if cutoff is not None and len(buf) > cutoff.after_bytes:
                await self.cut_body(method, full_path, headers, query, len(buf), send, receive)
                return
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

        fault: Fault | None = None
        try:
            resp, fault = await self._handle(req, path, bad_json)
        except ApiError as e:
            resp = json_resp(e.body, e.status, e.headers)
        except Exception as e:  # a bug in the double: answer like OpenRouter's masked 500
            log.exception("or_magic double: unhandled error on %s %s", method, full_path)
            resp = error_resp(500, f"Internal Server Error (offline double: {type(e).__name__})")
        if resp.fault is not None:
            fault = resp.fault
        record.status = 0 if resp.drop else resp.status
        await self._send(resp, fault, send, receive)

    async def _handle(
        self, req: Req, path: str | None, bad_json: bool
    ) -> tuple[Resp, Fault | None]:
        if path is None:
            if req.path in ("/", PREFIX, PREFIX + "/"):
                return json_resp(
                    {
                        "name": "or_magic OpenRouter double",
                        "offline": True,
                        "base_url": req.origin + PREFIX,
                        "provider": OFFLINE_PROVIDER,
                    }
                ), None
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
            return self._fault_resp(fault, model if isinstance(model, str) else None), fault

        cache_key = None
        if (
            req.method == "POST"
            and path.rstrip("/") in CACHEABLE
            and req.headers.get("x-openrouter-cache", "").lower() == "true"
        ):
            cache_key = hashlib.sha256(f"{path}|{req.key}|{req.body_hash}".encode()).hexdigest()
            hit = self._cache_lookup(cache_key, req)
            if hit is not None:
                return hit, fault

        req.entry_fault = fault
        resp = await handler(req)
        if cache_key is not None and resp.status == 200 and resp.stream is None:
            self._cache_store(cache_key, req, resp)
        return resp, fault

    def _check_auth(self, key: str | None) -> Resp | None:
        if not key:
            return error_resp(401, "No auth credentials found")
        with self.lock:
            revoked = key in self.revoked
        valid = self.config.valid_keys
        if revoked or (valid is not None and key not in valid):
            return error_resp(401, "User not found.")
        return None

    def _fault_resp(self, f: Fault, model: str | None) -> Resp:
        if f.drop:
            return Resp(drop=True)
        if f.hang is not None:
            return Resp(200, self.sse_headers())  # _send keeps it open (see _hang)
        if f.html:
            page = (
                b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>"
                b"<h1>Bad gateway</h1><p>cloudflare (or_magic offline double)</p></body></html>"
            )
            return Resp(200, {"Content-Type": "text/html; charset=UTF-8"}, body=page)
        if f.malformed:
            return Resp(
                200,
                {"Content-Type": "application/json"},
                body=b'{"id":"gen-malformed","choices":[{"message":{"content":"unterminated',
            )
        if f.error_in_200:
            status = f.status if f.status and f.status >= 400 else 502
            body = error_body(status, f.message, shape=f.shape, model=model)
            body.setdefault("user_id", USER_ID)
            return json_resp(body, 200)
        headers: dict[str, str] = {}
        if f.body is not None:
            status = f.status or 200
            if isinstance(f.body, (dict, list)):
                return json_resp(f.body, status)
            raw = f.body.encode() if isinstance(f.body, str) else bytes(f.body)
            return Resp(status, {"Content-Type": "application/json"}, body=raw)
        status = f.status or 500
        if status == 429 and f.shape is None:
            headers.update(rate_limit_headers())
        if f.retry_after is not None:
            headers["Retry-After"] = str(f.retry_after)
        meta = {"headers": rate_limit_headers()} if status == 429 and f.shape is None else None
        body = error_body(
            status, f.message, shape=f.shape, retry_after=f.retry_after, model=model, metadata=meta
        )
        return json_resp(body, status, headers)

    # ---- response cache -----------------------------------------------------------------------
    def _cache_lookup(self, key: str, req: Req) -> Resp | None:
        ttl_header = req.headers.get("x-openrouter-cache-ttl")
        with self.lock:
            if req.headers.get("x-openrouter-cache-clear", "").lower() == "true":
                self.cache.pop(key, None)
                return None
            entry = self.cache.get(key)
            if entry is None:
                return None
            stored_at, resp, source_id = entry
            ttl = _ttl_seconds(ttl_header)
            age = int(time.time() - stored_at)
            if age > ttl:
                del self.cache[key]
                return None
        headers = dict(resp.headers)
        headers.update(
            {
                "X-OpenRouter-Cache-Status": "HIT",
                "X-OpenRouter-Cache-Age": str(age),
                "X-OpenRouter-Cache-TTL": ttl_header or str(ttl),
                "X-OpenRouter-Cache-Source-Id": source_id,
            }
        )
        return Resp(resp.status, headers, body=resp.body, chunks=resp.chunks)

    def _cache_store(self, key: str, req: Req, resp: Resp) -> None:
        ttl_header = req.headers.get("x-openrouter-cache-ttl")
        resp.headers.update(
            {
                "X-OpenRouter-Cache-Status": "MISS",
                "X-OpenRouter-Cache-Age": "0",
                "X-OpenRouter-Cache-TTL": ttl_header or str(_ttl_seconds(ttl_header)),
            }
        )
        source = resp.headers.get("X-Generation-Id", "")
        stored = Resp(resp.status, dict(resp.headers), body=resp.body, chunks=resp.chunks)
        with self.lock:
            self.cache[key] = (time.time(), stored, source)

    # ---- the wire ------------------------------------------------------------------------------
    async def _send(self, resp: Resp, fault: Fault | None, send: Send, receive: Receive) -> None:
        if fault is not None and fault.delay_s > 0:
            await asyncio.sleep(fault.delay_s)
        if resp.drop:
            await _close_connection(send, receive)
            return
        if fault is not None and fault.hang is not None:
            await self._hang(resp, fault, send, receive)
            return
        headers = dict(resp.headers)
        if fault is not None and fault.headers:
            headers.update(fault.headers)
        truncate = bool(fault and fault.truncate)
        slow = fault.slow_body_s if fault is not None else 0.0
        if resp.body is not None:
            headers["Content-Length"] = str(len(resp.body))
        elif resp.length is not None:
            headers["Content-Length"] = str(resp.length)
        await send(
            {
                "type": "http.response.start",
                "status": resp.status,
                "headers": [(k.lower().encode(), str(v).encode()) for k, v in headers.items()],
            }
        )
        if resp.body is not None:
            body = resp.body
            if truncate:
                await send(
                    {
                        "type": "http.response.body",
                        "body": body[: len(body) // 2],
                        "more_body": True,
                    }
                )
                await _close_connection(send, receive)
                return
            if slow > 0 and body:
                n = 10
                step = -(-len(body) // n)
                for i in range(0, len(body), step):
                    await send(
                        {
                            "type": "http.response.body",
                            "body": body[i : i + step],
                            "more_body": True,
                        }
                    )
                    await asyncio.sleep(slow / n)
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        if resp.chunks is not None:
            chunks = resp.chunks
            limit = max(1, len(chunks) // 2) if truncate else len(chunks)
            for piece in chunks[:limit]:
                await send({"type": "http.response.body", "body": piece, "more_body": True})
                if slow > 0:
                    await asyncio.sleep(slow / max(1, len(chunks)))
            if truncate:
                await _close_connection(send, receive)
                return
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        if resp.stream is not None:
            total = resp.length or 0
            sent = 0
            n_pieces = max(1, math.ceil(total / (1 << 20)))
            for piece in resp.stream:
                if truncate and sent + len(piece) > total // 2:
                    piece = piece[: max(0, total // 2 - sent)]
                    if piece:
                        await send({"type": "http.response.body", "body": piece, "more_body": True})
                    await _close_connection(send, receive)
                    return
                await send({"type": "http.response.body", "body": piece, "more_body": True})
                sent += len(piece)
                if slow > 0:
                    await asyncio.sleep(slow / n_pieces)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _hang(self, resp: Resp, fault: Fault, send: Send, receive: Receive) -> None:
        """Headers, then keep-alive comments (or silence) until the client leaves or ``hang_s``."""
        await send(
            {
                "type": "http.response.start",
                "status": resp.status,
                "headers": [(k.lower().encode(), str(v).encode()) for k, v in resp.headers.items()],
            }
        )

        async def wait_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        gone = asyncio.ensure_future(wait_disconnect())
        deadline = time.monotonic() + fault.hang_s
        try:
            while not gone.done() and time.monotonic() < deadline:
                if fault.hang == "keepalive":
                    body = b": OPENROUTER PROCESSING\n\n"
                    await send({"type": "http.response.body", "body": body, "more_body": True})
                await asyncio.wait({gone}, timeout=0.02)
            if not gone.done():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            gone.cancel()

    def sse(self, events: list[Any]) -> list[bytes]:
        """Frame SSE payloads, with ``: OPENROUTER PROCESSING`` comments when configured."""
        nl = "\r\n" if self.config.crlf else "\n"
        comment = f": OPENROUTER PROCESSING{nl}{nl}".encode()
        out: list[bytes] = [comment] if self.config.keepalive_comments else []
        for i, ev in enumerate(events):
            data = (
                ev
                if isinstance(ev, str)
                else json.dumps(ev, ensure_ascii=False, separators=(",", ":"))
            )
            out.append(f"data: {data}{nl}{nl}".encode())
            if self.config.keepalive_comments and i % 3 == 2 and i < len(events) - 2:
                out.append(comment)
        return out

    @staticmethod
    def sse_headers(gen_id: str | None = None) -> dict[str, str]:
        h = {
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
        if gen_id:
            h["X-Generation-Id"] = gen_id
        return h

    # ---- model helpers ---------------------------------------------------------------------
    def require_model(
        self, body: dict[str, Any], output: str, what: str
    ) -> tuple[str, dict[str, Any]]:
        model_id = body.get("model")
        if not isinstance(model_id, str) or not model_id.strip():
            raise bad_request("model: Required")
        model = find_model(model_id)
        if model is None:
            raise ApiError(400, _invalid_model_body(model_id))
        if not has_output(model, output):
            raise ApiError(
                400,
                error_body(
                    400,
                    f"{model['id']} does not support {what}",
                    shape="new",
                    model=model_id,
                    availability_code="wrong_endpoint",
                ),
            )
        return model_id, model

    # ---- chat --------------------------------------------------------------------------------
    async def chat(self, req: Req) -> Resp:
        body = req.body()
        primary = body.get("model")
        fallbacks = body.get("models") if isinstance(body.get("models"), list) else []
        candidates: list[str] = []
        for m in [primary, *fallbacks]:
            if isinstance(m, str) and m and m not in candidates:
                candidates.append(m)
        if not candidates:
            candidates = ["google/gemma-4-26b-a4b-it:free"]  # the account default
        for cand in candidates:
            model = find_model(cand)
            if model is None:
                raise ApiError(400, _invalid_model_body(cand))
            if not set(model["architecture"]["output_modalities"]) & {"text", "image", "audio"}:
                raise ApiError(
                    400,
                    error_body(
                        400,
                        f"{model['id']} is not a chat model; use its dedicated endpoint",
                        shape="new",
                        model=cand,
                        availability_code="wrong_endpoint",
                    ),
                )
        entry_fault = req.entry_fault
        failures: list[dict[str, Any]] = []
        for i, cand in enumerate(candidates):
            model = find_model(cand)
            assert model is not None
            served = cand if cand == model["id"] else model["id"]
            fault = self.take_fault(req.method, req.path, cand, model_only=True)
            if fault is not None and fault.is_failure and i < len(candidates) - 1:
                failures.append(
                    {"provider": OFFLINE_PROVIDER, "model": cand, "status": fault.status}
                )
                continue
            if fault is not None and fault.preempts:
                resp = self._fault_resp(fault, cand)
                resp.fault = fault
                return resp
            use = fault or entry_fault
            resp = self._chat_answer(
                req, body, served, model, use, failures, _is_online(cand, body)
            )
            if fault is not None:
                resp.fault = fault
            return resp
        raise AssertionError("unreachable")

    def _chat_answer(
        self,
        req: Req,
        body: dict[str, Any],
        served: str,
        model: dict[str, Any],
        fault: Fault | None,
        attempts: list[dict[str, Any]],
        online: bool,
    ) -> Resp:
        if (
            body.get("modalities") is None
            and "text" not in model["architecture"]["output_modalities"]
            and has_output(model, "image")
        ):
            body = {**body, "modalities": ["image"]}
        _chat.validate(body, served, model)
        gen_id = self.new_id("gen", req.body_hash)
        created = int(time.time())
        completion = _chat.build(
            body,
            model_id=served,
            model=model,
            scenario=fault.scenario if fault else None,
            gen_id=gen_id,
            created=created,
            online=online,
        )
        if fault is not None and fault.echo is not None:  # a reflecting proxy / prompt injection
            completion.content = fault.echo.replace(
                "{authorization}", req.headers.get("authorization", "")
            ).replace("{key}", req.key or "")
        stream = body.get("stream") is True
        self.record_generation(
            gen_id,
            req,
            model=served,
            api_type="completions",
            total_cost=completion.usage["cost"],
            usage=completion.usage["cost"],
            tokens_prompt=completion.usage["prompt_tokens"],
            tokens_completion=completion.usage["completion_tokens"],
            native_tokens_prompt=completion.usage["prompt_tokens"],
            native_tokens_completion=completion.usage["completion_tokens"],
            native_tokens_reasoning=completion.usage["completion_tokens_details"][
                "reasoning_tokens"
            ],
            native_tokens_completion_images=completion.usage["completion_tokens_details"][
                "image_tokens"
            ],
            native_tokens_cached=0,
            num_media_prompt=len(req.record.media),
            num_media_completion=len(completion.images),
            num_input_audio_prompt=sum(1 for m in req.record.media if m["type"] == "input_audio"),
            finish_reason=completion.finish_reason,
            native_finish_reason=completion.native_finish_reason,
            streamed=stream,
            provider_responses=attempts,
        )
        if stream:
            mid = None
            if fault is not None and fault.midstream_error:
                status = fault.status or 502
                mid = {
                    "code": status,
                    "message": fault.message or "Provider returned error",
                    "metadata": {
                        "error_type": ERROR_TYPES.get(status, "provider_unavailable"),
                        "provider_code": "upstream_error",
                        "provider_name": OFFLINE_PROVIDER,
                    },
                }
            events = _chat.to_events(
                completion, midstream_error=mid, split_chars=fault.echo_split if fault else None
            )
            return Resp(200, self.sse_headers(gen_id), chunks=self.sse(events))
        if fault is not None and fault.midstream_error:
            completion.error = {
                "code": fault.status or 502,
                "message": fault.message or "Provider returned error",
                "metadata": {"error_type": "provider_unavailable"},
            }
            completion.finish_reason = completion.native_finish_reason = "error"
        return json_resp(_chat.to_json(completion), 200, {"X-Generation-Id": gen_id})

    # ---- models --------------------------------------------------------------------------------
    async def models(self, req: Req) -> Resp:
        q = req.query
        out_mods = [s.strip() for s in q.get("output_modalities", "text").split(",") if s.strip()]
        in_mods = [s.strip() for s in q.get("input_modalities", "").split(",") if s.strip()]
        params = [s.strip() for s in q.get("supported_parameters", "").split(",") if s.strip()]
        text = q.get("q", "").strip().lower()
        items = []
        for m in MODELS:
            arch = m["architecture"]
            if "all" not in out_mods and not set(out_mods) & set(arch["output_modalities"]):
                continue
            if in_mods and not set(in_mods) <= set(arch["input_modalities"]):
                continue
            if params and not set(params) <= set(m["supported_parameters"]):
                continue
            if text and text not in (m["id"] + " " + m["name"] + " " + m["description"]).lower():
                continue
            items.append(m)
        sort = q.get("sort")
        if sort == "newest":
            items.sort(key=lambda m: -m["created"])
        elif sort == "pricing-low-to-high":
            items.sort(key=lambda m: float(m["pricing"]["prompt"]))
        elif sort == "pricing-high-to-low":
            items.sort(key=lambda m: -float(m["pricing"]["prompt"]))
        elif sort == "context-high-to-low":
            items.sort(key=lambda m: -(m["context_length"] or 0))
        total = len(items)
        nxt = None
        if "offset" in q or "limit" in q:
            try:
                offset = max(0, int(q.get("offset", "0")))
                limit = min(1000, max(1, int(q.get("limit", "1000"))))
            except ValueError:
                raise bad_request("offset and limit must be integers") from None
            items = items[offset : offset + limit]
            if offset + limit < total:
                rest = {k: v for k, v in q.items() if k not in ("offset", "limit")}
                rest.update(offset=str(offset + limit), limit=str(limit))
                nxt = f"{PREFIX}/models?{urlencode(rest)}"
        return json_resp({"data": items, "total_count": total, "links": {"next": nxt}})

    async def models_count(self, req: Req) -> Resp:
        return json_resp({"data": {"count": len(MODELS)}})

    async def model_one(self, req: Req) -> Resp:
        model = find_model(req.params["id"])
        if model is None:
            return error_resp(404, f"Model {req.params['id']} not found")
        return json_resp({"data": model})

    async def model_endpoints(self, req: Req) -> Resp:
        mid = req.params["id"]
        model = find_model(mid)
        if model is None:
            return error_resp(404, f"No endpoints found for {mid}")
        _, variant = split_variant(mid)
        params = model["supported_parameters"]
        endpoint = {
            "name": f"{OFFLINE_PROVIDER} | {model['id']}",
            "model_id": model["id"],
            "model_name": model["name"],
            "provider_name": OFFLINE_PROVIDER,
            "tag": OFFLINE_PROVIDER + (f":{variant}" if variant else ""),
            "context_length": model["context_length"] or 0,  # an int in the spec, never null
            "max_completion_tokens": model["top_provider"]["max_completion_tokens"],
            "max_prompt_tokens": None,
            "pricing": model["pricing"],
            "quantization": "bf16",
            "supported_parameters": model["supported_parameters"],
            "supports_implicit_caching": False,
            "supports_voice_cloning": False,
            "supports_diarization": has_output(model, "transcription"),
            "supports_tool_choice": {
                "auto": "tools" in params,
                "none": "tools" in params,
                "required": "tool_choice" in params,
                "function": "tool_choice" in params,
            },
            "native_tools": {},
            "service_tier": None,
            "status": 0,
            "uptime_last_5m": 100.0,
            "uptime_last_30m": 100.0,
            "uptime_last_1d": 100.0,
            "latency_last_30m": {"p50": 120, "p75": 150, "p90": 200, "p99": 400},
            "throughput_last_30m": {"p50": 90, "p75": 80, "p90": 60, "p99": 30},
        }
        data = {k: model[k] for k in ("id", "name", "created", "description", "architecture")}
        data["endpoints"] = [endpoint]
        return json_resp({"data": data})

    # ---- key / credits / generation ---------------------------------------------------------
    async def key_info(self, req: Req) -> Resp:
        key = req.key
        with self.lock:
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

    async def credits(self, req: Req) -> Resp:
        """Management keys only, like OpenRouter (``key_overrides[key]["is_management_key"]``)."""
        key = req.key or ""
        with self.lock:
            overrides = dict(self.key_overrides.get(key, {}))
            usage = round(sum(self.key_usage.values()), 10)
        if not overrides.get("is_management_key"):
            return error_resp(403, "Only management keys can perform this operation")
        total = float(overrides.get("total_credits", 100.0))
        return json_resp({"data": {"total_credits": total, "total_usage": usage}})

    async def providers(self, req: Req) -> Resp:
        return json_resp(
            {
                "data": [
                    {
                        "name": "or_magic offline",
                        "slug": OFFLINE_PROVIDER,
                        "privacy_policy_url": None,
                        "terms_of_service_url": None,
                        "status_page_url": None,
                        "headquarters": None,
                        "datacenters": None,
                    }
                ]
            }
        )

    # ---- embeddings --------------------------------------------------------------------------
    async def embedding_models(self, req: Req) -> Resp:
        items = [m for m in MODELS if has_output(m, "embeddings")]
        return json_resp({"data": items, "total_count": len(items), "links": {"next": None}})

    async def embeddings(self, req: Req) -> Resp:
        body = req.body()
        _, model = self.require_model(body, "embeddings", "embeddings")
        data, tokens = _embed.embed_body(body)
        gen_id = self.new_id("gen-emb", req.body_hash)
        cost = round(tokens * float(model["pricing"].get("prompt", "0") or 0), 12)
        self.record_generation(
            gen_id,
            req,
            model=model["id"],
            api_type="embeddings",
            total_cost=cost,
            usage=cost,
            tokens_prompt=tokens,
        )
        return json_resp(
            {
                "id": gen_id,
                "object": "list",
                "model": model["id"],
                "data": data,
                "usage": {
                    "prompt_tokens": tokens,
                    "total_tokens": tokens,
                    "cost": cost,
                    "is_byok": False,
                },
            },
            headers={"X-Generation-Id": gen_id},
        )

    async def generation(self, req: Req) -> Resp:
        gid = req.query.get("id")
        if not gid:
            raise bad_request("id: Required")
        with self.lock:
            rec = self.generations.get(gid)
        if rec is None:
            return error_resp(404, f"Generation {gid} not found")
        return json_resp({"data": rec})

    # ---- rerank --------------------------------------------------------------------------------
    async def rerank(self, req: Req) -> Resp:
        body = req.body()
        _, model = self.require_model(body, "rerank", "reranking")
        query = _required_text(body, "query")
        docs = body.get("documents")
        if not isinstance(docs, list) or not docs:
            raise bad_request("documents: must be a non-empty array")
        texts: list[str] = []
        for i, d in enumerate(docs):
            if isinstance(d, str):
                texts.append(d)
            elif isinstance(d, dict) and isinstance(d.get("text"), str):
                texts.append(d["text"])
            else:
                raise bad_request(f"documents[{i}]: expected a string or {{text}}")
        top_n = body.get("top_n")
        if top_n is not None and (
            not isinstance(top_n, int) or isinstance(top_n, bool) or top_n < 1
        ):
            raise bad_request("top_n: must be a positive integer")
        q_tokens = _tokens(query)
        scored = []
        for i, t in enumerate(texts):
            d_tokens = _tokens(t)
            overlap = len(q_tokens & d_tokens)
            union = len(q_tokens | d_tokens) or 1
            score = 0.02 + 0.9 * overlap / max(1, len(q_tokens)) + 0.07 * overlap / union
            scored.append((round(min(score, 0.999999), 6), i))
        scored.sort(key=lambda s: (-s[0], s[1]))
        if top_n is not None:
            scored = scored[:top_n]
        gen_id = self.new_id("gen-rerank", req.body_hash)
        units = max(1, math.ceil(len(texts) / 100))
        total_tokens = len(query.split()) * len(texts) + sum(len(t.split()) for t in texts)
        cost = round(units * float(model["pricing"].get("request", "0")), 10)
        usage = {"search_units": units, "total_tokens": total_tokens, "cost": cost}
        self.record_generation(
            gen_id, req, model=model["id"], api_type="rerank", total_cost=cost, usage=cost
        )
        return json_resp(
            {
                "id": gen_id,
                "model": model["id"],
                "provider": OFFLINE_PROVIDER,
                "results": [
                    {"index": i, "relevance_score": s, "document": {"text": texts[i]}}
                    for s, i in scored
                ],
                "usage": usage,
            },
            headers={"X-Generation-Id": gen_id},
        )

    # ---- images ------------------------------------------------------------------------------
    async def image_models(self, req: Req) -> Resp:
        # prices are per endpoint in the spec (ImageEndpoint.pricing), not on the list item
        return json_resp(
            {"data": [{k: v for k, v in m.items() if k != "pricing"} for m in IMAGE_MODELS]}
        )

    async def image_model_endpoints(self, req: Req) -> Resp:
        base = find_model(req.params["id"])
        spec = IMAGE_BY_ID.get(base["id"]) if base else None
        if spec is None:
            return error_resp(404, f"No image endpoints found for {req.params['id']}")
        endpoint = {
            "provider_name": OFFLINE_PROVIDER,
            "provider_slug": OFFLINE_PROVIDER,
            "provider_tag": OFFLINE_PROVIDER,
            "supported_parameters": spec["supported_parameters"],
            "allowed_passthrough_parameters": [],
            "supports_streaming": spec["supports_streaming"],
            "pricing": [
                {"billable": "output_image", "unit": "image", "cost_usd": float(p["cost_usd"])}
                for p in spec["pricing"]
            ],
        }
        # the spec's ImageModelEndpointsResponse is not wrapped in ``data``
        return json_resp({"id": spec["id"], "endpoints": [endpoint]})

    async def images(self, req: Req) -> Resp:
        body = req.body()
        model_id = body.get("model")
        if not isinstance(model_id, str) or not model_id.strip():
            raise bad_request("model: Required")
        base = find_model(model_id)
        spec = IMAGE_BY_ID.get(base["id"]) if base else None
        if base is None:
            raise ApiError(400, _invalid_model_body(model_id))
        if spec is None:
            raise ApiError(
                400,
                error_body(
                    400,
                    f"{base['id']} does not support the images API",
                    shape="new",
                    model=model_id,
                    availability_code="wrong_endpoint",
                ),
            )
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise bad_request("prompt: Required")
        sp = spec["supported_parameters"]
        n = body.get("n", 1)
        if (
            not isinstance(n, int)
            or isinstance(n, bool)
            or not sp["n"]["min"] <= n <= sp["n"]["max"]
        ):
            raise bad_request(f"n must be an integer from {sp['n']['min']} to {sp['n']['max']}")
        for name in ("resolution", "aspect_ratio", "output_format", "quality"):
            value = body.get(name)
            if value is not None and value not in sp[name]["values"]:
                raise bad_request(
                    f"{name} '{value}' is not supported by {spec['id']}. "
                    f"Valid values: {', '.join(sp[name]['values'])}"
                )
        size = body.get("size")
        if isinstance(size, str) and re.fullmatch(r"\d{2,5}x\d{2,5}", size):
            w, h = (int(x) for x in size.split("x"))
            if w * h > 64_000_000:
                raise bad_request(f"size {size} is too large")
        else:
            res = (
                size
                if isinstance(size, str) and size in _media.SIZE_SCALE
                else body.get("resolution")
            )
            w, h = _media.image_dims(body.get("aspect_ratio"), res or "1K")
        fmt = body.get("output_format") or "png"
        seed = _media.digest(spec["id"], prompt, body.get("seed"))
        data = []
        for i in range(n):
            s = _media.digest(seed, i)
            if fmt == "svg":
                raw, media_type = _media.svg(w, h, s, prompt), "image/svg+xml"
            else:
                # jpeg/webp are not encoded by the double: it answers PNG and says so honestly.
                raw, media_type = _media.png(w, h, s), "image/png"
            data.append(
                {"b64_json": base64.b64encode(raw).decode("ascii"), "media_type": media_type}
            )
        price = float(base["pricing"].get("image_output", "0") or 0)
        p_tokens = len(prompt.split())
        usage = {
            "prompt_tokens": p_tokens,
            "completion_tokens": _chat.IMAGE_TOKENS * n,
            "total_tokens": p_tokens + _chat.IMAGE_TOKENS * n,
            "cost": round(price * n, 10),
        }
        gen_id = self.new_id("gen", req.body_hash)
        self.record_generation(
            gen_id,
            req,
            model=spec["id"],
            api_type="image",
            total_cost=usage["cost"],
            usage=usage["cost"],
        )
        created = int(time.time())
        if body.get("stream") is True:
            events: list[Any] = [
                {
                    "type": "image_generation.partial_image",
                    "partial_image_index": 0,
                    "b64_json": data[0]["b64_json"],
                }
            ]
            for d in data:
                events.append(
                    {
                        "type": "image_generation.completed",
                        "b64_json": d["b64_json"],
                        "media_type": d["media_type"],
                        "created": created,
                        "usage": usage,
                    }
                )
            events.append("[DONE]")
            return Resp(200, self.sse_headers(gen_id), chunks=self.sse(events))
        return json_resp(
            {"created": created, "data": data, "usage": usage}, headers={"X-Generation-Id": gen_id}
        )

    # ---- audio -------------------------------------------------------------------------------
    async def speech(self, req: Req) -> Resp:
        body = req.body()
        _, model = self.require_model(body, "speech", "text-to-speech")
        text = _required_text(body, "input")
        voice = body.get("voice")
        voices = model.get("supported_voices") or []
        if voice is not None and voices and voice not in voices:
            raise bad_request(
                f"voice '{voice}' is not supported by {model['id']}. Supported voices: {', '.join(voices)}"
            )
        fmt = body.get("response_format", "pcm")
        speed = body.get("speed", 1.0)
        if (
            not isinstance(speed, (int, float))
            or isinstance(speed, bool)
            or not 0.25 <= speed <= 4.0
        ):
            raise bad_request("speed must be a number from 0.25 to 4.0")
        seconds = min(10.0, max(0.5, 0.3 * len(text.split()) / float(speed)))

        def pcm_fn() -> bytes:
            return _media.pcm_tone(round(seconds, 2), _media.tone_freq(_media.digest(text, voice)))

        if fmt == "mp3":
            raw, ctype = _media.asset_bytes("speech.mp3"), "audio/mpeg"
        elif fmt == "opus":
            raw, ctype = _media.asset_bytes("speech.opus"), "audio/ogg"
        elif fmt == "pcm":
            raw, ctype = pcm_fn(), "audio/pcm"
        elif fmt == "wav":
            raw, ctype = _media.wav(pcm_fn()), "audio/wav"
        else:
            raise bad_request(
                f"response_format '{fmt}' is not supported by {model['id']}. Supported: mp3, opus, pcm, wav"
            )
        gen_id = self.new_id("gen", req.body_hash)
        chars = len(text)
        cost = round(chars * float(model["pricing"].get("completion", "0") or 0) / 4, 10)
        self.record_generation(
            gen_id, req, model=model["id"], api_type="tts", total_cost=cost, usage=cost
        )
        return Resp(200, {"Content-Type": ctype, "X-Generation-Id": gen_id}, body=raw)

    async def transcriptions(self, req: Req) -> Resp:
        ctype = req.headers.get("content-type", "")
        if ctype.startswith("multipart/"):
            raise bad_request(
                "Send a JSON body with input_audio {data, format}; multipart is not supported"
            )
        body = req.body()
        _, model = self.require_model(body, "transcription", "speech-to-text")
        audio = body.get("input_audio")
        if (
            not isinstance(audio, dict)
            or not isinstance(audio.get("data"), str)
            or not audio["data"].strip()
        ):
            raise bad_request("input_audio.data: Required (base64 audio)")
        fmt = audio.get("format")
        if not isinstance(fmt, str) or not fmt:
            raise bad_request("input_audio.format: Required")
        size, head = _media.b64_info(audio["data"], 4096)
        if size == 0:
            raise bad_request("input_audio.data: empty audio")
        duration = _media.wav_duration(head, size)
        if duration is None:
            rate = {"mp3": 16_000, "pcm16": 48_000, "wav": 44_100, "flac": 60_000}.get(fmt, 16_000)
            duration = round(size / rate, 3)
        language = body.get("language") or "en"
        text = (
            f"Offline transcription by the or_magic double ({model['id']}): {fmt} audio, "
            f"{size} bytes, about {duration:.1f} seconds."
        )
        rf = body.get("response_format") or "json"
        gen_id = self.new_id("gen", req.body_hash)
        cost = round(duration * float(model["pricing"].get("audio", "0") or 0), 10)
        self.record_generation(
            gen_id, req, model=model["id"], api_type="stt", total_cost=cost, usage=cost
        )
        headers = {"X-Generation-Id": gen_id}
        if rf == "text":
            return Resp(
                200, {"Content-Type": "text/plain; charset=utf-8", **headers}, body=text.encode()
            )
        if rf in ("srt", "vtt"):
            end = _timestamp(duration, "," if rf == "srt" else ".")
            start = _timestamp(0, "," if rf == "srt" else ".")
            out = (
                f"1\n{start} --> {end}\n{text}\n"
                if rf == "srt"
                else f"WEBVTT\n\n{start} --> {end}\n{text}\n"
            )
            return Resp(
                200, {"Content-Type": "text/plain; charset=utf-8", **headers}, body=out.encode()
            )
        if rf not in ("json", "verbose_json"):
            raise bad_request("response_format must be one of json, text, srt, verbose_json, vtt")
        result: dict[str, Any] = {
            "text": text,
            "language": language,
            "duration": duration,
            "usage": {"seconds": math.ceil(duration), "cost": cost},
        }
        if rf == "verbose_json":
            result["segments"] = [{"id": 0, "start": 0.0, "end": duration, "text": text}]
        return json_resp(result, headers=headers)

    # ---- videos ------------------------------------------------------------------------------
    async def video_models(self, req: Req) -> Resp:
        return json_resp({"data": VIDEO_MODELS})

    def script_video(self, statuses: list[str], error: str | None) -> None:
        with self.lock:
            self.video_scripts.append((list(statuses), error))

    async def video_submit(self, req: Req) -> Resp:
        body = req.body()
        model_id = body.get("model")
        if not isinstance(model_id, str) or not model_id.strip():
            raise bad_request("model: Required")
        spec = VIDEO_BY_ID.get(split_variant(model_id)[0])
        if spec is None:
            if find_model(model_id) is not None:
                raise bad_request(f"Model {model_id} does not support video generation")
            raise bad_request(f"Model {model_id} does not exist")
        prompt = body.get("prompt")
        frames = body.get("frame_images")
        if (prompt is None or (isinstance(prompt, str) and not prompt.strip())) and not frames:
            raise bad_request("prompt: Required")
        if prompt is not None and not isinstance(prompt, str):
            raise bad_request("prompt: must be a string")
        duration = body.get("duration")
        if duration is not None:
            if not isinstance(duration, int) or isinstance(duration, bool):
                raise bad_request("duration: must be an integer number of seconds")
            if duration not in spec["supported_durations"]:
                raise bad_request(
                    f"duration {duration} is not supported by {spec['id']}. "
                    f"Supported durations: {', '.join(map(str, spec['supported_durations']))}"
                )
        for name, key in (
            ("resolution", "supported_resolutions"),
            ("aspect_ratio", "supported_aspect_ratios"),
            ("size", "supported_sizes"),
        ):
            value = body.get(name)
            if value is not None and value not in spec[key]:
                raise bad_request(
                    f"{name} '{value}' is not supported by {spec['id']}. "
                    f"Supported values: {', '.join(spec[key])}"
                )
        if frames is not None:
            self._check_frames(frames, spec)
        refs = body.get("input_references")
        if refs is not None:
            if not isinstance(refs, list):
                raise bad_request("input_references: must be an array")
            for i, r in enumerate(refs):
                kind = r.get("type") if isinstance(r, dict) else None
                if kind not in ("image_url", "audio_url", "video_url") or not isinstance(
                    (r.get(kind) or {}).get("url") if isinstance(r.get(kind), dict) else None, str
                ):
                    raise bad_request(
                        f"input_references[{i}]: expected {{type: image_url|audio_url|video_url, <type>: {{url}}}}"
                    )
        with self.lock:
            script, error = self.video_scripts.popleft() if self.video_scripts else (None, None)
        if script is None:
            n = max(1, int(self.config.video_polls_to_complete))
            script = ["in_progress"] * (n - 1) + ["completed"]
        seconds = duration or spec["supported_durations"][0]
        res = body.get("resolution") or spec["supported_resolutions"][0]
        skus = spec["pricing_skus"]
        per_s = float(skus.get(f"per-video-second-{res}", skus.get("per-video-second", "0")))
        job = VideoJob(
            id=self.new_id("job", req.body_hash).replace("job-", "job_", 1),
            model=spec["id"],
            prompt=prompt or "",
            duration=seconds,
            resolution=res,
            script=script,
            error=error,
            generation_id=self.new_id("gen", req.body_hash),
            cost=round(per_s * seconds, 6),
            created=int(time.time()),
        )
        with self.lock:
            self.jobs[job.id] = job
        return json_resp(
            {"id": job.id, "polling_url": f"{PREFIX}/videos/{job.id}", "status": "pending"}, 202
        )

    @staticmethod
    def _check_frames(frames: Any, spec: dict[str, Any]) -> None:
        if not isinstance(frames, list):
            raise bad_request("frame_images: must be an array")
        allowed = spec["supported_frame_images"] or []
        seen: set[str] = set()
        for i, fr in enumerate(frames):
            url = (
                fr.get("image_url", {}).get("url")
                if isinstance(fr, dict) and isinstance(fr.get("image_url"), dict)
                else None
            )
            if (
                not isinstance(fr, dict)
                or fr.get("type") != "image_url"
                or not isinstance(url, str)
                or not url
            ):
                raise bad_request(
                    f"frame_images[{i}]: expected {{type: 'image_url', image_url: {{url}}, frame_type}}"
                )
            if not (url.startswith(("https://", "http://")) or url.startswith("data:image/")):
                raise bad_request(
                    f"frame_images[{i}].image_url.url: must be an http(s) or data:image URL"
                )
            ft = fr.get("frame_type")
            if ft not in ("first_frame", "last_frame"):
                raise bad_request(
                    f"frame_images[{i}].frame_type: must be first_frame or last_frame"
                )
            if not allowed:
                raise bad_request(f"{spec['id']} does not support frame images")
            if ft not in allowed:
                raise bad_request(
                    f"frame_type '{ft}' is not supported by {spec['id']}. Supported: {', '.join(allowed)}"
                )
            if ft in seen:
                raise bad_request(f"frame_images: duplicate {ft}")
            seen.add(ft)

    def _job_view(self, job: VideoJob, origin: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": job.id,
            "polling_url": f"{PREFIX}/videos/{job.id}",
            "status": job.status,
        }
        if job.status == "completed":
            out["generation_id"] = job.generation_id
            out["unsigned_urls"] = [f"{origin}{PREFIX}/videos/{job.id}/content?index=0"]
            out["usage"] = {"cost": job.cost, "is_byok": False}
        elif job.status == "failed":
            out["error"] = job.error or "Video generation failed"
        elif job.status in ("cancelled", "expired") and job.error:
            out["error"] = job.error
        return out

    async def video_poll(self, req: Req) -> Resp:
        with self.lock:
            job = self.jobs.get(req.params["id"])
            if job is None:
                return error_resp(404, "Video generation job not found")
            if job.status not in VIDEO_TERMINAL:
                job.polls += 1
                job.status = job.script[min(job.polls, len(job.script)) - 1]
            view = self._job_view(job, req.origin)
            completed_now = job.status == "completed" and job.generation_id not in self.generations
        if completed_now:
            self.record_generation(
                job.generation_id,
                req,
                model=job.model,
                api_type="video",
                total_cost=job.cost,
                usage=job.cost,
            )
        return json_resp(view)

    async def video_content(self, req: Req) -> Resp:
        with self.lock:
            job = self.jobs.get(req.params["id"])
        if job is None:
            return error_resp(404, "Video generation job not found")
        if job.status != "completed":
            return error_resp(400, f"Video {job.id} is not completed (status: {job.status})")
        if req.query.get("index", "0") != "0":
            return error_resp(404, "No video at that index")
        headers = {
            "Content-Type": "video/mp4",
            "Content-Disposition": f'inline; filename="{job.id}.mp4"',
        }
        n = self.config.video_content_bytes
        if n is None:
            return Resp(200, headers, body=_media.asset_bytes("clip.mp4"))
        return Resp(200, headers, stream=_media.mp4_stream(n), length=n)


# ---- helpers ------------------------------------------------------------------------------------


def _required_text(body: dict[str, Any], key: str) -> str:
    """``body[key]`` when it is a string with something besides whitespace; else the 400."""
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"{key}: Required (a non-empty string)")
    return value


def _is_online(model_id: str, body: dict[str, Any]) -> bool:
    """Web search requested: ``:online``, the ``web`` plugin or the ``openrouter:web_search`` tool."""
    if model_id.endswith(":online"):
        return True
    plugins = body.get("plugins") if isinstance(body.get("plugins"), list) else []
    tools = body.get("tools") if isinstance(body.get("tools"), list) else []
    return any(
        isinstance(p, dict) and p.get("id") == "web" and p.get("enabled", True) for p in plugins
    ) or any(isinstance(t, dict) and t.get("type") == "openrouter:web_search" for t in tools)


def _invalid_model_body(model_id: str) -> dict[str, Any]:
    return error_body(400, f"{model_id} is not a valid model ID", shape="new", model=model_id)


def _mask_key(key: str) -> str:
    prefix = "sk-or-v1-" if key.startswith("sk-or-v1-") else ""
    rest = key[len(prefix) :]
    if len(rest) <= 8:
        return prefix + "..." + rest[-2:]
    return f"{prefix}{rest[:3]}...{rest[-4:]}"


def _ttl_seconds(header: str | None) -> int:
    m = re.match(r"\s*(\d+)", header or "")
    return min(86400, max(1, int(m.group(1)))) if m else 300


def _tokens(text: str) -> set[str]:
    return {t for t in re.findall(r"[a-z0-9]+", text.lower()) if len(t) > 1}


def _timestamp(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


async def _close_connection(send: Send, receive: Receive) -> None:
    """Close the TCP connection now (after flushing what was written), without an ASGI ending.

    ASGI has no "drop the connection" message; uvicorn's ``send`` is a bound method of the
    request cycle, whose transport we close. We then wait for uvicorn to notice the disconnect,
    so it neither appends a 500 nor logs "returned without completing response".
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionAbortedError("or_magic double: dropping the connection")
    transport.close()

    async def wait_disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    with contextlib.suppress(asyncio.TimeoutError, Exception):
        await asyncio.wait_for(wait_disconnect(), 5)
