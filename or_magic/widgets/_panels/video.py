"""The Video tab: ``generate_video``, its options read from the model's capability record."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W

from .. import _choices as C
from .._sources import SourcePicker
from .base import RunPanel, dropdown, textarea


def _positive(v: Any) -> bool:
    try:
        return float(v) > 0
    except (TypeError, ValueError):
        return False


class VideoPanel(RunPanel):
    name = "video"
    title = "Video"
    tool_name = "generate_video"  # type: ignore[assignment]

    def controls(self) -> list[W.Widget]:
        self.prompt = textarea("Describe the video…", "or-magic-prompt", rows=3)
        self.duration = dropdown("Duration", [("default", None)], "or-magic-duration")
        self.resolution = dropdown("Resolution", [("default", None)], "or-magic-resolution")
        self.aspect_ratio = dropdown("Aspect", [("default", None)], "or-magic-aspect-ratio")
        self.generate_audio = W.Checkbox(value=False, description="Generate audio")
        self.generate_audio.add_class("or-magic-generate-audio")
        self.first_frame = SourcePicker(
            "image", self.dash.namespace, label="First frame", optional=True
        )
        self.capabilities = W.HTML("")
        self.capabilities.add_class("or-magic-capabilities")
        self.model.observe(lambda _c: self._fill_capabilities(), names="value")
        return [
            self.prompt,
            W.HBox([self.duration, self.resolution, self.aspect_ratio]),
            self.generate_audio,
            self.first_frame.box,
            self.capabilities,
        ]

    def spec(self) -> dict[str, Any] | None:
        mid = self.model.value
        if not mid:
            return None
        from ...tools import find_video_model

        return find_video_model(self.videos, mid)

    def _fill_capabilities(self) -> None:
        spec = self.spec() or {}

        def fill(w: W.Dropdown, key: str) -> None:
            values = spec.get(key) if isinstance(spec.get(key), list) else []
            current = w.value
            w.options = C.optional_options(values)
            w.value = current if current in values else None

        fill(self.duration, "supported_durations")
        fill(self.resolution, "supported_resolutions")
        fill(self.aspect_ratio, "supported_aspect_ratios")
        audio_ok = spec.get("generate_audio") is not False and bool(spec)
        self.generate_audio.disabled = not audio_ok
        if not audio_ok:
            self.generate_audio.value = False
        frames = spec.get("supported_frame_images")
        self.first_frame.box.layout.display = (
            "none" if spec and "supported_frame_images" in spec and not frames else None
        )
        if spec:
            bits = [f"durations {spec.get('supported_durations') or '?'}"]
            bits.append(f"resolutions {spec.get('supported_resolutions') or '?'}")
            if spec.get("pricing_skus"):
                bits.append(f"pricing {spec['pricing_skus']}")
            self.capabilities.value = f"<small>{html.escape(' · '.join(map(str, bits)))}</small>"
        else:
            self.capabilities.value = (
                "<small>No capability record for this model; the API decides.</small>"
            )

    def model_options(self) -> list[tuple[str, Any]]:
        """Models in ``GET /videos/models`` (the generation endpoint's own list) plus catalog
        models with video output; free only when neither lists a price."""
        by_catalog = {
            m["id"].lower(): m for m in C.filter_models(self.catalog, outputs_any=["video"])
        }
        ids = {k for k, rec in self.videos.items() if k == str(rec.get("id", "")).lower()}
        ids |= set(by_catalog)
        out = []
        for key in sorted(ids):
            rec = by_catalog.get(key)
            spec = self.videos.get(key) or {}
            mid = (rec or spec)["id"]
            skus = spec.get("pricing_skus") if isinstance(spec.get("pricing_skus"), dict) else {}
            priced = any(_positive(v) for v in skus.values())
            free = rec is not None and C.is_free(rec) and not priced
            out.append((mid + (" (free)" if free else ""), mid))
        return out

    def preferred_models(self) -> list[str | None]:
        return [self.dash.settings().default_video_gen_model]

    def set_catalog(self, models: list[dict[str, Any]], videos: dict[str, dict[str, Any]]) -> None:
        super().set_catalog(models, videos)
        self._fill_capabilities()

    def build_call(self, handles: list[str]) -> tuple[str, dict[str, Any]]:
        args: dict[str, Any] = {"prompt": self.prompt.value}
        if self.model.value:
            args["model"] = self.model.value
        for key, w in (
            ("duration", self.duration),
            ("resolution", self.resolution),
            ("aspect_ratio", self.aspect_ratio),
        ):
            if w.value is not None:
                args[key] = w.value
        if self.generate_audio.value and C.has_field("generate_video", "generate_audio"):
            args["generate_audio"] = True
        frame = self.first_frame.resolve(handles)
        if frame is not None:
            args["first_frame_image"] = frame
        return "generate_video", args
