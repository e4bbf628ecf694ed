"""stdio transport: the SDK's ``stdio_server`` with a stdin reader that never blocks shutdown.

The SDK reads stdin through anyio worker threads that cannot be abandoned, so SIGTERM with an idle
client attached would wait for the next line forever. Here stdin is read by a *daemon* thread from a
private duplicate of fd 0 (fd 0 itself then points at the null device, so nothing else can read
the wire) and lines are handed to the loop; cancelling the server never waits for it. stdout is a
private duplicate of fd 1 as well (fd 1 points at stderr while serving, so stray prints cannot
corrupt the protocol), written through ``_wire.WireWriter``. At stdin EOF the input is held open
until every request read has its answer on the wire (``_wire.PendingRequests``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from or_magic import log

from ._wire import PendingRequests, WireWriter

_EOF = object()


class StdinLines:
    """Async iterator of text lines from a binary fd, fed by a daemon thread.

    Each line is shown to ``pending`` as it is read; at EOF ``on_eof`` (when set) is awaited
    before the iteration ends, so requests already read are answered first (``_wire``).
    """

    def __init__(
        self,
        fd: int,
        pending: PendingRequests,
        on_eof: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._fd = fd
        self._pending = pending
        self.on_eof = on_eof
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._thread = threading.Thread(target=self._pump, name="or_magic-mcp-stdin", daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # loop closed: the server is gone
            pass

    def _note(self, line: str) -> None:
        """Show ``line`` to ``pending``; a fault there must not stop the reader (the host's
        lines, and its EOF, would then never reach the SDK: the server would hang)."""
        try:
            self._pending.read(line)
        except Exception as exc:  # the wire must keep flowing
            log.warn("mcp.stdio.pending_error", error=f"{type(exc).__name__}: {exc}"[:200])

    def _pump(self) -> None:
        try:
            with os.fdopen(self._fd, "rb", closefd=True) as f:
                for raw in f:
                    line = raw.decode("utf-8", errors="replace")
                    self._note(line)  # before the SDK can see it, so before its answer
                    self._put(line)
        except (OSError, ValueError):
            pass
        self._put(_EOF)

    def __aiter__(self) -> StdinLines:
        return self

    async def __anext__(self) -> str:
        item = await self._queue.get()
        if item is _EOF:
            if self.on_eof is not None:  # let requests already read be answered first
                on_eof, self.on_eof = self.on_eof, None
                await on_eof()
            raise StopAsyncIteration
        return item


@dataclass
class ClaimedWire:
    """Private duplicates of fds 0 and 1; while claimed, fd 0 reads the null device and fd 1
    writes to stderr, so stray reads and prints (handlers, children) cannot touch the protocol."""

    in_fd: int
    out_fd: int

    def release(self) -> None:
        """Give fd 1 back to the wire (fd 0 stays on the null device: the host has gone)."""
        try:
            os.dup2(self.out_fd, 1)
            os.close(self.out_fd)
        except OSError:
            pass


def claim_wire() -> ClaimedWire:
    in_fd, out_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(devnull, 0)
        os.dup2(2, 1)
    finally:
        os.close(devnull)
    return ClaimedWire(in_fd, out_fd)


@asynccontextmanager
async def stdio_streams() -> AsyncIterator[tuple[Any, Any]]:
    """The SDK's ``stdio_server`` over a claimed wire, held open at EOF until all is answered."""
    from mcp.server.stdio import stdio_server

    wire = claim_wire()
    try:
        pending = PendingRequests()
        lines = StdinLines(wire.in_fd, pending, on_eof=pending.settle)
        out = WireWriter(wire.out_fd, pending)
        async with stdio_server(stdin=lines, stdout=out) as streams:  # type: ignore[arg-type]
            yield streams
    finally:
        wire.release()


def add_stop_signals(loop: asyncio.AbstractEventLoop, handler: Callable[[int], None]) -> list[int]:
    """Route SIGINT and SIGTERM to ``handler(signum)`` on ``loop``; return those installed.

    The caller removes them when it stops. Where the loop cannot take signal handlers (Windows,
    a loop off the main thread) none is installed and the default behaviour stays.
    """
    installed: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, handler, sig)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover - Windows
            pass
    return installed


async def serve_stdio(server: Any, *, stdin: Any = None, stdout: Any = None) -> None:
    """Serve ``server`` on stdin/stdout until EOF, SIGINT or SIGTERM.

    ``stdin`` / ``stdout``: the wire already claimed by the caller (``_fast``, which answered the
    handshake itself): lines to read and an async writer; the fds are then left alone here."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    stopping = False

    def on_signal(signum: int) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        log.info("mcp.stdio.signal", signal=signal.Signals(signum).name)
        if main is not None:
            main.cancel()

    installed = add_stop_signals(loop, on_signal)
    try:
        if stdin is not None:
            from mcp.server.stdio import stdio_server

            streams = stdio_server(stdin=stdin, stdout=stdout)
        else:
            streams = stdio_streams()
        async with streams as (read, write):
            log.info("mcp.stdio.ready", tools=len(server.tool_names))
            await server.run(read, write, server.create_initialization_options())
    except asyncio.CancelledError:
        if not stopping:
            raise
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await _close_clients()
        log.info("mcp.stdio.stopped")
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


async def _close_clients() -> None:
    if "or_magic.client.http" not in sys.modules:
        return
    try:
        from or_magic.client.http import close_clients

        await asyncio.wait_for(close_clients(), timeout=2)
    except BaseException:  # shutting down: never let cleanup decide the exit status
        pass
