"""The catalogue of tools: each family module registers its specs once, on first use.

Lazy per tool: ``get_tool(name)`` imports only the family module that defines ``name`` (the static
``TOOL_MODULES`` map), so the first call of one tool does not build every family's pydantic models
(~300 ms for all of them). ``all_tools()`` imports every family, for listings.
``tests/tools/test_registry.py`` checks the map against what the modules really define.
"""

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

# Which module defines which tool (a tool missing here is still found, through ``all_tools``).
TOOL_MODULES: dict[str, str] = {
    **dict.fromkeys(
        ("chat_completion", "start_chat_completion", "get_chat_completion_status"),
        "or_magic.tools.chat",
    ),
    **dict.fromkeys(
        ("analyze_image", "analyze_audio", "analyze_video", "speech_to_text", "analyze_media"),
        "or_magic.tools.analyze",
    ),
    **dict.fromkeys(("search_models", "get_model_info", "validate_model"), "or_magic.tools.models"),
    **dict.fromkeys(("generate_image", "generate_image_dedicated"), "or_magic.tools.image_gen"),
    **dict.fromkeys(("generate_audio", "text_to_speech"), "or_magic.tools.audio_gen"),
    **dict.fromkeys(
        ("generate_video", "generate_video_from_image", "get_video_status"),
        "or_magic.tools.video_gen",
    ),
    "rerank_documents": "or_magic.tools.rerank",
    "embed_texts": "or_magic.tools.embed",
    "health_check": "or_magic.tools.health",
    **dict.fromkeys(("submit_batch", "get_batch_status"), "or_magic.tools.batch_api"),
}

_lock = threading.RLock()
_tools: dict[str, ToolSpec] | None = None
_by_module: dict[str, dict[str, ToolSpec]] = {}


def _module_tools(mod_name: str) -> dict[str, ToolSpec] | None:
    """The specs one family module defines (imported once); ``None`` if it does not exist."""
    found = _by_module.get(mod_name)
    if found is not None:
        return found
    with _lock:
        found = _by_module.get(mod_name)
        if found is not None:
            return found
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as exc:
            if exc.name == mod_name:
                return None
            raise
        found = {}
        for spec in getattr(mod, "TOOLS", ()):
            if spec.name in found:
                raise RuntimeError(f"tool {spec.name!r} registered twice")
            found[spec.name] = spec
        _by_module[mod_name] = found
        return found


def _load() -> dict[str, ToolSpec]:
    found: dict[str, ToolSpec] = {}
    for mod_name in FAMILY_MODULES:
        for name, spec in (_module_tools(mod_name) or {}).items():
            if name in found:
                raise RuntimeError(f"tool {name!r} registered twice")
            found[name] = spec
    return found


def all_tools() -> dict[str, ToolSpec]:
    global _tools
    if _tools is None:
        with _lock:
            if _tools is None:
                _tools = _load()
    return _tools


def get_tool(name: str) -> ToolSpec | None:
    """One tool's spec, importing only its family module while the full list is not built."""
    if _tools is not None:
        return _tools.get(name)
    mod_name = TOOL_MODULES.get(name)
    if mod_name is not None:
        spec = (_module_tools(mod_name) or {}).get(name)
        if spec is not None:
            return spec
    return all_tools().get(name)
