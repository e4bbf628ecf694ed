"""Where the dashboard runs: a widget-capable kernel, or a terminal that gets one line instead."""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
import threading
from collections.abc import Coroutine
from typing import Any

FALLBACK_LINE = (
    "The or_magic dashboard needs Jupyter with ipywidgets; use the %%openrouter magics or "
    "or_magic.call_tool in a terminal."
)


def widget_frontend() -> bool:
    """True inside a Jupyter kernel (ipykernel's shell, which Colab and VS Code also use).

    A plain terminal IPython or a script has no frontend to render widgets: there the dashboard
    prints ``FALLBACK_LINE`` instead of a page of widget reprs.
    """
    if "ipykernel.zmqshell" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def user_namespace() -> dict[str, Any]:
    """The notebook's variables (``get_ipython().user_ns``), or ``{}`` outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return {}
    ip = get_ipython()
    ns = getattr(ip, "user_ns", None) if ip is not None else None
    return ns if isinstance(ns, dict) else {}


# ---- running coroutines from button callbacks -----------------------------------------------------


class _BackgroundLoop:
    """A daemon thread with its own loop, for callbacks that arrive with no running loop.

    Inside ipykernel the kernel's own loop is running when a widget callback fires, and jobs are
    tasks on it; this is only the fallback (a callback invoked from plain synchronous code).
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                t = threading.Thread(
                    target=loop.run_forever, name="or_magic-dashboard", daemon=True
                )
                t.start()
                self._loop = loop
            return self._loop


_background = _BackgroundLoop()


def spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | concurrent.futures.Future[Any]:
    """Schedule ``coro`` on the running loop (a Task), else on the background loop (a Future).

    Either result has ``cancel()`` and ``done()``; the Stop buttons rely on nothing else.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run_coroutine_threadsafe(coro, _background.loop())
    return loop.create_task(coro)
