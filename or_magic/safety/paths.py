"""Input and output path sandboxes.

Inputs (local media files) must stay under ``OPENROUTER_INPUT_DIR`` (else ``OPENROUTER_OUTPUT_DIR``,
else the working directory); outputs (``save_path``) under ``OPENROUTER_OUTPUT_DIR``. Both compare
*real* paths, so ``..``, absolute paths elsewhere and symlinks pointing out are refused with
``UNSAFE_PATH`` before anything is read, sent or paid for. ``OPENROUTER_ALLOW_UNSAFE_PATHS=1`` is
the one explicit bypass. Unlike the Node server, the output root is created when missing and a
symlink as the final ``save_path`` component is refused (tool-surface.md §10, bugs 4 and 5).
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ErrorCode, ToolError
from ..redact import redact

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


def _first_existing_ancestor(p: str) -> str:
    cur = p
    while not os.path.lexists(cur):
        parent = os.path.dirname(cur)
        if parent == cur:
            break
        cur = parent
    return cur


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
    return "the working directory"


def _root_real(root: Path) -> str:
    return os.path.realpath(os.path.abspath(os.fspath(root)))


def resolve_input_path(path: PathArg, settings: Settings, *, label: str = "path") -> Path:
    """The real path of an existing regular file inside the input sandbox.

    Relative paths are taken from the sandbox root; ``~`` is not expanded. Containment is checked
    on the realpath (symlinked files and parents included) *before* existence, so probing for
    files outside the root only ever says ``UNSAFE_PATH``.
    """
    s = _as_str(path)
    _check_nul(s, label)
    if not s.strip():
        raise ToolError(ErrorCode.INVALID_INPUT, f"{label} is empty")
    if settings.allow_unsafe_paths:
        # Bypass: no containment check, but relative paths still start at the input root.
        real = os.path.realpath(os.path.join(_root_real(settings.input_root), s))
    else:
        root_real = _root_real(settings.input_root)
        candidate = s if os.path.isabs(s) else os.path.join(root_real, s)
        if not os.path.isdir(root_real) and is_within(os.path.abspath(candidate), root_real):
            # Nothing can exist under a missing root; say so instead of blaming a symlink.
            raise ToolError(
                ErrorCode.INVALID_INPUT,
                f"file not found: {_shown(s)} (the input root {root_real} does not exist)",
                details={"path": _shown(s), "root": root_real, "reason": "missing_root"},
            )
        real = os.path.realpath(candidate)
        anc_real = os.path.realpath(_first_existing_ancestor(os.path.abspath(candidate)))
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
    try:
        st = os.stat(real)
    except FileNotFoundError:
        raise ToolError(
            ErrorCode.INVALID_INPUT, f"file not found: {_shown(s)}", details={"path": _shown(s)}
        ) from None
    except OSError as exc:
        raise ToolError(
            ErrorCode.INVALID_INPUT,
            f"cannot access {_shown(s)}: {exc.strerror or exc}",
            details={"path": _shown(s)},
        ) from None
    if stat.S_ISDIR(st.st_mode):
        raise ToolError(
            ErrorCode.INVALID_INPUT,
            f"{label} {_shown(s)} is a directory, not a file",
            details={"path": _shown(s)},
        )
    if not stat.S_ISREG(st.st_mode):  # FIFOs and devices could block or never end
        raise ToolError(
            ErrorCode.INVALID_INPUT,
            f"{label} {_shown(s)} is not a regular file",
            details={"path": _shown(s)},
        )
    return Path(real)


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
        raise ToolError(
            ErrorCode.INVALID_INPUT,
            f"cannot create the directory for {label}: {exc.strerror or exc}",
            details={"directory": _shown(d)},
        ) from None


def resolve_output_path(path: PathArg, settings: Settings, *, label: str = "save_path") -> Path:
    """Where to write ``path``: real parent directory inside the output root, plus the file name.

    Creates the root and missing parent directories (only inside the root). Refuses traversal,
    absolute paths outside, symlinked parents and a symlink as the final component. The returned
    path may already exist as a regular file: writers replace it atomically (``atomic.py``).
    """
    s = _as_str(path)
    _check_nul(s, label)
    if not s.strip():
        raise ToolError(ErrorCode.INVALID_INPUT, f"{label} is empty")
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
        _mkdirs(os.path.dirname(candidate), label)
        return Path(candidate)
    _mkdirs(root, "OPENROUTER_OUTPUT_DIR")
    root_real = os.path.realpath(root)
    candidate = s if os.path.isabs(s) else os.path.join(root_real, s)
    lexical = os.path.abspath(candidate)
    if not is_within(lexical, root_real):
        raise _outside_output(label, s, root_real, symlink=False)
    parent = os.path.dirname(lexical)
    anc_real = os.path.realpath(_first_existing_ancestor(parent))
    if not is_within(anc_real, root_real) or not is_within(os.path.realpath(parent), root_real):
        raise _outside_output(label, s, root_real, symlink=True)
    _mkdirs(parent, label)
    parent_real = os.path.realpath(parent)  # re-check: a symlink may have appeared meanwhile
    if not is_within(parent_real, root_real):
        raise _outside_output(label, s, root_real, symlink=True)
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
    return Path(final)
