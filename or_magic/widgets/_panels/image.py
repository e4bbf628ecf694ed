"""The Image tab: ``generate_image``, optionally from a reference picture."""

from __future__ import annotations

from typing import Any

import ipywidgets as W

from ...result import ToolResult
from .. import _choices as C
from .._sources import SourcePicker
from .base import RunPanel, chosen, dropdown, textarea


class ImagePanel(RunPanel):
    name = "image"
    title = "Image"
    tool_name = "generate_image"  # type: ignore[assignment]

    def controls(self) -> list[W.Widget]:
        self.prompt = textarea("Describe the image…", "or-magic-prompt", rows=3)
        self.aspect_ratio = dropdown(
            "Aspect",
            C.optional_options(C.allowed_values("generate_image", "aspect_ratio")),
            "or-magic-aspect-ratio",
        )
        self.image_size = dropdown(
            "Size",
            C.optional_options(C.allowed_values("generate_image", "image_size")),
            "or-magic-image-size",
        )
        self.reference = SourcePicker(
            "image", self.dash.namespace, label="Reference", optional=True
        )
        return [self.prompt, W.HBox([self.aspect_ratio, self.image_size]), self.reference.box]

    def model_filter(self) -> dict[str, Any]:
        return {"outputs_any": ["image"]}

    def preferred_models(self) -> list[str | None]:
        return [self.dash.settings().default_image_model]

    def build_call(self, handles: list[str]) -> tuple[str, dict[str, Any]]:
        args: dict[str, Any] = {"prompt": self.prompt.value}
        args |= chosen(
            model=self.model.value,
            aspect_ratio=self.aspect_ratio.value,
            image_size=self.image_size.value,
        )
        ref = self.reference.resolve(handles)
        if ref is not None:
            args["input_images"] = [ref]
        return "generate_image", args

    def result_text(self, result: ToolResult) -> str:
        return str((result.meta or {}).get("model_text") or "") if result.media else result.text
