"""The lean HTTP transport: shared SSL context, socket kept per connection, no sniffio re-scan, TLS keep-alive."""

from __future__ import annotations

import asyncio
import shutil
import socket
import sys

import pytest

from or_magic.tools.api import call_tool

pytestmark = pytest.mark.anyio


def test_lean_stream_sees_a_peer_close_and_keeps_its_socket():
    from or_magic.client.transport import _LeanStream

    a, b = socket.socketpair()
    calls = []

    class Inner:
        def get_extra_info(self, info):
            calls.append(info)
            return a if info == "socket" else "other"

    s = _LeanStream(Inner())
    try:
        assert s.get_extra_info("is_readable") is False  # idle, nothing to read
        b.close()  # the server closes a keep-alive connection
        assert s.get_extra_info("is_readable") is True  # httpcore then drops it from the pool
        assert s.get_extra_info("socket") is a and s.get_extra_info("server_addr") == "other"
        assert calls == ["socket", "server_addr"]  # the socket was looked up once
    finally:
        a.close()


def test_missing_sniffio_is_recorded_once(monkeypatch):
    import importlib.util

    from or_magic.client import transport

    monkeypatch.delitem(sys.modules, "sniffio", raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    transport._note_missing_sniffio()
    assert sys.modules["sniffio"] is None
    with pytest.raises(ImportError):
        import sniffio  # noqa: F401


def test_ssl_context_is_shared_and_warm_up_builds_it():
    from or_magic.client import transport

    t = transport.warm_up()
    assert transport.warm_up() is t  # idempotent: one thread
    t.join(60)
    assert not t.is_alive()
    ctx = transport.ssl_context()
    assert ctx is transport.ssl_context() and ctx.verify_mode.name == "CERT_REQUIRED"


async def test_pooled_client_uses_the_lean_transport(double):
    from or_magic.client.transport import _LeanBackend

    r = await call_tool("validate_model", {"model": "openai/gpt-4o-mini"})
    assert r.ok, r.text
    from or_magic.client.http import get_client
    from or_magic.config import get_settings

    client = get_client(get_settings())
    pool = client.http._transport._pool
    assert isinstance(pool._network_backend, _LeanBackend)
    assert pool._max_keepalive_connections == pool._max_connections


async def test_lean_backend_over_tls_keeps_the_connection(tmp_path):
    """HTTPS (the production path): start_tls is wrapped too, and a kept-alive connection is
    reused for the next request."""
    import ssl
    import subprocess

    import httpx

    from or_magic.client.transport import _LeanBackend, _LeanStream

    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not installed")
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key),
         "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    conns = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal conns
        conns += 1
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    client_ctx = ssl.create_default_context(cafile=str(cert))
    transport = httpx.AsyncHTTPTransport(verify=client_ctx)
    pool = transport._pool
    pool._network_backend = _LeanBackend(pool._network_backend)
    try:
        async with httpx.AsyncClient(transport=transport) as http:
            for _ in range(3):
                r = await http.get(f"https://localhost:{port}/")
                assert r.text == "ok"
            [conn] = pool.connections
            stream = conn._connection._network_stream
            assert isinstance(stream, _LeanStream)
            assert stream.get_extra_info("ssl_object") is not None
        assert conns == 1  # one TLS connection, reused
    finally:
        server.close()
        await server.wait_closed()
