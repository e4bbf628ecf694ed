"""The one place that talks HTTP to OpenRouter (or to the offline double).

One pooled ``httpx.AsyncClient`` per backend and event loop; whole-request deadlines; retries on
408/429/5xx and connection errors with Retry-After and full jitter; error objects hidden inside 200
bodies and non-JSON bodies detected; SSE streaming with mid-stream errors surfaced as ``ToolError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from .. import log
from .._version import __version__
from ..config import Settings
from ..errors import ErrorCode, ToolError
from ..redact import redact, register_secret
from .body import StreamingJSON, contains_refs
from .classify import classify_transport, classify_upstream, error_object
from .reading import ACCEPT_ENCODING, iter_body, parse_json, read_body
from .retry import backoff_delay, is_retryable_status, retry_after_from
from .sse import iter_sse_json

USER_AGENT = f"or_magic/{__version__} (+https://github.com/or-magic/or_magic)"
OFFLINE_KEY = "offline-double"
# Statuses that mean the upstream did not start the work, so even a paid submit may be retried.
NOT_STARTED_STATUSES = frozenset({429, 503})


@dataclass
class JsonResponse:
    data: Any
    headers: dict[str, str]
    status: int
    elapsed_ms: float = 0.0


@dataclass
class BytesResponse:
    data: bytes
    content_type: str
    headers: dict[str, str]
    status: int


if sys.version_info >= (3, 11):
    _deadline = asyncio.timeout
else:  # pragma: no cover - 3.10

    @contextlib.asynccontextmanager
    async def _deadline(seconds: float | None):
        import anyio

        with anyio.fail_after(seconds):
            yield


class OpenRouterClient:
    """HTTP access to one backend (base URL + key). Create through ``get_client``."""

    def __init__(
        self,
        settings: Settings,
        *,
        base_url: str,
        api_key: str | None,
        offline: bool,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``transport`` replaces the socket transport (``make_transport``), as httpx's own
        ``transport=`` does: tests pass ``httpx.ASGITransport(app=double.app)`` to run the
        double in-process. Everything above the transport (deadlines, retries, classification,
        SSE parsing) is the same code either way."""
        self.settings = settings
        self.base_url = base_url.rstrip("/")
        self.offline = offline
        self._api_key = api_key
        if api_key:
            register_secret(api_key)
        self._transport = transport
        self._http: httpx.AsyncClient | None = None

    # ---- plumbing -------------------------------------------------------------------------
    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None or self._http.is_closed:
            from .transport import make_transport

            # Keep-alive = max: httpcore closes an idle connection whenever the pool holds more
            # than the keep-alive count, so a smaller one churned TCP connections at c > 32.
            limits = httpx.Limits(
                max_connections=64, max_keepalive_connections=64, keepalive_expiry=30
            )
            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(self.settings.request_timeout_ms / 1000.0),
                transport=self._transport or make_transport(limits),
                headers=self._base_headers(),
                follow_redirects=False,
                trust_env=False,
                event_hooks={"response": [_mark_response_started]},
            )
        return self._http

    def _base_headers(self) -> dict[str, str]:
        h = {
            "User-Agent": USER_AGENT,
            "HTTP-Referer": self.settings.http_referer,
            "X-OpenRouter-Title": self.settings.app_title,
            "X-Title": self.settings.app_title,
        }
        if self._api_key:
            h["Authorization"] = f"Bearer {self._api_key}"
        return h

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        if path.startswith("/api/"):  # a relative polling_url from the API
            parts = urlsplit(self.base_url)
            return f"{parts.scheme}://{parts.netloc}{path}"
        return self.base_url + "/" + path.lstrip("/")

    def resolve(self, maybe_relative: str) -> str:
        """Resolve a URL the API returned (e.g. a relative ``polling_url``) against the base URL."""
        if maybe_relative.startswith(("http://", "https://")):
            return maybe_relative
        if maybe_relative.startswith("/"):
            return self.url(maybe_relative)
        return urljoin(self.base_url + "/", maybe_relative)

    def same_origin(self, url: str) -> bool:
        """Only URLs on the API's own origin may receive the API key."""
        a, b = urlsplit(url), urlsplit(self.base_url)
        return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def _timeout_s(self, timeout_s: float | None) -> float:
        return timeout_s if timeout_s is not None else self.settings.request_timeout_ms / 1000.0

    def _retries(self, retries: int | None) -> int:
        return self.settings.max_retries if retries is None else max(0, retries)

    async def _sleep_before_retry(
        self, attempt: int, retry_after: float | None, why: str, path: str
    ) -> None:
        delay = backoff_delay(attempt, retry_after, cap_s=self.settings.retry_max_delay_ms / 1000.0)
        log.debug("http.retry", path=path, attempt=attempt + 1, delay_s=round(delay, 3), why=why)
        await asyncio.sleep(delay)

    def _prepare_body(self, json_body: Any) -> tuple[dict[str, Any], dict[str, str]]:
        """httpx kwargs for a JSON body; streams base64 blobs when the body holds ``B64Ref``s."""
        if json_body is None:
            return {}, {}
        if contains_refs(json_body):
            body = StreamingJSON(json_body)
            return (
                {"content": body.aiter_bytes()},
                {"Content-Type": "application/json", "Content-Length": str(body.content_length())},
            )
        data = json.dumps(json_body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return {"content": data}, {"Content-Type": "application/json"}

    # ---- request/response ---------------------------------------------------------------------
    async def request_json(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
        retries: int | None = None,
        context: str = "",
        expect_json: bool = True,
        idempotent: bool = True,
    ) -> JsonResponse:
        raw = await self._request(
            method,
            path,
            json_body=json,
            params=params,
            headers=headers,
            timeout_s=timeout_s,
            retries=retries,
            context=context,
            idempotent=idempotent,
        )
        resp, content = raw
        hdrs = dict(resp.headers)
        if not expect_json:
            return JsonResponse(content, hdrs, resp.status_code)
        data = self._decode_json(resp, content, context)
        err = error_object(data) if isinstance(data, dict) else None
        if err is not None and not _looks_like_success(data):
            raise classify_upstream(resp.status_code, data, hdrs, context=context)
        return JsonResponse(
            data,
            hdrs,
            resp.status_code,
            resp.elapsed.total_seconds() * 1000 if resp.elapsed else 0.0,
        )

    async def request_bytes(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
        retries: int | None = None,
        context: str = "",
        max_bytes: int | None = None,
    ) -> BytesResponse:
        resp, content = await self._request(
            method,
            path,
            json_body=json,
            headers=headers,
            timeout_s=timeout_s,
            retries=retries,
            context=context,
            max_bytes=max_bytes,
        )
        ctype = resp.headers.get("content-type", "")
        if ctype.split(";")[0].strip().lower() == "application/json":
            data = self._decode_json(resp, content, context)
            if error_object(data) is not None:
                raise classify_upstream(resp.status_code, data, dict(resp.headers), context=context)
        return BytesResponse(content, ctype, dict(resp.headers), resp.status_code)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
        retries: int | None = None,
        context: str = "",
        max_bytes: int | None = None,
        idempotent: bool = True,
    ) -> tuple[httpx.Response, bytes]:
        url = self.url(path)
        attempts = self._retries(retries) + 1
        deadline = self._timeout_s(timeout_s)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            kwargs, body_headers = self._prepare_body(json_body)
            req_headers = {"Accept-Encoding": ACCEPT_ENCODING, **body_headers, **(headers or {})}
            try:
                async with _deadline(deadline):
                    req = self.http.build_request(
                        method, url, params=params, headers=req_headers, **kwargs
                    )
                    if not self.same_origin(url):
                        req.headers.pop("Authorization", None)  # never leak the key off-origin
                    resp = await self.http.send(req, stream=True)
                    try:
                        cap = self.settings.response_max_bytes if max_bytes is None else max_bytes
                        content = await _read_capped(resp, cap, context)
                    finally:
                        await resp.aclose()
            except TimeoutError:
                raise ToolError(
                    ErrorCode.UPSTREAM_TIMEOUT,
                    f"{context + ': ' if context else ''}no complete response within {deadline:g}s",
                    details={"reason": "timeout", "timeout_s": deadline},
                    suggestions=[
                        "Retry",
                        "Raise OPENROUTER_REQUEST_TIMEOUT_MS, lower max_tokens, or use a faster model",
                    ],
                ) from None
            except httpx.TransportError as exc:
                retryable = not isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout))
                if not idempotent:  # a paid job: retry only if the request never reached the server
                    retryable = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
                if last or not retryable:
                    raise classify_transport(exc, context=context) from None
                await self._sleep_before_retry(attempt, None, type(exc).__name__, path)
                continue
            if resp.status_code < 400:
                return resp, content
            if not idempotent and resp.status_code not in NOT_STARTED_STATUSES:
                last = True  # e.g. a 502 after POST /videos: the job may exist; never submit twice
            await self._retry_or_raise(
                resp, content, attempt=attempt, last=last, path=path, context=context
            )
        raise AssertionError("unreachable")

    async def _retry_or_raise(
        self,
        resp: httpx.Response,
        content: bytes,
        *,
        attempt: int,
        last: bool,
        path: str,
        context: str,
    ) -> None:
        """An error response: wait and return when it may be retried, else raise it classified."""
        if is_retryable_status(resp.status_code) and not last:
            retry_after = retry_after_from(dict(resp.headers), _maybe_json(content))
            await self._sleep_before_retry(attempt, retry_after, f"HTTP {resp.status_code}", path)
            return
        raise _http_error(resp, content, context)

    def _decode_json(self, resp: httpx.Response, content: bytes, context: str) -> Any:
        try:
            return parse_json(content, context)
        except ValueError:
            ctype = resp.headers.get("content-type", "?")
            kind = (
                "an HTML page"
                if b"<html" in content[:512].lower() or "html" in ctype
                else "a non-JSON body"
            )
            raise ToolError(
                ErrorCode.UPSTREAM_HTTP,
                f"{context + ': ' if context else ''}expected JSON but got {kind} "
                f"(HTTP {resp.status_code}, {ctype}): {redact(_text(content), limit=200)!r}",
                details={"reason": "non_json", "status": resp.status_code, "content_type": ctype},
                suggestions=[
                    "Check OPENROUTER_BASE_URL points at the API (…/api/v1)",
                    "Retry after a brief delay",
                ],
            ) from None

    # ---- streaming ------------------------------------------------------------------------
    async def stream_sse(
        self,
        path: str,
        json: Any,
        *,
        headers: Mapping[str, str] | None = None,
        retries: int | None = None,
        context: str = "",
        idle_timeout_s: float | None = None,
        timeout_s: float | None = None,
        on_headers: Callable[[dict[str, str]], None] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """POST and yield SSE JSON events until ``[DONE]``.

        Retries only before the first event; a mid-stream error chunk raises ``ToolError`` after
        the events before it were yielded (the caller keeps the partial output). One deadline
        (``timeout_s``, default the whole-request timeout) covers connecting, every retry and the
        whole stream, keep-alive comments included; ``idle_timeout_s`` bounds one silent gap.
        The decoded stream is capped at ``OPENROUTER_MAX_RESPONSE_BYTES``. A stream that ends
        without ``[DONE]`` and without any ``finish_reason`` yields ``{"__truncated__": True}``
        last, so the caller can say the answer was cut.
        """
        url = self.url(path)
        attempts = self._retries(retries) + 1
        total_s = self._timeout_s(timeout_s)
        idle = min(self._timeout_s(idle_timeout_s), total_s)
        timeout = httpx.Timeout(idle, connect=min(idle, 30.0))
        loop = asyncio.get_running_loop()
        deadline_at = loop.time() + total_s
        cap = self.settings.response_max_bytes
        for attempt in range(attempts):
            last = attempt == attempts - 1
            kwargs, body_headers = self._prepare_body(json)
            req_headers = {
                "Accept": "text/event-stream",
                "Accept-Encoding": ACCEPT_ENCODING,
                **body_headers,
                **(headers or {}),
            }
            try:
                req = self.http.build_request(
                    "POST", url, headers=req_headers, timeout=timeout, **kwargs
                )
                async with _deadline(max(0.0, deadline_at - loop.time())):
                    resp = await self.http.send(req, stream=True)
            except TimeoutError:
                raise _stream_timeout(context, total_s) from None
            except httpx.TransportError as exc:
                if last or isinstance(exc, httpx.ReadTimeout):
                    raise classify_transport(exc, context=context) from None
                await self._sleep_before_retry(attempt, None, type(exc).__name__, path)
                continue
            try:
                if resp.status_code >= 400:
                    content = await _read_capped(resp, 1 << 20, context, deadline_at, total_s)
                    await resp.aclose()
                    await self._retry_or_raise(
                        resp, content, attempt=attempt, last=last, path=path, context=context
                    )
                    continue
                if on_headers is not None:
                    on_headers(dict(resp.headers))
                ctype = resp.headers.get("content-type", "").lower()
                if "text/event-stream" not in ctype:
                    # Some OpenAI-compatible servers ignore stream:true and answer with one JSON body.
                    content = await _read_capped(resp, cap, context, deadline_at, total_s)
                    data = self._decode_json(resp, content, context)
                    if error_object(data) is not None and not _looks_like_success(data):
                        raise classify_upstream(
                            resp.status_code, data, dict(resp.headers), context=context
                        )
                    yield {"__full_response__": data}
                    return
                finished = False
                chunks = _aiter_text(resp, context, cap, deadline_at, total_s)
                async for event in iter_sse_json(chunks, context):
                    if event == "[DONE]":
                        return
                    assert isinstance(event, dict)
                    finished = finished or _has_finish_reason(event)
                    if "__malformed__" in event:
                        log.warn("sse.malformed_event", preview=event["__malformed__"][:80])
                        continue
                    if error_object(event) is not None and not event.get("choices"):
                        raise classify_upstream(None, event, dict(resp.headers), context=context)
                    if error_object(event) is not None:
                        # error chunk with a terminating choice (finish_reason: "error")
                        yield {k: v for k, v in event.items() if k != "error"}
                        raise classify_upstream(None, event, dict(resp.headers), context=context)
                    yield event
                if not finished:  # closed cleanly, but before the answer was finished
                    yield {"__truncated__": True}
                return
            finally:
                await resp.aclose()

    async def stream_download(
        self,
        url: str,
        write: Callable[[bytes], Any],
        *,
        max_bytes: int,
        timeout_s: float | None = None,
        context: str = "download",
        chunk_size: int = 1 << 20,
    ) -> tuple[str, int]:
        """GET ``url`` (API origin only: it carries the key) into ``write`` chunk by chunk.

        Returns ``(content_type, size)``. Caps from Content-Length and while streaming; an HTML or
        empty body is an error. Memory stays at about one chunk whatever the size.
        """
        full = self.resolve(url)
        if not self.same_origin(full):
            raise ToolError(
                ErrorCode.INVALID_INPUT,
                f"{context}: refusing to send the API key to another origin ({urlsplit(full).hostname})",
                details={"reason": "off_origin"},
            )
        deadline = self._timeout_s(timeout_s)
        try:
            async with (
                _deadline(deadline),
                self.http.stream(
                    "GET",
                    full,
                    headers={"Accept-Encoding": ACCEPT_ENCODING},
                    timeout=httpx.Timeout(deadline),
                ) as resp,
            ):
                if resp.status_code >= 400:
                    content = await _read_capped(resp, 1 << 20, context)
                    raise _http_error(resp, content, context)
                ctype = resp.headers.get("content-type", "application/octet-stream")
                if "html" in ctype.lower():
                    raise ToolError(
                        ErrorCode.UPSTREAM_HTTP,
                        f"{context}: got an HTML page instead of media ({ctype})",
                        details={"reason": "html", "status": resp.status_code},
                    )
                total = 0
                async for chunk in iter_body(resp, max_bytes, context):  # capped when decoded
                    total += len(chunk)
                    r = write(chunk)
                    if asyncio.iscoroutine(r):
                        await r
                if total == 0:
                    raise ToolError(
                        ErrorCode.UPSTREAM_HTTP,
                        f"{context}: empty body",
                        details={"reason": "empty"},
                    )
                return ctype.split(";")[0].strip().lower(), total
        except TimeoutError:
            raise ToolError(
                ErrorCode.UPSTREAM_TIMEOUT,
                f"{context}: not finished within {deadline:g}s",
                details={"reason": "timeout"},
                suggestions=["Retry; the job stays resumable with get_video_status"],
            ) from None
        except httpx.TransportError as exc:
            raise classify_transport(exc, context=context) from None


# ---- helpers --------------------------------------------------------------------------------


async def _mark_response_started(response: httpx.Response) -> None:
    """Response headers arrived: a transport error from here on is not a refused upload."""
    from .classify import RESPONSE_STARTED

    response.request.extensions[RESPONSE_STARTED] = True


def _looks_like_success(data: Any) -> bool:
    return isinstance(data, dict) and any(k in data for k in ("choices", "data", "results", "id"))


def _http_error(resp: httpx.Response, content: bytes, context: str) -> ToolError:
    body = _maybe_json(content)
    return classify_upstream(
        resp.status_code,
        body if body is not None else _text(content),
        dict(resp.headers),
        context=context,
    )


def _maybe_json(content: bytes) -> Any:
    try:
        return parse_json(content)
    except (ValueError, ToolError):
        return None


def _text(content: bytes) -> str:
    return content[:2000].decode("utf-8", "replace")


def _has_finish_reason(event: dict[str, Any]) -> bool:
    choices = event.get("choices")
    if not isinstance(choices, list):
        return False
    return any(isinstance(c, dict) and c.get("finish_reason") for c in choices)


def _stream_timeout(context: str, total_s: float) -> ToolError:
    return ToolError(
        ErrorCode.UPSTREAM_TIMEOUT,
        f"{context + ': ' if context else ''}the stream did not finish within {total_s:g}s",
        details={"reason": "timeout", "timeout_s": total_s},
        suggestions=[
            "Retry",
            "Raise OPENROUTER_REQUEST_TIMEOUT_MS, lower max_tokens, or use a faster model",
        ],
    )


async def _read_capped(
    resp: httpx.Response,
    max_bytes: int,
    context: str,
    deadline_at: float | None = None,
    total_s: float = 0.0,
) -> bytes:
    """The decoded body, capped after decompression; within ``deadline_at`` when given."""
    if deadline_at is None:
        return await read_body(resp, max_bytes, context)
    remaining = max(0.0, deadline_at - asyncio.get_running_loop().time())
    try:
        async with _deadline(remaining):
            return await read_body(resp, max_bytes, context)
    except TimeoutError:
        raise _stream_timeout(context, total_s) from None


async def _aiter_text(
    resp: httpx.Response, context: str, cap: int, deadline_at: float, total_s: float
) -> AsyncIterator[str]:
    """The decoded stream as text, capped in bytes, each read bounded by the one deadline.

    The deadline wraps each read, never a ``yield``: the consumer's work between chunks runs
    outside any timeout scope, so cancellation lands where it belongs.
    """
    import codecs

    loop = asyncio.get_running_loop()
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    pieces = iter_body(resp, cap, context).__aiter__()
    try:
        while True:
            remaining = deadline_at - loop.time()
            if remaining <= 0:
                raise _stream_timeout(context, total_s)
            try:
                async with _deadline(remaining):
                    piece = await pieces.__anext__()
            except StopAsyncIteration:
                break
            except TimeoutError:
                raise _stream_timeout(context, total_s) from None
            text = decoder.decode(piece)
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail
    except httpx.TransportError as exc:
        raise classify_transport(exc, context=context) from None
    finally:
        await pieces.aclose()


# ---- client cache: one per backend and event loop --------------------------------------------------

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple, OpenRouterClient]] = (
    weakref.WeakKeyDictionary()
)


# Which transport new clients get; None = the socket one. A hook for tests (the ``double_inproc``
# fixture sets it to an in-process ASGI transport); production code never sets it.
_transport_factory: Callable[[], httpx.AsyncBaseTransport] | None = None


def set_transport_factory(
    factory: Callable[[], httpx.AsyncBaseTransport] | None,
) -> Callable[[], httpx.AsyncBaseTransport] | None:
    """Make clients created from now on use ``factory()`` as their transport; returns the old one.

    Clients already cached keep theirs: the factory is part of the cache key, so a client built
    for the socket is never handed out while an in-process transport is set, nor the reverse.
    The offline backend is its own server and never gets the factory's transport.
    """
    global _transport_factory
    old, _transport_factory = _transport_factory, factory
    return old


def get_client(settings: Settings) -> OpenRouterClient:
    """The pooled client for these settings on the running loop (offline → the in-process double)."""
    loop = asyncio.get_running_loop()
    if settings.offline:
        from ..double import get_offline_double

        base_url = settings.offline_base_url or get_offline_double().base_url
        key: str | None = OFFLINE_KEY
    else:
        base_url = settings.base_url
        key = settings.api_key.get() if settings.api_key else None
    factory = None if settings.offline else _transport_factory
    cache_key = (
        base_url,
        key,
        settings.request_timeout_ms,
        settings.max_retries,
        settings.retry_max_delay_ms,
        settings.http_referer,
        settings.app_title,
        factory,
    )
    per_loop = _clients.setdefault(loop, {})
    client = per_loop.get(cache_key)
    if client is None:
        client = OpenRouterClient(
            settings,
            base_url=base_url,
            api_key=key,
            offline=settings.offline,
            transport=factory() if factory is not None else None,
        )
        per_loop[cache_key] = client
    return client


async def close_clients() -> None:
    """Close the running loop's pooled clients (tests, server shutdown)."""
    loop = asyncio.get_running_loop()
    for client in list(_clients.pop(loop, {}).values()):
        await client.aclose()
