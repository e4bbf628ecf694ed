"""The lean HTTP transport (shared SSL context, socket kept per connection, no sniffio re-scan)
and image preparation off the event loop."""

from __future__ import annotations

import asyncio
import shutil
import socket
import sys
import threading
import time
from pathlib import Path

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


@pytest.fixture
def photo(fixtures_dir: Path) -> str:
    shutil.copy(fixtures_dir / "photo.jpg", Path.cwd() / "photo.jpg")
    return "photo.jpg"


@pytest.mark.parametrize("workers", ["", "0"])
async def test_images_are_prepared_off_the_event_loop(double, monkeypatch, photo, workers):
    from or_magic.media import image, offload

    monkeypatch.setattr(offload, "_pool", None)
    if workers:
        monkeypatch.setenv("OR_MAGIC_MEDIA_WORKERS", workers)
    seen: list[str] = []
    real = image.prepare_image

    def spy(*a, **k):
        seen.append(threading.current_thread().name)
        return real(*a, **k)

    monkeypatch.setattr(image, "prepare_image", spy)
    r = await call_tool("analyze_image", {"image_path": photo})
    assert r.ok, r.text
    if workers == "0":
        assert seen == [threading.current_thread().name]
    else:
        assert seen and seen[0].startswith("or_magic-media")


async def test_the_loop_keeps_running_while_images_are_prepared(double, monkeypatch, photo):
    """The loop ticks *during* a slow preparation (inline, it could not tick at all then)."""
    from or_magic.media import image, offload

    monkeypatch.setattr(offload, "_pool", None)
    real = image.prepare_image
    ticks = 0
    during: list[int] = []

    def slow(*a, **k):
        before = ticks
        time.sleep(0.3)  # stands for decode/resize work (Pillow releases the GIL there too)
        during.append(ticks - before)
        return real(*a, **k)

    monkeypatch.setattr(image, "prepare_image", slow)
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            await asyncio.sleep(0.005)
            ticks += 1

    t = asyncio.create_task(ticker())
    results = await asyncio.gather(
        *(call_tool("analyze_image", {"image_path": photo}) for _ in range(4))
    )
    stop.set()
    await t
    assert all(r.ok for r in results), [r.text for r in results]
    assert len(during) == 4 and max(during) >= 1, during


async def test_a_failing_preparation_still_reports_its_code(double, fixtures_dir):
    shutil.copy(fixtures_dir / "truncated.jpg", Path.cwd() / "truncated.jpg")
    r = await call_tool("analyze_image", {"image_path": "truncated.jpg"})
    assert r.is_error and r.code == "UNSUPPORTED_FORMAT" and "image_path" in r.text
    assert not double.requests_to("/chat/completions")


def test_the_lazy_registry_map_matches_the_modules():
    import importlib.util

    from or_magic.tools import registry

    real = {name: spec.handler.__module__ for name, spec in registry.all_tools().items()}
    mapped = {  # a family module not in this tree (yet) is skipped, as the registry skips it
        n: m for n, m in registry.TOOL_MODULES.items() if importlib.util.find_spec(m) is not None
    }
    assert real == mapped, "update registry.TOOL_MODULES for new or moved tools"
    assert list(real) == list(mapped)  # listing order too


def test_one_tool_imports_only_its_family(tmp_path):
    import os
    import subprocess

    code = (
        "import sys\n"
        "from or_magic.tools.registry import get_tool\n"
        "assert get_tool('search_models').name == 'search_models'\n"
        "print(sorted(m for m in sys.modules if m.startswith('or_magic.tools.') and "
        "m.rsplit('.', 1)[1] in ('chat','analyze','models','image_gen','audio_gen','video_gen',"
        "'rerank','health')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OR_MAGIC_STATE_DIR": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "['or_magic.tools.models']"


def test_load_ext_warms_the_first_cell_after_its_own_cell(tmp_path):
    """``%load_ext`` itself stays cheap (nothing heavy during the load); once its cell is done a
    background thread imports what the first chat cell needs and builds the SSL context."""
    import os
    import subprocess

    code = (
        "import sys, threading\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "ip.run_line_magic('load_ext', 'or_magic')\n"
        "heavy = ('httpx', 'pydantic', 'or_magic.tools.chat')\n"
        "assert not [m for m in heavy if m in sys.modules], 'imported during the load'\n"
        "ip.run_cell('x = 1')\n"
        "warm = [t for t in threading.enumerate() if t.name == 'or_magic-warm']\n"
        "assert warm, 'no warm-up thread after the cell'\n"
        "warm[0].join(120)\n"
        "from or_magic.client import transport\n"
        "assert transport._ssl_context is not None\n"
        "print(sorted(m for m in heavy + ('or_magic.display',) if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "OR_MAGIC_STATE_DIR": str(tmp_path), "OPENROUTER_OFFLINE": "1"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "['httpx', 'or_magic.display', 'or_magic.tools.chat', 'pydantic']"


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
