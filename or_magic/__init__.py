"""or_magic: the multimodal OpenRouter API in Jupyter and in any MCP client.

Everything is imported lazily so ``import or_magic`` and ``%load_ext or_magic`` stay cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._lazy import lazy_attributes, lazy_table
from ._version import __version__

__all__ = [
    "Dashboard",
    "ErrorCode",
    "MediaItem",
    "ToolError",
    "ToolResult",
    "__version__",
    "acall_tool",
    "batch",
    "batches",
    "call_log",
    "call_options",
    "call_tool",
    "call_tool_sync",
    "list_tools",
    "load_ipython_extension",
    "map",
    "set_api_key",
    "unload_ipython_extension",
]

_LAZY = lazy_table(
    {
        "or_magic.errors": ("ErrorCode", "ToolError"),
        "or_magic.result": ("ToolResult", "MediaItem"),
        "or_magic.tools.api": ("call_tool", "call_tool_sync", "list_tools"),
        "or_magic.callopts": ("call_options",),
        "or_magic.batch_handle": ("batches",),
        "or_magic.config": ("set_api_key",),
        "or_magic.widgets.dashboard": ("Dashboard",),
    },
    renamed={
        "acall_tool": ("or_magic.tools.api", "call_tool"),
        "call_log": ("or_magic.calllog", "calls"),
        "map": ("or_magic.batch", "map_tool"),
        # ``or_magic.batch`` is the batch module, made callable: ``or_magic.batch("orb_…")``
        # reattaches.
        "batch": ("or_magic.batch", "_module"),
    },
)

if TYPE_CHECKING:  # pragma: no cover
    from .errors import ErrorCode, ToolError
    from .result import MediaItem, ToolResult


__getattr__, __dir__ = lazy_attributes(globals(), _LAZY)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext or_magic``: register the magics (idempotent)."""
    from .magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .magics import unload_ipython_extension as _unload

    _unload(ipython)
