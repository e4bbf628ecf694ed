"""The sandbox root when neither ``OPENROUTER_OUTPUT_DIR`` nor ``OPENROUTER_INPUT_DIR`` is set.

The working directory, unless it is no project folder (``/``, a drive root, a system directory):
an MCP host that spawns the server in ``/`` must not make the sandbox the whole filesystem, so then
a per-user data directory is used instead and said once on stderr.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

# Working directories that are never a project folder: exact matches, and (second set) trees.
_SYSTEM_DIRS = frozenset({"/", "/usr", "/var", "/opt", "/home", "/Users", "/tmp", "/private"})
_SYSTEM_TREES = (
    "/bin", "/sbin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc",
    "/run", "/sys", "/usr", "/System", "/Library", "/private/etc", "/snap",
)  # fmt: skip
_notice_lock = threading.Lock()
_notice_shown = False


def unsuitable_cwd(cwd: str) -> bool:
    """True for a working directory that must not become a sandbox root (``/``, a drive root,
    system directories and their trees). The home directory is a deliberate choice and allowed."""
    real = os.path.realpath(cwd)
    if os.name == "nt":  # pragma: no cover - Windows
        drive, rest = os.path.splitdrive(real)
        if rest in ("", "\\", "/"):
            return True
        low = real.lower()
        windir = os.path.realpath(os.environ.get("SYSTEMROOT", drive + "\\Windows")).lower()
        progs = [os.environ.get(v, "") for v in ("ProgramFiles", "ProgramFiles(x86)")]
        return any(
            low == t or low.startswith(t + "\\") for t in [windir, *map(str.lower, progs)] if t
        )
    if real in _SYSTEM_DIRS:
        return True
    return any(real == t or real.startswith(t + "/") for t in _SYSTEM_TREES)


def user_data_root() -> Path:
    """The per-user fallback root: ``$XDG_DATA_HOME/or_magic/files`` (``~/.local/share``),
    ``~/Library/Application Support/or_magic/files`` on macOS, ``%LOCALAPPDATA%`` on Windows."""
    import sys

    if os.name == "nt":  # pragma: no cover - Windows
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":  # pragma: no cover - macOS
        base = Path.home() / "Library" / "Application Support"
    else:
        xdg = os.environ.get("XDG_DATA_HOME", "")
        base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base / "or_magic" / "files"


def default_root() -> Path:
    """The sandbox root when no ``OPENROUTER_OUTPUT_DIR`` / ``OPENROUTER_INPUT_DIR`` is set: the
    working directory, unless ``unsuitable_cwd`` (then ``user_data_root``, said once on stderr)."""
    global _notice_shown
    cwd = os.getcwd()
    if not unsuitable_cwd(cwd):
        return Path(cwd)
    root = user_data_root()
    with _notice_lock:
        if not _notice_shown:
            _notice_shown = True
            import sys

            try:
                root.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError:
                pass
            print(
                f"or_magic: the working directory {cwd} is not a project folder; reading and "
                f"writing files under {root} instead (set OPENROUTER_OUTPUT_DIR and "
                "OPENROUTER_INPUT_DIR to choose).",
                file=sys.stderr,
            )
    return root
