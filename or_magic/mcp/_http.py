"""Streamable HTTP: bearer-token ASGI guard, the SDK app, and uvicorn in a loop or a thread.

* Binds loopback by default; a non-loopback bind needs ``allow_remote=True`` (``--allow-remote``).
* Every request needs ``Authorization: Bearer <token>`` (compared with ``hmac.compare_digest``)
  before it reaches the MCP app; otherwise 401 with a JSON body.
* The SDK's Host/Origin (DNS-rebinding) protection stays on for every bind: loopback names are
  always allowed, the bind address and any ``allowed_hosts`` are added for remote binds.
* ``serve_in_background`` runs the server as a task on the caller's running event loop (a Jupyter
  kernel's), so cells keep running while an agent calls tools in the same process; without a
  running loop it uses a daemon thread with its own loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import secrets
import socket
import sys
import threading
import time
from collections.abc import Iterable
from typing import Any

from or_magic import log

DEFAULT_PORT = 8765
MCP_PATH = "/mcp"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


class RemoteBindRefused(ValueError):
    """A non-loopback bind without ``allow_remote``."""


def is_loopback(host: str) -> bool:
    h = host.strip().strip("[]")
    if h.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def check_bind(host: str, allow_remote: bool) -> None:
    if not is_loopback(host) and not allow_remote:
        raise RemoteBindRefused(
            f"refusing to bind the MCP HTTP server to non-loopback address {host!r}: anyone who "
            "can reach it could spend your OpenRouter credits; pass --allow-remote "
            "(allow_remote=True) if you really mean it"
        )


def resolve_token(token: str | None = None) -> tuple[str, bool]:
    """(token, generated): the explicit token, else ``OR_MAGIC_MCP_TOKEN``, else a fresh one."""
    from or_magic.redact import register_secret

    generated = False
    if not token:
        try:
            from or_magic.config import get_settings

            s = get_settings().mcp_token
            token = s.get() if s is not None else None
        except Exception:
            token = None
    if not token:
        token = secrets.token_urlsafe(32)
        generated = True
    register_secret(token)
    return token, generated


class BearerTokenMiddleware:
    """Pure ASGI: 401 unless ``Authorization: Bearer <token>`` matches (constant-time)."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = b""
        for name, value in scope.get("headers") or ():
            if name.lower() == b"authorization":
                given = value
                break
        ok = False
        if given[:7].lower() == b"bearer ":
            ok = hmac.compare_digest(given[7:].strip(), self._token)
        if ok:
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {
                "error": "unauthorized",
                "message": "missing or wrong bearer token: send 'Authorization: Bearer <token>' "
                "(the token printed at start-up, or OR_MAGIC_MCP_TOKEN)",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="or_magic"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _host_patterns(host: str, extra: Iterable[str]) -> tuple[list[str], list[str]]:
    names = list(LOOPBACK_NAMES)
    h = host.strip().strip("[]")
    if h not in names and h not in ("0.0.0.0", "::"):
        names.append(h)
    exact: list[str] = []
    for e in extra:
        e = e.strip()
        if e:
            names.append(e.strip("[]"))
            exact.append(e)
    hosts: list[str] = []
    origins: list[str] = []
    for n in names:
        shown = f"[{n}]" if ":" in n else n
        hosts.append(f"{shown}:*")
        origins.extend((f"http://{shown}:*", f"https://{shown}:*"))
    for e in exact:  # behind a proxy on a default port the Host header has no port
        hosts.append(e)
        origins.extend((f"http://{e}", f"https://{e}"))
    return hosts, origins


def build_http_app(
    server: Any,
    *,
    token: str,
    host: str = "127.0.0.1",
    allowed_hosts: Iterable[str] = (),
    path: str = MCP_PATH,
) -> Any:
    """The SDK's streamable HTTP Starlette app (DNS-rebinding protection on) behind the token."""
    from mcp.server.transport_security import TransportSecuritySettings

    hosts, origins = _host_patterns(host, allowed_hosts)
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )
    app = server.streamable_http_app(
        streamable_http_path=path,
        transport_security=security,
        host=host,
        max_request_body_size=max_body_bytes(),
    )
    return BearerTokenMiddleware(app, token)


def max_body_bytes() -> int:
    """Request bodies must fit the largest data URL a tool accepts (base64 is 4/3 the bytes).

    The SDK's 4 MiB default would turn a legitimate 10 MiB ``data:`` image into a bare HTTP 413
    over HTTP while the same call works over stdio.
    """
    floor = 4 * 1024 * 1024
    try:
        from or_magic.config import get_settings

        s = get_settings()
        biggest = max(
            s.image_max_data_url_bytes, s.audio_max_data_url_bytes, s.video_max_data_url_bytes
        )
    except Exception:
        return floor
    return max(floor, biggest * 4 // 3 + 1024 * 1024)


def _bind(host: str, port: int) -> socket.socket:
    h = host.strip().strip("[]")
    family = socket.AF_INET6 if ":" in h else socket.AF_INET
    if h.lower() == "localhost":
        h = "127.0.0.1"
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((h, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _uvicorn_server(app: Any) -> Any:
    import uvicorn

    class _Server(uvicorn.Server):
        """Signals are handled by whoever owns the process (our CLI, or the kernel)."""

        @contextlib.contextmanager
        def capture_signals(self):  # type: ignore[override]
            yield

    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=3,
        ws="none",
    )
    return _Server(config)


class HttpServerHandle:
    """A running streamable HTTP MCP server: ``.url``, ``.token``, ``.stop()``, ``.status()``."""

    def __init__(
        self,
        *,
        server: Any,
        uv: Any,
        sock: socket.socket,
        host: str,
        token: str,
        token_generated: bool,
    ) -> None:
        self.server = server
        self._uv = uv
        self._sock = sock
        self.host = host
        self.port: int = sock.getsockname()[1]
        self.token = token
        self.token_generated = token_generated
        shown = f"[{host.strip('[]')}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}{MCP_PATH}"
        self.started_at = time.time()
        self.task: asyncio.Task | None = None
        self.thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None

    # ---- state -------------------------------------------------------------------------------
    @property
    def started(self) -> bool:
        return bool(getattr(self._uv, "started", False))

    @property
    def running(self) -> bool:
        if self.task is not None:
            return not self.task.done()
        if self.thread is not None:
            return self.thread.is_alive()
        return False

    @property
    def mode(self) -> str:
        return "thread" if self.thread is not None else "loop"

    def status(self) -> dict[str, Any]:
        st = self.server.stats
        return {
            "running": self.running,
            "url": self.url,
            "mode": self.mode,
            "uptime_s": round(time.time() - self.started_at, 1),
            "tools": len(self.server.tool_names),
            "calls": st.calls,
            "errors": st.errors,
            "cancelled": st.cancelled,
            "in_flight": [r.tool for r in st.inflight.values()],
        }

    def client_config(self, name: str = "or-magic") -> dict[str, Any]:
        """An ``mcpServers`` entry for clients that speak streamable HTTP (includes the token)."""
        return {
            "mcpServers": {
                name: {
                    "type": "http",
                    "url": self.url,
                    "headers": {"Authorization": f"Bearer {self.token}"},
                }
            }
        }

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<or_magic MCP server {self.url} ({state}, {self.mode}); token in .token>"

    # ---- lifecycle ---------------------------------------------------------------------------
    async def wait_started(self, timeout: float = 10.0) -> HttpServerHandle:
        deadline = time.monotonic() + timeout
        while not self.started:
            if self.task is not None and self.task.done():
                self.task.result()  # surface the start-up error
                raise RuntimeError("MCP HTTP server exited during start-up")
            if time.monotonic() > deadline:
                raise TimeoutError("MCP HTTP server did not start in time")
            await asyncio.sleep(0.01)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the server to stop. In thread mode waits for it; in loop mode returns at once
        (the task ends within a few seconds; ``await handle.astop()`` waits for it)."""
        self._uv.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout)
            if self.thread.is_alive():
                self._uv.force_exit = True
                self.thread.join(timeout)
        elif self.task is not None and not self.task.done():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            loop = self.task.get_loop()
            if running is None and not loop.is_running() and not loop.is_closed():
                loop.run_until_complete(asyncio.wait_for(asyncio.shield(self.task), timeout))
        _forget(self)

    async def astop(self, timeout: float = 5.0) -> None:
        self._uv.should_exit = True
        if self.task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self.task), timeout)
            except asyncio.TimeoutError:
                self._uv.force_exit = True
                await asyncio.wait_for(asyncio.shield(self.task), timeout)
        elif self.thread is not None:
            await asyncio.to_thread(self.thread.join, timeout)
        _forget(self)


_current: HttpServerHandle | None = None
_current_lock = threading.Lock()


def _forget(handle: HttpServerHandle) -> None:
    global _current
    with _current_lock:
        if _current is handle:
            _current = None


def current() -> HttpServerHandle | None:
    """The background server started by ``serve_in_background`` in this process, if running."""
    h = _current
    return h if h is not None and h.running else None


def serve_in_background(
    port: int = 0,
    *,
    host: str = "127.0.0.1",
    token: str | None = None,
    allow_remote: bool = False,
    allowed_hosts: Iterable[str] = (),
    thread: bool | None = None,
    announce: bool = False,
) -> HttpServerHandle:
    """Start the streamable HTTP MCP server inside this process and return its handle.

    With a running event loop (a Jupyter kernel) the server is a task on that loop; otherwise (or
    with ``thread=True``) it runs in a daemon thread. ``port=0`` picks a free port (see
    ``handle.url``). The bearer token is ``token``, else ``OR_MAGIC_MCP_TOKEN``, else generated
    (``handle.token``). If a background server is already running it is returned unchanged.
    """
    global _current
    with _current_lock:
        if _current is not None and _current.running:
            return _current
    check_bind(host, allow_remote)
    from ._logging import quiet_warnings
    from ._server import build_server

    quiet_warnings()
    tok, generated = resolve_token(token)
    server = build_server(call_log_level="debug")
    app = build_http_app(server, token=tok, host=host, allowed_hosts=allowed_hosts)
    sock = _bind(host, port)
    uv = _uvicorn_server(app)
    handle = HttpServerHandle(
        server=server, uv=uv, sock=sock, host=host, token=tok, token_generated=generated
    )
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None and not thread:
        handle.task = loop.create_task(uv.serve(sockets=[sock]), name="or_magic-mcp-http")
    else:
        ready = threading.Event()

        def run() -> None:
            async def main() -> None:
                handle._thread_loop = asyncio.get_running_loop()
                ready.set()
                await uv.serve(sockets=[sock])

            try:
                asyncio.run(main())
            except BaseException as exc:  # pragma: no cover - reported through the handle
                handle._error = exc
                log.error("mcp.http.crashed", error=type(exc).__name__)
            finally:
                ready.set()

        handle.thread = threading.Thread(target=run, name="or_magic-mcp-http", daemon=True)
        handle.thread.start()
        # generous bounds: on a loaded machine the server thread may wait seconds for the CPU
        ready.wait(60)
        deadline = time.monotonic() + 60
        while not uv.started and handle.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not uv.started:
            uv.should_exit = True
            raise RuntimeError(f"MCP HTTP server did not start ({handle._error!r})")
    with _current_lock:
        _current = handle
    log.debug("mcp.http.started", url=handle.url, mode=handle.mode, tools=len(server.tool_names))
    if announce:
        _announce(handle)
    return handle


def _announce(handle: HttpServerHandle) -> None:
    """The one place the token is shown: a plain line on stderr (never a log record)."""
    if handle.token_generated:
        line = (
            f"or-magic-mcp: serving {handle.url}  Authorization: Bearer {handle.token}  "
            "(token generated for this run; set OR_MAGIC_MCP_TOKEN to choose one)"
        )
    else:
        line = f"or-magic-mcp: serving {handle.url}  (bearer token from OR_MAGIC_MCP_TOKEN)"
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


async def serve_http(
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    token: str | None = None,
    allow_remote: bool = False,
    allowed_hosts: Iterable[str] = (),
) -> None:
    """The command-line HTTP server: runs until SIGINT/SIGTERM, then shuts down gracefully."""
    import signal

    check_bind(host, allow_remote)
    from ._server import build_server

    tok, generated = resolve_token(token)
    server = build_server(use_cache=True)
    app = build_http_app(server, token=tok, host=host, allowed_hosts=allowed_hosts)
    sock = _bind(host, port)
    uv = _uvicorn_server(app)
    handle = HttpServerHandle(
        server=server, uv=uv, sock=sock, host=host, token=tok, token_generated=generated
    )
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        log.info("mcp.http.signal", signal=signal.Signals(signum).name)
        if uv.should_exit:
            uv.force_exit = True
        uv.should_exit = True

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover
            pass
    task = loop.create_task(uv.serve(sockets=[sock]))
    handle.task = task
    try:
        await handle.wait_started()
        _announce(handle)
        log.info("mcp.http.ready", url=handle.url, tools=len(server.tool_names))
        await task
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        from ._stdio import _close_clients

        await _close_clients()
        log.info("mcp.http.stopped")
