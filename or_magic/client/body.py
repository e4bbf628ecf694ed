"""A JSON request body that streams large base64 payloads from disk.

Building one giant JSON string for a 100 MiB video costs the file, its base64 (133 MiB) and the
JSON text (another 133 MiB). Instead the document is serialised with placeholder markers, split
there, and the blobs are base64-encoded chunk by chunk while httpx sends the body. Content-Length
is exact because base64's length is known up front.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol


class _Base64Source(Protocol):
    def iter_base64(self, n: int = ...) -> Iterator[bytes]: ...
    def base64_len(self) -> int: ...


@dataclass
class B64Ref:
    """Stands where a base64 string (optionally behind a ``data:`` prefix) goes in the JSON."""

    blob: _Base64Source
    prefix: str = ""


CHUNK = 3 * 256 * 1024  # multiple of 3: every chunk's base64 concatenates cleanly


class StreamingJSON:
    def __init__(self, document: Any) -> None:
        self._token = f"@@ormb64-{uuid.uuid4().hex}-"
        self._refs: list[B64Ref] = []
        text = json.dumps(self._mark(document), ensure_ascii=False, separators=(",", ":"))
        self._pieces: list[bytes] = []
        rest = text
        for i in range(len(self._refs)):
            marker = f'"{self._token}{i}@@"'
            head, _, rest = rest.partition(marker)
            self._pieces.append(head.encode("utf-8"))
        self._pieces.append(rest.encode("utf-8"))
        self.preview = self._preview_doc(document)

    def _mark(self, obj: Any) -> Any:
        """The document with each ``B64Ref`` replaced by its numbered marker string."""

        def marker(ref: B64Ref) -> str:
            self._refs.append(ref)
            return f"{self._token}{len(self._refs) - 1}@@"

        return _replace_refs(obj, marker)

    @staticmethod
    def _preview_doc(obj: Any) -> Any:
        """The document as a log shows it: each blob as its size, never its bytes."""
        return _replace_refs(obj, lambda ref: f"{ref.prefix}<{ref.blob.base64_len()} base64 chars>")

    @property
    def has_streams(self) -> bool:
        return bool(self._refs)

    def content_length(self) -> int:
        total = sum(len(p) for p in self._pieces)
        for ref in self._refs:
            total += 2 + len(ref.prefix.encode("utf-8")) + ref.blob.base64_len()
        return total

    def iter_bytes(self) -> Iterator[bytes]:
        for i, ref in enumerate(self._refs):
            yield self._pieces[i]
            yield b'"' + ref.prefix.encode("utf-8")
            yield from ref.blob.iter_base64(CHUNK)
            yield b'"'
        yield self._pieces[-1]

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        for chunk in self.iter_bytes():
            yield chunk

    def to_bytes(self) -> bytes:
        """Materialise (small documents only: used when nothing streams)."""
        return b"".join(self.iter_bytes())


def _replace_refs(obj: Any, replace: Callable[[B64Ref], str]) -> Any:
    """A copy of the JSON document ``obj`` with every ``B64Ref`` replaced by ``replace(ref)``, in
    document order (tuples become lists, as ``json.dumps`` would write them)."""
    if isinstance(obj, B64Ref):
        return replace(obj)
    if isinstance(obj, dict):
        return {k: _replace_refs(v, replace) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_replace_refs(v, replace) for v in obj]
    return obj


def contains_refs(obj: Any) -> bool:
    if isinstance(obj, B64Ref):
        return True
    if isinstance(obj, dict):
        return any(contains_refs(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(contains_refs(v) for v in obj)
    return False
