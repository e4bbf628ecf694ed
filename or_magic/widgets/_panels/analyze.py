"""The Analyze tab: a question about an image, a clip or a video (``analyze_<kind>``)."""

from __future__ import annotations

from typing import Any

import ipywidgets as W

from .. import _choices as C
from .._sources import SourcePicker
from .base import RunPanel, dropdown, textarea

ANALYZE_KINDS = ("image", "audio", "video")


class AnalyzePanel(RunPanel):
    name = "analyze"
    title = "Analyze"

    def controls(self) -> list[W.Widget]:
        self.kind = W.ToggleButtons(
            options=[(k.capitalize(), k) for k in ANALYZE_KINDS], value="image", description="Media"
        )
        self.kind.add_class("or-magic-analyze-kind")
        self.source = SourcePicker("image", self.dash.namespace, label="Source")
        self.question = textarea(self._default_question("image"), "or-magic-prompt", rows=3)
        self.detail = dropdown(
            "Detail",
            C.optional_options(C.allowed_values("analyze_image", "detail")),
            "or-magic-detail",
        )
        self.kind.observe(self._kind_changed, names="value")
        return [self.kind, self.source.box, self.question, self.detail]

    @staticmethod
    def _default_question(kind: str) -> str:
        return str(C.field_default(f"analyze_{kind}", "question", "Question (optional)"))

    def _kind_changed(self, change: dict[str, Any]) -> None:
        kind = change["new"]
        self.source.set_kind(kind)
        self.question.placeholder = self._default_question(kind)
        self.detail.layout.display = None if kind == "image" else "none"
        self.refill_models()

    @property
    def tool_name(self) -> str:
        return f"analyze_{self.kind.value}"

    def model_filter(self) -> dict[str, Any]:
        return {"inputs": [self.kind.value], "outputs_any": ["text"]}

    def preferred_models(self) -> list[str | None]:
        s = self.dash.settings()
        kind = self.kind.value
        if kind == "image":
            return [s.default_vision_model, "google/gemma-4-26b-a4b-it:free"]
        if kind == "audio":
            return [s.default_audio_model, "google/gemini-2.5-flash"]
        return [s.default_video_model, "google/gemini-2.5-flash"]

    def build_call(self, handles: list[str]) -> tuple[str, dict[str, Any]]:
        kind = self.kind.value
        args: dict[str, Any] = {f"{kind}_path": self.source.resolve(handles)}
        if self.question.value.strip():
            args["question"] = self.question.value
        if self.model.value:
            args["model"] = self.model.value
        if kind == "image" and self.detail.value:
            args["detail"] = self.detail.value
        return f"analyze_{kind}", args
