"""``Blob``: media bytes held in memory *or* in a file on disk, never both.

Large audio and video must not sit in several copies (raw bytes, base64 text, JSON body), so a
``Blob`` can be file-backed and streamed out in chunks or as base64 whose length is known up front
(for a streaming request body's Content-Length). Small items (prepared images, generated audio)
just carry ``data``.

A blob for a user's input file is *descriptor-backed* (``fd=``, from ``paths.open_input``): every
read goes through that one descriptor, checked when the sandbox opened it, with ``pread`` at
the reader's own offset (so readers never share a file position), and never past the ``size``
taken from ``fstat``. Its ``path`` is ``None``: nothing can re-open it by a name that may since
have been swapped for a symlink. ``close()`` closes the descriptor.
"""

from __future__ import annotations

import base64
import io
import os
import threading
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


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


class _FdReader(io.RawIOBase):
    """A read-only view of ``fd`` with its own position, ending at ``size`` bytes."""

    _lock = threading.Lock()  # only for platforms without pread (shared file position)

    def __init__(self, fd: int, size: int) -> None:
        super().__init__()
        self._fd, self._size, self._pos = fd, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        want = min(len(b), self._size - self._pos)
        if want <= 0:
            return 0
        if hasattr(os, "pread"):
            piece = os.pread(self._fd, want, self._pos)
        else:  # pragma: no cover - Windows
            with self._lock:
                os.lseek(self._fd, self._pos, os.SEEK_SET)
                piece = os.read(self._fd, want)
        n = len(piece)
        b[:n] = piece
        self._pos += n
        return n


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

    __slots__ = (
        "__weakref__",
        "_finalizer",
        "cleanup",
        "data",
        "fd",
        "mime",
        "name",
        "path",
        "size",
    )

    def __init__(
        self,
        mime: str,
        data: bytes | None = None,
        path: Path | str | None = None,
        size: int | None = None,
        name: str | None = None,
        cleanup: bool = False,
        fd: int | None = None,
    ) -> None:
        if sum(x is not None for x in (data, path, fd)) != 1:
            raise ValueError("Blob needs exactly one of data, path or fd")
        self.fd = fd
        if fd is not None:  # descriptor-backed: owns fd, size from fstat
            self.mime, self.data, self.path, self.name, self.cleanup = mime, None, None, name, False
            self.size = os.fstat(fd).st_size if size is None else size
            self._finalizer = weakref.finalize(self, _close_quietly, fd)
            return
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
    def open(self) -> IO[bytes]:
        """A fresh binary reader positioned at 0 (in memory, through the descriptor, or the file).

        Readers of a blob use this, never ``open(blob.path)``: a descriptor-backed blob has no
        path to re-open.
        """
        if self.data is not None:
            return io.BytesIO(self.data)
        return self._open()

    def _open(self) -> IO[bytes]:
        if self.fd is not None:
            if self._finalizer is not None and not self._finalizer.alive:
                raise ValueError("blob is closed")
            return io.BufferedReader(_FdReader(self.fd, self.size))
        if self.path is None:
            raise ValueError("blob is not file-backed")
        return open(self.path, "rb")

    def read_bytes(self) -> bytes:
        """All bytes (for a file-backed blob this reads the whole file: avoid for big media)."""
        if self.data is not None:
            return self.data
        if self.fd is not None:
            with self._open() as f:
                return f.read()
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
        """Delete the temp file when this blob owns it, close its descriptor; harmless twice."""
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> Blob:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        where = (
            f"path={str(self.path)!r}"
            if self.path is not None
            else f"fd={self.fd}"
            if self.fd is not None
            else "inline"
        )
        nm = f", name={self.name!r}" if self.name else ""
        return f"Blob({self.mime}, {self.size} bytes, {where}{nm})"
