"""The Jobs tab: the SQLite job registry, each job resumable through its status tool."""

from __future__ import annotations

import html
import time
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ...errors import ErrorCode, ToolError
from ...result import ToolResult
from .. import _choices as C
from .base import RunPanel

if TYPE_CHECKING:  # pragma: no cover
    from ..dashboard import Dashboard


class JobsPanel(RunPanel):
    """The SQLite job registry; Resume polls through get_video_status / get_chat_completion_status."""

    name = "jobs"
    title = "Jobs"

    def __init__(self, dash: Dashboard) -> None:
        self.refresh_button = W.Button(description="Refresh", icon="refresh")
        self.refresh_button.add_class("or-magic-jobs-refresh")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.list_box = W.VBox([])
        self.list_box.add_class("or-magic-jobs-list")
        self.resume_buttons: dict[str, W.Button] = {}
        self._pending: tuple[str, dict[str, Any]] | None = None
        super().__init__(dash, with_model=False)
        self.run_button.layout.display = "none"

    def layout(self) -> list[W.Widget]:
        return [self.refresh_button, self.list_box, *super().layout()]

    def refresh(self) -> list[Any]:
        from ...jobs import get_job_store

        try:
            jobs = get_job_store(self.dash.settings()).list(limit=50)
        except Exception as exc:  # a broken state dir must not break the dashboard
            self.list_box.children = [
                W.HTML(f"<i>Job registry unavailable: {html.escape(str(exc))}</i>")
            ]
            return []
        rows: list[W.Widget] = []
        self.resume_buttons = {}
        for job in jobs:
            created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(job.created_at))
            prompt = (job.prompt or "")[:80]
            cost = f" · ${job.cost:g}" if isinstance(job.cost, (int, float)) else ""
            info = W.HTML(
                f"<code>{html.escape(job.id)}</code> · {html.escape(job.kind)} · "
                f"{html.escape(job.model or '')} · <b>{html.escape(job.status)}</b>{cost} · "
                f"{created} · <i>{html.escape(prompt)}</i>"
            )
            btn = W.Button(description="Resume", icon="play", tooltip="Poll / fetch the result")
            btn.add_class("or-magic-resume")
            btn.on_click(lambda _b, j=job: self.resume(j))
            self.resume_buttons[job.id] = btn
            rows.append(W.HBox([btn, info], layout=W.Layout(align_items="center")))
        if not rows:
            rows = [
                W.HTML("<i>No jobs yet (background chats and video generations appear here).</i>")
            ]
        self.list_box.children = rows
        return jobs

    def resume(self, job: Any) -> Any:
        """Poll the job through its status tool, following it (with progress) until it ends."""
        if job.kind == "chat" or str(job.id).startswith("chat_"):
            call = ("get_chat_completion_status", {"job_id": job.id})
            if C.has_field("get_chat_completion_status", "wait_s"):
                call[1]["wait_s"] = 60
        else:
            vid = (job.params or {}).get("video_id") or job.id
            call = ("get_video_status", {"video_id": vid})
            if C.has_field("get_video_status", "wait"):
                call[1]["wait"] = True
        self._pending = call
        return self.run()

    @property
    def tool_name(self) -> str:
        return self._pending[0] if self._pending else "get_video_status"

    def build_call(self, handles: list[str]) -> tuple[str, dict[str, Any]]:
        if self._pending is None:
            raise ToolError(ErrorCode.INVALID_INPUT, "Choose a job to resume")
        return self._pending

    def show_result(self, result: ToolResult) -> None:
        super().show_result(result)
        self.refresh()
