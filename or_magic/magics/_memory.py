"""The magics' side of the core's memory: per-cell options, ``%openrouter log``, the budget line.

The core does the work (``or_magic.calllog``, ``response_cache``, ``budget``, ``context_window``);
this module only turns a cell's flags and the ``OpenRouterMagics`` traits into ``call_options``
around the call, and formats what the log returns. ``_core.py`` (``cell_options``), ``commands/session.py`` (``budget_line``) and the
``_dispatch.py`` table (``line_log`` / ``line_cache``) call it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from IPython.core.error import UsageError


class _Quiet(argparse.ArgumentParser):
    def error(self, message: str):  # type: ignore[override]
        raise ValueError(message)  # the mode's own parser reports it, once, properly


def _scan(words: list[str]) -> argparse.Namespace:
    """The memory flags of a cell line, whatever the mode (the mode's parser validates the rest)."""
    p = _Quiet(add_help=False, allow_abbrev=False)
    p.add_argument("--cache", action="store_true")
    p.add_argument("--max-cost", type=float, default=None)
    p.add_argument("--chat", default=None)
    p.add_argument("--no-history", action="store_true")
    p.add_argument("--resume", action="store_true")
    try:
        opts, _ = p.parse_known_args(words)
    except ValueError:  # a malformed value: the mode's own parser reports it properly
        opts = argparse.Namespace(
            cache=False, max_cost=None, chat=None, no_history=False, resume=False
        )
    return opts


@contextmanager
def cell_options(magics: Any, line: str, cell: str | None) -> Iterator[None]:
    """``call_options`` for one magic invocation: the traits (``cache``, ``budget_usd``,
    ``history_tokens``, ``log_calls``) and the cell's ``--cache`` / ``--max-cost`` /
    ``--chat NAME --resume``."""
    from ..callopts import call_options
    from . import _parsing as P
    from ._dispatch import CELL_MODES

    mode = None
    words: list[str] = []
    if cell is not None:
        words = P.split(line)
        mode = words[0] if words and words[0] in CELL_MODES else "chat"
    opts = _scan(words)
    if opts.max_cost is not None and opts.max_cost < 0:
        raise UsageError("--max-cost must be >= 0")
    chat = None
    if mode == "chat" and not opts.no_history:
        chat = opts.chat or "default"
        if opts.resume:
            resume(magics, chat)
    elif opts.resume:
        raise UsageError("--resume continues a chat: %%openrouter --chat NAME --resume")
    cache = "on" if opts.cache else (magics.cache or None)
    budget = magics.budget_usd if magics.budget_usd and magics.budget_usd > 0 else None
    with call_options(
        cache=cache,
        max_cost_usd=opts.max_cost,
        budget_usd=budget,
        history_tokens=magics.history_tokens or None,
        chat=chat,
        log=False if not magics.log_calls else None,
    ):
        yield


def resume(magics: Any, chat: str) -> int:
    """Load conversation ``chat`` from the call log into this kernel (once); how many messages."""
    from ..calllog import conversation

    if magics.chats.get(chat):
        return 0  # already going in this kernel: the kernel's own history is the newer one
    keep = max(2 * magics.history_length, 2) * 5
    msgs = conversation(chat, max_exchanges=keep // 2)[-keep:]
    if not msgs:
        raise UsageError(
            f"--resume: no logged conversation named {chat!r} (see %openrouter log --chat {chat})"
        )
    magics.chats[chat] = msgs
    return len(msgs)


def _short(text: Any, n: int = 70) -> str:
    s = "" if text is None else str(text)
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


def line_log(magics: Any, words: list[str]) -> Any:
    """``%openrouter log [QUERY] [-n N] [--json] [--here] [--chat NAME] [-o VAR]``."""
    import time

    from ..calllog import calls
    from . import _parsing as P
    from ._bundles import table_bundle
    from ._run import show_bundles

    opts = P.parse(P.log_parser(), words)
    rows = calls(
        " ".join(opts.query) or None,
        n=opts.n,
        chat=opts.chat,
        session="this" if opts.here else None,
    )
    magics._store(opts.out, rows)
    if opts.json:
        print(json.dumps(list(rows), indent=2, ensure_ascii=False, default=str))
        return None
    from ..display import format_cost

    table = []
    for r in rows:
        flags = " ".join(
            f
            for f, on in (
                ("cached", r["cache_hit"]),
                ("offline", r["offline"]),
                (r["code"] or "", r["is_error"]),
            )
            if on
        )
        table.append(
            (
                r["id"],
                time.strftime("%m-%d %H:%M", time.localtime(r["ts"])),
                r["tool"],
                r["model"] or "",
                r["chat"] or "",
                _short(r["prompt"], 50),
                _short(r["answer"], 60),
                format_cost(r["cost_usd"]) or "",
                flags,
            )
        )
    header = ("id", "when", "tool", "model", "chat", "prompt", "answer", "cost", "")
    show_bundles([table_bundle(header, table, empty="No calls logged yet.")], rich=magics._rich())
    return None


def budget_line(magics: Any) -> str | None:
    """``Budget: $1.20 of $5.00 spent this session ($3.80 left)`` when a budget is set."""
    from .. import usage

    budget = magics.budget_usd if magics.budget_usd and magics.budget_usd > 0 else None
    if budget is None:
        try:
            budget = magics._settings().budget_usd
        except Exception:
            budget = None
    if budget is None:
        return None
    spent = usage.totals().cost_usd
    left = max(budget - spent, 0.0)
    return f"Budget: ${spent:.4f} of ${budget:.2f} spent this session (${left:.4f} left)."


def line_cache(magics: Any, words: list[str]) -> Any:
    """``%openrouter cache`` (mode and size) / ``%openrouter cache clear``."""
    from ..display import human_bytes
    from ..response_cache import get_cache, resolve_mode

    if words not in ([], ["clear"]):
        raise UsageError("usage: %openrouter cache [clear]")
    settings = magics._settings()
    cache = get_cache(settings)
    if words == ["clear"]:
        print(f"Local response cache cleared ({cache.clear()} entries).")
        return None
    st = cache.stats()
    mode = resolve_mode(settings, magics.cache)
    print(
        f"Local response cache: {mode} ({st['entries']} entries, {st['blobs']} media files, "
        f"{human_bytes(st['blob_bytes'])}) in {cache.root}. "
        "Per cell: --cache; for all cells: %config OpenRouterMagics.cache = 'on'."
    )
    return None
