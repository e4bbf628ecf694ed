"""Reading API response bodies: one size cap after decompression, one JSON parser for hostile shapes.

httpx inflates a whole raw chunk at once, so a 64 KiB gzip chunk can become 64 MiB before any cap
looks at it (a 256 MiB gzip bomb cost 558 MiB of RSS). Bodies are therefore read raw and inflated
here in bounded steps by the decoder media fetches use (``safety.fetch``), and counted *after*
decompression against the caller's cap. JSON from upstream goes through ``parse_json``, which
turns a too-deeply nested document into a coded ``UPSTREAM_HTTP`` instead of a RecursionError.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from ..errors import ErrorCode, ToolError
from ..safety.fetch import ContentDecoder, decode_chain

# What we ask for; anything else the server sends anyway is refused (we cannot bound it).
ACCEPT_ENCODING = "gzip, deflate"
_ENCODINGS = frozenset({"gzip", "x-gzip", "deflate"})
# No OpenRouter document nests anywhere near this; our own walkers recurse, so refuse early.
MAX_JSON_DEPTH = 128


def too_large(context: str, size: int, cap: int) -> ToolError:
    return ToolError(
        ErrorCode.RESOURCE_TOO_LARGE,
        f"{context + ': ' if context else ''}response is larger than the {cap} byte cap "
        f"(got at least {size})",
        details={"size_bytes": size, "max_bytes": cap},
        suggestions=[
            "Raise the matching *_MAX_BYTES variable (OPENROUTER_MAX_RESPONSE_BYTES for API "
            "responses) if this is expected"
        ],
    )


def _decoders(resp: httpx.Response, context: str) -> list[ContentDecoder]:
    encodings = [e.strip().lower() for e in resp.headers.get("content-encoding", "").split(",")]
    encodings = [e for e in encodings if e and e != "identity"]
    bad = [e for e in encodings if e not in _ENCODINGS]
    if bad or len(encodings) > 2:
        raise ToolError(
            ErrorCode.UPSTREAM_HTTP,
            f"{context + ': ' if context else ''}unsupported Content-Encoding "
            f"{', '.join(encodings)!r} in the response",
            details={"reason": "content_encoding", "content_encoding": encodings},
        )
    return [ContentDecoder(e) for e in reversed(encodings)]  # the outermost is listed last


async def iter_body(resp: httpx.Response, cap: int, context: str) -> AsyncIterator[bytes]:
    """The decoded body in pieces of at most 64 KiB; ``RESOURCE_TOO_LARGE`` past ``cap``.

    Memory stays at about one piece whatever the compression ratio.
    """
    decoders = _decoders(resp, context)
    declared = resp.headers.get("content-length", "").strip()
    if not decoders and declared.isdigit() and int(declared) > cap:  # encoded: count decoded
        raise too_large(context, int(declared), cap)
    total = 0
    try:
        async for chunk in resp.aiter_raw():
            for piece in decode_chain(decoders, chunk):
                total += len(piece)
                if total > cap:
                    raise too_large(context, total, cap)
                yield piece
        for piece in decode_chain(decoders, b"", final=True):
            total += len(piece)
            if total > cap:
                raise too_large(context, total, cap)
            yield piece
    except zlib.error:
        raise ToolError(
            ErrorCode.UPSTREAM_HTTP,
            f"{context + ': ' if context else ''}corrupt compressed response body",
            details={"reason": "corrupt_encoding"},
            suggestions=["Retry after a brief delay"],
        ) from None


async def read_body(resp: httpx.Response, cap: int, context: str) -> bytes:
    """The whole decoded body, at most ``cap`` bytes (see ``iter_body``)."""
    buf = bytearray()
    async for piece in iter_body(resp, cap, context):
        buf += piece
    return bytes(buf)


def nested_error(context: str) -> ToolError:
    return ToolError(
        ErrorCode.UPSTREAM_HTTP,
        f"{context + ': ' if context else ''}malformed response: JSON nested deeper than "
        f"{MAX_JSON_DEPTH} levels",
        details={"reason": "too_deeply_nested", "max_depth": MAX_JSON_DEPTH},
        suggestions=["Check OPENROUTER_BASE_URL points at the API (…/api/v1)", "Retry"],
    )


def parse_json(content: bytes | str, context: str = "") -> Any:
    """``json.loads`` that refuses hostile nesting with a coded error.

    Raises ``ValueError`` for text that is not JSON (callers word that themselves) and
    ``ToolError(UPSTREAM_HTTP)`` for a document deeper than ``MAX_JSON_DEPTH``.
    """
    try:
        obj = json.loads(content)
    except RecursionError:
        raise nested_error(context) from None
    if json_depth_exceeds(obj, MAX_JSON_DEPTH):
        raise nested_error(context)
    return obj


def json_depth_exceeds(obj: Any, limit: int) -> bool:
    """True when containers nest deeper than ``limit`` (iterative: no recursion to exhaust)."""
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False
