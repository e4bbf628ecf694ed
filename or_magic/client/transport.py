"""The HTTP transport under ``OpenRouterClient``: pool set-up, a shared SSL context, warm-up.

Why not httpx's default transport as is (each measured on this project's benchmarks):

- httpcore checks every idle pooled connection on every pool change (``has_expired`` →
  ``get_extra_info("is_readable")``), and anyio answers that by building *all* of a socket's
  extra attributes, ``getpeername()`` included: a syscall per idle connection per request event,
  which under load was a large part of a concurrent batch's client CPU. The network backend
  here keeps each connection's socket once and only polls it.
- httpcore's locks call ``import sniffio`` each time they are set up; with anyio >= 4.11 sniffio
  is often not installed, and a failing import re-scans ``sys.path`` every time (thousands of
  ``stat`` calls per batch). A missing sniffio is recorded once as missing.
- httpx builds a new SSL context (certifi's bundle, ~60 ms) per client; one context is shared
  (``SSLContext`` is safe to share across connections and threads).
- ``warm_up()`` imports httpx and builds that context in a daemon thread, so the first request of
  a notebook or MCP session does not pay for them on its critical path.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import ssl

    import httpx

_lock = threading.Lock()
_ssl_context: ssl.SSLContext | None = None
_warm: threading.Thread | None = None


def _note_missing_sniffio() -> None:
    if "sniffio" in sys.modules:
        return
    if importlib.util.find_spec("sniffio") is None:
        # ``import sniffio`` now fails at once (ImportError) instead of searching sys.path again;
        # httpcore then assumes asyncio, which is what it would have detected.
        sys.modules["sniffio"] = None  # type: ignore[assignment]


def ssl_context() -> ssl.SSLContext:
    """The process-wide client SSL context (httpx's defaults: certifi, no env overrides)."""
    global _ssl_context
    if _ssl_context is None:
        with _lock:
            if _ssl_context is None:
                import httpx

                _ssl_context = httpx.create_ssl_context(verify=True, trust_env=False)
    return _ssl_context


def warm_up() -> threading.Thread:
    """Import httpx/httpcore and build the SSL context in the background (idempotent)."""
    global _warm
    with _lock:
        if _warm is None:
            _warm = threading.Thread(target=_warm_body, name="or_magic-http-warm", daemon=True)
            _warm.start()
        return _warm


def _warm_body() -> None:
    try:
        import httpcore  # noqa: F401
        import httpx  # noqa: F401

        _note_missing_sniffio()
        ssl_context()
    except Exception:  # warming is an optimisation: the first request does it itself
        pass


def make_transport(limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """httpx's transport with the shared SSL context and the lean network backend."""
    import httpx

    _note_missing_sniffio()
    transport = httpx.AsyncHTTPTransport(verify=ssl_context(), limits=limits, trust_env=False)
    pool = getattr(transport, "_pool", None)
    if pool is not None and hasattr(pool, "_network_backend"):
        pool._network_backend = _LeanBackend(pool._network_backend)
    return transport


class _LeanStream:
    """A pooled connection's stream that knows its socket (no attribute rebuild per check)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._sock = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(self, *args: Any, **kwargs: Any) -> _LeanStream:
        return _LeanStream(await self._inner.start_tls(*args, **kwargs))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            from httpcore._utils import is_socket_readable

            return is_socket_readable(self._sock)
        if info == "socket":
            return self._sock
        return self._inner.get_extra_info(info)


class _LeanBackend:
    """Wraps httpcore's network backend; every stream it opens is a ``_LeanStream``."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def connect_tcp(self, *args: Any, **kwargs: Any) -> _LeanStream:
        return _LeanStream(await self._inner.connect_tcp(*args, **kwargs))

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> _LeanStream:
        return _LeanStream(await self._inner.connect_unix_socket(*args, **kwargs))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
