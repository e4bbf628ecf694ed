"""SSRF-guarded fetches against real loopback servers.

Loopback is blocked by design, so the servers are reached only through the allowlist
(``url_allowlist=("127.0.0.1",)`` or a CIDR/host entry) plus an injected resolver for names; the
public API has no test-only bypass. A recorder wrapped around httpcore's network backend lists
every TCP connect, so "never connected" is checked directly, not inferred.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import gzip
import ipaddress
import os
import socket
import ssl
import tempfile
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from or_magic.config import Settings
from or_magic.errors import SUGGEST_ALLOWLIST, ErrorCode, ToolError
from or_magic.safety.fetch import USER_AGENT, fetch_url

pytestmark = pytest.mark.anyio

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64 + b"IEND\xaeB`\x82"
SECRET = "sk-or-v1-" + "feedface" * 8


# ---- a raw HTTP/1.1 server on loopback ---------------------------------------------------------


@dataclass
class Req:
    method: str
    target: str
    headers: dict[str, str]


Handler = Callable[[asyncio.StreamWriter, Req], Awaitable[None]]


@dataclass
class RawServer:
    host: str = "127.0.0.1"
    port: int = 0
    ssl_ctx: ssl.SSLContext | None = None
    routes: dict[str, Handler] = field(default_factory=dict)
    connections: int = 0
    requests: list[Req] = field(default_factory=list)
    server: asyncio.base_events.Server | None = None

    async def start(self) -> RawServer:
        self.server = await asyncio.start_server(
            self._handle, self.host, self.port, ssl=self.ssl_ctx
        )
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 1)

    def url(self, path: str = "/", host: str | None = None, scheme: str | None = None) -> str:
        scheme = scheme or ("https" if self.ssl_ctx else "http")
        h = host or (f"[{self.host}]" if ":" in self.host else self.host)
        return f"{scheme}://{h}:{self.port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            line, *lines = head.decode("latin-1").split("\r\n")
            method, target, _ = line.split(" ", 2)
            headers = {}
            for h in lines:
                if ":" in h:
                    k, v = h.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            req = Req(method, target, headers)
            self.requests.append(req)
            handler = self.routes.get(target.split("?", 1)[0], not_found)
            await handler(writer, req)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.TimeoutError, ssl.SSLError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def head_bytes(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers.items()]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def reply(
    status: int = 200,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    length: bool = True,
) -> Handler:
    async def handler(writer: asyncio.StreamWriter, req: Req) -> None:
        h = {"Content-Type": "image/png", **(headers or {})}
        if length:
            h.setdefault("Content-Length", str(len(body)))
        writer.write(head_bytes(status, h) + body)
        await writer.drain()

    return handler


def redirect(location: str, status: int = 302) -> Handler:
    return reply(status, b"moved", {"Location": location, "Content-Type": "text/plain"})


async def not_found(writer: asyncio.StreamWriter, req: Req) -> None:
    await reply(404, b"nope", {"Content-Type": "text/plain"})(writer, req)


@contextlib.asynccontextmanager
async def serve(routes: dict[str, Handler], **kw: Any) -> AsyncIterator[RawServer]:
    srv = await RawServer(routes=routes, **kw).start()
    try:
        yield srv
    finally:
        await srv.stop()


# ---- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every (host, port) httpcore opens a TCP connection to, during this test."""
    from httpcore._backends.auto import AutoBackend

    log: list[tuple[str, int]] = []
    real = AutoBackend.connect_tcp

    async def recording(self: Any, host: str, port: int, *a: Any, **kw: Any) -> Any:
        log.append((host, port))
        return await real(self, host, port, *a, **kw)

    monkeypatch.setattr(AutoBackend, "connect_tcp", recording)
    return log


@pytest.fixture
def private_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    d = tmp_path / "tmp"
    d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return d


def settings(**kw: Any) -> Settings:
    base: dict[str, Any] = {
        "url_allowlist": ("127.0.0.1",),
        "image_fetch_timeout_ms": 3000,
        "image_max_redirects": 3,
        "image_max_download_bytes": 1 << 20,
    }
    base.update(kw)
    return Settings(**base)


def mapping_resolver(table: dict[str, list[str]], calls: list[str] | None = None):
    async def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(table[host])

    return resolve


async def expect_error(code: ErrorCode, url: str, **kw: Any) -> ToolError:
    kw.setdefault("settings", settings())
    kw.setdefault("kind", "image")
    with pytest.raises(ToolError) as ei:
        await fetch_url(url, **kw)
    assert ei.value.code is code, ei.value
    return ei.value


# ---- happy path ----------------------------------------------------------------------------------


async def test_fetch_in_memory_and_request_headers(connects: list) -> None:
    async with serve({"/a/pic.png": reply(body=PNG)}) as srv:
        got = await fetch_url(srv.url("/a/pic.png?sig=1"), kind="image", settings=settings())
    assert got.blob.read_bytes() == PNG and got.blob.size == len(PNG)
    assert got.blob.mime == "image/png" and got.content_type == "image/png"
    assert got.status == 200 and got.final_url.endswith("/a/pic.png?sig=1")
    assert got.blob.name == "pic.png" and got.blob.path is None
    req = srv.requests[0]
    assert req.headers["host"] == f"127.0.0.1:{srv.port}"
    assert req.headers["user-agent"] == USER_AGENT
    assert req.headers["accept-encoding"] == "gzip, deflate"
    assert req.headers["accept"].startswith("image/*")
    assert req.target == "/a/pic.png?sig=1"
    assert connects == [("127.0.0.1", srv.port)]


async def test_to_file_streams_into_a_private_temp_file(private_tmp: Path) -> None:
    body = os.urandom(300_000)
    async with serve({"/v.mp4": reply(body=body, headers={"Content-Type": "video/mp4"})}) as srv:
        got = await fetch_url(srv.url("/v.mp4"), kind="video", settings=settings(), to_file=True)
    assert got.blob.data is None and got.blob.path is not None
    assert got.blob.path.parent == private_tmp
    assert (got.blob.path.stat().st_mode & 0o777) == 0o600
    assert got.blob.read_bytes() == body and got.blob.size == len(body)
    got.blob.close()
    assert list(private_tmp.iterdir()) == []


@pytest.mark.parametrize(
    "encoding", ["gzip", "x-gzip", "deflate-zlib", "deflate-raw", "gzip-members"]
)
async def test_compressed_bodies_are_decoded(encoding: str) -> None:
    data = PNG * 50
    if encoding in ("gzip", "x-gzip"):
        body, header = gzip.compress(data), encoding
    elif encoding == "gzip-members":
        body, header = gzip.compress(data[:100]) + gzip.compress(data[100:]), "gzip"
    elif encoding == "deflate-zlib":
        body, header = zlib.compress(data), "deflate"
    else:
        c = zlib.compressobj(wbits=-15)
        body, header = c.compress(data) + c.flush(), "deflate"
    async with serve({"/z": reply(body=body, headers={"Content-Encoding": header})}) as srv:
        got = await fetch_url(srv.url("/z"), kind="image", settings=settings())
    assert got.blob.read_bytes() == data


# ---- blocked targets are never connected ----------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "2130706433",
        "0x7f.1",
        "0177.0.0.1",
        "127.1",
        "0x7f.0.0.1",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "169.254.169.254",
        "0xa9fea9fe",
        "[fe80::1%25eth0]",
        "[64:ff9b::a9fe:a9fe]",
        "10.0.0.1",
        "0.0.0.0",
        "localhost",
        "api.localhost",
    ],
)
async def test_blocked_literals_never_connect(host: str, connects: list) -> None:
    async with serve({"/": reply(body=PNG)}) as srv:
        err = await expect_error(
            ErrorCode.UPSTREAM_REFUSED, srv.url("/", host=host), settings=settings(url_allowlist=())
        )
        assert srv.connections == 0
    assert connects == []
    assert err.details and err.details["reason"] == "blocked_host" and err.details["range"]
    assert err.suggestions == [SUGGEST_ALLOWLIST]


async def test_name_resolving_to_private_is_blocked(connects: list) -> None:
    calls: list[str] = []
    resolver = mapping_resolver({"media.example": ["8.8.8.8", "10.0.0.5"]}, calls)
    err = await expect_error(
        ErrorCode.UPSTREAM_REFUSED, "http://media.example/x.png", resolver=resolver
    )
    assert err.details == {
        "reason": "blocked_host",
        "host": "media.example",
        "address": "10.0.0.5",
        "range": "private 10.0.0.0/8",
    }
    assert calls == ["media.example"] and connects == []


async def test_unresolvable_host_is_upstream_http() -> None:
    await expect_error(
        ErrorCode.UPSTREAM_HTTP, "http://nowhere.example/", resolver=mapping_resolver({})
    )


async def test_redirect_to_metadata_is_refused(connects: list) -> None:
    async with serve({"/": redirect("http://169.254.169.254/latest/meta-data/")}) as srv:
        err = await expect_error(ErrorCode.UPSTREAM_REFUSED, srv.url("/"))
    assert err.details and err.details["address"] == "169.254.169.254"
    assert connects == [("127.0.0.1", srv.port)]  # the metadata address was never dialled


async def test_redirect_to_numeric_loopback_form_is_refused(connects: list) -> None:
    async with serve({"/": redirect("http://0x7f.1:1/")}) as srv:
        await expect_error(
            ErrorCode.UPSTREAM_REFUSED,
            srv.url("/"),
            settings=settings(url_allowlist=("media.test",)),
            resolver=mapping_resolver({"media.test": ["127.0.0.1"]}),
        )
    # The first hop used the allowlisted name; the hop to the bare numeric loopback is refused.
    assert all(port == srv.port for _, port in connects)


async def test_redirects_followed_up_to_the_cap_then_refused() -> None:
    routes: dict[str, Handler] = {
        f"/r{i}": redirect(f"/r{i - 1}" if i > 1 else "/final", 301 + (i % 2)) for i in range(1, 6)
    }
    routes["/final"] = reply(body=PNG)
    async with serve(routes) as srv:
        got = await fetch_url(
            srv.url("/r3"), kind="image", settings=settings(image_max_redirects=3)
        )
        assert got.final_url == srv.url("/final") and got.blob.read_bytes() == PNG
        err = await expect_error(
            ErrorCode.UPSTREAM_HTTP, srv.url("/r4"), settings=settings(image_max_redirects=3)
        )
        assert (
            "too many redirects" in err.message
            and err.details
            and err.details["status"] in (301, 302)
        )
        hits = len(srv.requests)
        err0 = await expect_error(
            ErrorCode.UPSTREAM_HTTP, srv.url("/r1"), settings=settings(image_max_redirects=0)
        )
        assert len(srv.requests) == hits + 1 and "too many redirects" in err0.message


async def test_redirect_without_location() -> None:
    async with serve({"/": reply(302, b"", {"Content-Type": "text/plain"})}) as srv:
        err = await expect_error(ErrorCode.UPSTREAM_HTTP, srv.url("/"))
    assert "without Location" in err.message and err.details and err.details["status"] == 302


async def test_redirect_to_credentials_or_other_scheme_is_refused() -> None:
    async with serve(
        {"/c": redirect("http://user:pw@127.0.0.1/"), "/f": redirect("file:///etc/passwd")}
    ) as srv:
        await expect_error(ErrorCode.INVALID_INPUT, srv.url("/c"))
        await expect_error(ErrorCode.INVALID_INPUT, srv.url("/f"))


# ---- DNS rebinding -----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def twin_servers() -> AsyncIterator[tuple[RawServer, RawServer]]:
    """A 'vetted' server on 127.0.0.2 and a 'rebinding target' on 127.0.0.1, same port."""
    for _ in range(10):
        try:
            good = await RawServer(host="127.0.0.2").start()
        except OSError:
            pytest.skip("cannot bind 127.0.0.2 on this system")
        try:
            evil = await RawServer(host="127.0.0.1", port=good.port).start()
        except OSError:
            await good.stop()
            continue
        try:
            yield good, evil
        finally:
            await good.stop()
            await evil.stop()
        return
    pytest.skip("no common free port on 127.0.0.1/127.0.0.2")


async def test_dns_rebinding_cannot_swap_the_connected_address(
    monkeypatch: pytest.MonkeyPatch, connects: list
) -> None:
    async with twin_servers() as (good, evil):
        good.routes["/img.png"] = reply(body=PNG)
        evil.routes["/img.png"] = reply(body=b"SECRET INTERNAL DATA")
        calls: list[str] = []

        async def rebinding(host: str, port: int) -> list[str]:
            calls.append(host)
            return ["127.0.0.2"] if len(calls) == 1 else ["127.0.0.1"]

        # Any *other* lookup of the name (system DNS, as a non-pinning client would do when it
        # connects) returns the rebound, private answer.
        real_gai = socket.getaddrinfo

        def attacker_dns(host: Any, *a: Any, **kw: Any) -> Any:
            if host == "rebind.test":
                return real_gai("127.0.0.1", *a, **kw)
            return real_gai(host, *a, **kw)

        monkeypatch.setattr(socket, "getaddrinfo", attacker_dns)
        s = settings(url_allowlist=("127.0.0.2",))
        got = await fetch_url(
            f"http://rebind.test:{good.port}/img.png", kind="image", settings=s, resolver=rebinding
        )
        assert got.blob.read_bytes() == PNG
        assert calls == ["rebind.test"]  # resolved exactly once
        assert evil.connections == 0 and good.connections == 1
        assert connects == [("127.0.0.2", good.port)]
        assert good.requests[0].headers["host"] == f"rebind.test:{good.port}"


async def test_rebinding_on_a_redirect_hop_is_revalidated(connects: list) -> None:
    async with twin_servers() as (good, evil):
        good.routes["/start"] = redirect("/again")
        evil.routes["/again"] = reply(body=b"SECRET INTERNAL DATA")
        calls: list[str] = []

        async def rebinding(host: str, port: int) -> list[str]:
            calls.append(host)
            return ["127.0.0.2"] if len(calls) == 1 else ["127.0.0.1"]

        s = settings(url_allowlist=("127.0.0.2",))
        err = await expect_error(
            ErrorCode.UPSTREAM_REFUSED,
            f"http://rebind.test:{good.port}/start",
            settings=s,
            resolver=rebinding,
        )
        assert err.details and err.details["address"] == "127.0.0.1"
        assert calls == ["rebind.test", "rebind.test"]
        assert evil.connections == 0 and connects == [("127.0.0.2", good.port)]


async def test_next_address_only_after_a_connect_error(connects: list) -> None:
    async with serve({"/p": reply(body=PNG)}) as srv:
        # Nothing listens on 127.0.0.3:<port>: refused, so the next vetted address is tried.
        resolver = mapping_resolver({"multi.test": ["127.0.0.3", "127.0.0.1"]})
        s = settings(url_allowlist=("127.0.0.0/8",))
        got = await fetch_url(
            srv.url("/p", host="multi.test"), kind="image", settings=s, resolver=resolver
        )
    assert got.blob.read_bytes() == PNG
    assert connects == [("127.0.0.3", srv.port), ("127.0.0.1", srv.port)]


async def test_connection_refused_everywhere_is_upstream_http() -> None:
    async with serve({}) as srv:
        port = srv.port
    err = await expect_error(ErrorCode.UPSTREAM_HTTP, f"http://127.0.0.1:{port}/")
    assert "could not connect" in err.message


# ---- allowlist --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry", ["loop.internal", "127.0.0.1", "127.0.0.0/8", "*.internal", "0x7f.1"]
)
async def test_allowlist_lets_an_internal_server_through(entry: str) -> None:
    resolver = mapping_resolver({"loop.internal": ["127.0.0.1"]})
    async with serve({"/p.png": reply(body=PNG)}) as srv:
        url = srv.url("/p.png", host="loop.internal")
        got = await fetch_url(
            url, kind="image", settings=settings(url_allowlist=(entry,)), resolver=resolver
        )
        assert got.blob.read_bytes() == PNG
        await expect_error(
            ErrorCode.UPSTREAM_REFUSED,
            url,
            settings=settings(url_allowlist=("other.internal", "10.0.0.0/8")),
            resolver=resolver,
        )


async def test_allowlisted_localhost_name() -> None:
    async with serve({"/p": reply(body=PNG)}) as srv:
        got = await fetch_url(srv.url("/p", host="localhost"), kind="image", settings=settings())
    assert (
        got.blob.read_bytes() == PNG and srv.requests[0].headers["host"] == f"localhost:{srv.port}"
    )


async def test_allowlist_does_not_allow_credentials_or_schemes() -> None:
    s = settings(url_allowlist=("127.0.0.1", "media.internal"))
    await expect_error(ErrorCode.INVALID_INPUT, "http://u:p@127.0.0.1/", settings=s)
    await expect_error(ErrorCode.INVALID_INPUT, "ftp://127.0.0.1/x.png", settings=s)


# ---- input validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/a.png",
        "file:///etc/passwd",
        "gopher://example.com:70/_x",
        "data:image/png;base64,AAAA",
        "javascript:alert(1)",
        "example.com/a.png",
        "http://",
        "http://exa mple.com/",
        "http://example.com/\r\nX: y",
        "http://example.com:99999/",
        "http://1.2.3.4.5/",
        "http://%31%32%37.0.0.1/",  # percent-encoded host: refused, never decoded-and-resolved
        "http://127.0.0.1:80@evil.example/",
        "http://evil.example\\@127.0.0.1/",
        "http://[::ffff:0x7f.1]/",
        "http://[::1/",
        "https://[v1.fe80::a]/",
        "",
    ],
)
async def test_malformed_or_non_http_urls_are_invalid_input(url: str, connects: list) -> None:
    await expect_error(ErrorCode.INVALID_INPUT, url)
    assert connects == []


@pytest.mark.parametrize("userinfo", [f"user:{SECRET}", f"{SECRET}", "user:", ":pw", "a%40b:c"])
async def test_credentials_in_url_are_refused_without_echo(userinfo: str, connects: list) -> None:
    async with serve({"/": reply(body=PNG)}) as srv:
        err = await expect_error(
            ErrorCode.INVALID_INPUT, f"http://{userinfo}@127.0.0.1:{srv.port}/"
        )
        assert srv.connections == 0
    assert "credentials" in err.message
    assert SECRET not in err.message and SECRET not in str(err.details)
    assert connects == []


async def test_query_tokens_are_not_echoed_in_errors() -> None:
    async with serve({"/x": not_found}) as srv:
        err = await expect_error(ErrorCode.UPSTREAM_HTTP, srv.url(f"/x?token={SECRET}"))
    assert err.details and err.details["status"] == 404
    assert SECRET not in err.message and "?…" in err.message


# ---- size caps -------------------------------------------------------------------------------------------


async def test_content_length_over_cap() -> None:
    big = b"\x00" * 4096

    async def lying(writer: asyncio.StreamWriter, req: Req) -> None:
        writer.write(
            head_bytes(200, {"Content-Type": "image/png", "Content-Length": str(50 << 20)}) + big
        )
        await writer.drain()
        await asyncio.sleep(60)  # never sends the rest; the cap must fire on the header alone

    async with serve({"/": lying}) as srv:
        t0 = time.monotonic()
        err = await expect_error(ErrorCode.RESOURCE_TOO_LARGE, srv.url("/"))
    assert time.monotonic() - t0 < 15  # not the 60 s the body would take (room for a busy CPU)
    assert (
        err.details
        and err.details["size_bytes"] == 50 << 20
        and err.details["limit_bytes"] == 1 << 20
    )
    assert "OPENROUTER_IMAGE_MAX_DOWNLOAD_BYTES" in err.message


async def test_streamed_body_over_cap_without_content_length(private_tmp: Path) -> None:
    async def endless(writer: asyncio.StreamWriter, req: Req) -> None:
        writer.write(head_bytes(200, {"Content-Type": "video/mp4"}))
        chunk = b"\x00" * 65536
        for _ in range(200):  # 12.5 MiB, far past the 1 MiB cap
            writer.write(chunk)
            await writer.drain()

    async with serve({"/": endless}) as srv:
        for to_file in (False, True):
            await expect_error(
                ErrorCode.RESOURCE_TOO_LARGE,
                srv.url("/"),
                kind="video",
                settings=settings(video_max_download_bytes=1 << 20),
                to_file=to_file,
            )
    assert list(private_tmp.iterdir()) == []  # the to_file temp file is gone


async def test_gzip_bomb_is_capped_after_decompression(private_tmp: Path) -> None:
    bomb = gzip.compress(b"\x00" * (64 << 20), compresslevel=9)  # ~64 KiB -> 64 MiB
    assert len(bomb) < 200_000
    async with serve({"/bomb.png": reply(body=bomb, headers={"Content-Encoding": "gzip"})}) as srv:
        tracemalloc.start()
        try:
            err = await expect_error(
                ErrorCode.RESOURCE_TOO_LARGE,
                srv.url("/bomb.png"),
                settings=settings(image_max_download_bytes=1 << 20),
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        await expect_error(
            ErrorCode.RESOURCE_TOO_LARGE,
            srv.url("/bomb.png"),
            settings=settings(image_max_download_bytes=1 << 20),
            to_file=True,
        )
    assert "decompressed" in err.message
    assert peak < 8 << 20, f"peak {peak} bytes: the bomb was inflated in memory"
    assert list(private_tmp.iterdir()) == []


async def test_corrupt_or_unknown_encoding() -> None:
    async with serve(
        {
            "/br": reply(body=b"\x0b\x02\x80abc\x03", headers={"Content-Encoding": "br"}),
            "/bad": reply(body=b"definitely not gzip", headers={"Content-Encoding": "gzip"}),
            "/cut": reply(
                body=gzip.compress(PNG * 100)[:-20], headers={"Content-Encoding": "gzip"}
            ),
        }
    ) as srv:
        err = await expect_error(ErrorCode.UNSUPPORTED_FORMAT, srv.url("/br"))
        assert "Content-Encoding" in err.message
        await expect_error(ErrorCode.UNSUPPORTED_FORMAT, srv.url("/bad"))
        await expect_error(ErrorCode.UNSUPPORTED_FORMAT, srv.url("/cut"))


# ---- timeouts -------------------------------------------------------------------------------------


async def test_slow_drip_body_times_out_as_a_whole(private_tmp: Path) -> None:
    async def drip(writer: asyncio.StreamWriter, req: Req) -> None:
        writer.write(head_bytes(200, {"Content-Type": "image/png", "Content-Length": "100000"}))
        for _ in range(1000):  # one byte every 50 ms: each read is quick, the whole is not
            writer.write(b"\x00")
            await writer.drain()
            await asyncio.sleep(0.05)

    async with serve({"/": drip}) as srv:
        for to_file in (False, True):
            t0 = time.monotonic()
            err = await expect_error(
                ErrorCode.UPSTREAM_TIMEOUT,
                srv.url("/"),
                settings=settings(image_fetch_timeout_ms=600),
                to_file=to_file,
            )
            elapsed = time.monotonic() - t0
            assert 0.5 < elapsed < 15, elapsed  # the whole drip would take 50 s
    assert (
        "OPENROUTER_IMAGE_FETCH_TIMEOUT_MS" in err.message
        and err.details
        and err.details["timeout_ms"] == 600
    )
    assert list(private_tmp.iterdir()) == []


async def test_slow_headers_time_out() -> None:
    async def silent(writer: asyncio.StreamWriter, req: Req) -> None:
        await asyncio.sleep(60)

    async with serve({"/": silent}) as srv:
        t0 = time.monotonic()
        await expect_error(
            ErrorCode.UPSTREAM_TIMEOUT, srv.url("/"), settings=settings(image_fetch_timeout_ms=400)
        )
    assert time.monotonic() - t0 < 15  # not the 60 s the headers would take


async def test_slow_resolver_counts_against_the_deadline() -> None:
    async def slow(host: str, port: int) -> list[str]:
        await asyncio.sleep(60)
        return ["8.8.8.8"]

    t0 = time.monotonic()
    await expect_error(
        ErrorCode.UPSTREAM_TIMEOUT,
        "http://slow.example/",
        settings=settings(image_fetch_timeout_ms=300),
        resolver=slow,
    )
    assert time.monotonic() - t0 < 15  # not the resolver's 60 s


# ---- HTML and empty bodies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ctype", "body"),
    [
        ("text/html; charset=utf-8", PNG),
        ("application/xhtml+xml", PNG),
        ("image/png", b"\xef\xbb\xbf  \n<!DOCTYPE html><html><body>login</body></html>"),
        ("application/octet-stream", b"<html><head><title>404</title></head></html>"),
    ],
)
async def test_html_where_media_was_expected(ctype: str, body: bytes) -> None:
    async with serve({"/": reply(body=body, headers={"Content-Type": ctype})}) as srv:
        err = await expect_error(ErrorCode.UNSUPPORTED_FORMAT, srv.url("/"))
    assert "got an HTML page where image was expected" in err.message


async def test_large_html_page_is_refused_before_the_whole_body(connects: list) -> None:
    async def big_page(writer: asyncio.StreamWriter, req: Req) -> None:
        writer.write(head_bytes(200, {"Content-Type": "application/octet-stream"}))
        writer.write(b"<!doctype html>" + b" " * 1000)
        await writer.drain()
        await asyncio.sleep(60)  # the rest never comes; the sniff must not wait for it

    async with serve({"/": big_page}) as srv:
        t0 = time.monotonic()
        await expect_error(ErrorCode.UNSUPPORTED_FORMAT, srv.url("/"))
    assert time.monotonic() - t0 < 15  # not the 60 s the rest would take


async def test_empty_body_and_http_errors() -> None:
    async with serve(
        {
            "/empty": reply(body=b""),
            "/204": reply(204, b"", length=False),
            "/500": reply(500, b"boom"),
        }
    ) as srv:
        await expect_error(ErrorCode.INVALID_INPUT, srv.url("/empty"))
        await expect_error(ErrorCode.INVALID_INPUT, srv.url("/204"))
        err = await expect_error(ErrorCode.UPSTREAM_HTTP, srv.url("/500"))
        assert err.details and err.details["status"] == 500


async def test_cancellation_leaves_no_temp_file(private_tmp: Path) -> None:
    started = asyncio.Event()

    async def drip(writer: asyncio.StreamWriter, req: Req) -> None:
        writer.write(head_bytes(200, {"Content-Type": "video/mp4"}) + b"\x00" * 1000)
        await writer.drain()
        started.set()
        await asyncio.sleep(5)

    async with serve({"/": drip}) as srv:
        task = asyncio.ensure_future(
            fetch_url(srv.url("/"), kind="video", settings=settings(), to_file=True)
        )
        await asyncio.wait_for(started.wait(), 30)
        await asyncio.sleep(0.05)
        assert len(list(private_tmp.iterdir())) == 1  # the download is in progress
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert list(private_tmp.iterdir()) == []


# ---- TLS: pinned IP, certificate checked against the name -----------------------------------------


def _make_ca_and_leaf(tmp: Path, names: list[str]) -> tuple[Path, Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "or_magic test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem, cert_pem, key_pem = tmp / "ca.pem", tmp / "leaf.pem", tmp / "leaf.key"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_pem.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_pem, cert_pem, key_pem


async def test_https_pinned_to_ip_verifies_certificate_against_the_name(
    tmp_path: Path, connects: list
) -> None:
    pytest.importorskip("cryptography")
    ca_pem, cert_pem, key_pem = _make_ca_and_leaf(tmp_path, ["media.test"])
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_pem, key_pem)
    sni_seen: list[str | None] = []
    server_ctx.sni_callback = lambda sock, name, ctx: sni_seen.append(name)  # type: ignore[assignment,return-value]
    client_ctx = ssl.create_default_context(cafile=str(ca_pem))
    resolver = mapping_resolver({"media.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})

    async with serve({"/p.png": reply(body=PNG)}, ssl_ctx=server_ctx) as srv:
        got = await fetch_url(
            f"https://media.test:{srv.port}/p.png",
            kind="image",
            settings=settings(),
            resolver=resolver,
            verify=client_ctx,
        )
        assert got.blob.read_bytes() == PNG
        assert got.final_url == f"https://media.test:{srv.port}/p.png"
        assert sni_seen == ["media.test"]  # SNI carried the name although we dialled 127.0.0.1
        assert srv.requests[0].headers["host"] == f"media.test:{srv.port}"
        assert connects == [("127.0.0.1", srv.port)]

        # Same IP, a name the certificate does not cover: verification must fail (it is done
        # against the name, not the pinned IP), and the failure is an UPSTREAM_HTTP TLS error.
        err = await expect_error(
            ErrorCode.UPSTREAM_HTTP,
            f"https://other.test:{srv.port}/p.png",
            resolver=resolver,
            verify=client_ctx,
        )
        assert "TLS" in err.message and "other.test" in err.message
        # Dialling the IP literal directly fails too: the certificate has no IP SAN.
        await expect_error(
            ErrorCode.UPSTREAM_HTTP, f"https://127.0.0.1:{srv.port}/p.png", verify=client_ctx
        )
        # And the system trust store does not know our CA.
        await expect_error(
            ErrorCode.UPSTREAM_HTTP, f"https://media.test:{srv.port}/p.png", resolver=resolver
        )
        assert len(srv.requests) == 1  # no request was sent over any unverified connection


async def test_ipv6_loopback_server_through_allowlist() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        srv_cm = serve({"/p": reply(body=PNG)}, host="::1")
        srv = await srv_cm.__aenter__()
    except OSError:
        pytest.skip("cannot bind ::1")
    try:
        got = await fetch_url(
            srv.url("/p"), kind="image", settings=settings(url_allowlist=("::1",))
        )
        assert got.blob.read_bytes() == PNG
        assert srv.requests[0].headers["host"] == f"[::1]:{srv.port}"
        await expect_error(
            ErrorCode.UPSTREAM_REFUSED,
            srv.url("/p"),
            settings=settings(url_allowlist=("127.0.0.1",)),
        )
    finally:
        await srv_cm.__aexit__(None, None, None)


def test_import_safety_does_not_import_httpx() -> None:
    import subprocess
    import sys

    code = "import sys, or_magic.safety as s; s.resolve_output_path; s.normalize_host; print('httpx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_ipaddress_is_used_for_every_table_entry() -> None:
    from or_magic.safety import addresses

    for net, _ in addresses.BLOCKED_V4 + addresses.BLOCKED_V6 + addresses.EMBEDDED_V4_TAIL:
        assert isinstance(net, (ipaddress.IPv4Network, ipaddress.IPv6Network))
