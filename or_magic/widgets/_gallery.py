"""Result rendering: the red error box, the text answer, and the media gallery with Save buttons."""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import TYPE_CHECKING

import ipywidgets as W

from ..errors import ToolError

if TYPE_CHECKING:  # pragma: no cover
    from ..result import MediaItem, ToolResult

# Media bigger than this is not pushed through the widget comm; the player says where it is.
PLAYER_MAX_BYTES = 64 * 1024 * 1024

try:  # shared with the magics when present
    from ..display import format_cost, human_bytes
except ImportError:  # pragma: no cover - display.py is optional for the dashboard

    def format_cost(cost: float | None) -> str | None:
        return None if cost is None else f"${cost:.6f}".rstrip("0").rstrip(".")

    def human_bytes(n: int | None) -> str:
        return "? B" if n is None else f"{n} B"


ERROR_STYLE = (
    "border:1px solid #d9534f;background:#fdecea;color:#611a15;border-radius:4px;"
    "padding:6px 10px;margin:4px 0"
)


def error_html(result: ToolResult) -> str:
    """The core's error result as is: code, message, suggestions (and retry hint)."""
    parts = [
        f'<div class="or-magic-error-box" style="{ERROR_STYLE}">',
        f"<b class='or-magic-error-code'>{html.escape(str(result.code))}</b> ",
        f"<span class='or-magic-error-message'>{html.escape(result.text)}</span>",
    ]
    if result.suggestions:
        parts.append("<ul style='margin:4px 0 0 0'>")
        parts.extend(f"<li>{html.escape(s)}</li>" for s in result.suggestions)
        parts.append("</ul>")
    if isinstance(result.retry_after_seconds, (int, float)):
        parts.append(f"<div>Retry after {result.retry_after_seconds:g} s.</div>")
    parts.append("</div>")
    return "".join(parts)


def text_html(text: str) -> str:
    return (
        '<div class="or-magic-text" style="white-space:pre-wrap;font-family:var(--jp-content-'
        'font-family,inherit);line-height:1.4">' + html.escape(text) + "</div>"
    )


def footer(result: ToolResult) -> str:
    """``model · tokens · $cost · latency`` (and an offline mark)."""
    try:
        from ..display import footer_text

        return footer_text(result)
    except Exception:
        meta = result.meta or {}
        bits = [str(meta.get("model") or result.tool)]
        cost = format_cost(result.cost)
        if cost:
            bits.append(cost)
        if result.offline:
            bits.append("offline")
        return " · ".join(bits)


def _subtype(mime: str) -> str:
    return mime.split(";", 1)[0].strip().lower().split("/", 1)[-1] or "octet-stream"


def _ext(mime: str) -> str:
    from ..display import extension_for

    return extension_for(mime)


def player(item: MediaItem) -> W.Widget:
    """An ipywidgets player for ``item``; audio and video never autoplay or loop."""
    size = item.size_bytes
    data: bytes | None = None
    if item.data is not None:
        data = item.data
    elif item.path and (size is None or size <= PLAYER_MAX_BYTES):
        try:
            data = Path(item.path).read_bytes()
        except OSError:
            data = None
    if data is None or len(data) > PLAYER_MAX_BYTES:
        where = f"saved at {html.escape(item.path)}" if item.path else "not available"
        w = W.HTML(f"<i>{html.escape(item.kind)} ({human_bytes(size)}) {where}</i>")
        w.add_class("or-magic-player")
        return w
    fmt = _subtype(item.mime)
    if item.kind == "image":
        w = W.Image(value=data, format=fmt, layout=W.Layout(max_width="100%", max_height="480px"))
        w.add_class("or-magic-image")
    elif item.kind == "audio":
        w = W.Audio(value=data, format=fmt, autoplay=False, loop=False, controls=True)
        w.add_class("or-magic-audio")
    elif item.kind == "video":
        w = W.Video(value=data, format=fmt, autoplay=False, loop=False, controls=True)
        w.layout.max_width = "100%"
        w.add_class("or-magic-video")
    else:
        w = W.HTML(f"<i>{html.escape(item.mime)}, {human_bytes(len(data))}</i>")
    w.add_class("or-magic-player")
    return w


class GalleryItem:
    """One media item: its player, a caption with the cost, and Save (through the sandbox)."""

    def __init__(self, item: MediaItem, result: ToolResult, *, shared_cost: bool) -> None:
        self.item = item
        self.result = result
        self.player = player(item)
        cost = item.meta.get("cost_usd") if isinstance(item.meta, dict) else None
        if not isinstance(cost, (int, float)):
            cost = result.cost
        cost_s = format_cost(cost) if cost is not None else None
        bits = [f"{item.kind} · {html.escape(item.mime)} · {human_bytes(item.size_bytes)}"]
        model = (result.meta or {}).get("model")
        if model:
            bits.append(html.escape(str(model)))
        if cost_s:
            bits.append(f"cost {cost_s}" + (" (whole call)" if shared_cost else ""))
        elif result.offline:
            bits.append("offline (no cost)")
        if item.path:
            bits.append(f"tool saved it at {html.escape(item.path)}")
        self.caption = W.HTML(f"<small>{' · '.join(bits)}</small>")
        self.caption.add_class("or-magic-caption")
        self.save_name = W.Text(value=self._default_name(), layout=W.Layout(width="300px"))
        self.save_name.add_class("or-magic-save-path")
        self.save_button = W.Button(
            description="Save", icon="save", tooltip="Save under the output dir"
        )
        self.save_button.add_class("or-magic-save")
        self.save_button.on_click(lambda _b: self.save())
        self.save_status = W.HTML("")
        self.save_status.add_class("or-magic-save-status")
        self.saved_path: Path | None = None
        self.box = W.VBox(
            [
                self.player,
                self.caption,
                W.HBox([self.save_name, self.save_button, self.save_status]),
            ],
            layout=W.Layout(border="1px solid #ddd", padding="6px", margin="4px 0"),
        )
        self.box.add_class("or-magic-gallery-item")

    def _default_name(self) -> str:
        if self.item.name:
            return Path(self.item.name).name
        stamp = time.strftime("%Y%m%d-%H%M%S")
        return f"{self.result.tool}-{self.item.kind}-{stamp}{_ext(self.item.mime)}"

    def save(self, name: str | None = None) -> Path | None:
        """Write the item under ``OPENROUTER_OUTPUT_DIR`` (sandboxed, atomic); None on refusal."""
        from ..config import get_settings
        from ..safety import atomic_write, resolve_output_path, with_extension
        from ..safety.paths import output_sandbox_root

        raw = self.save_name.value if name is None else name
        try:
            settings = get_settings()
            path = resolve_output_path(raw, settings)
            if not path.suffix:
                path = resolve_output_path(with_extension(raw, _ext(self.item.mime)), settings)
            atomic_write(path, self.item.read_bytes(), root=output_sandbox_root(settings))
        except ToolError as err:
            self.save_status.value = (
                f"<span style='color:#b00'><b>{html.escape(err.code.value)}</b> "
                f"{html.escape(err.message)}</span>"
            )
            return None
        except (OSError, ValueError) as exc:
            self.save_status.value = (
                f"<span style='color:#b00'>Save failed: {html.escape(str(exc))}</span>"
            )
            return None
        self.saved_path = path
        self.save_status.value = (
            f"<span class='or-magic-saved'>Saved to {html.escape(str(path))}</span>"
        )
        return path


class Gallery:
    def __init__(self) -> None:
        self.items: list[GalleryItem] = []
        self.box = W.VBox([])
        self.box.add_class("or-magic-gallery")

    def clear(self) -> None:
        for it in self.items:
            it.box.close()
        self.items = []
        self.box.children = []

    def add_result(self, result: ToolResult) -> list[GalleryItem]:
        new = [GalleryItem(m, result, shared_cost=len(result.media) > 1) for m in result.media]
        self.items = new + self.items  # newest first
        self.box.children = [it.box for it in self.items]
        return new

    def widgets(self) -> list[W.Widget]:
        return [w.player for w in self.items]
