"""Live views while a tool runs: streamed text and a progress panel, both ending as static output.

``StreamView`` streams chat text into one display handle (throttled), then replaces it with the
durable bundle. ``CellPanel`` shows an ipywidgets progress panel (status, bar, elapsed, Stop) in a
display handle, or a Markdown status line when widgets are off, or a one-line ``\\r`` progress in
a terminal; when the job ends the handle is updated to the final static bundle and the widgets
are closed, so the saved notebook needs no widget state.
"""

from __future__ import annotations

import html
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ..display import Bundle


def shell_kind(shell: Any) -> str:
    """``kernel`` (ipykernel), ``terminal`` (IPython prompt) or ``other`` (bare InteractiveShell)."""
    names = {c.__name__ for c in type(shell).__mro__}
    if "ZMQInteractiveShell" in names or getattr(shell, "kernel", None) is not None:
        return "kernel"
    if "TerminalInteractiveShell" in names:
        return "terminal"
    return "other"


def _display(data: dict[str, Any], md: dict[str, Any] | None = None, **kw: Any) -> Any:
    from IPython.display import display

    return display(data, metadata=md or {}, raw=True, **kw)


def show_bundles(bundles: list[Bundle], *, rich: bool = True) -> None:
    """Display bundles as outputs; in a terminal print their ``text/plain``."""
    for data, md in bundles:
        if rich:
            _display(data, md)
        else:
            print(data.get("text/plain", ""))


def _fmt_elapsed(s: float) -> str:
    s = int(s)
    return f"{s // 60}:{s % 60:02d}" if s >= 60 else f"{s}s"


class StreamView:
    """Streams text deltas into a display handle (or stdout in a terminal)."""

    def __init__(
        self, *, rich: bool, fmt: str = "markdown", throttle_s: float = 0.05, label: str = ""
    ) -> None:
        self.rich = rich
        self.fmt = fmt
        self.throttle_s = throttle_s
        self.label = label
        self.parts: list[str] = []
        self.handle: Any = None
        self._last = 0.0
        self._dirty = False
        self.updates = 0

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def start(self) -> None:
        if self.rich:
            waiting = f"*{html.escape(self.label or 'waiting for the model')}…*"
            self.handle = _display(
                {"text/markdown": waiting, "text/plain": "…"},
                {"or_magic": {"part": "stream"}},
                display_id=True,
            )

    def on_text(self, delta: str) -> None:
        if not delta:
            return
        self.parts.append(delta)
        if not self.rich:
            sys.stdout.write(delta)
            sys.stdout.flush()
            return
        self._dirty = True
        now = time.monotonic()
        if now - self._last >= self.throttle_s:
            self.flush()

    def flush(self) -> None:
        if not (self.rich and self._dirty and self.handle is not None):
            return
        text = self.text
        data = (
            {"text/markdown": text + " ▌", "text/plain": text}
            if self.fmt in ("markdown", "code")
            else {"text/plain": text}
        )
        self.handle.update(data, metadata={"or_magic": {"part": "stream"}}, raw=True)
        self._last = time.monotonic()
        self._dirty = False
        self.updates += 1

    def finish(self, bundles: list[Bundle]) -> None:
        """Replace the live text with the final bundles (first one in place)."""
        if not self.rich:
            if self.parts:
                sys.stdout.write("\n")
                # text already printed live: only the parts that are not the text itself
                for data, md in bundles:
                    part = (md.get("or_magic") or {}).get("part")
                    if part == "text":
                        plain = data.get("text/plain", "")
                        tail = plain[len(self.text) :] if plain.startswith(self.text) else ""
                        if tail.strip():
                            print(tail.strip())
                    else:
                        print(data.get("text/plain", ""))
            else:
                show_bundles(bundles, rich=False)
            return
        first, *rest = bundles
        if self.handle is not None:
            self.handle.update(first[0], metadata=first[1], raw=True)
        else:
            _display(*first)
        show_bundles(rest)

    def fail(self, note: str) -> None:
        """Leave what streamed so far (marked as cut short), or nothing."""
        if not self.rich:
            if self.parts:
                sys.stdout.write("\n")
            return
        if self.handle is None:
            return
        text = self.text
        if text.strip():
            self.handle.update(
                {"text/markdown": f"{text}\n\n*({note})*", "text/plain": f"{text}\n({note})"},
                metadata={"or_magic": {"part": "partial"}},
                raw=True,
            )
        else:
            self.handle.update({"text/plain": ""}, metadata={}, raw=True)


class CellPanel:
    """Progress for long jobs: ``widgets`` (ipywidgets), ``handle`` (Markdown line) or ``text``."""

    def __init__(self, *, mode: str, title: str, on_stop: Callable[[], Any] | None = None) -> None:
        self.mode = mode
        self.title = title
        self.on_stop = on_stop
        self.started = time.monotonic()
        self.status = "starting"
        self.fraction: float | None = None
        self.message = ""
        self.handle: Any = None
        self._w: dict[str, Any] = {}
        self._last_text = 0.0
        self._text_len = 0
        self.closed = False
        self.stop_routed = False
        self.last_update: tuple[dict[str, Any], dict[str, Any]] | None = None

    # -- lifecycle
    def start(self) -> None:
        if self.mode == "widgets":
            import ipywidgets as w

            status = w.HTML(value=self._status_html())
            bar = w.FloatProgress(
                value=0.0, min=0.0, max=1.0, bar_style="info", layout=w.Layout(width="220px")
            )
            elapsed = w.HTML(value="0s")
            stop = w.Button(
                description="Stop",
                icon="stop",
                button_style="danger",
                tooltip="Cancel this job",
                layout=w.Layout(width="80px"),
            )
            stop.on_click(lambda _b: self._stop_clicked())
            from ._subshell import route_to_subshell

            # clicks are handled even while a blocking cell keeps the main thread busy
            self.stop_routed = route_to_subshell(stop)
            box = w.HBox([status, bar, elapsed, stop])
            self._w = {"status": status, "bar": bar, "elapsed": elapsed, "stop": stop, "box": box}
            self.handle = _display_widget(box)
        elif self.mode == "handle":
            self.handle = _display(*self._line_bundle(), display_id=True)
        else:
            self._text_line(force=True)

    @property
    def widget(self) -> Any:
        return self._w.get("box")

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _stop_clicked(self) -> None:
        self.status = "stopping"
        if "stop" in self._w:
            self._w["stop"].disabled = True
            self._w["status"].value = self._status_html()
        if self.on_stop is not None:
            self.on_stop()

    # -- updates
    def progress(self, event: Any) -> None:
        total = getattr(event, "total", None)
        value = getattr(event, "progress", None)
        if isinstance(total, (int, float)) and total > 0 and isinstance(value, (int, float)):
            self.fraction = max(0.0, min(1.0, value / total))
        status = getattr(event, "status", None)
        if status:
            self.status = str(status)
        msg = getattr(event, "message", "")
        if msg:
            self.message = str(msg)
        self._refresh()

    def tick(self) -> None:
        self._refresh(tick=True)

    def _status_html(self) -> str:
        msg = f" — {html.escape(self.message[:120])}" if self.message else ""
        return f"<b>{html.escape(self.title)}</b>: {html.escape(self.status)}{msg}"

    def _line(self) -> str:
        pct = f" {self.fraction * 100:3.0f}%" if self.fraction is not None else ""
        msg = f" — {self.message[:80]}" if self.message else ""
        return f"{self.title}: {self.status}{pct} · {_fmt_elapsed(self.elapsed)}{msg}"

    def _line_bundle(self) -> tuple[dict[str, Any], dict[str, Any]]:
        line = self._line()
        return (
            {"text/markdown": f"⏳ {html.escape(line, quote=False)}", "text/plain": line},
            {"or_magic": {"part": "progress"}},
        )

    def _refresh(self, tick: bool = False) -> None:
        if self.closed:
            return
        if self.mode == "widgets":
            w = self._w
            if not tick:
                w["status"].value = self._status_html()
                if self.fraction is not None:
                    w["bar"].value = self.fraction
            w["elapsed"].value = _fmt_elapsed(self.elapsed)
        elif self.mode == "handle":
            now = time.monotonic()
            if now - self._last_text >= 1.0 and self.handle is not None:
                self._last_text = now
                data, md = self._line_bundle()
                self.handle.update(data, metadata=md, raw=True)
        else:
            self._text_line()

    def _text_line(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_text < 1.0:
            return
        self._last_text = now
        line = self._line()
        pad = max(0, self._text_len - len(line))
        sys.stdout.write("\r" + line + " " * pad)
        sys.stdout.flush()
        self._text_len = len(line)

    # -- endings
    def _close_widgets(self) -> None:
        box = self._w.get("box")
        if box is not None:
            for child in [*box.children, box]:
                try:
                    child.close()
                except Exception:  # pragma: no cover
                    pass

    def finish(self, bundles: list[Bundle], *, rich: bool = True) -> None:
        """Replace the panel with the first bundle; show the others after it."""
        self.closed = True
        if self.mode == "text":
            self.status = "done"
            sys.stdout.write("\r" + " " * self._text_len + "\r")
            sys.stdout.flush()
            show_bundles(bundles, rich=rich)
            return
        first, *rest = bundles
        self.last_update = first
        if self.handle is not None:
            self.handle.update(first[0], metadata=first[1], raw=True)
        else:
            _display(*first)
        self._close_widgets()
        show_bundles(rest)

    def republish(self) -> None:
        """Send the final update again from the *current* cell.

        A background job's update is parented to the cell that started it; nbclient ignores
        messages parented to a finished cell, but applies a display-id update sent from the cell
        being executed to every output with that id. ``job.wait()`` calls this.
        """
        if self.handle is not None and self.last_update is not None:
            data, md = self.last_update
            self.handle.update(data, metadata=md, raw=True)

    def end(self, status: str, note: str = "") -> None:
        """A job that ends without a result (error, cancelled): leave a one-line static status."""
        self.closed = True
        self.status = status
        line = f"{self.title}: {status} after {_fmt_elapsed(self.elapsed)}" + (
            f" — {note}" if note else ""
        )
        if self.mode == "text":
            pad = max(0, self._text_len - len(line))
            sys.stdout.write("\r" + line + " " * pad + "\n")
            sys.stdout.flush()
            return
        self.last_update = (
            {"text/markdown": html.escape(line, quote=False), "text/plain": line},
            {"or_magic": {"part": "status", "status": status}},
        )
        if self.handle is not None:
            self.handle.update(self.last_update[0], metadata=self.last_update[1], raw=True)
        self._close_widgets()


def _display_widget(widget: Any) -> Any:
    from IPython.display import display

    return display(widget, display_id=True)


def widgets_available() -> bool:
    try:
        import importlib.util

        return importlib.util.find_spec("ipywidgets") is not None
    except Exception:  # pragma: no cover
        return False
