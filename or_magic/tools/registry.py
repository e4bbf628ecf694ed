"""The catalogue of tools: each family module registers its specs once, on first use."""

from __future__ import annotations

import importlib
import threading

from .base import ToolSpec

# Family modules, in the order tools are listed. A module that is not present yet (a family still
# being built) is skipped, so front-ends always expose exactly what exists.
FAMILY_MODULES = (
    "or_magic.tools.chat",
    "or_magic.tools.analyze",
    "or_magic.tools.models",
    "or_magic.tools.image_gen",
    "or_magic.tools.audio_gen",
    "or_magic.tools.video_gen",
    "or_magic.tools.rerank",
    "or_magic.tools.embed",
    "or_magic.tools.health",
    "or_magic.tools.batch_api",
)

_lock = threading.Lock()
_tools: dict[str, ToolSpec] | None = None


def _load() -> dict[str, ToolSpec]:
    found: dict[str, ToolSpec] = {}
    for mod_name in FAMILY_MODULES:
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as exc:
            if exc.name == mod_name:
                continue
            raise
        for spec in getattr(mod, "TOOLS", ()):
            if spec.name in found:
                raise RuntimeError(f"tool {spec.name!r} registered twice")
            found[spec.name] = spec
    return found


def all_tools() -> dict[str, ToolSpec]:
    global _tools
    if _tools is None:
        with _lock:
            if _tools is None:
                _tools = _load()
    return _tools


def get_tool(name: str) -> ToolSpec | None:
    return all_tools().get(name)
