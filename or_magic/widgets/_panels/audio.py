"""The Audio tab: speech (``text_to_speech``) or an audio-output chat (``generate_audio``)."""

from __future__ import annotations

from typing import Any

import ipywidgets as W

from ...result import ToolResult
from .. import _choices as C
from .base import RunPanel, chosen, dropdown, textarea

AUDIO_MODES = (("Speech (text_to_speech)", "text_to_speech"), ("Audio chat", "generate_audio"))


class AudioPanel(RunPanel):
    name = "audio"
    title = "Audio"

    def controls(self) -> list[W.Widget]:
        self.mode = W.ToggleButtons(options=list(AUDIO_MODES), value="text_to_speech")
        self.mode.style.button_width = "180px"
        self.mode.add_class("or-magic-audio-mode")
        self.prompt = textarea("Text to speak, or what to say/compose…", "or-magic-prompt", 3)
        self.voice = dropdown("Voice", [("default", None)], "or-magic-voice")
        self.format = dropdown("Format", [("default", None)], "or-magic-format")
        self.speed = W.FloatSlider(value=1.0, min=0.25, max=4.0, step=0.05, description="Speed")
        self.speed.add_class("or-magic-speed")
        self.mode.observe(lambda _c: self._mode_changed(), names="value")
        self.model.observe(lambda _c: self._fill_voices(), names="value")
        self._fill_formats()
        return [self.mode, self.prompt, W.HBox([self.voice, self.format]), self.speed]

    @property
    def tool_name(self) -> str:
        return self.mode.value

    def _format_field(self) -> str:
        return "response_format" if self.mode.value == "text_to_speech" else "format"

    def _fill_formats(self) -> None:
        values = C.allowed_values(self.mode.value, self._format_field())
        self.format.options = C.optional_options(values)
        self.format.value = None
        self.speed.layout.display = None if self.mode.value == "text_to_speech" else "none"

    def _fill_voices(self) -> None:
        record = next((m for m in self.catalog if m["id"] == self.model.value), None)
        voices = list((record or {}).get("supported_voices") or [])
        if not voices and self.mode.value == "generate_audio":
            voices = list(C.DEFAULT_AUDIO_VOICES)
        current = self.voice.value
        self.voice.options = C.optional_options(voices)
        self.voice.value = current if current in voices else None

    def _mode_changed(self) -> None:
        self._fill_formats()
        self.refill_models()
        self._fill_voices()

    def model_filter(self) -> dict[str, Any]:
        outs = ["speech"] if self.mode.value == "text_to_speech" else ["audio"]
        return {"outputs_any": outs}

    def preferred_models(self) -> list[str | None]:
        s = self.dash.settings()
        if self.mode.value == "text_to_speech":
            return [s.default_tts_model]
        return [s.default_audio_gen_model]

    def set_catalog(self, models: list[dict[str, Any]], videos: dict[str, dict[str, Any]]) -> None:
        super().set_catalog(models, videos)
        self._fill_voices()

    def build_call(self, handles: list[str]) -> tuple[str, dict[str, Any]]:
        tool = self.mode.value
        key = "input" if tool == "text_to_speech" else "prompt"
        args: dict[str, Any] = {key: self.prompt.value}
        args |= chosen(model=self.model.value, voice=self.voice.value)
        if self.format.value:
            args[self._format_field()] = self.format.value
        if tool == "text_to_speech" and self.speed.value != 1.0:
            args["speed"] = self.speed.value
        return tool, args

    def result_text(self, result: ToolResult) -> str:
        return result.text if not result.media else str((result.meta or {}).get("transcript") or "")
