"""Server-sent events as OpenRouter sends them.

Handles LF and CRLF, ``:`` comment keep-alives (``: OPENROUTER PROCESSING``), multi-line ``data:``
fields, the usage chunk with ``choices: []``, ``[DONE]``, and error chunks mid-stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from .reading import parse_json


class SSEDecoder:
    """Incremental decoder: feed text, get complete events' data strings."""

    def __init__(self) -> None:
        self._buf = ""
        self._pending: list[str] = []  # chunks without a line break, joined once one arrives
        self._data: list[str] = []

    def feed(self, chunk: str) -> list[str]:
        out: list[str] = []
        if "\n" not in chunk and "\r" not in chunk:
            # A long line arrives in many pieces: appending to one string and rescanning it
            # for every piece would be quadratic (a 100 MiB line took minutes).
            self._pending.append(chunk)
            return out
        if self._pending:
            self._buf += "".join(self._pending)
            self._pending = []
        self._buf += chunk
        while True:
            idx = self._find_newline()
            if idx is None:
                break
            line, self._buf = self._buf[: idx[0]], self._buf[idx[1] :]
            ev = self._line(line)
            if ev is not None:
                out.append(ev)
        return out

    def flush(self) -> list[str]:
        out: list[str] = []
        if self._pending:
            self._buf += "".join(self._pending)
            self._pending = []
        if self._buf:
            ev = self._line(self._buf)
            self._buf = ""
            if ev is not None:
                out.append(ev)
        ev = self._line("")
        if ev is not None:
            out.append(ev)
        return out

    def _find_newline(self) -> tuple[int, int] | None:
        buf = self._buf
        n = buf.find("\n")
        r = buf.find("\r", 0, n if n != -1 else len(buf))
        if r == -1:
            return None if n == -1 else (n, n + 1)
        if r + 1 < len(buf):
            return (r, r + 2) if buf[r + 1] == "\n" else (r, r + 1)
        return None  # a trailing CR may be the first half of CRLF: wait for more

    def _line(self, line: str) -> str | None:
        if line == "":
            if self._data:
                data = "\n".join(self._data)
                self._data = []
                return data
            return None
        if line.startswith(":"):
            return None  # comment / keep-alive
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        return None  # event:, id:, retry: are not used by OpenRouter


async def iter_sse_json(
    chunks: AsyncIterator[str], context: str = ""
) -> AsyncIterator[dict[str, Any] | str]:
    """Yield parsed JSON events; the literal string ``"[DONE]"`` ends the stream.

    A hostile, too deeply nested event raises ``ToolError(UPSTREAM_HTTP)``.
    """
    dec = SSEDecoder()
    async for chunk in chunks:
        for data in dec.feed(chunk):
            yield _parse(data, context)
    for data in dec.flush():
        yield _parse(data, context)


def _parse(data: str, context: str = "") -> dict[str, Any] | str:
    if data.strip() == "[DONE]":
        return "[DONE]"
    try:
        obj = parse_json(data, context)
    except ValueError:
        return {"__malformed__": data[:200]}
    return obj if isinstance(obj, dict) else {"__malformed__": data[:200]}
