"""Atomic file writes: nothing is ever left half-written at the final path.

Data goes to ``.<name>.<random>.part`` in the target directory, opened with ``O_CREAT|O_EXCL``
(and ``O_NOFOLLOW``), so a pre-planted file or symlink at the temp name cannot be hijacked; it is
fsynced, then ``os.replace``d over the target (which replaces a symlink rather than writing
through it). Any failure, cancellation or Ctrl-C removes the temp file and leaves the previous
content of the target untouched.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from ..errors import ErrorCode, ToolError

_FLAGS = (
    os.O_CREAT
    | os.O_EXCL
    | os.O_WRONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)

# Extensions that mean the same format: a save_path ending in any of them is left alone.
_EXT_ALIASES = (
    frozenset({"jpg", "jpeg", "jpe"}),
    frozenset({"tif", "tiff"}),
    frozenset({"mpg", "mpeg"}),
    frozenset({"aif", "aiff"}),
    frozenset({"htm", "html"}),
)


class AtomicFile:
    """A file that appears at ``path`` only on ``commit()``.

    Use ``with AtomicFile(p) as f: f.write(chunk)`` (commits on a clean exit, aborts on any
    exception including ``CancelledError`` and ``KeyboardInterrupt``), or ``async with`` in
    coroutines; or call ``open()``, ``write()``, ``commit()`` / ``abort()`` yourself.
    """

    def __init__(self, path: str | os.PathLike[str], *, mode: int = 0o666) -> None:
        self.path = Path(path)
        self.mode = mode
        self.tmp_path: Path | None = None
        self.size = 0
        self._fd: int | None = None
        self._done = False

    def open(self) -> AtomicFile:
        if self._fd is not None or self._done:
            raise RuntimeError("AtomicFile already opened")
        directory = self.path.parent
        for _ in range(16):
            tmp = directory / f".{self.path.name}.{secrets.token_hex(6)}.part"
            try:
                self._fd = os.open(tmp, _FLAGS, self.mode)
            except FileExistsError:
                continue
            except OSError as exc:
                raise ToolError(
                    ErrorCode.INVALID_INPUT,
                    f"cannot write to {directory}: {exc.strerror or exc}",
                    details={"directory": str(directory)},
                ) from None
            self.tmp_path = tmp
            return self
        raise ToolError(ErrorCode.INTERNAL, f"could not create a temporary file in {directory}")

    def write(self, chunk: bytes | bytearray | memoryview) -> int:
        if self._fd is None:
            raise RuntimeError("AtomicFile is not open")
        view = memoryview(chunk)
        total = len(view)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        self.size += total
        return total

    def commit(self) -> Path:
        """fsync, rename over the target, fsync the directory; returns the final path."""
        if self._fd is None or self.tmp_path is None:
            raise RuntimeError("AtomicFile is not open")
        try:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
            os.replace(self.tmp_path, self.path)
        except BaseException:
            self.abort()
            raise
        self.tmp_path = None
        self._done = True
        _fsync_dir(self.path.parent)
        return self.path

    def abort(self) -> None:
        """Drop the temp file (harmless to call twice, or after commit)."""
        discard_temp(self._fd, self.tmp_path)
        self._fd, self.tmp_path = None, None
        self._done = True

    @property
    def committed(self) -> bool:
        return self._done and self.tmp_path is None and self._fd is None

    # ---- context managers (sync and async share the logic) ---------------------------------
    def __enter__(self) -> AtomicFile:
        if self._fd is None:
            self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None and self._fd is not None:
            self.commit()
        else:
            self.abort()

    async def __aenter__(self) -> AtomicFile:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __del__(self) -> None:  # last resort: never leave a .part behind
        try:
            if self.tmp_path is not None:
                self.abort()
        except Exception:
            pass


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(
    path: str | os.PathLike[str], data: bytes | bytearray | memoryview | Iterable[bytes]
) -> Path:
    """Write ``data`` (bytes, or an iterable of chunks) to ``path`` atomically."""
    with AtomicFile(path) as f:
        if isinstance(data, (bytes, bytearray, memoryview)):
            f.write(data)
        else:
            for chunk in data:
                f.write(chunk)
    return Path(path)


def with_extension(path: str | os.PathLike[str], ext: str) -> Path:
    """``path`` with its extension replaced by ``ext`` (``"png"`` or ``".png"``).

    Only the last suffix changes (``a.tar.gz`` → ``a.tar.png``); a dotfile without a suffix keeps
    its name and gains one (``.hidden`` → ``.hidden.png``); an equivalent spelling is kept
    (``x.jpeg`` stays for ``jpg``) and so is the case of a matching suffix (``X.PNG``).
    """
    p = Path(path)
    want = ext.lower().lstrip(".")
    if not want:
        return p
    name = p.name.rstrip(".") or p.name
    stem, dot, current = name.rpartition(".")
    if not dot or not stem.strip("."):  # no suffix, or a dotfile like ".bashrc"
        stem, current = name, ""
    cur = current.lower()
    if cur == want or any(cur in group and want in group for group in _EXT_ALIASES):
        return p.with_name(name)
    return p.with_name(f"{stem}.{want}")


def discard_temp(fd: int | None, path: str | os.PathLike[str] | None) -> None:
    """Close ``fd`` and delete ``path``, quietly: the cleanup of every failed or cancelled write."""
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass
    if path is not None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
