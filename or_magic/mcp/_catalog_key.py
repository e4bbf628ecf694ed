"""The key of the on-disk ``tools/list`` cache: this build of the package and its schema libraries.

Computed without importing the MCP SDK or pydantic (versions from the installed distributions),
so the stdio fast path (``_fast``) can trust the cache before the SDK has loaded.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from or_magic._version import __version__

CACHE_FORMAT = 2


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return ""


def package_fingerprint() -> str:
    """Size + mtime of every module of the package, and the versions that shape the schemas."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    versions = "|".join(_dist_version(n) for n in ("mcp", "mcp-types", "pydantic"))
    h.update(f"{CACHE_FORMAT}|{__version__}|{versions}".encode())
    stack = [root]
    entries: list[str] = []
    while stack:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                for e in it:
                    if e.is_dir(follow_symlinks=False):
                        if e.name not in ("__pycache__", "assets") and not e.name.startswith("."):
                            stack.append(Path(e.path))
                    elif e.name.endswith(".py"):
                        st = e.stat()
                        entries.append(f"{e.path}|{st.st_size}|{st.st_mtime_ns}")
        except OSError:
            continue
    for line in sorted(entries):
        h.update(line.encode())
    return h.hexdigest()[:32]
