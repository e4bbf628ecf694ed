"""Input and output path sandboxes.

Inputs (local media files) must stay under ``OPENROUTER_INPUT_DIR`` (else ``OPENROUTER_OUTPUT_DIR``,
else the working directory, or a per-user data directory when that is ``/`` or a system
directory: ``config.default_root``); outputs (``save_path``) under ``OPENROUTER_OUTPUT_DIR``. Both
compare *real* paths first, so ``..``, absolute paths elsewhere and symlinks pointing out are
refused with ``UNSAFE_PATH`` (with a helpful message) before anything is read, sent or paid for.

The comparison alone is a race (check, then open by path). So the opens themselves are made
race-free where the platform allows (``dirfd.DIR_FD_SUPPORTED``): ``open_input`` walks from the
root descriptor with ``O_NOFOLLOW`` and returns the descriptor it checked with ``fstat`` (readers
use that descriptor only); output directories are created the same way and ``atomic.AtomicFile``
creates and renames its temp file inside the verified directory descriptor. Elsewhere (Windows)
the path is re-checked with ``realpath`` right before use: a narrower window, not none.

Hard links are accepted: a hard link inside the root *is* a file inside the root (the sandbox is
about names, and a hard link can only be made by someone who can already read the file, with the
Linux default ``fs.protected_hardlinks=1``). ``OPENROUTER_ALLOW_UNSAFE_PATHS=1`` is the one
explicit bypass. Shapes no filesystem takes (names over ``NAME_MAX``, paths over ``PATH_MAX``,
more than ``MAX_DEPTH`` levels, control characters in a save_path) are ``INVALID_INPUT`` here,
before any request.
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ErrorCode, ToolError, os_error
from ..redact import redact
from . import dirfd

if TYPE_CHECKING:
    from ..config import Settings

PathArg = str | os.PathLike  # type: ignore[type-arg]

_WINDOWS = sys.platform == "win32"


def _shown(p: object) -> str:
    s = os.fsdecode(p) if isinstance(p, (bytes, os.PathLike)) else str(p)  # type: ignore[arg-type]
    return redact(s if len(s) <= 200 else s[:197] + "...")


def _as_str(path: PathArg) -> str:
    try:
        s = os.fsdecode(os.fspath(path))
    except TypeError:
        raise ToolError(ErrorCode.INVALID_INPUT, f"not a path: {type(path).__name__}") from None
    return s


def _norm(p: str) -> str:
    return os.path.normcase(p) if _WINDOWS else p


def is_within(path: str, root: str) -> bool:
    """``path`` equals ``root`` or lies below it (both already real; case-insensitive on Windows)."""
    path, root = _norm(path), _norm(root)
    if path == root:
        return True
    prefix = root if root.endswith(os.sep) else root + os.sep
    return path.startswith(prefix)


def _realpath(p: str) -> str:
    """``os.path.realpath`` that turns a path changing under it (a symlink removed between its
    ``lstat`` and ``readlink``) into a coded refusal instead of a bare ``OSError``."""
    for _ in range(3):
        try:
            return os.path.realpath(p)
        except OSError:
            continue
    raise ToolError(
        ErrorCode.UNSAFE_PATH,
        "the path changed while it was being checked (a symlink or directory was swapped)",
        details={"reason": "changed_during_check"},
    )


def _first_existing_ancestor(p: str) -> str:
    cur = p
    while not os.path.lexists(cur):
        parent = os.path.dirname(cur)
        if parent == cur:
            break
        cur = parent
    return cur


def _expand_home(s: str) -> str:
    """``~`` / ``~user`` as a shell expands them: in a notebook ``~/x.png`` means the home
    directory, not a folder named ``~`` under the root.

    Only expanded, never trusted: the sandbox check that follows applies to the expanded path, so
    a home outside the root is refused like any outside path (naming the expanded path), and it
    works when the root contains it. As in a shell, ``~name`` for no such user stays literal (a
    file called ``~draft.png``), and ``./~/x.png`` names a folder called ``~``.
    """
    if not s.startswith("~"):
        return s
    try:
        return os.path.expanduser(s)
    except (UnicodeError, ValueError):  # a user name no system has (``~\ud800``): literal, and
        return s  # the shape check that follows refuses it with a code


def _check_nul(s: str, label: str) -> None:
    if "\x00" in s:
        raise ToolError(
            ErrorCode.UNSAFE_PATH,
            f"{label} contains a NUL byte",
            details={"reason": "nul_byte"},
        )


def _input_root_source(settings: Settings) -> str:
    if settings.input_dir is not None:
        return "OPENROUTER_INPUT_DIR"
    if settings.output_dir is not None:
        return "OPENROUTER_OUTPUT_DIR"
    from ..config import unsuitable_cwd

    if unsuitable_cwd(os.getcwd()):
        return "the per-user default: the working directory is not a project folder"
    return "the working directory"


def _root_real(root: Path) -> str:
    return _realpath(os.path.abspath(os.fspath(root)))


MAX_DEPTH = 64
"""Most directory levels a path may have (``"a/" * 100000`` is refused, not recursed into)."""
NAME_RESERVE = 12
"""Bytes a ``save_path`` file name keeps free for ``-2`` numbering and an extension correction."""
_DEFAULT_NAME_MAX = 255
_DEFAULT_PATH_MAX = 4096
_WINDOWS_BAD = set('<>:"|?*')
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)
}


def _pathconf(path: str, name: str, default: int) -> int:
    try:
        value = os.pathconf(path, name)  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return default
    return value if isinstance(value, int) and value > 0 else default


def _shape_error(label: str, msg: str, reason: str, **details: object) -> ToolError:
    return ToolError(
        ErrorCode.INVALID_INPUT, f"{label} {msg}", details={"reason": reason, **details}
    )


def check_path_shape(
    s: str, label: str, *, base: str, reserve: int = 0, strict_chars: bool = False
) -> None:
    """Refuse, without touching the filesystem beyond ``pathconf``, paths no filesystem accepts.

    ``base`` is the directory the limits are read from (the sandbox root). ``reserve`` keeps room
    in the final name for what a tool may add (``-2``, a corrected extension). ``strict_chars``
    (outputs) also refuses control characters, and on Windows the reserved characters and names.
    """
    try:
        encoded = os.fsencode(s)
    except UnicodeError:
        raise _shape_error(label, "cannot be encoded as a file name", "bad_character") from None
    path_max = _pathconf(base, "PC_PATH_MAX", _DEFAULT_PATH_MAX)
    full = len(encoded) + (0 if os.path.isabs(s) else len(os.fsencode(base)) + 1)
    if full >= path_max:
        raise _shape_error(
            label,
            f"is too long ({full} bytes with the root; the limit is {path_max - 1})",
            "path_too_long",
            limit_bytes=path_max - 1,
        )
    parts = (
        [p for p in s.replace("\\", "/").split("/") if p]
        if _WINDOWS
        else [p for p in s.split("/") if p]
    )
    if len(parts) > MAX_DEPTH:
        raise _shape_error(
            label, f"is {len(parts)} levels deep; at most {MAX_DEPTH} are accepted", "too_deep"
        )
    name_max = _pathconf(base, "PC_NAME_MAX", _DEFAULT_NAME_MAX)
    for i, part in enumerate(parts):
        room = name_max - (reserve if i == len(parts) - 1 else 0)
        size = len(os.fsencode(part))
        if size > room:
            extra = (
                f" (leaving {reserve} for numbering/extension)"
                if reserve and room < name_max
                else ""
            )
            raise _shape_error(
                label,
                f"has a name of {size} bytes; the filesystem allows {room}{extra}",
                "name_too_long",
                limit_bytes=room,
            )
        if strict_chars:
            if any(ord(c) < 32 or ord(c) == 127 for c in part):
                raise _shape_error(label, "contains a control character", "bad_character")
            if (
                _WINDOWS
                and part not in (".", "..")
                and (
                    (
                        _WINDOWS_BAD & set(part)
                        and not (i == 0 and len(part) == 2 and part[1] == ":")
                    )
                    or part.split(".", 1)[0].upper() in _WINDOWS_RESERVED
                    or part[-1] in " ."
                )
            ):
                raise _shape_error(
                    label, f"has a name Windows refuses: {_shown(part)}", "bad_character"
                )


@dataclass
class InputFile:
    """An input opened once inside the sandbox: read from ``fd`` only (the caller closes it)."""

    fd: int
    path: Path
    size: int
    st: os.stat_result

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


def _not_regular(label: str, s: str, st: os.stat_result) -> ToolError | None:
    if stat.S_ISDIR(st.st_mode):
        return ToolError(
            ErrorCode.INVALID_INPUT,
            f"{label} {_shown(s)} is a directory, not a file",
            details={"path": _shown(s)},
        )
    if not stat.S_ISREG(st.st_mode):  # FIFOs, devices, sockets could block or never end
        return ToolError(
            ErrorCode.INVALID_INPUT,
            f"{label} {_shown(s)} is not a regular file",
            details={"path": _shown(s), "reason": "not_regular"},
        )
    return None


def _input_real(s: str, settings: Settings, label: str) -> tuple[str, str | None]:
    """``(real path, real root or None for the bypass)`` after the containment check."""
    if settings.allow_unsafe_paths:
        # Bypass: no containment check, but relative paths still start at the input root.
        return _realpath(os.path.join(_root_real(settings.input_root), s)), None
    root_real = _root_real(settings.input_root)
    check_path_shape(s, label, base=root_real if os.path.isdir(root_real) else os.sep)
    candidate = s if os.path.isabs(s) else os.path.join(root_real, s)
    if not os.path.isdir(root_real) and is_within(os.path.abspath(candidate), root_real):
        # Nothing can exist under a missing root; say so instead of blaming a symlink.
        raise ToolError(
            ErrorCode.INVALID_INPUT,
            f"file not found: {_shown(s)} (the input root {root_real} does not exist)",
            details={"path": _shown(s), "root": root_real, "reason": "missing_root"},
        )
    real = _realpath(candidate)
    anc_real = _realpath(_first_existing_ancestor(os.path.abspath(candidate)))
    if not (is_within(real, root_real) and is_within(anc_real, root_real)):
        lexical_inside = is_within(os.path.abspath(candidate), root_real)
        source = _input_root_source(settings)
        how = (
            "escapes the input sandbox via a symlink"
            if lexical_inside
            else "resolves outside the input sandbox"
        )
        raise ToolError(
            ErrorCode.UNSAFE_PATH,
            f"{label} {_shown(s)!s} {how} ({root_real}, from {source}). Set "
            "OPENROUTER_INPUT_DIR to a wider root or OPENROUTER_ALLOW_UNSAFE_PATHS=1 to "
            "disable this check.",
            details={"path": _shown(s), "root": root_real, "reason": "outside_input_root"},
        )
    return real, root_real


def _open_plain(real: str, s: str) -> tuple[int, os.stat_result]:
    try:
        fd = os.open(real, dirfd.FILE_FLAGS)
    except FileNotFoundError:
        raise ToolError(
            ErrorCode.INVALID_INPUT, f"file not found: {_shown(s)}", details={"path": _shown(s)}
        ) from None
    except IsADirectoryError:
        raise ToolError(
            ErrorCode.INVALID_INPUT,
            f"path {_shown(s)} is a directory, not a file",
            details={"path": _shown(s)},
        ) from None
    except OSError as exc:
        raise os_error(
            ErrorCode.INVALID_INPUT, f"cannot access {_shown(s)}", exc, details={"path": _shown(s)}
        ) from None
    try:
        return fd, os.fstat(fd)
    except BaseException:
        os.close(fd)
        raise


def open_input(path: PathArg, settings: Settings, *, label: str = "path") -> InputFile:
    """Open an existing regular file inside the input sandbox, once, race-free.

    Relative paths are taken from the sandbox root; ``~`` is the home directory (``_expand_home``:
    then checked like any absolute path, so it must lie inside the root). Containment is checked
    on the realpath (symlinked files and parents included) *before* existence, so probing for
    files outside the root only ever says ``UNSAFE_PATH``. Then the real path is opened component
    by component from the root descriptor with ``O_NOFOLLOW``: if anything on the way was swapped
    for a symlink after the check, the open fails with ``UNSAFE_PATH`` instead of reading outside.
    The descriptor is ``fstat``-ed (regular files only). Read from ``InputFile.fd`` only.
    """
    s = _as_str(path)
    _check_nul(s, label)
    if not s.strip():
        raise ToolError(ErrorCode.INVALID_INPUT, f"{label} is empty")
    s = _expand_home(s)
    real, root_real = _input_real(s, settings, label)
    if root_real is None or not dirfd.DIR_FD_SUPPORTED:
        fd, st = _open_plain(real, s)
        if root_real is not None:
            # Weaker fallback (no dir_fd): the opened inode must still be the file the path names
            # now, and that path must still be inside the root.
            try:
                now = os.stat(_realpath(real))
                inside = is_within(_realpath(real), root_real)
            except OSError:
                now, inside = None, False
            if not inside or now is None or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                os.close(fd)
                raise ToolError(
                    ErrorCode.UNSAFE_PATH,
                    f"{label} {_shown(s)} changed while it was being opened",
                    details={"path": _shown(s), "reason": "changed_during_open"},
                )
    else:
        try:
            fd, st = dirfd.open_file_below(
                root_real, dirfd.split_below(real, root_real), what=f"{label} {_shown(s)}"
            )
        except ToolError as err:
            if err.details.get("reason") == "missing":
                raise ToolError(
                    ErrorCode.INVALID_INPUT,
                    f"file not found: {_shown(s)}",
                    details={"path": _shown(s)},
                ) from None
            if err.code is ErrorCode.UNSAFE_PATH:
                err.details.update(path=_shown(s), root=root_real)
            raise
    bad = _not_regular(label, s, st)
    if bad is not None:
        os.close(fd)
        raise bad
    return InputFile(fd=fd, path=Path(real), size=st.st_size, st=st)


def resolve_input_path(path: PathArg, settings: Settings, *, label: str = "path") -> Path:
    """The real path of an existing regular file inside the input sandbox (see ``open_input``).

    Only for callers that need a name: anything that *reads* the file must use ``open_input``
    and its descriptor, since a path can be swapped again after this returns.
    """
    f = open_input(path, settings, label=label)
    f.close()
    return f.path


def check_input_size(path: PathArg, cap: int, *, variable: str | None = None) -> int:
    """Size of a local file from ``stat`` (nothing read): over ``cap`` or empty is an error."""
    s = _as_str(path)
    try:
        size = os.stat(s).st_size
    except FileNotFoundError:
        raise ToolError(ErrorCode.INVALID_INPUT, f"file not found: {_shown(s)}") from None
    if size > cap:
        hint = f" ({variable})" if variable else ""
        raise ToolError(
            ErrorCode.RESOURCE_TOO_LARGE,
            f"{_shown(os.path.basename(s))} is {size} bytes, over the cap of {cap} bytes{hint}",
            details={"size_bytes": size, "limit_bytes": cap},
            suggestions=[f"Raise {variable} or use a smaller file"] if variable else [],
        )
    if size == 0:
        raise ToolError(
            ErrorCode.INVALID_INPUT, f"{_shown(os.path.basename(s))} is empty (0 bytes)"
        )
    return size


def _outside_output(label: str, s: str, root_real: str, *, symlink: bool) -> ToolError:
    if symlink:
        msg = f"{label} escapes OPENROUTER_OUTPUT_DIR ({root_real}) via symlink."
    else:
        msg = f"{label} resolves outside OPENROUTER_OUTPUT_DIR ({root_real})."
    return ToolError(
        ErrorCode.UNSAFE_PATH,
        msg + " Set OPENROUTER_OUTPUT_DIR to a wider root or OPENROUTER_ALLOW_UNSAFE_PATHS=1 to "
        "disable this check.",
        details={"path": _shown(s), "root": root_real, "reason": "outside_output_root"},
    )


def _mkdirs(d: str, label: str) -> None:
    try:
        os.makedirs(d, exist_ok=True)
    except OSError as exc:
        raise os_error(
            ErrorCode.INVALID_INPUT,
            f"cannot create the directory for {label}",
            exc,
            details={"directory": _shown(d)},
        ) from None


def output_sandbox_root(settings: Settings) -> str | None:
    """The real output root writes are confined to (``None`` under the explicit bypass)."""
    if settings.allow_unsafe_paths:
        return None
    return _realpath(os.path.abspath(os.fspath(settings.output_root)))


def _make_parent(parent: str, root_real: str, label: str, s: str) -> str:
    """Create the missing directories of ``parent`` (lexically inside the root) and return its
    real path. With ``dir_fd`` support every level is created and opened below the root
    descriptor without following symlinks; otherwise ``makedirs`` plus a ``realpath`` re-check."""
    if not dirfd.DIR_FD_SUPPORTED:
        _mkdirs(parent, label)
        parent_real = _realpath(parent)  # re-check: a symlink may have appeared meanwhile
        if not is_within(parent_real, root_real):
            raise _outside_output(label, s, root_real, symlink=True)
        return parent_real
    anc = _first_existing_ancestor(parent)
    anc_real = _realpath(anc)
    rest = [] if anc == parent else os.path.relpath(parent, anc).split(os.sep)
    parts = dirfd.split_below(anc_real, root_real) + rest
    root_fd = dirfd.open_root(root_real)
    try:
        fd = dirfd.walk_dirs(root_fd, parts, create=True, what=f"{label} {_shown(s)}")
        os.close(fd)
    except ToolError as err:
        err.details.update(path=_shown(s), root=root_real)
        raise
    finally:
        os.close(root_fd)
    return os.path.join(root_real, *parts) if parts else root_real


def resolve_output_path(
    path: PathArg, settings: Settings, *, label: str = "save_path", reserve: int = 0
) -> Path:
    """Where to write ``path``: real parent directory inside the output root, plus the file name.

    Creates the root and missing parent directories (only inside the root, race-free where
    ``dir_fd`` is supported). ``~`` is the home directory (``_expand_home``), checked like any
    path. Refuses traversal, absolute paths outside, symlinked parents, a symlink as the final
    component, an existing directory, names and paths the filesystem would refuse (``reserve``
    bytes of the name are kept free for numbering / an extension fix) and an unwritable
    directory: all before any request. The returned path may already exist as a
    regular file: writers replace it atomically inside the verified directory (``atomic.py``,
    given ``output_sandbox_root``).
    """
    s = _as_str(path)
    _check_nul(s, label)
    if not s.strip():
        raise ToolError(ErrorCode.INVALID_INPUT, f"{label} is empty")
    if len(s) > 2 * _DEFAULT_PATH_MAX:  # before any path function walks a hostile string
        raise _shape_error(label, f"is too long ({len(s)} characters)", "path_too_long")
    expanded = _expand_home(s)
    said = label if expanded == s else f"{label} {_shown(expanded)}"  # a refusal: where "~" led
    s = expanded
    name = os.path.basename(s)
    if not name or name in (".", "..") or s.endswith((os.sep, "/")):
        raise ToolError(
            ErrorCode.INVALID_INPUT,
            f"{label} {_shown(s)} names a directory; give a file name",
            details={"path": _shown(s)},
        )
    root = os.path.abspath(os.fspath(settings.output_root))
    if settings.allow_unsafe_paths:
        # Bypass: no containment check, but relative paths still start at the output root.
        candidate = os.path.abspath(s if os.path.isabs(s) else os.path.join(root, s))
        check_path_shape(s, label, base=_first_existing_ancestor(root), reserve=reserve)
        _mkdirs(os.path.dirname(candidate), label)
        return Path(candidate)
    _mkdirs(root, "OPENROUTER_OUTPUT_DIR")
    root_real = _realpath(root)
    check_path_shape(s, label, base=root_real, reserve=reserve, strict_chars=True)
    candidate = s if os.path.isabs(s) else os.path.join(root_real, s)
    lexical = os.path.abspath(candidate)
    if not is_within(lexical, root_real):
        raise _outside_output(said, s, root_real, symlink=False)
    parent = os.path.dirname(lexical)
    anc_real = _realpath(_first_existing_ancestor(parent))
    if not is_within(anc_real, root_real) or not is_within(_realpath(parent), root_real):
        raise _outside_output(said, s, root_real, symlink=True)
    parent_real = _make_parent(parent, root_real, label, s)
    final = os.path.join(parent_real, os.path.basename(lexical))
    if final == root_real or _norm(final) == _norm(root_real):
        raise ToolError(ErrorCode.INVALID_INPUT, f"{label} names the output directory itself")
    if os.path.islink(final):
        raise ToolError(
            ErrorCode.UNSAFE_PATH,
            f"{label} {_shown(s)} is a symlink; refusing to write through it. Remove it or choose "
            "another name (OPENROUTER_ALLOW_UNSAFE_PATHS=1 disables this check).",
            details={"path": _shown(s), "root": root_real, "reason": "symlink_final_component"},
        )
    if os.path.isdir(final):
        raise ToolError(
            ErrorCode.INVALID_INPUT,
            f"{label} {_shown(s)} is an existing directory; give a file name",
            details={"path": _shown(s)},
        )
    if hasattr(os, "geteuid") and not os.access(parent_real, os.W_OK | os.X_OK):
        raise ToolError(
            ErrorCode.INVALID_INPUT,
            f"{label} {_shown(s)}: the directory is not writable",
            details={"path": _shown(s), "reason": "not_writable"},
        )
    return Path(final)
