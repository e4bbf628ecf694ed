"""The tables from a ``%%openrouter`` cell mode / ``%openrouter`` line command to the function
that runs it, and the routing of one magic invocation through them.

How to add a cell mode (``translate``, say):

1. write ``magics/cells/translate.py`` with ``def run(m, words, cell)``: parse ``words`` with a
   parser added to ``magics/_parsing.py``, build the tool's arguments (``_common.drop_none``),
   call it through ``magics/_run.py`` (``call`` + ``show``, or ``cells/_generation.py``'s
   ``run_generation`` for a progress panel) — ``m`` is the ``OpenRouterMagics`` instance, whose
   small helper API (``m._prompt``, ``m._model``, ``m._wrap``, ``m._store``...) is in ``_core.py``;
2. add one row to ``CELL_MODES``: ``"translate": "or_magic.magics.cells.translate:run"``;
3. add it to the cheat sheet (``magics/_help.py``; a README test checks they agree).

A line command is the same with ``def name(m, words)`` in ``magics/commands/`` and a row in
``LINE_COMMANDS``. A flag shared by every mode (``--cache``, ``--max-cost``) goes in the parsers
(``_parsing.py``); the memory flags are also read once around every invocation by
``_memory.cell_options``; nothing here changes.

The targets are ``"module:function"`` strings imported on first use, so ``%load_ext`` imports
none of the modes. ``tests/magics/test_dispatch.py`` checks every target resolves.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from ._core import OpenRouterMagics

_C = "or_magic.magics.cells."
_L = "or_magic.magics.commands."

CELL_MODES: dict[str, str] = {
    "chat": _C + "chat:run",
    "analyze": _C + "analyze:run",
    "image": _C + "image:run",
    "audio": _C + "audio:run",
    "speech": _C + "audio:run_speech",
    "video": _C + "video:run",
    "embed": "or_magic.magics._embed:cell_embed",
}

LINE_COMMANDS: dict[str, str] = {
    "models": _L + "catalog:models",
    "info": _L + "catalog:info",
    "health": _L + "catalog:health",
    "usage": _L + "session:usage",
    "jobs": _L + "jobs:jobs",
    "batches": _L + "jobs:batches",
    "wait": _L + "jobs:wait",
    "cancel": _L + "jobs:cancel",
    "status": _L + "jobs:status",
    "reset": _L + "session:reset",
    "key": _L + "session:key",
    "config": _L + "session:config",
    "help": _L + "session:help",
    "mcp": _L + "mcp:mcp",
    "history": _L + "session:history",
    "dashboard": _L + "session:dashboard",
    "log": "or_magic.magics._memory:line_log",
    "cache": "or_magic.magics._memory:line_cache",
}


def target(spec: str) -> Callable[..., Any]:
    """The function a table row names (imported now, on first use)."""
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def run_cell(m: OpenRouterMagics, words: list[str], cell: str) -> Any:
    """``%%openrouter [MODE] [flags]``: a cell without a mode word is a chat."""
    if words and words[0] in LINE_COMMANDS and words[0] != "help":
        raise UsageError(f"'{words[0]}' is a line command: use %openrouter {words[0]} (one %)")
    mode = words.pop(0) if words and words[0] in CELL_MODES else "chat"
    if words and words[0] == "help":
        return target(LINE_COMMANDS["help"])(m, [])
    return target(CELL_MODES[mode])(m, words, cell)


def run_line(m: OpenRouterMagics, words: list[str]) -> Any:
    """``%openrouter COMMAND [args]``; ``{{name}}`` in args reads a notebook variable."""
    if not words:
        return target(LINE_COMMANDS["help"])(m, [])
    cmd = words.pop(0)
    if cmd in LINE_COMMANDS:
        if m.interpolate and cmd != "key":  # `status {{video_id}}` reads a variable
            from ._interp import interpolate

            words = [interpolate(w, m.shell.user_ns)[0] for w in words]
        return target(LINE_COMMANDS[cmd])(m, words)
    if cmd == "embed":  # `%openrouter embed --each df.text -o vecs` needs no cell body
        return target(CELL_MODES["embed"])(m, words, "")
    if cmd in CELL_MODES:
        raise UsageError(
            f"'{cmd}' is a cell mode: write %%openrouter {cmd} on the first line of a "
            "cell and the prompt below it"
        )
    import difflib

    near = difflib.get_close_matches(cmd, [*LINE_COMMANDS, *CELL_MODES], n=1)
    raise UsageError(
        f"unknown %openrouter command {cmd!r}"
        + (f" (did you mean {near[0]!r}?)" if near else "")
        + "; see %openrouter help"
    )
