"""The tool core's front door: everything a front-end (magics, widgets, MCP, batch, display) may use.

Front-ends import from here, never from the modules behind it, so the core can be rearranged
without touching them and nothing reaches past the call path that validates, stamps and redacts:

- calling: ``call_tool`` (async), ``call_tool_sync``, ``run_sync`` (a coroutine from sync code,
  also inside a running kernel);
- lookup: ``get_tool``, ``all_tools`` (name → spec), ``list_tools``, ``ToolSpec``;
- allowed values, read from the tool input models: ``allowed_values``, ``field_default``,
  ``has_field``;
- delivery: ``inline_ceiling`` (the largest media returned inline, per kind);
- catalogues, as results that went through the core: ``model_catalog()``,
  ``video_capabilities()``; and helpers to read their records: ``modalities``, ``is_free``,
  ``find_video_model``.

Every name is imported on first use (``%load_ext`` and ``import or_magic`` stay cheap).
Front-ends import these inside the functions that need them, for the same reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes, lazy_table

_EXPORTS = lazy_table(
    {
        "or_magic.tools.api": (
            "call_tool",
            "call_tool_sync",
            "run_sync",
            "list_tools",
            "model_catalog",
            "video_capabilities",
        ),
        "or_magic.tools.registry": ("get_tool", "all_tools"),
        "or_magic.tools.base": ("ToolSpec",),
        "or_magic.tools.choices": ("allowed_values", "field_default", "has_field"),
        "or_magic.tools.saving": ("inline_ceiling",),
        "or_magic.tools.catalog": ("modalities", "is_free"),
    },
    renamed={"find_video_model": ("or_magic.tools.video_catalog", "find")},
)

__all__ = [  # literal, for type checkers; tests/test_front_door.py checks it against the table
    "ToolSpec",
    "all_tools",
    "allowed_values",
    "call_tool",
    "call_tool_sync",
    "field_default",
    "find_video_model",
    "get_tool",
    "has_field",
    "inline_ceiling",
    "is_free",
    "list_tools",
    "modalities",
    "model_catalog",
    "run_sync",
    "video_capabilities",
]

if TYPE_CHECKING:  # pragma: no cover
    from .api import (
        call_tool,
        call_tool_sync,
        list_tools,
        model_catalog,
        run_sync,
        video_capabilities,
    )
    from .base import ToolSpec
    from .catalog import is_free, modalities
    from .choices import allowed_values, field_default, has_field
    from .registry import all_tools, get_tool
    from .saving import inline_ceiling
    from .video_catalog import find as find_video_model


# Not cached: every access reads the implementing module, so a patched implementation (a test's
# monkeypatch of ``tools.api.call_tool``) is what every front-end sees.
__getattr__, __dir__ = lazy_attributes(globals(), _EXPORTS, cache=False)
