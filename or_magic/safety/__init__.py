"""or_magic.safety: SSRF-guarded fetches, path sandboxes and atomic writes.

Names are loaded on first use, so ``import or_magic.safety`` imports neither httpx nor anyio.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .addresses import Allowlist, is_blocked_ip, normalize_host
    from .atomic import AtomicFile, atomic_write, with_extension
    from .fetch import Fetched, display_url, fetch_url, looks_like_html, system_resolver
    from .paths import (
        check_input_size,
        open_input,
        output_sandbox_root,
        resolve_input_path,
        resolve_output_path,
    )

_LAZY: dict[str, str] = {
    "Allowlist": "addresses",
    "is_blocked_ip": "addresses",
    "normalize_host": "addresses",
    "AtomicFile": "atomic",
    "atomic_write": "atomic",
    "with_extension": "atomic",
    "Fetched": "fetch",
    "display_url": "fetch",
    "fetch_url": "fetch",
    "looks_like_html": "fetch",
    "system_resolver": "fetch",
    "check_input_size": "paths",
    "open_input": "paths",
    "output_sandbox_root": "paths",
    "resolve_input_path": "paths",
    "resolve_output_path": "paths",
}

__all__ = [
    "Allowlist",
    "AtomicFile",
    "Fetched",
    "atomic_write",
    "check_input_size",
    "display_url",
    "fetch_url",
    "is_blocked_ip",
    "looks_like_html",
    "normalize_host",
    "open_input",
    "output_sandbox_root",
    "resolve_input_path",
    "resolve_output_path",
    "system_resolver",
    "with_extension",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'or_magic.safety' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
