"""The stdio handshake served before the MCP SDK has finished importing.

Importing the SDK (``mcp_types`` builds hundreds of pydantic models) is most of a cold start, and
an MCP host spawns the server and immediately sends ``initialize`` then ``tools/list``. Both
answers are fixed for a given build: the ``tools/list`` cache (``_server.cached_catalog``) also
stores the ``initialize`` result the SDK produces and the handshake protocol versions it accepts.
So while the SDK imports in a daemon thread, this module reads stdin itself and answers exactly:

- ``initialize`` (as the first message, JSON-RPC request): the SDK's own result, with the
  protocol version negotiated by the SDK's rule (echo a handshake version, else the latest);
- ``notifications/initialized``, ``ping``, and ``tools/list`` without a cursor.

Anything else, or the SDK becoming ready, hands over to the SDK ``Server``: it is fed the
``initialize`` request and ``initialized`` notification again (its answer to that ``initialize``
is dropped, the client already has ours) and then every further line, in order. The SDK stays the
protocol implementation for everything but the two fixed answers; when the cache is missing or
stale the server starts the ordinary way.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
from pathlib import Path
from typing import Any

from or_magic import log


def load_fast_cache(state_root: Path | None) -> dict[str, Any] | None:
    """The cached handshake answers, if the cache exists and matches this build."""
    if state_root is None:
        return None
    from ._catalog_key import package_fingerprint

    try:
        cached = json.loads((state_root / "mcp" / "tools.json").read_text("utf-8"))
        if not isinstance(cached, dict) or cached.get("key") != package_fingerprint():
            return None
        fast = cached.get("fast")
        if not isinstance(fast, dict) or not isinstance(cached.get("tools"), list):
            return None
        if not isinstance(fast.get("init"), dict) or not fast.get("versions"):
            return None
        return {"tools": cached["tools"], **fast}
    except (OSError, ValueError, AttributeError):
        return None


class _Replay:
    """Async iterator of stdin lines: the replayed handshake first, then the live ``lines``."""

    def __init__(self, first: list[str], lines: Any) -> None:
        self._first = list(first)
        self._lines = lines

    def __aiter__(self) -> _Replay:
        return self

    async def __anext__(self) -> str:
        if self._first:
            return self._first.pop(0)
        return await self._lines.__anext__()


def _start_sdk(loop: asyncio.AbstractEventLoop) -> asyncio.Future[Any]:
    """Import the SDK and build the server in a daemon thread (never holds up exit)."""
    fut: asyncio.Future[Any] = loop.create_future()

    def done(value: Any, exc: BaseException | None) -> None:
        if fut.done():
            return
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(value)

    def body() -> None:
        try:
            from ._server import build_server

            server = build_server(use_cache=True)
            server.warm()  # the tools/list answered here never reaches its handler
        except BaseException as exc:  # reported on the loop
            loop.call_soon_threadsafe(done, None, exc)
            return
        loop.call_soon_threadsafe(done, server, None)

    threading.Thread(target=body, name="or_magic-mcp-sdk", daemon=True).start()
    return fut


def _answer(msg: Any, cache: dict[str, Any], state: dict[str, Any]) -> dict[str, Any] | None:
    """Our answer to ``msg`` if it is one we serve, ``None`` to hand over. Updates ``state``."""
    if not isinstance(msg, dict) or msg.get("jsonrpc") != "2.0":
        return None
    method, mid = msg.get("method"), msg.get("id")
    params = msg.get("params")
    if mid is not None and type(mid) is not int and type(mid) is not str:
        return None  # no id the SDK accepts (a float, a boolean, an object): the SDK decides
    if not state["initialized_request"]:
        if method != "initialize" or mid is None or not isinstance(params, dict):
            return None
        requested = params.get("protocolVersion")
        versions = cache["versions"]
        negotiated = requested if requested in versions else cache["latest"]
        if negotiated not in cache["init"]:
            return None
        state["initialized_request"] = True
        state["init_id"] = mid
        state["version"] = negotiated
        return {
            "jsonrpc": "2.0",
            "id": mid,
            "result": cache["init"][negotiated],
        }
    if method == "notifications/initialized" and mid is None:
        return {}
    if method == "ping" and mid is not None:
        return {"jsonrpc": "2.0", "id": mid, "result": {}}
    if method == "tools/list" and mid is not None:
        if isinstance(params, dict) and (params.get("cursor") is not None):
            return None
        listed = cache.get("tools_by_version", {}).get(state["version"])
        return {"jsonrpc": "2.0", "id": mid, "result": listed or {"tools": cache["tools"]}}
    return None


async def serve_stdio_fast(cache: dict[str, Any]) -> None:
    """Answer the handshake from ``cache`` while the SDK imports, then hand over to it."""
    from ._stdio import StdinLines, add_stop_signals, claim_wire, serve_stdio
    from ._wire import PendingRequests, WireWriter

    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    sdk = _start_sdk(loop)
    # Claim the wire as the SDK's stdio_server would (fd 0 → /dev/null, fd 1 → stderr).
    wire = claim_wire()
    pending = PendingRequests()
    out = WireWriter(wire.out_fd, pending)
    lines = StdinLines(wire.in_fd, pending)  # EOF here: everything read was answered here
    stopping = False

    def on_signal(signum: int) -> None:
        nonlocal stopping
        stopping = True
        log.info("mcp.stdio.signal", signal=signal.Signals(signum).name)
        if main is not None:
            main.cancel()

    installed = add_stop_signals(loop, on_signal)
    replay: list[str] = []
    state: dict[str, Any] = {"initialized_request": False, "init_id": None, "version": None}
    served = 0
    try:
        try:
            while not sdk.done():
                nxt = asyncio.ensure_future(lines.__anext__())
                await asyncio.wait({nxt, sdk}, return_when=asyncio.FIRST_COMPLETED)
                if not nxt.done():
                    nxt.cancel()  # the SDK is ready; an asyncio.Queue.get loses nothing
                    break
                try:
                    line = nxt.result()
                except StopAsyncIteration:  # the host went away before the SDK was needed
                    log.info("mcp.stdio.stopped", fast_answers=served)
                    return
                try:
                    msg = json.loads(line)
                except ValueError:
                    msg = None
                reply = _answer(msg, cache, state)
                if reply is None:
                    replay.append(line)
                    break
                if reply:
                    out.send(reply)
                    served += 1
                if isinstance(msg, dict) and msg.get("method") in (
                    "initialize",
                    "notifications/initialized",
                ):
                    replay.append(line)
            server = await sdk
        except asyncio.CancelledError:
            if stopping:
                return
            raise
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
        log.debug("mcp.stdio.handover", fast_answers=served)
        if state["init_id"] is not None:
            out.drop_ids.add(state["init_id"])
        lines.on_eof = pending.settle
        await serve_stdio(server, stdin=_Replay(replay, lines), stdout=out)
    finally:
        wire.release()
