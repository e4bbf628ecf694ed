"""Session totals of tokens and cost per model (for ``%openrouter usage`` and the Usage tab).

Costs the offline double reports are simulated (nothing was spent): they are summed apart, in
``simulated_cost_usd``, so ``cost_usd`` is always money really spent and a session that never went
live shows $0, with the simulated figure next to it, marked as such.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .result import ToolResult


@dataclass
class ModelUsage:
    model: str
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0
    offline_calls: int = 0
    simulated_cost_usd: float = 0.0
    tools: dict[str, int] = field(default_factory=dict)


_lock = threading.Lock()
_by_model: dict[str, ModelUsage] = {}
# Upstream jobs (videos, background chats) already counted: asking a finished job's status again
# (``%openrouter status ID --save …``) returns its cost again, which must not be added twice.
_counted_jobs: set[str] = set()


def _int(v: Any) -> int:
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0


def record_result(result: ToolResult) -> None:
    model = result.meta.get("model")
    usage = result.meta.get("usage") if isinstance(result.meta.get("usage"), dict) else {}
    cost = result.cost
    if not model and not usage and cost is None:
        return
    key = str(model or "?")
    job = result.meta.get("video_id") or result.meta.get("job_id")
    with _lock:
        if isinstance(job, str) and job and cost is not None:
            if job in _counted_jobs:
                return
            _counted_jobs.add(job)
        u = _by_model.setdefault(key, ModelUsage(model=key))
        u.calls += 1
        u.prompt_tokens += _int(usage.get("prompt_tokens"))
        u.completion_tokens += _int(usage.get("completion_tokens"))
        u.total_tokens += _int(usage.get("total_tokens"))
        if result.offline:
            u.offline_calls += 1
            u.simulated_cost_usd += float(cost or 0.0)
        else:
            u.cost_usd += float(cost or 0.0)
        u.tools[result.tool] = u.tools.get(result.tool, 0) + 1


def snapshot() -> list[ModelUsage]:
    with _lock:
        return [ModelUsage(**{**vars(u), "tools": dict(u.tools)}) for u in _by_model.values()]


def totals() -> ModelUsage:
    total = ModelUsage(model="total")
    for u in snapshot():
        total.calls += u.calls
        total.prompt_tokens += u.prompt_tokens
        total.completion_tokens += u.completion_tokens
        total.total_tokens += u.total_tokens
        total.cost_usd += u.cost_usd
        total.offline_calls += u.offline_calls
        total.simulated_cost_usd += u.simulated_cost_usd
    return total


def reset() -> None:
    with _lock:
        _by_model.clear()
        _counted_jobs.clear()
