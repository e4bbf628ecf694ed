"""What every tab shares: ``DashboardPanel`` (a tab's box) and ``RunPanel`` (a tab that runs a tool).

A run is an asyncio task on the kernel's loop (started from the Run button's callback, so the UI
stays responsive); Stop cancels it; ``on_progress`` drives the bar, the status line and elapsed
time; ``on_text`` streams chat answers.
"""

from __future__ import annotations

import asyncio
import html
import math
import time
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ...errors import ErrorCode, ToolError
from ...result import Progress, ToolResult
from .. import _choices as C
from .._env import spawn
from .._gallery import Gallery, error_html, footer, text_html

if TYPE_CHECKING:  # pragma: no cover
    from ..dashboard import Dashboard


def textarea(placeholder: str, css: str, rows: int = 4) -> W.Textarea:
    """A full-width text box with the CSS class the browser tests find it by."""
    w = W.Textarea(placeholder=placeholder, rows=rows, layout=W.Layout(width="100%"))
    w.add_class(css)
    return w


def dropdown(description: str, options: list[tuple[str, Any]], css: str) -> W.Dropdown:
    """A dropdown at its first option, with the CSS class the browser tests find it by."""
    w = W.Dropdown(
        description=description, options=options, value=options[0][1] if options else None
    )
    w.add_class(css)
    return w


def chosen(**options: Any) -> dict[str, Any]:
    """The tool arguments whose control is set. A control left at "default" (None), blank, zero
    or unchecked sends nothing, so the tool's own default applies."""
    return {name: value for name, value in options.items() if value}


def elapsed_text(seconds: float) -> str:
    """``12.3 s`` with a no-break space: the number and its unit never land on separate lines."""
    return f"{seconds:.1f}\u00a0s"


class DashboardPanel:
    """Base: a tab with a box; ``set_catalog`` is called when models are (re)loaded."""

    name = ""
    title = ""

    def __init__(self, dash: Dashboard) -> None:
        self.dash = dash
        self.box = W.VBox([])
        self.box.add_class(f"or-magic-tab-{self.name}")
        self.box.add_class("or-magic-tab")

    def set_catalog(self, models: list[dict[str, Any]], videos: dict[str, dict[str, Any]]) -> None:
        pass

    def close(self) -> None:
        pass


class RunPanel(DashboardPanel):
    """A tab that runs one tool: controls, Run/Stop, progress, error box, text and gallery."""

    streams_text = False

    def __init__(self, dash: Dashboard, *, with_model: bool = True) -> None:
        super().__init__(dash)
        self.catalog: list[dict[str, Any]] = []
        self.videos: dict[str, dict[str, Any]] = {}
        self.model = W.Dropdown(description="Model", options=[("loading models…", None)])
        self.model.layout.width = "560px"
        self.model.add_class("or-magic-model")
        self.model.add_class(f"or-magic-model-{self.name}")
        self.run_button = W.Button(description="Run", icon="play", button_style="primary")
        self.run_button.add_class("or-magic-run")
        self.stop_button = W.Button(description="Stop", icon="stop", disabled=True)
        self.stop_button.add_class("or-magic-stop")
        self.clear_button = W.Button(description="Clear", icon="trash", tooltip="Clear results")
        self.clear_button.add_class("or-magic-clear")
        self.progress = W.FloatProgress(value=0.0, min=0.0, max=100.0)
        self.progress.layout.width = "260px"
        self.progress.layout.visibility = "hidden"
        self.progress.add_class("or-magic-progress")
        self.status = W.HTML("")
        self.status.add_class("or-magic-status")
        # The elapsed time keeps its width whatever the status beside it says: it neither shrinks
        # (which wrapped "0.0" / "s" onto two lines) nor jitters as the digits grow.
        self.elapsed = W.HTML("", layout=W.Layout(flex="0 0 auto", min_width="4.5em"))
        self.elapsed.add_class("or-magic-elapsed")
        self.status.layout.flex = "1 1 auto"
        self.error = W.HTML("")
        self.error.add_class("or-magic-error")
        self.output = W.HTML("")
        self.output.add_class("or-magic-output")
        self.gallery = Gallery()
        self.task: Any = None
        self.last_result: ToolResult | None = None
        self._text = ""
        self._text_flushed = 0.0
        self.run_button.on_click(lambda _b: self.run())
        self.stop_button.on_click(lambda _b: self.stop())
        self.clear_button.on_click(lambda _b: self.clear())
        self._with_model = with_model
        self.box.children = self.layout()

    # ---- layout ----------------------------------------------------------------------------------

    def controls(self) -> list[W.Widget]:
        return []

    def actions(self) -> W.Widget:
        return W.HBox(
            [
                self.run_button,
                self.stop_button,
                self.clear_button,
                self.progress,
                self.elapsed,
                self.status,
            ],
            layout=W.Layout(align_items="center"),
        )

    def layout(self) -> list[W.Widget]:
        head = [self.model] if self._with_model else []
        return [
            *head,
            *self.controls(),
            self.actions(),
            self.error,
            self.output,
            self.gallery.box,
        ]

    # ---- models ----------------------------------------------------------------------------------

    def model_filter(self) -> dict[str, Any]:
        return {}

    def preferred_models(self) -> list[str | None]:
        return []

    def set_catalog(self, models: list[dict[str, Any]], videos: dict[str, dict[str, Any]]) -> None:
        self.catalog = models
        self.videos = videos
        self.refill_models()

    def model_options(self) -> list[tuple[str, Any]]:
        return C.model_options(C.filter_models(self.catalog, **self.model_filter()))

    def refill_models(self) -> None:
        if not self._with_model:
            return
        options = self.model_options()
        current = self.model.value
        if not options:
            self.model.options = [("(no matching models; the tool default is used)", None)]
            self.model.value = None
            return
        ids = [v for _, v in options]
        value = current if current in ids else C.pick_default(options, self.preferred_models())
        self.model.options = options
        self.model.value = value

    # ---- running ---------------------------------------------------------------------------------

    def build_call(self, handles: list[str]) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    @property
    def tool_name(self) -> str:
        return self.name

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def run(self) -> Any:
        """Start the tool (the Run button's handler). Returns the task (or None if refused)."""
        if self.running:
            return self.task
        self.error.value = ""
        self.output.value = ""
        self._text = ""
        handles: list[str] = []
        try:
            tool, args = self.build_call(handles)
        except ToolError as err:
            self._release(handles)
            self.show_result(ToolResult.from_error(self.tool_name, err))
            return None
        except Exception as exc:  # a notebook object that cannot be converted, a UI bug
            self._release(handles)
            err = ToolError(
                ErrorCode.INTERNAL,
                f"Could not prepare the call ({type(exc).__name__}: {exc})",
                suggestions=["Check the selected input; this may be a bug in or_magic"],
            )
            self.show_result(ToolResult.from_error(self.tool_name, err))
            return None
        self._set_running(True)  # at once, so a second click cannot start a second run
        self.task = spawn(self._execute(tool, args, handles))
        return self.task

    def stop(self) -> None:
        if self.running:
            self.task.cancel()
            self.status.value = "Stopping…"

    def clear(self) -> None:
        self.gallery.clear()
        self.output.value = ""
        self.error.value = ""
        self.status.value = ""

    def _set_running(self, running: bool) -> None:
        self.run_button.disabled = running
        self.stop_button.disabled = not running
        if running:
            self.progress.value = 0.0
            self.progress.bar_style = "info"
            self.progress.layout.visibility = "visible"
            self.status.value = "Running…"
            self.elapsed.value = elapsed_text(0.0)

    @staticmethod
    def _release(handles: list[str]) -> None:
        if handles:
            from ...media.sources import release

            for h in handles:
                release(h)

    async def _tick(self, started: float) -> None:
        while True:
            self.elapsed.value = elapsed_text(time.monotonic() - started)
            await asyncio.sleep(0.5)

    async def _execute(self, tool: str, args: dict[str, Any], handles: list[str]) -> ToolResult:
        from ...tools import call_tool

        started = time.monotonic()
        ticker = asyncio.ensure_future(self._tick(started))
        try:
            result = await call_tool(
                tool,
                args,
                on_progress=self._on_progress,
                on_text=self._on_text if self.streams_text else None,
            )
        except asyncio.CancelledError:
            self.status.value = "Stopped."
            self.progress.bar_style = "warning"
            raise
        finally:
            ticker.cancel()
            self.elapsed.value = elapsed_text(time.monotonic() - started)
            self._release(handles)
            self._set_running(False)
        self.show_result(result)
        try:
            self.dash.after_run(result)
        except Exception:  # refreshing side panels must never lose a result
            pass
        return result

    def _on_progress(self, p: Progress) -> None:
        if p.total:
            pct = 100.0 * p.progress / p.total
        else:  # unknown total: fill asymptotically so the bar still moves
            pct = 100.0 * (1.0 - math.exp(-p.progress / 8.0))
        self.progress.value = max(0.0, min(100.0, pct))
        bits = [b for b in (p.status, p.message) if b]
        self.status.value = html.escape(" · ".join(bits) or "Working…")
        if p.elapsed_s:
            self.elapsed.value = elapsed_text(p.elapsed_s)

    def _on_text(self, delta: str) -> None:
        self._text += delta
        now = time.monotonic()
        if now - self._text_flushed > 0.05:
            self._text_flushed = now
            self.output.value = text_html(self._text)

    def show_result(self, result: ToolResult) -> None:
        self.last_result = result
        if result.is_error:
            self.error.value = error_html(result)
            self.status.value = f"Failed: {html.escape(str(result.code))}"
            self.progress.bar_style = "danger"
            self.progress.layout.visibility = "visible"
            return
        self.progress.value = 100.0
        self.progress.bar_style = "success"
        text = self.result_text(result)
        self.output.value = text_html(text) if text else ""
        self.gallery.add_result(result)
        still = (result.meta or {}).get("code") == ErrorCode.JOB_STILL_RUNNING.value
        note = " · still running: resume it from the Jobs tab" if still else ""
        self.status.value = html.escape(footer(result) + note)

    def result_text(self, result: ToolResult) -> str:
        return result.text
