"""``--each VAR``: the items of a notebook variable, run as a batch (``magics/_batches.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from .._core import OpenRouterMagics


def each_items(m: OpenRouterMagics, var: str) -> list[Any]:
    """The items of ``var`` (any iterable but a string)."""
    from .._interp import is_missing, resolve

    value = resolve(var, m.ns)
    if is_missing(value):
        raise UsageError(f"--each {var}: no such variable")
    if isinstance(value, (str, bytes)):
        raise UsageError(f"--each {var}: needs a list (or other iterable), got a string")
    try:
        return list(value)
    except TypeError:
        raise UsageError(f"--each {var}: is not iterable") from None


def run_batch(m: OpenRouterMagics, tool: str, items: list[Any], opts: Any, fmt: str) -> Any:
    from .._batches import run_each

    return run_each(m, tool, items, opts, fmt)
