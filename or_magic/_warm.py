"""Warm-up off the critical path: what the first call of a session would otherwise pay for.

The first ``%%openrouter`` cell or MCP ``tools/call`` used to import pydantic and the tool's family
module (building its models), httpx/httpcore, and build the client SSL context (~600 ms in all
under a 200 ms upstream). ``start()`` does that in a daemon thread once the session is idle
(after the ``%load_ext`` cell, after the MCP ``tools/list``), so the work overlaps the user's or
the host's think time instead of the first call. Everything here is an import or a cache fill
that the first call would do anyway; a failure is ignored (the call then does it itself).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

_lock = threading.Lock()
_started: threading.Thread | None = None


def start(
    tools: Iterable[str] = ("chat_completion",), modules: Iterable[str] = ()
) -> threading.Thread:
    """Start the warm-up thread once per process (later calls return the same thread).

    ``tools``: whose family modules to import; ``modules``: what else the caller's first call
    imports (a front-end names its own, so this module does not import front-ends itself).
    """
    global _started
    with _lock:
        if _started is None:
            _started = threading.Thread(
                target=_body,
                args=(tuple(tools), tuple(modules)),
                name="or_magic-warm",
                daemon=True,
            )
            _started.start()
        return _started


def _body(tools: tuple[str, ...], modules: tuple[str, ...]) -> None:
    import importlib

    try:
        from .client import transport

        transport._warm_body()  # httpx, httpcore, the SSL context
        import anyio._backends._asyncio  # noqa: F401  (httpcore's first lock loads it)

        import or_magic.client.http

        from .tools.registry import get_tool

        for name in tools:
            get_tool(name)  # pydantic and the family's models
        import or_magic.tools.api  # noqa: F401

        for mod in modules:
            importlib.import_module(mod)
        from .config import get_settings
        from .redact import known_secrets, scrub

        scrub("", known_secrets(get_settings().secrets()))  # the key's redaction regex, compiled
    except Exception:  # an optimisation only
        pass
