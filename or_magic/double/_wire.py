"""Writing a ``Resp`` to the ASGI connection, misbehaving on purpose when a fault says so.

Plain ASGI messages, so the bytes are exactly what we choose: ``Content-Length`` or chunked, a
body cut in half (``truncate``), trickled out (``slow_body_s``), headers then silence or
keep-alive comments (``hang``), or the TCP connection closed under the client (``drop``).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from typing import Any

from ._http import Receive, Resp, Send
from .faults import Fault


def _start(status: int, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http.response.start",
        "status": status,
        "headers": [(k.lower().encode(), str(v).encode()) for k, v in headers.items()],
    }


def _piece(body: bytes, *, more: bool = True) -> dict[str, Any]:
    return {"type": "http.response.body", "body": body, "more_body": more}


def _end() -> dict[str, Any]:
    return _piece(b"", more=False)


async def send_response(resp: Resp, fault: Fault | None, send: Send, receive: Receive) -> None:
    """Send ``resp``, shaped by the response-phase parts of ``fault`` (delay, cut, slow, hang)."""
    if fault is not None and fault.delay_s > 0:
        await asyncio.sleep(fault.delay_s)
    if resp.drop:
        await close_connection(send, receive)
        return
    if fault is not None and fault.hang is not None:
        await _hang(resp, fault, send, receive)
        return
    headers = dict(resp.headers)
    if fault is not None and fault.headers:
        headers.update(fault.headers)
    truncate = bool(fault and fault.truncate)
    slow = fault.slow_body_s if fault is not None else 0.0
    if resp.body is not None:
        headers["Content-Length"] = str(len(resp.body))
    elif resp.length is not None:
        headers["Content-Length"] = str(resp.length)
    await send(_start(resp.status, headers))
    if resp.body is not None:
        await _send_body(resp.body, truncate, slow, send, receive)
    elif resp.chunks is not None:
        await _send_chunks(resp.chunks, truncate, slow, send, receive)
    elif resp.stream is not None:
        await _send_stream(resp, truncate, slow, send, receive)
    else:
        await send(_end())


async def _send_body(
    body: bytes, truncate: bool, slow: float, send: Send, receive: Receive
) -> None:
    if truncate:
        await send(_piece(body[: len(body) // 2]))
        await close_connection(send, receive)
        return
    if slow > 0 and body:
        n = 10
        step = -(-len(body) // n)
        for i in range(0, len(body), step):
            await send(_piece(body[i : i + step]))
            await asyncio.sleep(slow / n)
        await send(_end())
        return
    await send(_piece(body, more=False))


async def _send_chunks(
    chunks: list[bytes], truncate: bool, slow: float, send: Send, receive: Receive
) -> None:
    limit = max(1, len(chunks) // 2) if truncate else len(chunks)
    for piece in chunks[:limit]:
        await send(_piece(piece))
        if slow > 0:
            await asyncio.sleep(slow / max(1, len(chunks)))
    if truncate:
        await close_connection(send, receive)
        return
    await send(_end())


async def _send_stream(
    resp: Resp, truncate: bool, slow: float, send: Send, receive: Receive
) -> None:
    assert resp.stream is not None
    total = resp.length or 0
    sent = 0
    n_pieces = max(1, math.ceil(total / (1 << 20)))
    for piece in resp.stream:
        if truncate and sent + len(piece) > total // 2:
            piece = piece[: max(0, total // 2 - sent)]
            if piece:
                await send(_piece(piece))
            await close_connection(send, receive)
            return
        await send(_piece(piece))
        sent += len(piece)
        if slow > 0:
            await asyncio.sleep(slow / n_pieces)
    await send(_end())


async def _hang(resp: Resp, fault: Fault, send: Send, receive: Receive) -> None:
    """Headers, then keep-alive comments (or silence) until the client leaves or ``hang_s``."""
    await send(_start(resp.status, resp.headers))
    gone = asyncio.ensure_future(_wait_disconnect(receive))
    deadline = time.monotonic() + fault.hang_s
    try:
        while not gone.done() and time.monotonic() < deadline:
            if fault.hang == "keepalive":
                await send(_piece(b": OPENROUTER PROCESSING\n\n"))
            await asyncio.wait({gone}, timeout=0.02)
        if not gone.done():
            await send(_end())
    finally:
        gone.cancel()


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def close_connection(send: Send, receive: Receive) -> None:
    """Close the TCP connection now (after flushing what was written), without an ASGI ending.

    ASGI has no "drop the connection" message; uvicorn's ``send`` is a bound method of the
    request cycle, whose transport we close. We then wait for uvicorn to notice the disconnect,
    so it neither appends a 500 nor logs "returned without completing response".
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionAbortedError("or_magic double: dropping the connection")
    transport.close()
    with contextlib.suppress(asyncio.TimeoutError, Exception):
        await asyncio.wait_for(_wait_disconnect(receive), 5)
