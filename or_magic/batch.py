"""Run one tool over many inputs: ``or_magic.map("analyze_image", paths, question="...")``.

- Bounded concurrency (``concurrency=8``), a progress bar (widgets in Jupyter, a text line
  elsewhere), per-item errors collected instead of aborting the batch, and a cost total.
- Rate limits: an item refused with ``retry_after_seconds`` (``UPSTREAM_REFUSED``/``UPSTREAM_HTTP``
  429) pauses *every* worker until that moment, then the item is retried (``retries`` times).
- Works from scripts and inside a running kernel (``run_sync``: nested on the kernel loop).

Each item is either a dict of arguments (merged over ``common_args``) or a single value for the
tool's main input (``image_path`` for ``analyze_image``, ``prompt`` for ``chat_completion``, ...).
Notebook objects (PIL images, arrays, figures, bytes) become data URLs for the analysis tools.
"""

from __future__ import annotations

import asyncio
import sys
import time
import types
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .result import ToolResult

MAIN_ARG = {
    "chat_completion": "prompt",
    "start_chat_completion": "prompt",
    "analyze_image": "image_path",
    "analyze_audio": "audio_path",
    "analyze_video": "video_path",
    "speech_to_text": "audio_path",
    "generate_image": "prompt",
    "generate_image_dedicated": "prompt",
    "generate_audio": "prompt",
    "text_to_speech": "input",
    "generate_video": "prompt",
    "generate_video_from_image": "image",
    "get_video_status": "video_id",
    "get_model_info": "model",
    "validate_model": "model",
    "search_models": "query",
    "get_chat_completion_status": "job_id",
    "embed_texts": "input",
}
_MEDIA_ARGS = {"image_path", "audio_path", "video_path", "image"}
_RATE_CODES = {"UPSTREAM_REFUSED", "UPSTREAM_HTTP", "UPSTREAM_TIMEOUT"}


@dataclass
class BatchItem:
    index: int
    input: Any
    result: ToolResult
    attempts: int = 1
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.result.ok


@dataclass
class BatchResult:
    """Results in input order; ``.ok`` / ``.failed`` split them; ``.total_cost`` adds up."""

    tool: str
    items: list[BatchItem] = field(default_factory=list)
    elapsed_s: float = 0.0
    fmt: str = "markdown"
    labels: list[Any] | None = None  # the pandas index of the input, when it had one

    # -- sequence of ToolResults
    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[ToolResult]:
        return (i.result for i in self.items)

    def __getitem__(self, i: int) -> ToolResult:
        return self.items[i].result

    @property
    def results(self) -> list[ToolResult]:
        return [i.result for i in self.items]

    @property
    def ok(self) -> list[ToolResult]:
        return [i.result for i in self.items if i.ok]

    @property
    def failed(self) -> list[BatchItem]:
        return [i for i in self.items if not i.ok]

    @property
    def all_ok(self) -> bool:
        return not self.failed

    @property
    def texts(self) -> list[str | None]:
        """Answer text per input (None where the item failed)."""
        return [i.result.text if i.ok else None for i in self.items]

    @property
    def total_cost(self) -> float:
        return float(sum(i.result.cost or 0.0 for i in self.items))

    @property
    def total_tokens(self) -> int:
        n = 0
        for i in self.items:
            u = i.result.usage or {}
            t = u.get("total_tokens")
            if isinstance(t, int):
                n += t
        return n

    @property
    def offline(self) -> bool:
        return any(i.result.offline for i in self.items)

    def raise_for_errors(self) -> BatchResult:
        """Raise the first item's error (``ToolError``) if any item failed."""
        for item in self.items:
            if not item.ok:
                item.result.raise_for_error()
        return self

    def to_records(self) -> list[dict[str, Any]]:
        rows = []
        for i in self.items:
            r = i.result
            rows.append(
                {
                    "index": i.index,
                    "input": _short(i.input),
                    "ok": r.ok,
                    "code": r.code,
                    "text": r.text,
                    "model": r.meta.get("model"),
                    "cost_usd": r.cost,
                    "total_tokens": (r.usage or {}).get("total_tokens"),
                    "latency_ms": r.meta.get("latency_ms"),
                    "attempts": i.attempts,
                    "paths": [m.path for m in r.media if m.path],
                }
            )
        return rows

    def to_pandas(self) -> Any:
        """One row per input, indexed like the input Series/DataFrame (else 0..n-1); the keys of
        structured answers (``--schema`` / ``response_format``) become columns of their own;
        ``embed_texts`` gives an ``embedding`` column (one float32 vector per row, None where the
        item failed)."""
        if self.tool == "embed_texts":
            datas = [{"embedding": _row(i.result)} for i in self.items]
            return results_frame(self.to_records(), datas, self.labels)
        return results_frame(self.to_records(), [i.result.data for i in self.items], self.labels)

    def to_numpy(self) -> Any:
        """``embed_texts``: one float32 ``(n, dims)`` array in input order; a failed item's row
        is NaN (check ``.failed``), so rows always line up with the input."""
        return stack_vectors([i.result for i in self.items])

    # -- display
    def summary(self) -> str:
        from .display import format_cost

        cost = format_cost(self.total_cost) or "$0"
        off = " · OFFLINE" if self.offline else ""
        return (
            f"{self.tool}: {len(self.ok)}/{len(self)} ok, {len(self.failed)} failed · "
            f"{self.total_tokens:,} tokens · {cost} · {self.elapsed_s:.1f} s{off}"
        )

    def bundle(self) -> tuple[dict[str, Any], dict[str, Any]]:
        from .display import md_escape

        rows = ["| # | input | result |", "|---|---|---|"]
        for i in self.items:
            r = i.result
            if r.ok:
                body = r.text.strip().replace("\n", " ")
                if len(body) > 200:
                    body = body[:197] + "…"
                if r.media:
                    body += " " + " ".join(
                        f"[{m.kind}]({m.path})" if m.path else f"[{m.kind}]" for m in r.media
                    )
            else:
                body = f"**`{r.code}`** {r.text[:150]}"
            cell = md_escape(body).replace("|", "\\|")
            inp = md_escape(_short(i.input)).replace("|", "\\|")
            rows.append(f"| {i.index} | {inp} | {cell} |")
        badge = " **`offline`**" if self.offline else ""
        md = "\n".join(rows) + f"\n\n<sub>{md_escape(self.summary())}</sub>{badge}"
        plain = "\n".join(
            f"[{i.index}] {'ok' if i.ok else i.result.code}: {i.result.text[:100]}"
            for i in self.items
        )
        return (
            {"text/markdown": md, "text/plain": plain + "\n" + self.summary()},
            {"or_magic": {"tool": self.tool, "part": "batch"}},
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        return self.bundle()

    def __repr__(self) -> str:
        return f"BatchResult({self.summary()})"


def _row(r: ToolResult) -> Any:
    """One item's vector (1-D) from an ``embed_texts`` result, or None."""
    v = r.value if r.ok else None
    if v is None:
        return None
    return v[0] if len(v) == 1 else v


def stack_vectors(results: list[ToolResult]) -> Any:
    """Per-item ``embed_texts`` results → one float32 matrix (NaN rows for failures)."""
    import numpy as np

    rows = [_row(r) for r in results]
    dims = {len(v) for v in rows if v is not None}
    if len(dims) > 1:
        raise ValueError(f"vectors of different dimensions: {sorted(dims)}")
    width = dims.pop() if dims else 0
    out = np.full((len(rows), width), np.nan, dtype=np.float32)
    for i, v in enumerate(rows):
        if v is not None:
            out[i] = v
    return out


def results_frame(
    records: list[dict[str, Any]], datas: list[dict[str, Any] | None], labels: list[Any] | None
) -> Any:
    """Records → DataFrame aligned to ``labels``; dict answers expand into columns (a key that
    clashes with a result column is prefixed ``data.``)."""
    import pandas as pd

    frame = pd.DataFrame.from_records(records)
    if labels is not None and len(labels) == len(frame):
        frame.index = pd.Index(labels)
    keys: list[str] = []
    for d in datas:
        for k in d or {}:
            if k not in keys:
                keys.append(k)
    for k in keys:
        col = f"data.{k}" if k in frame.columns else k
        frame[col] = [(d or {}).get(k) if d else None for d in datas]
    return frame


def as_items(items: Any) -> tuple[list[Any], list[Any] | None]:
    """Inputs and their labels: a pandas Series keeps its index (values are the items), a
    DataFrame gives one dict of arguments per row; anything else is just listed. pandas is
    only imported when it is already loaded (so it stays optional)."""

    if "pandas" in sys.modules:
        import pandas as pd

        if isinstance(items, pd.Series):
            return items.tolist(), items.index.tolist()
        if isinstance(items, pd.DataFrame):
            return items.to_dict(orient="records"), items.index.tolist()
    return list(items), None


def _short(v: Any, n: int = 60) -> str:
    if isinstance(v, Mapping):
        s = ", ".join(f"{k}={_short(x, 20)}" for k, x in v.items())
    elif isinstance(v, str):
        s = v if not v.startswith("data:") else v.split(",", 1)[0] + ",…"
    else:
        s = type(v).__name__
    s = s.replace("\n", " ")
    return s if len(s) <= n else s[: n - 1] + "…"


def build_args(tool: str, item: Any, common: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments for one item: a dict is merged over ``common``; a value fills the main input."""
    if tool == "embed_texts":  # per-item vectors live in ``value``; no .npy per item
        common = {"npy": False, **common}
    if isinstance(item, Mapping):
        return {**common, **item}
    key = MAIN_ARG.get(tool)
    if key is None:
        raise TypeError(f"{tool} needs dict items (its main argument is not known)")
    value = item
    if key in _MEDIA_ARGS and not isinstance(item, str):
        from .magics._sources import to_source

        kind = {"audio_path": "audio", "video_path": "video"}.get(key, "image")
        value = to_source("item", {"item": item}, default_kind=kind).value
    return {**common, key: value}


class _Progress:
    def __init__(self, tool: str, total: int, enabled: bool, title: str | None = None) -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self.cost = 0.0
        self.panel: Any = None
        if not enabled or total == 0:
            return
        try:
            from IPython import get_ipython

            from .magics._live import CellPanel, shell_kind, widgets_available

            ip = get_ipython()
            if ip is None:
                mode = "text"
            else:
                kind = shell_kind(ip)
                mode = (
                    "widgets"
                    if kind == "kernel" and widgets_available()
                    else "text"
                    if kind == "terminal"
                    else "handle"
                )
            self.panel = CellPanel(mode=mode, title=title or f"{tool} ×{total}")
            self.panel.start()
        except Exception:  # progress must never break the batch
            self.panel = None

    def update(self, result: ToolResult, status: str = "running") -> None:
        self.done += 1
        if result.is_error:
            self.failed += 1
        self.cost += result.cost or 0.0
        self._push(status)

    def _push(self, status: str) -> None:
        if self.panel is None:
            return
        from .display import format_cost

        fail = f", {self.failed} failed" if self.failed else ""

        class _E:
            progress = self.done
            total = self.total
            message = f"{self.done}/{self.total}{fail} · {format_cost(self.cost) or '$0'}"

        _E.status = status  # type: ignore[attr-defined]
        try:
            self.panel.progress(_E)
        except Exception:
            pass

    def note(self, status: str) -> None:
        self._push_status(status)

    def _push_status(self, status: str) -> None:
        if self.panel is not None:
            self.panel.status = status
            try:
                self.panel.tick()
            except Exception:
                pass

    def close(self, summary: str) -> None:
        if self.panel is not None:
            try:
                self.panel.end("done", summary)
            except Exception:
                pass


async def amap_tool(
    tool: str,
    items: Iterable[Any],
    *,
    concurrency: int = 8,
    progress: bool = True,
    retries: int = 3,
    max_retry_wait: float = 120.0,
    **common_args: Any,
) -> BatchResult:
    """Async ``map_tool``: await it inside a running loop (e.g. a notebook cell)."""
    from .tools import call_tool

    inputs, labels = as_items(items)
    started = time.monotonic()
    out: list[BatchItem | None] = [None] * len(inputs)
    sem = asyncio.Semaphore(max(1, int(concurrency)))
    resume_at = 0.0  # loop time before which nobody starts a call (shared Retry-After)
    loop = asyncio.get_running_loop()
    prog = _Progress(tool, len(inputs), progress)

    async def one(i: int, item: Any) -> None:
        nonlocal resume_at
        t0 = time.monotonic()
        try:
            args = build_args(tool, item, common_args)
        except Exception as exc:
            from .errors import ErrorCode, ToolError

            code = exc.code if isinstance(exc, ToolError) else ErrorCode.INVALID_INPUT
            msg = exc.message if isinstance(exc, ToolError) else f"{type(exc).__name__}: {exc}"
            res = ToolResult.from_error(tool, ToolError(code, f"item {i}: {msg}"))
            out[i] = BatchItem(i, item, res, attempts=0)
            prog.update(res)
            return
        attempt = 0
        async with sem:
            while True:
                attempt += 1
                wait = resume_at - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                res = await call_tool(tool, args)
                ra = res.retry_after_seconds
                if (
                    res.is_error
                    and res.code in _RATE_CODES
                    and isinstance(ra, (int, float))
                    and ra >= 0
                    and attempt <= retries
                ):
                    delay = min(float(ra), max_retry_wait)
                    resume_at = max(resume_at, loop.time() + delay)
                    prog.note(f"rate-limited, waiting {delay:.0f}s")
                    continue
                break
        out[i] = BatchItem(i, item, res, attempts=attempt, elapsed_s=time.monotonic() - t0)
        prog.update(res)

    try:
        await asyncio.gather(*(one(i, it) for i, it in enumerate(inputs)))
    except BaseException:
        prog.close("interrupted")
        raise
    batch = BatchResult(
        tool=tool,
        items=[x for x in out if x is not None],
        elapsed_s=time.monotonic() - started,
        labels=labels,
    )
    prog.close(batch.summary())
    return batch


def map_tool(
    tool: str,
    items: Iterable[Any],
    *,
    engine: str = "interactive",
    concurrency: int = 8,
    progress: bool = True,
    retries: int = 3,
    max_retry_wait: float = 120.0,
    batch_size: int | None = None,
    labels: list[Any] | None = None,
    **common_args: Any,
) -> Any:
    """Run ``tool`` once per item, e.g.
    ``or_magic.map("analyze_image", paths, question="What is this?", concurrency=8)``.

    ``items`` may be a list, a pandas Series (results keep its index) or a DataFrame (one dict
    of arguments per row). ``engine="interactive"`` (default) calls now and blocks, returning a
    ``BatchResult``; ``engine="batch"`` submits OpenRouter Batch API jobs and returns a
    ``BatchHandle`` at once (``.wait()``, ``await``, ``.cancel()``, ``.results()``) that survives
    kernel restarts. ``labels`` replaces the index results are aligned to. Never raises for a
    failed item: look at ``.failed`` / the per-item codes.
    """
    from .tools import run_sync

    if engine == "batch":
        return run_sync(
            amap_batch(
                tool, items, progress=progress, batch_size=batch_size, labels=labels, **common_args
            )
        )
    if engine != "interactive":
        raise ValueError("engine must be 'interactive' or 'batch'")
    result = run_sync(
        amap_tool(
            tool,
            items,
            concurrency=concurrency,
            progress=progress,
            retries=retries,
            max_retry_wait=max_retry_wait,
            **common_args,
        )
    )
    if labels is not None:
        result.labels = list(labels)
    return result


async def amap_batch(
    tool: str,
    items: Iterable[Any],
    *,
    progress: bool = True,
    batch_size: int | None = None,
    max_bytes: int | None = None,
    labels: list[Any] | None = None,
    **common_args: Any,
) -> Any:
    """Submit ``tool`` over ``items`` as Batch API jobs; returns a ``BatchHandle`` (not waited).

    ``labels`` overrides the index the results are aligned to (default: the Series' index)."""
    from .batch_handle import submit
    from .errors import ErrorCode, ToolError

    inputs, found = as_items(items)
    labels = labels if labels is not None else found
    arg_list: list[Any] = []
    for i, item in enumerate(inputs):
        try:
            arg_list.append(build_args(tool, item, common_args))
        except Exception as exc:
            code = exc.code if isinstance(exc, ToolError) else ErrorCode.INVALID_INPUT
            msg = exc.message if isinstance(exc, ToolError) else f"{type(exc).__name__}: {exc}"
            arg_list.append(ToolResult.from_error(tool, ToolError(code, f"item {i}: {msg}")))
    prog = _Progress(tool, len(inputs), progress, title=f"{tool} ×{len(inputs)} · submitting")
    try:
        return await submit(
            tool,
            arg_list,
            labels=labels,
            previews=[_short(x, 80) for x in inputs],
            batch_size=batch_size,
            max_bytes=max_bytes,
        )
    finally:
        prog.close("submitted")


class _CallableModule(types.ModuleType):
    """``or_magic.batch`` is this module *and* the reattach call ``or_magic.batch("orb_…")``
    (a package attribute cannot be both a submodule and a function otherwise)."""

    def __call__(self, batch_id: str) -> Any:
        from .batch_handle import batch

        return batch(batch_id)


sys.modules[__name__].__class__ = _CallableModule
_module = sys.modules[__name__]  # what ``or_magic.batch`` resolves to (see or_magic/__init__.py)
