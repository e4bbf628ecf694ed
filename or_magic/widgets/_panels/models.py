"""The Models tab: ``search_models``, shown as a table."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ...result import ToolResult
from .. import _choices as C
from .base import RunPanel, dropdown

if TYPE_CHECKING:  # pragma: no cover
    from ..dashboard import Dashboard

MODALITIES = ("text", "image", "audio", "video", "file")
OUT_MODALITIES = (
    "text",
    "image",
    "audio",
    "speech",
    "video",
    "transcription",
    "embeddings",
    "rerank",
)


class ModelsPanel(RunPanel):
    """search_models through call_tool, shown as a table."""

    name = "models"
    title = "Models"
    tool_name = "search_models"  # type: ignore[assignment]

    def __init__(self, dash: Dashboard) -> None:
        super().__init__(dash, with_model=False)
        self.run_button.description = "Search"
        self.run_button.icon = "search"

    def controls(self) -> list[W.Widget]:
        self.query = W.Text(placeholder="id or name contains…", description="Search")
        self.query.add_class("or-magic-models-query")
        self.input_mod = dropdown("Input", C.optional_options(MODALITIES, "any"), "or-magic-in")
        self.output_mod = dropdown(
            "Output", C.optional_options(OUT_MODALITIES, "any"), "or-magic-out"
        )
        self.free_only = W.Checkbox(value=False, description="Free only")
        self.free_only.add_class("or-magic-free-only")
        self.table = W.HTML("")
        self.table.add_class("or-magic-models-table")
        return [W.HBox([self.query, self.free_only]), W.HBox([self.input_mod, self.output_mod])]

    def layout(self) -> list[W.Widget]:
        return [*super().layout()[:-3], self.error, self.table]

    def build_call(self, handles: list[str]) -> tuple[str, dict[str, Any]]:
        args: dict[str, Any] = {"limit": 50}
        if self.query.value.strip():
            args["query"] = self.query.value
        if self.input_mod.value:
            args["input_modalities"] = [self.input_mod.value]
        if self.output_mod.value:
            args["output_modalities"] = [self.output_mod.value]
        if self.free_only.value:
            args["free_only"] = True
        return "search_models", args

    def show_result(self, result: ToolResult) -> None:
        super().show_result(result)
        if result.is_error:
            self.table.value = ""
            return
        self.output.value = ""
        data = result.data or {}
        rows = []
        for m in data.get("results") or []:
            ins, outs = C.modalities(m)
            pricing = m.get("pricing") or {}
            rows.append(
                "<tr>"
                f"<td><code>{html.escape(m['id'])}</code>{' <b>(free)</b>' if C.is_free(m) else ''}</td>"
                f"<td>{html.escape('+'.join(sorted(ins)))}</td>"
                f"<td>{html.escape('+'.join(sorted(outs)))}</td>"
                f"<td>{html.escape(str(m.get('context_length') or ''))}</td>"
                f"<td>{html.escape(str(pricing.get('prompt', '')))}</td>"
                f"<td>{html.escape(str(pricing.get('completion', '')))}</td>"
                "</tr>"
            )
        more = " (more: narrow the search)" if data.get("has_more") else ""
        self.table.value = (
            f"<div>{int(data.get('total') or 0)} model(s){more}</div>"
            "<table class='or-magic-table'><tr><th>id</th><th>in</th><th>out</th><th>context</th>"
            "<th>prompt $/tok</th><th>completion $/tok</th></tr>" + "".join(rows) + "</table>"
        )
