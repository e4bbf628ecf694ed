"""The core's memory around one tool call: local cache, context window, budget, call log.

``api.call_tool`` runs every call through ``run_with_memory`` (after validation, before the
handler) and ``log_call`` (after the result is stamped and redacted), so the magics, the
dashboard, batch and the MCP server all get the same behaviour from one place. Each concern
lives in its own module (``response_cache``, ``context_window``, ``budget``, ``calllog``); this
file only orders them:

1. local cache lookup: a hit is answered at once and costs nothing (so it is never refused);
2. context window: chat history trimmed to fit, or ``INVALID_INPUT`` when the prompt cannot fit;
3. budget: ``BUDGET_EXCEEDED`` before sending when the estimate is over a limit;
4. the handler; then the result is stored in the cache when it may be.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ..result import ToolResult
    from .base import ToolContext


def _plain(parsed: Any) -> dict[str, Any]:
    dump = getattr(parsed, "model_dump", None)
    return dump(mode="json") if callable(dump) else dict(parsed)


async def run_with_memory(
    tool: str,
    parsed: Any,
    ctx: ToolContext,
    handler: Callable[[Any, ToolContext], Awaitable[ToolResult]],
    seen: dict[str, Any],
) -> ToolResult:
    """Run ``handler(parsed, ctx)`` with the memory features; ``seen['args']`` gets the plain
    arguments actually sent (after any trim), for the call log."""
    from .. import budget, response_cache
    from ..callopts import current
    from ..context_window import CHAT_TOOLS, fit_chat

    opts = current()
    settings = ctx.settings
    args = _plain(parsed)
    seen["args"] = args

    key = None
    mode = response_cache.resolve_mode(settings, opts.cache)
    if response_cache.wants_cache(mode, tool, args):
        key = response_cache.request_key(tool, args, settings)
        if key is not None:
            hit = response_cache.lookup(tool, key, args, settings)
            if hit is not None:
                return hit

    trimmed = None
    if tool in CHAT_TOOLS:
        history_tokens = (
            opts.history_tokens if opts.history_tokens is not None else settings.history_tokens
        )
        parsed, trimmed = await fit_chat(parsed, ctx, history_tokens=history_tokens or 0)
        if trimmed is not None:
            seen["args"] = _plain(parsed)

    budget_usd = opts.budget_usd if opts.budget_usd is not None else settings.budget_usd
    estimate = await budget.check(
        tool, seen["args"], ctx, budget_usd=budget_usd, max_cost_usd=opts.max_cost_usd
    )

    result = await handler(parsed, ctx)
    if trimmed is not None:
        result.meta["history_trimmed"] = trimmed
    if estimate is not None:
        result.meta["cost_estimate"] = estimate
    if key is not None:
        response_cache.store(key, result, settings)
    return result


def log_call(tool: str, seen: dict[str, Any], result: ToolResult) -> None:
    """Record the finished call in the call log (never raises, never blocks on the database)."""
    try:
        from ..callopts import current

        opts = current()
        if opts.log is False:
            return
        from ..calllog import record
        from ..config import get_settings

        record(get_settings(), tool, seen.get("args") or {}, result, chat=opts.chat)
    except Exception:  # the log must never break a call (calllog logs its own failures)
        pass
