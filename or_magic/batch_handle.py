"""``BatchHandle``: the Python face of a Batch API job (``or_magic.map(..., engine="batch")``).

A handle is only an id into the SQLite job registry, so it can be rebuilt anywhere:
``or_magic.batch("orb_…")`` after a kernel restart, in another process, or next to the MCP server.
``.wait()`` / ``await handle`` poll until done (live counts in the cell's progress panel);
``.results()`` come back in input order, one ``ToolResult`` per item, failures included;
``.to_pandas()`` aligns them to the original pandas index and expands structured output.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from .result import ToolResult

TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})


class BatchHandle:
    """Status, waiting, cancelling and results of one registry batch (``orb_…``)."""

    def __init__(self, batch_id: str, *, settings: Any = None) -> None:
        from .config import get_settings
        from .tools.batch_engine import BatchEngine

        self.settings = settings or get_settings()
        self._engine = BatchEngine(self.settings)
        rec = self._engine._record(batch_id)  # raises ToolError(INVALID_INPUT) when unknown
        self.id: str = rec["id"]
        self.tool: str = rec["tool"]
        self._progress: dict[str, Any] = {**(rec.get("counts") or {}), "status": rec["status"]}

    # -- state
    @property
    def progress(self) -> dict[str, Any]:
        """Last known counts by status (no network): total, pending, in_progress, completed,
        failed, and ``batches`` (upstream batches by status)."""
        return dict(self._progress)

    @property
    def done(self) -> bool:
        return self._progress.get("status") in TERMINAL

    def status(self) -> dict[str, Any]:
        """Poll OpenRouter once (collecting finished batches) and return the counts."""
        from .tools.api import run_sync

        self._progress = run_sync(self._engine.refresh(self.id))
        return self.progress

    async def astatus(self) -> dict[str, Any]:
        self._progress = await self._engine.refresh(self.id)
        return self.progress

    # -- waiting
    async def await_done(
        self, *, timeout: float | None = None, poll_s: float | None = None, progress: bool = True
    ) -> BatchHandle:
        panel = _CountsPanel(f"{self.tool} batch {self.id}", enabled=progress)

        def seen(counts: dict[str, Any]) -> None:
            self._progress = dict(counts)
            panel.update(counts)

        try:
            await self._engine.wait(self.id, poll_s=poll_s, timeout_s=timeout, on_progress=seen)
        except BaseException:
            panel.close("stopped waiting (the batch keeps running)")
            raise
        panel.close(self.summary())
        return self

    def wait(
        self, timeout: float | None = None, *, poll_s: float | None = None, progress: bool = True
    ) -> BatchHandle:
        """Block until every request finished (raises ``ToolError(JOB_STILL_RUNNING)`` on
        ``timeout``; the batch itself keeps running upstream)."""
        from .tools.api import run_sync

        return run_sync(self.await_done(timeout=timeout, poll_s=poll_s, progress=progress))

    def __await__(self) -> Generator[Any, None, BatchHandle]:
        return self.await_done().__await__()

    def cancel(self) -> dict[str, Any]:
        """Cancel the live upstream batches; finished requests keep their results."""
        from .tools.api import run_sync

        self._progress = run_sync(self._engine.cancel(self.id))
        return self.progress

    # -- results
    def results(self) -> list[ToolResult]:
        """One ``ToolResult`` per input, in input order; an unfinished item is a
        ``JOB_STILL_RUNNING`` error result, a failed one carries its error code."""
        from .errors import ErrorCode, ToolError

        out: list[ToolResult] = []
        for i, r in enumerate(self._engine.results(self.id)):
            if r is None:
                r = ToolResult.from_error(
                    self.tool,
                    ToolError(ErrorCode.JOB_STILL_RUNNING, f"item {i} has no result yet"),
                )
            out.append(r)
        return out

    def to_batch_result(self) -> Any:
        """The same ``BatchResult`` the interactive engine returns (summary, table, totals)."""
        from .batch import BatchItem, BatchResult

        previews = self._engine.previews(self.id)
        items = [BatchItem(i, previews[i], r, attempts=1) for i, r in enumerate(self.results())]
        return BatchResult(tool=self.tool, items=items, labels=self._engine.labels(self.id))

    @property
    def total_cost(self) -> float:
        return self.to_batch_result().total_cost

    @property
    def usage(self) -> dict[str, int]:
        tot = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        for r in self.results():
            for k in tot:
                v = (r.usage or {}).get(k)
                if isinstance(v, int):
                    tot[k] += v
        return tot

    def to_pandas(self) -> Any:
        """One row per input, aligned to the input's index (``embed_texts``: an ``embedding``
        column)."""
        return self.to_batch_result().to_pandas()

    def to_numpy(self) -> Any:
        """``embed_texts``: the float32 ``(n, dims)`` matrix in input order (NaN rows for
        failed items)."""
        return self.to_batch_result().to_numpy()

    def summary(self) -> str:
        p = self._progress
        return (
            f"{self.tool} batch {self.id}: {p.get('status')} · {p.get('completed', 0)} ok, "
            f"{p.get('failed', 0)} failed, {p.get('in_progress', 0) + p.get('pending', 0)} "
            f"running of {p.get('total', 0)}"
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        if self.done:
            return self.to_batch_result().bundle()
        return {"text/plain": self.summary()}, {}

    def __repr__(self) -> str:
        return f"BatchHandle({self.summary()})"


class _CountsPanel:
    """Counts by status in the existing live panel (widgets / text line / handle)."""

    def __init__(self, title: str, *, enabled: bool) -> None:
        from .batch import _Progress

        self._p = _Progress(title, 1, enabled, title=title)

    def update(self, counts: dict[str, Any]) -> None:
        panel = self._p.panel
        if panel is None:
            return
        total = max(1, int(counts.get("total") or 1))
        done = int(counts.get("completed") or 0) + int(counts.get("failed") or 0)
        parts = [
            f"{counts.get(k, 0)} {k}"
            for k in ("completed", "failed", "in_progress", "pending")
            if counts.get(k)
        ]

        class _E:
            progress = done
            message = " · ".join(parts) or "submitted"
            status = counts.get("status")

        _E.total = total  # type: ignore[attr-defined]
        try:
            panel.progress(_E)
        except Exception:  # progress must never break the wait
            pass

    def close(self, note: str) -> None:
        self._p.close(note)


async def submit(
    tool: str,
    arg_list: list[Any],
    *,
    labels: list[Any] | None = None,
    previews: list[str] | None = None,
    batch_size: int | None = None,
    max_bytes: int | None = None,
) -> BatchHandle:
    """Hand prepared items (argument dicts, or error results) to the engine; a handle at once."""
    from .config import get_settings
    from .tools.batch_engine import DEFAULT_MAX_BYTES, DEFAULT_MAX_REQUESTS, BatchEngine

    settings = get_settings()
    bid = await BatchEngine(settings).submit(
        tool,
        arg_list,
        labels=labels,
        previews=previews,
        max_requests=batch_size or DEFAULT_MAX_REQUESTS,
        max_bytes=max_bytes or DEFAULT_MAX_BYTES,
    )
    return BatchHandle(bid, settings=settings)


def batches(limit: int = 50) -> list[dict[str, Any]]:
    """Batches this machine's registry knows, newest first (id, tool, status, counts, ...)."""
    from .config import get_settings
    from .jobs import get_job_store

    rows = get_job_store(get_settings()).list_batches(limit=limit)
    keep = ("id", "tool", "model", "status", "total", "counts", "created_at", "backend")
    return [{k: r.get(k) for k in keep} for r in rows]


def batch(batch_id: str) -> BatchHandle:
    """Reattach to a batch by id (``orb_…`` or one of its upstream batch ids)."""
    return BatchHandle(batch_id)
