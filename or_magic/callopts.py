"""Per-call options a front-end sets around a call, read by the core's memory hooks.

The magics know things the tool arguments do not carry (the conversation name, the cell's
``--cache`` and ``--max-cost``, the session budget trait, ``history_tokens``); the core needs them
in one place (``tools/api.py``), whichever front-end calls. A context variable carries them
without widening any tool's input schema: ``with call_options(cache="on"): call_tool(...)``. It is
copied into the task the sync bridge creates, so it reaches the call. MCP clients set nothing
here; the environment (``OR_MAGIC_CACHE``, ``OR_MAGIC_BUDGET_USD`` …) applies to them.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class CallOptions:
    """``None`` everywhere means "use the settings (environment)"."""

    cache: str | None = None  # off | on | deterministic
    max_cost_usd: float | None = None  # this call only
    budget_usd: float | None = None  # for the whole session (process)
    history_tokens: int | None = None  # cap on the estimated tokens of chat history
    chat: str | None = None  # conversation name, recorded in the call log
    log: bool | None = None  # False: do not record this call


_DEFAULT = CallOptions()
_OPTIONS: contextvars.ContextVar[CallOptions | None] = contextvars.ContextVar(
    "or_magic_call_options", default=None
)


def current() -> CallOptions:
    return _OPTIONS.get() or _DEFAULT


@contextmanager
def call_options(**changes: Any) -> Iterator[CallOptions]:
    """Options for the calls made inside the block (``None`` values leave a field as it is)."""
    opts = replace(current(), **{k: v for k, v in changes.items() if v is not None})
    token = _OPTIONS.set(opts)
    try:
        yield opts
    finally:
        _OPTIONS.reset(token)
