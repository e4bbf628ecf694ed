"""Running one tool call from a cell: blocking on the kernel's loop with a live view, or in the
background as a ``BackgroundJob``; then showing the result as durable outputs.

Every cell mode and line command calls tools through ``call``/``quick``/``background`` here, so
cancel (Stop button), Ctrl-C and failed results are handled in one place. The live views
(``magics/_live.py``) and asyncio are imported on first use: ``%load_ext`` stays cheap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._errors import OpenRouterCancelled, OpenRouterCellError, OpenRouterInterrupted

if TYPE_CHECKING:  # pragma: no cover
    from ._core import OpenRouterMagics
    from ._live import CellPanel, StreamView


def show_bundles(bundles: list[Any], *, rich: bool = True) -> None:
    from ._live import show_bundles as show

    show(bundles, rich=rich)


def cell_panel(**kw: Any) -> CellPanel:
    """A progress panel for one cell (widgets, a display handle or text; see ``_live``)."""
    from ._live import CellPanel

    return CellPanel(**kw)


def stream_view(**kw: Any) -> StreamView:
    """A live view of a streamed answer."""
    from ._live import StreamView

    return StreamView(**kw)


def call(
    m: OpenRouterMagics,
    tool: str,
    args: dict[str, Any],
    *,
    view: StreamView | None = None,
    panel: CellPanel | None = None,
    stream: bool = False,
) -> Any:
    """Run one tool call blocking (nested on the kernel loop); raise on cancel/interrupt/error."""
    import asyncio

    from ..tools import call_tool, run_sync

    state: dict[str, Any] = {}
    started = time.time()

    async def go() -> Any:
        state["loop"] = asyncio.get_running_loop()
        state["task"] = asyncio.current_task()
        if state.get("stop"):  # Stop was clicked before the task existed
            raise asyncio.CancelledError
        ticker = asyncio.ensure_future(_tick(panel)) if panel is not None else None
        try:
            return await call_tool(
                tool,
                args,
                on_text=view.on_text if (view is not None and stream) else None,
                on_progress=panel.progress if panel is not None else None,
            )
        finally:
            if ticker is not None:
                ticker.cancel()
                await asyncio.gather(ticker, return_exceptions=True)

    if panel is not None:
        # may be called from the Stop button's subshell thread: cancel thread-safely. A click
        # before the task exists is remembered (flag first, then look for the task; go()
        # sets the task first, then looks at the flag: one of the two always sees the other).
        def on_stop() -> None:
            state["stop"] = True
            if "task" in state:
                state["loop"].call_soon_threadsafe(state["task"].cancel)

        panel.on_stop = on_stop
        panel.start()
    elif view is not None:
        view.start()
    try:
        result = run_sync(go())
    except KeyboardInterrupt:
        # one line, from the exception: not the panel too, and no trip through the loop
        if panel is not None:
            panel.end("interrupted")
        if view is not None:
            view.fail("interrupted")
        raise OpenRouterInterrupted(tool, resume_hint(m, tool, started)) from None
    except asyncio.CancelledError:
        hint = resume_hint(m, tool, started)
        if panel is not None:
            panel.end("stopped", hint)
        if view is not None:
            view.fail("stopped")
        raise OpenRouterCancelled(
            f"{tool} was stopped", suggestions=[hint] if hint else None
        ) from None
    if view is not None:
        view.flush()
    if result.is_error:
        if panel is not None:
            panel.end("failed", f"[{result.code}]")
        if view is not None:
            view.fail(f"failed: {result.code}")
        raise OpenRouterCellError.from_result(result) from None
    return result


def quick(m: OpenRouterMagics, tool: str, args: dict[str, Any]) -> Any:
    """A short blocking call with no live view (the line commands)."""
    return call(m, tool, args)


def resume_hint(m: OpenRouterMagics, tool: str, started: float) -> str:
    """For an interrupted video call: how to pick the upstream job up again."""
    if tool not in ("generate_video", "get_video_status"):
        return ""
    try:
        from ..jobs import get_job_store

        jobs = get_job_store(m._settings()).list(kind="video", limit=5)
        for j in jobs:
            if j.created_at >= started - 1:
                return f"The video job continues upstream: resume with %openrouter status {j.id}"
    except Exception:
        pass
    return (
        "If a video job was submitted, %openrouter jobs lists it; resume with %openrouter status ID"
    )


def show(
    m: OpenRouterMagics,
    raw: Any,
    fmt: str,
    *,
    view: StreamView | None = None,
    panel: CellPanel | None = None,
    quiet: bool = False,
) -> None:
    """The result as the cell's outputs, replacing the live view (``quiet``: close it only)."""
    if quiet:
        if panel is not None:
            panel.end("done")
        elif view is not None:
            view.fail("hidden")
        return
    bundles = m._bundles(raw, fmt)
    if view is not None:
        view.finish(bundles)
    elif panel is not None:
        panel.finish(bundles, rich=m._rich())
    else:
        show_bundles(bundles, rich=m._rich())


def background(
    m: OpenRouterMagics,
    tool: str,
    args: dict[str, Any],
    *,
    title: str,
    fmt: str = "markdown",
    label: str = "",
    out: str | None = None,
    on_done: Callable[[Any], None] | None = None,
) -> Any:
    """Start the call as a ``BackgroundJob`` (``--background``); the cell returns at once."""
    import asyncio

    from ..tools import call_tool
    from ._jobs import BackgroundJob

    job = BackgroundJob(tool, label or title, wrap=lambda raw: m._wrap(raw, fmt))
    panel = cell_panel(mode=m._panel_mode(), title=f"{title} [{job.id}]", on_stop=job.cancel)
    job.panel = panel
    started = time.time()

    async def run() -> Any:
        ticker = asyncio.ensure_future(_tick(panel))
        try:
            result = await call_tool(tool, args, on_progress=panel.progress)
        except asyncio.CancelledError:
            panel.end("stopped", resume_hint(m, tool, started))
            raise
        finally:
            ticker.cancel()
        if result.is_error:
            panel.end("failed", f"[{result.code}] {result.text[:200]}")
        else:
            if on_done is not None:
                on_done(result)
            panel.finish([m._single_bundle(result, fmt)], rich=m._rich())
        return result

    panel.start()
    job.start(run())
    m._store(out, job)
    hint = f"Started job {job.id}: `%openrouter wait {job.id}`" + (
        f", `await {out}` or `{out}.wait()`" if out else ""
    )
    if m._rich():
        show_bundles([({"text/markdown": hint, "text/plain": hint}, {"or_magic": {"part": "job"}})])
    else:
        print("\n" + hint.replace("`", ""))
    return None


async def _tick(panel: CellPanel | None) -> None:
    """Refresh the panel's elapsed time twice a second while the call runs."""
    import asyncio

    if panel is None:
        return
    try:
        while True:
            await asyncio.sleep(0.5)
            panel.tick()
    except asyncio.CancelledError:
        pass
