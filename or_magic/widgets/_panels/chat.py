"""The Chat tab: ``chat_completion``, its answer streamed as it comes."""

from __future__ import annotations

from typing import Any

import ipywidgets as W

from .. import _choices as C
from .base import RunPanel, chosen, dropdown, textarea


class ChatPanel(RunPanel):
    name = "chat"
    title = "Chat"
    streams_text = True
    tool_name = "chat_completion"  # type: ignore[assignment]

    def controls(self) -> list[W.Widget]:
        self.system = textarea("System message (optional)", "or-magic-system", rows=2)
        self.prompt = textarea("Ask anything…", "or-magic-prompt", rows=5)
        self.temperature = W.FloatSlider(
            value=1.0, min=0.0, max=2.0, step=0.05, description="Temperature"
        )
        self.temperature.add_class("or-magic-temperature")
        self.max_tokens = W.BoundedIntText(
            value=0, min=0, max=1_000_000, description="Max tokens", tooltip="0 = default"
        )
        self.max_tokens.add_class("or-magic-max-tokens")
        self.reasoning = dropdown(
            "Reasoning",
            C.optional_options(C.allowed_values("chat_completion", "reasoning_effort")),
            "or-magic-reasoning",
        )
        self.online = W.Checkbox(value=False, description="Web search (online)")
        self.online.add_class("or-magic-online")
        return [
            self.system,
            self.prompt,
            W.HBox([self.temperature, self.max_tokens]),
            W.HBox([self.reasoning, self.online]),
        ]

    def model_filter(self) -> dict[str, Any]:
        return {"inputs": ["text"], "outputs_any": ["text"]}

    def preferred_models(self) -> list[str | None]:
        s = self.dash.settings()
        return [getattr(s, "effective_default_model", None)]

    def build_call(self, handles: list[str]) -> tuple[str, dict[str, Any]]:
        args: dict[str, Any] = {"prompt": self.prompt.value, "temperature": self.temperature.value}
        if self.system.value.strip():
            args["system"] = self.system.value
        args |= chosen(
            model=self.model.value,
            max_tokens=self.max_tokens.value,
            reasoning_effort=self.reasoning.value,
            online=self.online.value,
        )
        return "chat_completion", args
