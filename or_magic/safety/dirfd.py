"""Directory-descriptor walks: the race-free half of the path sandboxes.

A ``realpath`` check followed by an ``open`` by path is a TOCTOU race: a directory (or the file)
swapped for a symlink in between redirects the open outside the sandbox. Here the root is opened
once as a directory descriptor and every component below it is opened *relative to the previous
descriptor* with ``O_NOFOLLOW`` (``O_DIRECTORY`` for directories), so a symlink anywhere on the way
makes the walk fail instead of leaving the root; missing output directories are created with
``os.mkdir(dir_fd=)`` and re-opened the same way. Whatever is read or written afterwards goes
through the descriptors the walk returned, never through the path string again.

``DIR_FD_SUPPORTED`` says whether this platform can do that (Linux, macOS and the BSDs can;
Windows cannot: ``os.open`` has no ``dir_fd`` there). Callers fall back to a path-based open with a
``realpath`` re-check, which narrows the race but does not close it (README, Security).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence

from ..errors import ErrorCode, ToolError, os_error

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_NOCTTY = getattr(os, "O_NOCTTY", 0)

DIR_FD_SUPPORTED: bool = (
    os.name == "posix"
    and bool(_O_NOFOLLOW and _O_DIRECTORY)
    and all(f in os.supports_dir_fd for f in (os.open, os.mkdir, os.rename, os.unlink, os.stat))
)
"""True when every sandboxed open/mkdir/rename/unlink can be made relative to a directory fd."""

DIR_FLAGS = os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC
# O_NONBLOCK: opening a FIFO must not hang (it is refused after fstat); harmless for regular files.
FILE_FLAGS = (
    os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC | _O_NONBLOCK | _O_NOCTTY | getattr(os, "O_BINARY", 0)
)


def split_below(path: str, root: str) -> list[str]:
    """The components of ``path`` below ``root`` (both absolute and already real).

    Raises ``UNSAFE_PATH`` for a path not below the root: the walk never takes ``..``.
    """
    rel = os.path.relpath(path, root)
    if rel == os.curdir:
        return []
    parts = rel.split(os.sep)
    if any(p in ("", os.curdir, os.pardir) for p in parts):
        raise ToolError(
            ErrorCode.UNSAFE_PATH,
            "the path leaves the sandbox root",
            details={"reason": "outside_root"},
        )
    return parts


def open_root(root: str) -> int:
    """A descriptor for the sandbox root itself (the configured root may be a symlink: trusted)."""
    return os.open(root, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)


def _raced(name: str, what: str) -> ToolError:
    return ToolError(
        ErrorCode.UNSAFE_PATH,
        f"{what}: {name!r} is a symlink (or was swapped for one during the call); refusing to "
        "follow it",
        details={"reason": "symlink_in_path", "component": name},
    )


def _classify(exc: OSError, parent_fd: int, name: str, what: str) -> ToolError:
    """A coded error for a failed component open: a symlink is UNSAFE_PATH, the rest not."""
    try:
        st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    except OSError:
        st = None
    if exc.errno == errno.ELOOP or (st is not None and stat.S_ISLNK(st.st_mode)):
        return _raced(name, what)
    if exc.errno == errno.ENOENT:
        return ToolError(
            ErrorCode.INVALID_INPUT,
            f"{what}: {name!r} does not exist",
            details={"reason": "missing"},
        )
    if exc.errno == errno.ENOTDIR:
        return ToolError(
            ErrorCode.INVALID_INPUT,
            f"{what}: {name!r} is not a directory",
            details={"reason": "not_a_directory"},
        )
    return os_error(
        ErrorCode.INVALID_INPUT,
        f"{what}: cannot open {name!r}",
        exc,
        details={"reason": "os_error"},
    )


def walk_dirs(root_fd: int, parts: Sequence[str], *, create: bool, what: str) -> int:
    """A new descriptor for ``root/parts...``, never following a symlink; ``create`` makes
    missing directories. The caller closes the result (``root_fd`` stays open)."""
    cur = os.dup(root_fd)
    try:
        for name in parts:
            try:
                nxt = os.open(name, DIR_FLAGS, dir_fd=cur)
            except FileNotFoundError as exc:
                if not create:
                    raise _classify(exc, cur, name, what) from None
                try:
                    os.mkdir(name, 0o777, dir_fd=cur)
                except FileExistsError:
                    pass  # created meanwhile: the O_NOFOLLOW open below decides
                except OSError as mexc:
                    raise os_error(
                        ErrorCode.INVALID_INPUT,
                        f"{what}: cannot create directory {name!r}",
                        mexc,
                        details={"reason": "mkdir_failed"},
                    ) from None
                try:
                    nxt = os.open(name, DIR_FLAGS, dir_fd=cur)
                except OSError as exc2:
                    raise _classify(exc2, cur, name, what) from None
            except OSError as exc:
                raise _classify(exc, cur, name, what) from None
            os.close(cur)
            cur = nxt
        return cur
    except BaseException:
        os.close(cur)
        raise


def open_file_below(root: str, parts: Sequence[str], *, what: str) -> tuple[int, os.stat_result]:
    """Open ``root/parts...`` read-only without following any symlink; ``fstat`` it.

    Returns ``(fd, stat)``; the caller checks the file type and owns the descriptor.
    """
    if not parts:
        raise ToolError(  # details like every refusal here: callers read and extend them
            ErrorCode.INVALID_INPUT,
            f"{what}: names the input root itself, a directory, not a file",
            details={"reason": "input_root"},
        )
    root_fd = open_root(root)
    try:
        dir_fd = walk_dirs(root_fd, parts[:-1], create=False, what=what)
    finally:
        os.close(root_fd)
    try:
        try:
            fd = os.open(parts[-1], FILE_FLAGS, dir_fd=dir_fd)
        except OSError as exc:
            raise _classify(exc, dir_fd, parts[-1], what) from None
    finally:
        os.close(dir_fd)
    try:
        return fd, os.fstat(fd)
    except BaseException:
        os.close(fd)
        raise
