"""``Blob``: media bytes held in memory *or* in a file on disk, never both.

Large audio and video must not sit in several copies (raw bytes, base64 text, JSON body), so a
``Blob`` can be file-backed and streamed out in chunks or as base64 whose length is known up front
(for a streaming request body's Content-Length). Small items (prepared images, generated audio)
just carry ``data``.
"""

from __future__ import annotations

import base64
import os
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ..errors import ErrorCode, ToolError

DEFAULT_CHUNK = 1 << 20
# Largest blob ``data_url()`` will build by default: a data URL is a second (4/3 larger) copy.
DATA_URL_DEFAULT_LIMIT = 32 << 20


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError:  # pragma: no cover - best effort (Windows: file still open elsewhere)
        pass


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        raise ToolError(ErrorCode.INVALID_INPUT, f"file not found: {path.name}") from None


def base64_len(n: int) -> int:
    """Exact length of the padded base64 encoding of ``n`` bytes."""
    return 4 * ((n + 2) // 3)


class Blob:
    """Media bytes with a MIME type: in memory (``data``) or on disk (``path``).

    ``cleanup=True`` means the blob owns ``path`` (a temp file) and deletes it on ``close()``, on
    leaving a ``with`` block, or at the latest when the blob is garbage-collected.
    """

    __slots__ = ("__weakref__", "_finalizer", "cleanup", "data", "mime", "name", "path", "size")

    def __init__(
        self,
        mime: str,
        data: bytes | None = None,
        path: Path | str | None = None,
        size: int | None = None,
        name: str | None = None,
        cleanup: bool = False,
    ) -> None:
        if (data is None) == (path is None):
            raise ValueError("Blob needs exactly one of data or path")
        if data is not None and not isinstance(data, bytes):
            data = bytes(data)  # bytearray/memoryview: one copy now, immutable afterwards
        self.mime = mime
        self.data = data
        self.path = Path(path) if path is not None else None
        if size is None:
            size = len(data) if data is not None else _file_size(self.path)  # type: ignore[arg-type]
        self.size = size
        self.name = name
        self.cleanup = bool(cleanup and self.path is not None)
        self._finalizer = (
            weakref.finalize(self, _unlink_quietly, str(self.path)) if self.cleanup else None
        )

    # ---- construction ---------------------------------------------------------------------
    @classmethod
    def from_bytes(cls, data: bytes, mime: str | None = None, name: str | None = None) -> Blob:
        """In-memory blob; the MIME type is sniffed when not given (octet-stream if unknown)."""
        if mime is None:
            from .sniff import sniff

            s = sniff(bytes(data[:8192]))
            mime = s.mime if s else "application/octet-stream"
        return cls(mime, data=data, name=name)

    @classmethod
    def from_path(
        cls,
        path: Path | str,
        mime: str | None = None,
        name: str | None = None,
        cleanup: bool = False,
    ) -> Blob:
        """File-backed blob (nothing read but the head, to sniff the type when not given)."""
        p = Path(path)
        if mime is None:
            from .sniff import sniff

            _file_size(p)  # INVALID_INPUT when missing
            with open(p, "rb") as f:
                s = sniff(f.read(8192))
            mime = s.mime if s else "application/octet-stream"
        return cls(mime, path=p, name=name if name is not None else p.name, cleanup=cleanup)

    # ---- properties -------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        """``image`` / ``audio`` / ``video`` / ... (the MIME top-level type)."""
        return self.mime.split("/", 1)[0]

    @property
    def in_memory(self) -> bool:
        return self.data is not None

    # ---- reading ----------------------------------------------------------------------------
    def _open(self) -> IO[bytes]:
        if self.path is None:
            raise ValueError("blob is not file-backed")
        return open(self.path, "rb")

    def read_bytes(self) -> bytes:
        """All bytes (for a file-backed blob this reads the whole file: avoid for big media)."""
        if self.data is not None:
            return self.data
        return self.path.read_bytes()  # type: ignore[union-attr]

    def head(self, n: int = 4096) -> bytes:
        """The first ``n`` bytes without reading the rest."""
        if self.data is not None:
            return self.data[:n]
        with self._open() as f:
            return f.read(n)

    def iter_chunks(self, n: int = DEFAULT_CHUNK) -> Iterator[bytes]:
        """Consecutive chunks of exactly ``n`` bytes (the last may be shorter)."""
        if n <= 0:
            raise ValueError("chunk size must be positive")
        if self.data is not None:
            mv = memoryview(self.data)
            for i in range(0, len(mv), n):
                yield bytes(mv[i : i + n])
            return
        with self._open() as f:
            buf = b""
            while True:
                piece = f.read(n - len(buf))
                if not piece:
                    break
                buf += piece
                if len(buf) == n:
                    yield buf
                    buf = b""
            if buf:
                yield buf

    def iter_base64(self, n: int = 3 * (DEFAULT_CHUNK // 3)) -> Iterator[bytes]:
        """Base64 of consecutive 3-byte-aligned chunks; the concatenation is valid base64."""
        step = max(3, n - n % 3)
        for chunk in self.iter_chunks(step):
            yield base64.b64encode(chunk)

    def base64_len(self) -> int:
        """Exact length of ``b64encode(read_bytes())`` without encoding anything."""
        return base64_len(self.size)

    def b64(self) -> str:
        """The whole blob as one base64 string (small blobs only)."""
        return b"".join(self.iter_base64()).decode("ascii")

    def data_url(self, *, limit: int | None = DATA_URL_DEFAULT_LIMIT) -> str:
        """``data:<mime>;base64,...`` for small blobs; bigger ones should be streamed instead."""
        if limit is not None and self.size > limit:
            raise ToolError(
                ErrorCode.RESOURCE_TOO_LARGE,
                f"{self.size} bytes is too large to inline as a data URL (limit {limit})",
                details={"size_bytes": self.size, "limit_bytes": limit},
            )
        return f"data:{self.mime};base64,{self.b64()}"

    # ---- lifetime ---------------------------------------------------------------------------
    def close(self) -> None:
        """Delete the temp file when this blob owns it; harmless to call twice."""
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> Blob:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        where = f"path={str(self.path)!r}" if self.path is not None else "inline"
        nm = f", name={self.name!r}" if self.name else ""
        return f"Blob({self.mime}, {self.size} bytes, {where}{nm})"
