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
from collections import Counter
from typing import Any

# The SDK serialises a response as {"jsonrpc":"2.0","id":…,"result"|"error":…}: reading the id
# from that prefix spares parsing a multi-megabyte result. Anything else is parsed whole.
_RESPONSE_PREFIX = re.compile(
    r'\{"jsonrpc":"2\.0","id":(-?\d+|"(?:[^"\\]|\\.)*"),"(?:result|error)"'
)


def _id_key(value: Any) -> tuple[str, int | str] | None:
    """A request id as the SDK reads it, or ``None`` for a value that is no request id.

    Ids compare by JSON value: ``3`` and ``"3"`` are different requests. The SDK's ``RequestId``
    is a strict int or a string: a request whose id is a float, a boolean, an object or an array
    is read as a notification (or refused) and never answered, so it is not waited for; and such
    a value (a dict, a list) must never reach the set, where it cannot be hashed.
    """
    if type(value) is int or type(value) is str:
        return (type(value).__name__, value)
    return None


def _awaits_answer(m: Any) -> bool:
    """Whether the SDK reads ``m`` as a request it will answer (its ``JSONRPCRequest``).

    The SDK answers neither a batch (an array), nor a message without ``"jsonrpc": "2.0"``, nor one
    whose ``params`` is not an object, nor one carrying an ``error`` object (a response to it).
    """
    if not isinstance(m, dict) or m.get("jsonrpc") != "2.0":
        return False
    if not isinstance(m.get("method"), str) or _id_key(m.get("id")) is None:
        return False
    if m.get("params") is not None and not isinstance(m.get("params"), dict):
        return False
    error = m.get("error")
    return not (isinstance(error, dict) and "code" in error and "message" in error)


class PendingRequests:
    """Ids of requests read from the host and not yet answered (thread-safe: the reader is a thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # id key -> requests read with it and not yet answered: a host may reuse an id while the
        # first request is still running, and the SDK answers each
        self._ids: Counter[tuple[str, int | str]] = Counter()

    def __len__(self) -> int:
        with self._lock:
            return sum(self._ids.values())

    def read(self, line: str) -> None:
        """Note a line from the host: a request's id, or a cancellation withdrawing one."""
        if not line.strip():
            return
        try:
            m = json.loads(line)
        except (ValueError, RecursionError):  # the SDK answers it with a parse error (id null)
            return
        if not isinstance(m, dict):  # a batch or a bare value: the SDK answers none of it
            return
        if m.get("method") == "notifications/cancelled":
            params = m.get("params")
            if isinstance(params, dict):
                self._discard(params.get("requestId"))
        elif _awaits_answer(m):
            key = _id_key(m["id"])
            with self._lock:
                self._ids[key] += 1  # type: ignore[index]

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
        if isinstance(msg, dict) and "method" not in msg:
            self._discard(msg.get("id"))

    def _discard(self, rid: Any) -> None:
        """One request with id ``rid`` needs no more waiting for (answered or cancelled)."""
        key = _id_key(rid)
        if key is None:
            return
        with self._lock:
            if self._ids[key] > 1:
                self._ids[key] -= 1
            else:
                self._ids.pop(key, None)

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait, bounded, until every request read has its answer on the wire."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self) and loop.time() < deadline:
            await asyncio.sleep(0.01)
        if len(self):
            from or_magic import log

            with self._lock:
                left = sorted(str(v)[:80] for _, v in self._ids)  # an id may be megabytes
                count = sum(self._ids.values())
            log.warn("mcp.stdio.unanswered", ids=left[:20], count=count)


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
