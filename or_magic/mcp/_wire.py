"""The stdio wire's two ends as the server sees them: requests read, answers written.

When the host closes stdin, every request already read must still be answered before the server
exits (a host that writes its requests and then closes the pipe is allowed, and common in
scripts). The SDK ends the session as soon as its input ends, cancelling handlers still running,
so the input is held open until each request read has an answer on the wire.

Watching the wire itself, rather than the SDK's handlers, is what makes this hold on a busy
machine: between a line leaving the reader and a handler starting, the SDK hands it through
several in-memory streams, each hop one turn of the event loop. Counting handlers in flight
missed a request still in those hops whenever the process was descheduled for a few ticks.

``PendingRequests`` records the id of every request line read (``notifications/cancelled``
withdraws one: a cancelled request gets no answer) and crosses it off when a response with that
id is written. ``WireWriter`` is the private duplicate of fd 1 both the handshake fast path and
the SDK write through.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from typing import Any

# The SDK serialises a response as {"jsonrpc":"2.0","id":…,"result"|"error":…}: reading the id
# from that prefix spares parsing a multi-megabyte result. Anything else is parsed whole.
_RESPONSE_PREFIX = re.compile(
    r'\{"jsonrpc":"2\.0","id":(-?\d+|"(?:[^"\\]|\\.)*"),"(?:result|error)"'
)


def _id_key(value: Any) -> Any:
    """Ids compare by JSON value: ``3`` and ``"3"`` are different requests."""
    return (type(value).__name__, value)


class PendingRequests:
    """Ids of requests read from the host and not yet answered (thread-safe: the reader is a thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: set[Any] = set()

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)

    def read(self, line: str) -> None:
        """Note a line from the host: a request's id, or a cancellation withdrawing one."""
        if not line.strip():
            return
        try:
            msg = json.loads(line)
        except (ValueError, RecursionError):  # the SDK answers it with a parse error (id null)
            return
        for m in msg if isinstance(msg, list) else [msg]:
            if not isinstance(m, dict):
                continue
            method = m.get("method")
            if method == "notifications/cancelled":
                params = m.get("params")
                if isinstance(params, dict) and "requestId" in params:
                    self._discard(params["requestId"])
            elif isinstance(method, str) and m.get("id") is not None:
                with self._lock:
                    self._ids.add(_id_key(m["id"]))

    def answered(self, text: str) -> None:
        """Note a message written to the host; a response crosses its request off."""
        with self._lock:
            if not self._ids:
                return
        m = _RESPONSE_PREFIX.match(text)
        if m is not None:
            self._discard(json.loads(m.group(1)))
            return
        try:
            msg = json.loads(text)
        except (ValueError, RecursionError):
            return
        if isinstance(msg, dict) and "method" not in msg and msg.get("id") is not None:
            self._discard(msg["id"])

    def _discard(self, rid: Any) -> None:
        with self._lock:
            self._ids.discard(_id_key(rid))

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait, bounded, until every request read has its answer on the wire."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self) and loop.time() < deadline:
            await asyncio.sleep(0.01)
        if len(self):
            from or_magic import log

            with self._lock:
                left = sorted(str(v) for _, v in self._ids)
            log.warn("mcp.stdio.unanswered", ids=left[:20], count=len(left))


class WireWriter:
    """The wire (a private duplicate of fd 1): our answers, then the SDK's, minus dropped replies.

    ``drop_ids``: replies the host must not see twice (the SDK's answer to an ``initialize`` the
    fast path already answered). Every message written is shown to ``pending``.
    """

    def __init__(self, fd: int, pending: PendingRequests | None = None) -> None:
        self.fd = fd
        self.pending = pending if pending is not None else PendingRequests()  # empty is falsy
        self.drop_ids: set[Any] = set()

    def send(self, obj: dict[str, Any]) -> None:
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        self._write((text + "\n").encode())
        self.pending.answered(text)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]

    # The SDK's stdio_server writes through these (an anyio AsyncFile stand-in).
    async def write(self, text: str) -> None:
        if self.drop_ids:
            try:
                msg = json.loads(text)
            except ValueError:
                msg = None
            if isinstance(msg, dict) and "method" not in msg and msg.get("id") in self.drop_ids:
                self.drop_ids.discard(msg.get("id"))
                return
        data = text.encode("utf-8")
        if len(data) > 32768:  # a full pipe must not block the event loop
            await asyncio.to_thread(self._write, data)
        else:
            self._write(data)
        self.pending.answered(text)

    async def flush(self) -> None:
        return None
