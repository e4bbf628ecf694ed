"""The Usage tab: this kernel's calls, tokens and cost per model."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from .base import DashboardPanel

if TYPE_CHECKING:  # pragma: no cover
    from ..dashboard import Dashboard


class UsagePanel(DashboardPanel):
    name = "usage"
    title = "Usage"

    def __init__(self, dash: Dashboard) -> None:
        super().__init__(dash)
        self.refresh_button = W.Button(description="Refresh", icon="refresh")
        self.refresh_button.add_class("or-magic-usage-refresh")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.table = W.HTML("")
        self.table.add_class("or-magic-usage-table")
        self.box.children = [self.refresh_button, self.table]
        self.refresh()

    def refresh(self) -> str:
        from ...usage import snapshot, totals

        def row(u: Any, tag: str = "td") -> str:
            cells = [
                html.escape(u.model),
                str(u.calls),
                f"{u.prompt_tokens:,}",
                f"{u.completion_tokens:,}",
                f"{u.total_tokens:,}",
                f"${u.cost_usd:.6f}".rstrip("0").rstrip(".") if u.cost_usd else "$0",
                str(u.offline_calls),
            ]
            return "<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>"

        rows = [row(u) for u in sorted(snapshot(), key=lambda u: u.model)]
        head = (
            "<tr><th>model</th><th>calls</th><th>prompt tokens</th><th>completion tokens</th>"
            "<th>total tokens</th><th>cost</th><th>offline calls</th></tr>"
        )
        body = "".join(rows) or "<tr><td colspan='7'><i>No calls yet in this kernel.</i></td></tr>"
        self.table.value = (
            f"<table class='or-magic-table'>{head}{body}{row(totals(), 'th')}</table>"
        )
        return self.table.value
