"""Atomic file writes: nothing is ever left half-written at the final path.

Data goes to ``.<name>.<random>.part`` in the target directory, opened with ``O_CREAT|O_EXCL``
(and ``O_NOFOLLOW``), so a pre-planted file or symlink at the temp name cannot be hijacked; it is
fsynced, then ``os.replace``d over the target (which replaces a symlink rather than writing
through it). Any failure, cancellation or Ctrl-C removes the temp file and leaves the previous
content of the target untouched.

Given the sandbox ``root`` (``paths.output_sandbox_root``), the target directory is opened once,
component by component below the root descriptor without following symlinks (``dirfd.py``), and
the temp file is created, renamed and (on failure) unlinked *relative to that descriptor*: a
directory swapped for a symlink mid-call cannot redirect any byte outside the root. Without
``dir_fd`` support (Windows) the directory's ``realpath`` is re-checked before the rename instead
(narrower window, no guarantee). Without ``root`` (the explicit bypass, or a caller-chosen path)
the directory is still opened once, so the temp file and the rename stay in one directory.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from ..errors import ErrorCode, ToolError, os_error
from . import dirfd

_FLAGS = (
    os.O_CREAT
    | os.O_EXCL
    | os.O_RDWR  # read back for sniffing / inline results through the same descriptor
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
# Temp names keep at most this many characters of the target name, so a target name near
# NAME_MAX still gets a valid temp name (4 bytes a character at most: 4*48 + 19 < 255).
_TMP_STEM_CHARS = 48

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
    coroutines; or call ``open()``, ``write()``, ``commit()`` / ``abort()`` yourself. ``root``
    confines the directory walk to a sandbox root (module docstring). ``path`` may be renamed
    before ``commit()`` as long as the directory stays the same (extension correction).
    """

    def __init__(
        self, path: str | os.PathLike[str], *, mode: int = 0o666, root: str | None = None
    ) -> None:
        self.path = Path(path)
        self.mode = mode
        self.root = root
        self.tmp_path: Path | None = None
        self.size = 0
        self._fd: int | None = None
        self._dir_fd: int | None = None
        self._dir = self.path.parent
        self._done = False
        self._kept: str | None = None  # commit(keep_previous=True): the old target's hidden link
        self._keeping = False
        self._aside = False  # the previous file was moved to _kept (no hard links), not linked

    def _open_dir(self) -> int | None:
        directory = os.path.abspath(self._dir)
        if not dirfd.DIR_FD_SUPPORTED:
            if self.root is not None:
                self._check_fallback()
            return None
        if self.root is None:
            try:
                return os.open(directory, dirfd.DIR_FLAGS & ~getattr(os, "O_NOFOLLOW", 0))
            except OSError as exc:
                raise os_error(
                    ErrorCode.INVALID_INPUT,
                    f"cannot write to {directory}",
                    exc,
                    details={"directory": directory},
                ) from None
        parts = dirfd.split_below(directory, self.root)
        root_fd = dirfd.open_root(self.root)
        try:
            return dirfd.walk_dirs(root_fd, parts, create=True, what=f"cannot write to {directory}")
        finally:
            os.close(root_fd)

    def _check_fallback(self) -> None:
        """No dir_fd: the directory must still resolve inside the root (a narrower race)."""
        from .paths import is_within

        assert self.root is not None
        if not is_within(os.path.realpath(self._dir), self.root):
            raise ToolError(
                ErrorCode.UNSAFE_PATH,
                f"{self._dir} left the output root ({self.root}) during the call",
                details={"reason": "changed_during_write", "root": self.root},
            )

    def open(self) -> AtomicFile:
        if self._fd is not None or self._done:
            raise RuntimeError("AtomicFile already opened")
        self._dir_fd = self._open_dir()
        stem = self.path.name[:_TMP_STEM_CHARS]
        for _ in range(16):
            name = f".{stem}.{secrets.token_hex(6)}.part"
            try:
                if self._dir_fd is not None:
                    self._fd = os.open(name, _FLAGS, self.mode, dir_fd=self._dir_fd)
                else:
                    self._fd = os.open(self._dir / name, _FLAGS, self.mode)
            except FileExistsError:
                continue
            except OSError as exc:
                self._close_dir()
                raise os_error(
                    ErrorCode.INVALID_INPUT,
                    f"cannot write to {self._dir}",
                    exc,
                    details={"directory": str(self._dir)},
                ) from None
            self.tmp_path = self._dir / name
            return self
        self._close_dir()
        raise ToolError(ErrorCode.INTERNAL, f"could not create a temporary file in {self._dir}")

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

    def read_back(self, n: int | None = None) -> bytes:
        """The first ``n`` bytes written so far (all when ``None``), read through the temp
        file's own descriptor (never by its name, which could be swapped)."""
        if self._fd is None:
            raise RuntimeError("AtomicFile is not open")
        want = self.size if n is None else min(n, self.size)
        out = bytearray()
        while len(out) < want:
            if hasattr(os, "pread"):
                piece = os.pread(self._fd, want - len(out), len(out))
            else:  # pragma: no cover - Windows
                os.lseek(self._fd, len(out), os.SEEK_SET)
                piece = os.read(self._fd, want - len(out))
            if not piece:
                break
            out += piece
        if not hasattr(os, "pread"):  # pragma: no cover - Windows: appends continue at the end
            os.lseek(self._fd, 0, os.SEEK_END)
        return bytes(out)

    def commit(self, *, keep_previous: bool = False) -> Path:
        """fsync, rename over the target, fsync the directory; returns the final path.

        ``keep_previous``: a file already at the target is first hard-linked to a hidden name in
        the same directory, so ``undo()`` can put it back (a group of files saved all-or-nothing
        must not destroy what a later failure makes it roll back over); ``finish()`` drops it.
        The directory descriptor stays open until then, so both act inside the same verified
        directory.
        """
        if self._fd is None or self.tmp_path is None:
            raise RuntimeError("AtomicFile is not open")
        if self.path.parent != self._dir:
            self.abort()
            raise ToolError(ErrorCode.INTERNAL, "an atomic write cannot change directory")
        try:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
            if self._dir_fd is None and self.root is not None:
                self._check_fallback()
            if keep_previous:
                self._kept = self._link_previous()
            self._rename(self.tmp_path.name, self.path.name)
        except BaseException:
            if self._aside:  # the target was moved aside and not replaced: move it back
                self._put_back()
                self._kept = None  # if that failed, it stays under the hidden name, not deleted
            self._drop_kept()
            self.abort()
            raise
        self.tmp_path = None
        self._done = True
        self._keeping = keep_previous
        if self._dir_fd is not None:
            try:
                os.fsync(self._dir_fd)
            except OSError:
                pass
            if not keep_previous:
                self._close_dir()
        else:
            _fsync_dir(self.path.parent)
        return self.path

    def undo(self) -> None:
        """After ``commit(keep_previous=True)``: put the previous file back (or remove the new
        one when there was none), then release the directory. Best effort: a rollback step."""
        if not self._keeping:
            return
        try:
            if self._kept is not None:
                self._put_back()
                self._kept = None  # if that failed, it stays under the hidden name, not deleted
            else:
                self._unlink(self.path.name)
        except OSError:
            pass
        self.finish()

    def finish(self) -> None:
        """After ``commit(keep_previous=True)``: the save stands; drop the kept previous file."""
        self._drop_kept()
        self._keeping = False
        self._close_dir()

    def _link_previous(self) -> str | None:
        name = f".{self.path.name[:_TMP_STEM_CHARS]}.{secrets.token_hex(6)}.prev"
        kw: dict[str, Any] = {"follow_symlinks": False}
        if self._dir_fd is not None:
            kw.update(src_dir_fd=self._dir_fd, dst_dir_fd=self._dir_fd)
            src, dst = self.path.name, name
        else:
            src, dst = str(self.path), str(self._dir / name)
        try:
            os.link(src, dst, **kw)
        except FileNotFoundError:
            return None  # nothing there yet: undo() removes the new file
        except OSError:  # no hard links on this file system: move it aside instead
            try:
                self._rename(self.path.name, name)
            except FileNotFoundError:
                return None
            self._aside = True
        return name

    def _put_back(self) -> None:
        """The kept previous file back at the target (best effort: a rollback step)."""
        try:
            self._rename(self._kept, self.path.name)  # type: ignore[arg-type]
            self._kept = None
        except OSError:
            pass

    def _drop_kept(self) -> None:
        if self._kept is not None:
            try:
                self._unlink(self._kept)
            except OSError:
                pass
            self._kept = None

    def _rename(self, src: str, dst: str) -> None:
        """Rename between two names of this directory (relative to its descriptor when held)."""
        if self._dir_fd is not None:
            os.replace(src, dst, src_dir_fd=self._dir_fd, dst_dir_fd=self._dir_fd)
        else:
            os.replace(self._dir / src, self._dir / dst)

    def _unlink(self, name: str) -> None:
        if self._dir_fd is not None:
            os.unlink(name, dir_fd=self._dir_fd)
        else:
            os.unlink(self._dir / name)

    def abort(self) -> None:
        """Drop the temp file (harmless to call twice, or after commit)."""
        if self._dir_fd is not None and self.tmp_path is not None:
            discard_temp(self._fd, self.tmp_path.name, dir_fd=self._dir_fd)
        else:
            discard_temp(self._fd, self.tmp_path)
        self._fd, self.tmp_path = None, None
        self._close_dir()
        self._done = True

    def _close_dir(self) -> None:
        if self._dir_fd is not None:
            try:
                os.close(self._dir_fd)
            except OSError:
                pass
            self._dir_fd = None

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
            if self.tmp_path is not None or self._dir_fd is not None:
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
    path: str | os.PathLike[str],
    data: bytes | bytearray | memoryview | Iterable[bytes],
    *,
    root: str | None = None,
) -> Path:
    """Write ``data`` (bytes, or an iterable of chunks) to ``path`` atomically (inside ``root``)."""
    with AtomicFile(path, root=root) as f:
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


def discard_temp(
    fd: int | None, path: str | os.PathLike[str] | None, *, dir_fd: int | None = None
) -> None:
    """Close ``fd`` and delete ``path`` (relative to ``dir_fd`` when given), quietly: the cleanup
    of every failed or cancelled write."""
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass
    if path is not None:
        try:
            if dir_fd is not None:
                os.unlink(path, dir_fd=dir_fd)
            else:
                os.unlink(path)
        except FileNotFoundError:
            pass
