"""The SSRF-guarded downloader for image, audio and video URL inputs.

What it defends against, and how (tool-surface.md §5.1 and §10 list what the Node server got wrong):

* internal targets: every address a host resolves to must be public (``addresses.is_blocked_ip``)
  unless ``OPENROUTER_URL_ALLOWLIST`` says otherwise; numeric host forms are normalised first;
* DNS rebinding: the name is resolved **once**, and the request goes to the vetted address
  (``http(s)://<ip>:<port>/...``) with ``Host`` and TLS SNI set to the name, so certificates are
  still checked against the name and a second lookup never happens;
* redirects: followed by hand, every hop parsed, vetted and pinned again, capped;
* size: ``Content-Length``, the streamed count, and the count *after* decompression (gzip bombs);
* slow servers: one deadline covers resolve, connect, headers and the whole body;
* error pages: HTML where media was expected is an error, not "media".

httpx is imported inside the functions so ``import or_magic.safety`` stays cheap.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import socket
import ssl
import tempfile
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote, urljoin, urlsplit

from .._version import __version__
from ..errors import SUGGEST_ALLOWLIST, ErrorCode, ToolError
from ..redact import redact
from .addresses import Allowlist, ip_or_none, is_blocked_ip, is_localhost_name, normalize_host

if TYPE_CHECKING:
    import httpx

    from ..config import Settings
    from ..media.blob import Blob

Kind = Literal["image", "audio", "video"]
Resolver = Callable[[str, int], Awaitable[list[str]]]

USER_AGENT = f"or_magic/{__version__} (+https://github.com/or-magic/or_magic)"
ACCEPT_ENCODING = "gzip, deflate"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_HTML_PREFIXES = (b"<!doctype html", b"<html", b"<head", b"<body")
_MAX_URL_LEN = 8192
_PIECE = 64 * 1024  # decompression output step: a bomb never inflates more than this at once
_HEAD_KEEP = 1024
_SNIFF_EARLY = 256
_CTL_RE = re.compile(r"[\x00-\x20\x7f]")


@dataclass
class Fetched:
    """A downloaded body: ``blob`` (memory or temp file), the response's type, where it ended."""

    blob: Blob
    content_type: str | None
    final_url: str
    status: int


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # normalised: dotted IPv4, compressed IPv6 or lower-case ASCII name
    port: int
    path: str  # path + query, never empty
    url: str  # the URL as the caller sees it (for urljoin and final_url)

    @property
    def default_port(self) -> bool:
        return self.port == (443 if self.scheme == "https" else 80)

    @property
    def host_header(self) -> str:
        h = f"[{self.host}]" if ":" in self.host else self.host
        return h if self.default_port else f"{h}:{self.port}"

    def pinned_url(self, ip: str) -> str:
        h = f"[{ip}]" if ":" in ip else ip
        return f"{self.scheme}://{h}:{self.port}{self.path}"


def display_url(url: str) -> str:
    """A URL safe for messages: no userinfo, no query (signed URLs carry tokens), capped, redacted."""
    try:
        p = urlsplit(url)
        netloc = p.netloc.rsplit("@", 1)[-1]
        path = p.path if len(p.path) <= 120 else p.path[:117] + "..."
        shown = f"{p.scheme}://{netloc}{path}" + ("?…" if p.query else "")
    except ValueError:
        shown = url[:60] + ("..." if len(url) > 60 else "")
    return redact(shown, limit=200)


def _err(code: ErrorCode, message: str, **details: Any) -> ToolError:
    return ToolError(
        code, redact(message), details={k: v for k, v in details.items() if v is not None}
    )


def parse_target(url: str) -> _Target:
    """Validate one URL (every hop goes through here): scheme, credentials, host, port."""
    if not isinstance(url, str) or not url.strip():
        raise _err(ErrorCode.INVALID_INPUT, "empty URL")
    url = url.strip()
    if len(url) > _MAX_URL_LEN:
        raise _err(ErrorCode.INVALID_INPUT, f"URL longer than {_MAX_URL_LEN} characters")
    if _CTL_RE.search(url):
        raise _err(
            ErrorCode.INVALID_INPUT,
            "URL contains whitespace or control characters",
            url=display_url(url),
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _err(ErrorCode.INVALID_INPUT, f"malformed URL {display_url(url)}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"{scheme}:" if scheme else "no scheme"
        raise _err(
            ErrorCode.INVALID_INPUT,
            f"only http(s) URLs can be fetched, got {shown}",
            scheme=scheme or None,
        )
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise _err(
            ErrorCode.INVALID_INPUT,
            f"URL with credentials is not allowed: {display_url(url)}",
            url=display_url(url),
        )
    if not parts.hostname:
        raise _err(ErrorCode.INVALID_INPUT, f"URL has no host: {display_url(url)}")
    host = normalize_host(parts.hostname)
    if port is None:
        port = 443 if scheme == "https" else 80
    if port == 0:
        raise _err(ErrorCode.INVALID_INPUT, f"URL has port 0: {display_url(url)}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return _Target(scheme, host, port, path, url)


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the system resolver (off the event loop), addresses in its order."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


def _blocked(host: str, ip: str, reason: str) -> ToolError:
    return ToolError(
        ErrorCode.UPSTREAM_REFUSED,
        redact(
            f"Blocked host {host}" + (f" ({ip})" if ip != host else "") + f": {reason}. "
            "URL inputs may not reach private, loopback, link-local, metadata or reserved addresses"
        ),
        details={"reason": "blocked_host", "host": host, "address": ip, "range": reason},
        suggestions=[SUGGEST_ALLOWLIST],
    )


async def vet_target(target: _Target, allow: Allowlist, resolver: Resolver) -> list[str]:
    """The addresses to connect to, in order; raises unless every one of them is allowed."""
    host = target.host
    literal = ip_or_none(host)
    if literal is not None:
        candidates = [literal.compressed]
    elif is_localhost_name(host):
        # RFC 6761: never ask DNS about localhost; it is loopback (blocked unless allowlisted).
        loop_addrs = ["127.0.0.1", "::1"]
        if allow.allows_host(host):
            return loop_addrs
        ok = [a for a in loop_addrs if allow.allows_ip(a)]
        if not ok:
            raise _blocked(host, "127.0.0.1", "loopback name localhost")
        return ok
    else:
        try:
            raw = await resolver(host, target.port)
        except (OSError, UnicodeError) as exc:
            raise _err(
                ErrorCode.UPSTREAM_HTTP,
                f"could not resolve host {host}: {getattr(exc, 'strerror', None) or exc}",
                host=host,
            ) from None
        candidates = []
        for a in raw or []:
            try:
                ip = ipaddress.ip_address(str(a).split("%", 1)[0])
            except ValueError:
                raise _err(
                    ErrorCode.UPSTREAM_HTTP,
                    f"resolver returned a non-address for {host}",
                    host=host,
                ) from None
            if ip.compressed not in candidates:
                candidates.append(ip.compressed)
        if not candidates:
            raise _err(
                ErrorCode.UPSTREAM_HTTP, f"could not resolve host {host}: no addresses", host=host
            )
    if allow.allows_host(host):
        return candidates
    for ip in candidates:
        if allow.allows_ip(ip):
            continue
        reason = is_blocked_ip(ip)
        if reason:
            raise _blocked(host, ip, reason)
    return candidates


# ---- decompression with a bounded output step -------------------------------------------------


class ContentDecoder:
    """Streaming gzip/deflate decoder whose every output piece is at most ``_PIECE`` bytes."""

    def __init__(self, encoding: str) -> None:
        self.gzip = encoding in ("gzip", "x-gzip")
        self._d = self._new()
        self._started = False

    def _new(self, raw: bool = False) -> Any:
        if self.gzip:
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        return zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        buf = data
        while True:
            try:
                out = self._d.decompress(buf, _PIECE)
            except zlib.error:
                if not self.gzip and not self._started:
                    self._d = self._new(raw=True)  # "deflate" sent as a bare stream
                    self._started = True
                    continue
                raise
            self._started = True
            if out:
                yield out
            buf = self._d.unconsumed_tail
            if self._d.eof:
                rest = self._d.unused_data
                if rest and self.gzip:  # concatenated gzip members
                    self._d = self._new()
                    buf = rest
                    continue
                return
            if not buf and len(out) < _PIECE:
                return

    def finish(self) -> Iterator[bytes]:
        if not self._d.eof:
            if not self._started:
                return
            raise zlib.error("compressed body ended early")
        tail = self._d.flush()
        if tail:
            yield tail


def decode_chain(
    decoders: list[ContentDecoder], data: bytes, final: bool = False
) -> Iterator[bytes]:
    """Run ``data`` through the decoders (outermost encoding first)."""
    if not decoders:
        if data:
            yield data
        return
    first, rest = decoders[0], decoders[1:]
    if data:
        for piece in first.feed(data):  # lazily: the caller checks the cap between pieces
            yield from decode_chain(rest, piece)
    if final:
        for piece in first.finish():
            yield from decode_chain(rest, piece)
        yield from decode_chain(rest, b"", final=True)


# ---- sinks --------------------------------------------------------------------------------------


class _Sink:
    """Where the decoded body goes: memory, or a private temp file (0600) removed on failure."""

    def __init__(self, to_file: bool, kind: str) -> None:
        self.to_file = to_file
        self.size = 0
        self.head = b""
        self._buf = bytearray()
        self._fd: int | None = None
        self.path: str | None = None
        if to_file:
            self._fd, self.path = tempfile.mkstemp(prefix=f"or_magic-{kind}-", suffix=".download")

    def write(self, piece: bytes) -> None:
        self.size += len(piece)
        if len(self.head) < _HEAD_KEEP:
            self.head += piece[: _HEAD_KEEP - len(self.head)]
        if self._fd is not None:
            view = memoryview(piece)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
        else:
            self._buf += piece

    def reset(self) -> None:
        """Throw away what a previous hop wrote (a redirect body is never kept)."""
        self.size = 0
        self.head = b""
        self._buf = bytearray()
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.lseek(self._fd, 0, os.SEEK_SET)

    def finish(self, mime: str, name: str | None) -> Blob:
        from pathlib import Path

        from ..media.blob import Blob

        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            assert self.path is not None
            return Blob(mime, path=Path(self.path), size=self.size, name=name, cleanup=True)
        return Blob(mime, data=bytes(self._buf), size=self.size, name=name)

    def discard(self) -> None:
        from .atomic import discard_temp

        self._buf = bytearray()
        discard_temp(self._fd, self.path)
        self._fd, self.path = None, None


def looks_like_html(head: bytes) -> bool:
    """True for bodies that start like an HTML document (after a BOM and whitespace)."""
    h = head[:_HEAD_KEEP]
    if h.startswith(b"\xef\xbb\xbf"):
        h = h[3:]
    h = h.lstrip().lower()
    return h.startswith(_HTML_PREFIXES)


def _media_type(value: str | None) -> str | None:
    if not value:
        return None
    mt = value.split(";", 1)[0].strip().lower()
    return mt or None


def _name_from_url(url: str) -> str | None:
    try:
        seg = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    except ValueError:
        return None
    seg = seg.replace("\x00", "").strip()
    return seg[:200] or None


def _is_tls_error(exc: BaseException) -> bool:
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, ssl.SSLError):
            return True
        e = e.__cause__ or e.__context__
    return False


async def _close_quietly(*closables: Any) -> None:
    """Close responses/clients even while the surrounding scope is being cancelled."""
    import anyio

    with anyio.move_on_after(2, shield=True):
        for c in closables:
            if c is None:
                continue
            try:
                await c.aclose()
            except Exception:
                pass


# ---- the fetch ------------------------------------------------------------------------------


async def fetch_url(
    url: str,
    *,
    kind: Kind,
    settings: Settings,
    to_file: bool = False,
    resolver: Resolver | None = None,
    accept: str | None = None,
    verify: ssl.SSLContext | bool = True,
) -> Fetched:
    """Download ``url`` as ``kind`` media through the SSRF guard.

    ``resolver(host, port) -> [addresses]`` replaces DNS (tests; split-horizon setups); it is
    called once per hop. ``verify`` is an ``ssl.SSLContext`` for a private/corporate CA (or
    ``False``); certificates are always checked against the URL's host name, not the pinned IP.
    ``to_file=True`` streams into a temp file owned by the returned blob (``blob.close()`` deletes
    it) so big videos never sit in memory. Raises ``ToolError`` (codes per DESIGN.md).
    """
    import anyio

    if kind not in ("image", "audio", "video"):
        raise ValueError(f"kind must be image, audio or video, got {kind!r}")
    timeout_ms = int(getattr(settings, f"{kind}_fetch_timeout_ms"))
    cap = int(getattr(settings, f"{kind}_max_download_bytes"))
    max_redirects = int(getattr(settings, f"{kind}_max_redirects"))
    allow = Allowlist.from_settings(settings)
    job = _FetchJob(
        kind=kind,
        cap=cap,
        max_redirects=max_redirects,
        allow=allow,
        resolver=resolver or system_resolver,
        verify=verify,
        accept=accept or f"{kind}/*, */*;q=0.8",
        deadline=time.monotonic() + timeout_ms / 1000,
    )
    # Parse before the clock and the temp file: a bad URL is an input error, nothing else.
    first = parse_target(url)
    sink = _Sink(to_file, kind)
    try:
        with anyio.fail_after(timeout_ms / 1000):
            return await job.run(first, sink)
    except TimeoutError:
        sink.discard()
        upper = kind.upper()
        raise ToolError(
            ErrorCode.UPSTREAM_TIMEOUT,
            f"fetching {display_url(url)} took longer than {timeout_ms} ms "
            f"(OPENROUTER_{upper}_FETCH_TIMEOUT_MS)",
            details={"url": display_url(url), "timeout_ms": timeout_ms},
            suggestions=[f"Raise OPENROUTER_{upper}_FETCH_TIMEOUT_MS or use a faster source"],
        ) from None
    except BaseException:
        sink.discard()
        raise


@dataclass
class _FetchJob:
    kind: str
    cap: int
    max_redirects: int
    allow: Allowlist
    resolver: Resolver
    verify: ssl.SSLContext | bool
    accept: str
    deadline: float

    def _remaining(self) -> float:
        return max(0.05, self.deadline - time.monotonic())

    def _too_large(self, what: str, n: int | None, url: str) -> ToolError:
        var = f"OPENROUTER_{self.kind.upper()}_MAX_DOWNLOAD_BYTES"
        size = f" ({n} bytes)" if n is not None else ""
        return ToolError(
            ErrorCode.RESOURCE_TOO_LARGE,
            f"{what}{size} is over the {self.kind} download cap of {self.cap} bytes ({var}): "
            f"{display_url(url)}",
            details={"limit_bytes": self.cap, "size_bytes": n, "url": display_url(url)},
            suggestions=[f"Raise {var} or use a smaller file"],
        )

    async def run(self, target: _Target, sink: _Sink) -> Fetched:
        redirects = 0
        while True:
            addrs = await vet_target(target, self.allow, self.resolver)
            client, resp = await self._send(target, addrs)
            try:
                status = resp.status_code
                if 300 <= status < 400:
                    location = resp.headers.get("location")
                    if status not in REDIRECT_STATUSES or not location:
                        why = (
                            "redirect without Location header"
                            if status in REDIRECT_STATUSES
                            else f"HTTP {status}"
                        )
                        raise _err(
                            ErrorCode.UPSTREAM_HTTP,
                            f"{why} from {display_url(target.url)}",
                            status=status,
                            url=display_url(target.url),
                        )
                    if redirects >= self.max_redirects:
                        raise ToolError(
                            ErrorCode.UPSTREAM_HTTP,
                            f"too many redirects (more than {self.max_redirects}, "
                            f"OPENROUTER_{self.kind.upper()}_MAX_REDIRECTS) from {display_url(target.url)}",
                            details={
                                "status": status,
                                "redirects": redirects,
                                "url": display_url(target.url),
                            },
                        )
                    next_url = urljoin(target.url, location.strip())
                    redirects += 1
                else:
                    return await self._receive(target, resp, sink)
            finally:
                await _close_quietly(resp, client)
            # Every hop is parsed, vetted and pinned again from scratch.
            target = parse_target(next_url)

    async def _send(
        self, target: _Target, addrs: list[str]
    ) -> tuple[httpx.AsyncClient, httpx.Response]:
        """Connect to the vetted addresses in order (the next only on a connect error)."""
        import httpx

        headers = {
            "Host": target.host_header,
            "User-Agent": USER_AGENT,
            "Accept": self.accept,
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        extensions: dict[str, Any] = {}
        if target.scheme == "https" and ip_or_none(target.host) is None:
            extensions["sni_hostname"] = target.host
        last: BaseException | None = None
        for ip in addrs:
            remaining = self._remaining()
            per_try = remaining / max(1, len(addrs)) if len(addrs) > 1 else remaining
            # A fresh client per hop and address: no pooled connection (whose TLS session was for
            # another name) is ever reused, and no proxy from the environment (trust_env=False)
            # could re-resolve the name.
            client = httpx.AsyncClient(
                verify=self.verify,
                trust_env=False,
                follow_redirects=False,
                timeout=httpx.Timeout(remaining, connect=per_try),
            )
            try:
                req = client.build_request(
                    "GET", target.pinned_url(ip), headers=headers, extensions=extensions
                )
                resp = await client.send(req, stream=True)
                return client, resp
            except httpx.ConnectTimeout as exc:
                await _close_quietly(client)
                last = exc
            except httpx.ConnectError as exc:
                await _close_quietly(client)
                if _is_tls_error(exc):
                    raise _err(
                        ErrorCode.UPSTREAM_HTTP,
                        f"TLS handshake with {target.host} failed: {_tls_reason(exc)}",
                        host=target.host,
                        url=display_url(target.url),
                    ) from None
                last = exc
            except httpx.TimeoutException:
                await _close_quietly(client)
                raise TimeoutError from None
            except httpx.HTTPError as exc:
                await _close_quietly(client)
                raise _err(
                    ErrorCode.UPSTREAM_HTTP,
                    f"request to {display_url(target.url)} failed: {type(exc).__name__}",
                    url=display_url(target.url),
                ) from None
            except BaseException:
                await _close_quietly(client)
                raise
        raise _err(
            ErrorCode.UPSTREAM_HTTP,
            f"could not connect to {target.host} ({len(addrs)} address{'es' if len(addrs) != 1 else ''} tried): "
            f"{type(last).__name__ if last else 'no address'}",
            host=target.host,
            url=display_url(target.url),
        )

    async def _receive(self, target: _Target, resp: httpx.Response, sink: _Sink) -> Fetched:
        import httpx

        url = target.url
        status = resp.status_code
        if not 200 <= status < 300:
            raise ToolError(
                ErrorCode.UPSTREAM_HTTP,
                f"HTTP {status} from {display_url(url)}",
                details={"status": status, "url": display_url(url)},
            )
        ctype = _media_type(resp.headers.get("content-type"))
        if ctype in HTML_TYPES:
            raise self._html(url, ctype)
        encodings = [e.strip().lower() for e in resp.headers.get("content-encoding", "").split(",")]
        encodings = [e for e in encodings if e and e != "identity"]
        for e in encodings:
            if e not in ("gzip", "x-gzip", "deflate"):
                raise _err(
                    ErrorCode.UNSUPPORTED_FORMAT,
                    f"unsupported Content-Encoding {e!r} from {display_url(url)}",
                    url=display_url(url),
                )
        if len(encodings) > 2:
            raise _err(
                ErrorCode.UNSUPPORTED_FORMAT,
                "more than two Content-Encodings stacked",
                url=display_url(url),
            )
        declared = resp.headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.cap:
            raise self._too_large("Content-Length", int(declared), url)
        # The outermost encoding is listed last, so it is undone first.
        decoders = [ContentDecoder(e) for e in reversed(encodings)]
        raw_total = 0
        sniffed = False
        sink.reset()
        try:
            stream: AsyncIterator[bytes] = resp.aiter_raw()
            async for chunk in stream:
                raw_total += len(chunk)
                if raw_total > self.cap:
                    raise self._too_large("response body", None, url)
                for piece in decode_chain(decoders, chunk):
                    sink.write(piece)
                    if sink.size > self.cap:
                        raise self._too_large(
                            "decompressed body" if decoders else "response body", None, url
                        )
                if not sniffed and len(sink.head) >= _SNIFF_EARLY:
                    sniffed = True  # refuse an HTML page now rather than after the whole body
                    if looks_like_html(sink.head):
                        raise self._html(url, ctype)
            for piece in decode_chain(decoders, b"", final=True):
                sink.write(piece)
                if sink.size > self.cap:
                    raise self._too_large("decompressed body", None, url)
        except zlib.error:
            raise _err(
                ErrorCode.UNSUPPORTED_FORMAT,
                f"corrupt {'/'.join(encodings)} body from {display_url(url)}",
                url=display_url(url),
            ) from None
        except httpx.TimeoutException:
            raise TimeoutError from None
        except httpx.HTTPError as exc:
            raise _err(
                ErrorCode.UPSTREAM_HTTP,
                f"reading the body of {display_url(url)} failed: {type(exc).__name__}",
                url=display_url(url),
            ) from None
        if sink.size == 0:
            raise _err(
                ErrorCode.INVALID_INPUT,
                f"empty body from {display_url(url)}",
                url=display_url(url),
                status=status,
            )
        if looks_like_html(sink.head):
            raise self._html(url, ctype)
        blob = sink.finish(ctype or "application/octet-stream", _name_from_url(url))
        return Fetched(blob=blob, content_type=ctype, final_url=url, status=status)

    def _html(self, url: str, ctype: str | None) -> ToolError:
        return ToolError(
            ErrorCode.UNSUPPORTED_FORMAT,
            f"got an HTML page where {self.kind} was expected ({display_url(url)}); "
            "the URL probably points at a web page, not at the media file",
            details={"url": display_url(url), "content_type": ctype},
            suggestions=[
                "Use the direct URL of the media file (right-click → copy image/media address)"
            ],
        )


def _tls_reason(exc: BaseException) -> str:
    e: BaseException | None = exc
    while e is not None:
        if isinstance(e, ssl.SSLCertVerificationError):
            return e.verify_message or "certificate verification failed"
        if isinstance(e, ssl.SSLError):
            return e.reason or type(e).__name__
        e = e.__cause__ or e.__context__
    return type(exc).__name__
