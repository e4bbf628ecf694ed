"""``--each VAR --batch``, ``%openrouter batches`` and ``%openrouter wait orb_…`` (thin).

The Batch API engine lives in the tool core; this module only turns magic options into
``or_magic.batch`` calls and shows the handle, its live counts and its results.
"""

from __future__ import annotations

from typing import Any

from ._live import show_bundles


def each_labels(var: str | None, ns: dict[str, Any]) -> list[Any] | None:
    """The pandas index behind ``--each df.col`` (results are aligned to it), else None."""
    import sys

    if not var or "pandas" not in sys.modules:
        return None
    from ._interp import is_missing, resolve

    value = resolve(var, ns)
    if is_missing(value):
        return None
    import pandas as pd

    if isinstance(value, (pd.Series, pd.DataFrame)):
        return value.index.tolist()
    return None


def run_each(magics: Any, tool: str, items: list[Any], opts: Any, fmt: str) -> None:
    """One tool over ``items``: now (interactive engine) or as Batch API jobs (``--batch``)."""
    from ..batch import map_tool

    labels = each_labels(getattr(opts, "each", None), magics.ns)
    rich = magics._rich()
    if not (getattr(opts, "batch", False) or magics.engine == "batch"):
        result = map_tool(
            tool, items, concurrency=max(1, opts.concurrency), progress=rich, labels=labels
        )
        result.fmt = fmt
        magics._store(opts.out, result)
        if not opts.quiet:
            show_bundles([result.bundle()], rich=rich)
        return None
    handle = map_tool(
        tool, items, engine="batch", progress=rich, batch_size=opts.batch_size, labels=labels
    )
    magics._store(opts.out, handle)
    print(f"Submitted {handle.id} ({len(items)} requests). Later: %openrouter wait {handle.id}")
    return wait_and_show(magics, handle, out=opts.out, quiet=opts.quiet, timeout=None)


def wait_in_foreground(handle: Any, *, progress: bool, timeout: float | None = None) -> bool:
    """Wait for a batch in the cell; False, with a line saying why, when it did not finish.

    Ctrl-C stops only the waiting (the batch keeps running upstream, so the line says how to
    pick it up again); a ToolError (a timeout, a failed batch) is shown as its code and message.
    """
    from ..errors import ToolError

    try:
        handle.wait(timeout=timeout, progress=progress)
    except KeyboardInterrupt:
        print(f"Stopped waiting; {handle.id} keeps running. %openrouter wait {handle.id}")
        return False
    except ToolError as exc:
        print(f"{exc.code.value}: {exc.message}")
        return False
    return True


def wait_and_show(
    magics: Any, handle: Any, *, out: str | None, quiet: bool, timeout: float | None
) -> None:
    if not wait_in_foreground(handle, progress=magics._rich(), timeout=timeout):
        return None
    magics._store(out, handle)
    if not quiet:
        show_bundles([handle.to_batch_result().bundle()], rich=magics._rich())
    return None


def is_batch_id(word: str | None) -> bool:
    return bool(word) and str(word).startswith("orb_")


def line_wait(magics: Any, batch_id: str, *, out: str | None, timeout: float | None) -> None:
    from ..batch_handle import BatchHandle

    return wait_and_show(magics, BatchHandle(batch_id), out=out, quiet=False, timeout=timeout)


def line_cancel(batch_id: str) -> None:
    from ..batch_handle import BatchHandle

    h = BatchHandle(batch_id)
    counts = h.cancel()
    print(f"Cancelling {h.id}: {counts.get('completed', 0)} finished requests keep their results.")
    return None


def line_batches(magics: Any, words: list[str]) -> None:
    """``%openrouter batches``: the registry's batches, newest first."""
    from ..batch_handle import batches
    from ..display import md_escape

    rows = batches(limit=int(words[0]) if words and words[0].isdigit() else 20)
    if not rows:
        print("No batches yet: or_magic.map(tool, items, engine='batch') or --each VAR --batch")
        return None
    lines = ["| id | tool | status | ok | failed | total |", "|---|---|---|---|---|---|"]
    plain = []
    for r in rows:
        c = r.get("counts") or {}
        cells = [r["id"], r["tool"], r["status"], c.get("completed", 0), c.get("failed", 0)]
        lines.append("| " + " | ".join(md_escape(str(x)) for x in [*cells, r["total"]]) + " |")
        plain.append(f"{r['id']}  {r['tool']}  {r['status']}  {c.get('completed', 0)}/{r['total']}")
    show_bundles(
        [({"text/markdown": "\n".join(lines), "text/plain": "\n".join(plain)}, {})],
        rich=magics._rich(),
    )
    return None
