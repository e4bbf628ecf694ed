"""Fit a chat into the model's context window: trim the oldest history, or refuse, never resend.

Why: a conversation that once received a huge prompt resent it on every following turn, and a
prompt bigger than the model's window was sent anyway (and billed). Before a chat is sent, the
core estimates its size; when history plus prompt would not fit the model's context window (from
the catalogue), the oldest turns are dropped until it fits, and the result says so
(``meta.history_trimmed``, shown in the footer). When the prompt alone (with the system message
and room for the answer) cannot fit, the call is refused with ``INVALID_INPUT`` before anything is
sent. ``history_tokens`` (``OR_MAGIC_HISTORY_TOKENS``, ``OpenRouterMagics.history_tokens``) caps
the history further.

The token count is an **estimate**, not the model's tokenizer: 1 token per 4 characters of text
(rounded up), plus 4 tokens per message for its framing, plus ``IMAGE_TOKENS`` per image or media
part. Real counts differ by model (often by 10-30 %); the estimate errs on the large side for
English prose. Room for the answer: ``max_tokens`` when given, else ``min(1024, window / 8)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import ErrorCode, ToolError

if TYPE_CHECKING:  # pragma: no cover
    from .tools.base import ToolContext

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD = 4
IMAGE_TOKENS = 1000
# Below this estimate no model's window matters, so the catalogue is not fetched just to check.
SMALL_REQUEST_TOKENS = 8192
CHAT_TOOLS = frozenset({"chat_completion", "start_chat_completion"})


def estimate_text_tokens(text: str | None) -> int:
    """Estimated tokens of ``text`` (about 4 characters each)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def estimate_content_tokens(content: Any) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return estimate_text_tokens(content)
    if isinstance(content, list):
        total = 0
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                total += estimate_text_tokens(part["text"])
            else:
                total += IMAGE_TOKENS
        return total
    return estimate_text_tokens(str(content))


def estimate_message_tokens(message: Any) -> int:
    content = message.get("content") if isinstance(message, dict) else message.content
    return MESSAGE_OVERHEAD + estimate_content_tokens(content)


@dataclass
class Fit:
    """What fitting did: the new ``messages`` and a note for ``meta.history_trimmed``."""

    messages: list[Any]
    note: dict[str, Any] | None


def fit_messages(
    messages: list[Any],
    *,
    fixed_tokens: int,
    context_length: int | None,
    reserve: int,
    history_tokens: int = 0,
    model: str = "",
) -> Fit:
    """Drop the oldest history from ``messages`` (the last one is the prompt and always stays;
    system messages stay) until history fits. ``fixed_tokens`` counts what is sent besides
    ``messages`` (a separate system message, a separate prompt)."""
    if not messages:
        return Fit(messages, None)
    prompt_msg = messages[-1]
    history = list(messages[:-1])

    def role(m: Any) -> str:
        return m.get("role") if isinstance(m, dict) else m.role

    pinned = [m for m in history if role(m) == "system"]
    turns = [m for m in history if role(m) != "system"]
    must = fixed_tokens + estimate_message_tokens(prompt_msg)
    must += sum(estimate_message_tokens(m) for m in pinned)
    room: int | None = None
    if context_length:
        room = context_length - reserve - must
        if room < 0:
            raise ToolError(
                ErrorCode.INVALID_INPUT,
                f"The prompt is about {must:,} tokens (an estimate: 4 characters per token) and "
                f"{model or 'the model'} has a context window of {context_length:,} tokens"
                f" ({reserve:,} kept for the answer): it cannot fit, so nothing was sent.",
                details={
                    "reason": "context_window",
                    "estimated_prompt_tokens": must,
                    "context_length": context_length,
                    "reserved_for_answer": reserve,
                },
                suggestions=[
                    "Shorten the prompt or split it into parts",
                    "Pick a model with a larger context window (search_models shows context_length)",
                ],
            )
    limit_by = "context_window"
    if history_tokens and (room is None or history_tokens < room):
        room, limit_by = history_tokens, "history_tokens"
    if room is None:
        return Fit(messages, None)
    sizes = [estimate_message_tokens(m) for m in turns]
    total = sum(sizes)
    dropped = 0
    while turns and total > room:
        total -= sizes.pop(0)
        turns.pop(0)
        dropped += 1
    while dropped and turns and role(turns[0]) != "user":  # no reply without its question
        total -= sizes.pop(0)
        turns.pop(0)
        dropped += 1
    if dropped == 0:
        return Fit(messages, None)
    note = {
        "dropped_messages": dropped,
        "kept_messages": len(turns),
        "estimated_tokens": must + total,
        "limit": limit_by,
        "limit_tokens": room,
        "context_length": context_length,
    }
    return Fit([*pinned, *turns, prompt_msg], note)


def _context_length(model: dict[str, Any]) -> int | None:
    top = model.get("top_provider") if isinstance(model.get("top_provider"), dict) else {}
    for v in (top.get("context_length"), model.get("context_length")):
        if isinstance(v, int) and v > 0:
            return v
    return None


async def fit_chat(parsed: Any, ctx: ToolContext, *, history_tokens: int) -> tuple[Any, Any]:
    """``(parsed, note)`` for a chat call: arguments with history trimmed to fit (or as they
    were), and the trim note (None when nothing was dropped). Raises INVALID_INPUT when the
    prompt alone cannot fit."""
    from .tools.catalog import cached_count, find_model
    from .tools.common import clean_model, resolve_max_tokens

    messages = list(parsed.messages or [])
    prompt = parsed.prompt if parsed.prompt and parsed.prompt.strip() else None
    if prompt is not None:
        messages.append({"role": "user", "content": prompt})
    if not messages:
        return parsed, None
    fixed = estimate_text_tokens(parsed.system) + (MESSAGE_OVERHEAD if parsed.system else 0)
    total = fixed + sum(estimate_message_tokens(m) for m in messages)
    model_id = clean_model(parsed.model) or ctx.settings.effective_default_model
    context_length = None
    if total > SMALL_REQUEST_TOKENS or cached_count(ctx):
        try:
            record, _ = await find_model(ctx, model_id)
        except ToolError:  # no catalogue (offline proxy, outage): the upstream decides
            record = None
        context_length = _context_length(record) if record else None
    if context_length is None and not history_tokens:
        return parsed, None
    mt = resolve_max_tokens(parsed.max_tokens, ctx.settings)
    reserve = mt if mt else (min(1024, context_length // 8) if context_length else 0)
    fit = fit_messages(
        messages,
        fixed_tokens=fixed,
        context_length=context_length,
        reserve=reserve,
        history_tokens=history_tokens,
        model=model_id,
    )
    if fit.note is None:
        return parsed, None
    kept = fit.messages[:-1] if prompt is not None else fit.messages
    return parsed.model_copy(update={"messages": kept or None}), fit.note
