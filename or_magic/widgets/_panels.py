"""The dashboard's tabs. Every call goes through ``call_tool``; results are shown as the core made them.

A run is an asyncio task on the kernel's loop (started from the Run button's callback, so the UI
stays responsive); Stop cancels it; ``on_progress`` drives the bar, the status line and elapsed
time; ``on_text`` streams chat answers.
"""

from __future__ import annotations

import asyncio
import html
import math
import time
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..errors import ErrorCode, ToolError
from ..result import Progress, ToolResult
from . import _choices as C
from ._env import spawn
from ._gallery import Gallery, error_html, footer, text_html
from ._sources import SourcePicker

if TYPE_CHECKING:  # pragma: no cover
    from .dashboard import Dashboard


def _textarea(placeholder: str, css: str, rows: int = 4) -> W.Textarea:
    w = W.Textarea(placeholder=placeholder, rows=rows, layout=W.Layout(width="100%"))
    w.add_class(css)
    return w


def _dropdown(description: str, options: list[tuple[str, Any]], css: str) -> W.Dropdown:
    w = W.Dropdown(
        description=description, options=options, value=options[0][1] if options else None
    )
    w.add_class(css)
    return w


def elapsed_text(seconds: float) -> str:
    """``12.3 s`` with a no-break space: the number and its unit never land on separate lines."""
    return f"{seconds:.1f}\u00a0s"


class DashboardPanel:
    """Base: a tab with a box; ``set_catalog`` is called when models are (re)loaded."""

    name = ""
    title = ""

    def __init__(self, dash: Dashboard) -> None:
        self.dash = dash
        self.box = W.VBox([])
        self.box.add_class(f"or-magic-tab-{self.name}")
        self.box.add_class("or-magic-tab")

    def set_catalog(self, models: list[dict[str, Any]], videos: dict[str, dict[str, Any]]) -> None:
        pass

    def close(self) -> None:
        pass


class RunPanel(DashboardPanel):
    """A tab that runs one tool: controls, Run/Stop, progress, error box, text and gallery."""

    streams_text = False

    def __init__(self, dash: Dashboard, *, with_model: bool = True) -> None:
        super().__init__(dash)
        self.catalog: list[dict[str, Any]] = []
        self.videos: dict[str, dict[str, Any]] = {}
        self.model = W.Dropdown(description="Model", options=[("loading models…", None)])
        self.model.layout.width = "560px"
        self.model.add_class("or-magic-model")
        self.model.add_class(f"or-magic-model-{self.name}")
        self.run_button = W.Button(description="Run", icon="play", button_style="primary")
        self.run_button.add_class("or-magic-run")
        self.stop_button = W.Button(description="Stop", icon="stop", disabled=True)
        self.stop_button.add_class("or-magic-stop")
        self.clear_button = W.Button(description="Clear", icon="trash", tooltip="Clear results")
        self.clear_button.add_class("or-magic-clear")
        self.progress = W.FloatProgress(value=0.0, min=0.0, max=100.0)
        self.progress.layout.width = "260px"
        self.progress.layout.visibility = "hidden"
        self.progress.add_class("or-magic-progress")
        self.status = W.HTML("")
        self.status.add_class("or-magic-status")
        # The elapsed time keeps its width whatever the status beside it says: it neither shrinks
        # (which wrapped "0.0" / "s" onto two lines) nor jitters as the digits grow.
        self.elapsed = W.HTML("", layout=W.Layout(flex="0 0 auto", min_width="4.5em"))
        self.elapsed.add_class("or-magic-elapsed")
        self.status.layout.flex = "1 1 auto"
        self.error = W.HTML("")
        self.error.add_class("or-magic-error")
        self.output = W.HTML("")
        self.output.add_class("or-magic-output")
        self.gallery = Gallery()
        self.task: Any = None
        self.last_result: ToolResult | None = None
        self._text = ""
        self._text_flushed = 0.0
        self.run_button.on_click(lambda _b: self.run())
        self.stop_button.on_click(lambda _b: self.stop())
        self.clear_button.on_click(lambda _b: self.clear())
        self._with_model = with_model
        self.box.children = self.layout()

    # ---- layout ----------------------------------------------------------------------------------

    def controls(self) -> list[W.Widget]:
        return []

    def actions(self) -> W.Widget:
        return W.HBox(
            [
                self.run_button,
                self.stop_button,
                self.clear_button,
                self.progress,
                self.elapsed,
                self.status,
            ],
            layout=W.Layout(align_items="center"),
        )

    def layout(self) -> list[W.Widget]:
        head = [self.model] if self._with_model else []
        return [
            *head,
            *self.controls(),
            self.actions(),
            self.error,
            self.output,
            self.gallery.box,
        ]

    # ---- models ----------------------------------------------------------------------------------

    def model_filter(self) -> dict[str, Any]:
        return {}

    def preferred_models(self) -> list[str | None]:
        return []

    def set_catalog(self, models: list[dict[str, Any]], videos: dict[str, dict[str, Any]]) -> None:
        self.catalog = models
        self.videos = videos
        self.refill_models()

    def model_options(self) -> list[tuple[str, Any]]:
        return C.model_options(C.filter_models(self.catalog, **self.model_filter()))

    def refill_models(self) -> None:
        if not self._with_model:
            return
        options = self.model_options()
        current = self.model.value
        if not options:
            self.model.options = [("(no matching models; the tool default is used)", None)]
            self.model.value = None
            return
        ids = [v for _, v in options]
        value = current if current in ids else C.pick_default(options, self.preferred_models())
        self.model.options = options
        self.model.value = value

    # ---- running ---------------------------------------------------------------------------------

    def build_call(self, handles: list[str]) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    @property
    def tool_name(self) -> str:
        return self.name

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def run(self) -> Any:
        """Start the tool (the Run button's handler). Returns the task (or None if refused)."""
        if self.running:
            return self.task
        self.error.value = ""
        self.output.value = ""
        self._text = ""
        handles: list[str] = []
        try:
            tool, args = self.build_call(handles)
        except ToolError as err:
            self._release(handles)
            self.show_result(ToolResult.from_error(self.tool_name, err))
            return None
        except Exception as exc:  # a notebook object that cannot be converted, a UI bug
            self._release(handles)
            err = ToolError(
                ErrorCode.INTERNAL,
                f"Could not prepare the call ({type(exc).__name__}: {exc})",
                suggestions=["Check the selected input; this may be a bug in or_magic"],
            )
            self.show_result(ToolResult.from_error(self.tool_name, err))
            return None
        self._set_running(True)  # at once, so a second click cannot start a second run
        self.task = spawn(self._execute(tool, args, handles))
        return self.task

    def stop(self) -> None:
        if self.running:
            self.task.cancel()
            self.status.value = "Stopping…"

    def clear(self) -> None:
        self.gallery.clear()
        self.output.value = ""
        self.error.value = ""
        self.status.value = ""

    def _set_running(self, running: bool) -> None:
        self.run_button.disabled = running
        self.stop_button.disabled = not running
        if running:
            self.progress.value = 0.0
            self.progress.bar_style = "info"
            self.progress.layout.visibility = "visible"
            self.status.value = "Running…"
            self.elapsed.value = elapsed_text(0.0)

    @staticmethod
    def _release(handles: list[str]) -> None:
        if handles:
            from ..media.sources import release

            for h in handles:
                release(h)

    async def _tick(self, started: float) -> None:
        while True:
            self.elapsed.value = elapsed_text(time.monotonic() - started)
            await asyncio.sleep(0.5)

    async def _execute(self, tool: str, args: dict[str, Any], handles: list[str]) -> ToolResult:
        from ..tools import call_tool

        started = time.monotonic()
        ticker = asyncio.ensure_future(self._tick(started))
        try:
            result = await call_tool(
                tool,
                args,
                on_progress=self._on_progress,
                on_text=self._on_text if self.streams_text else None,
            )
        except asyncio.CancelledError:
            self.status.value = "Stopped."
            self.progress.bar_style = "warning"
            raise
        finally:
            ticker.cancel()
            self.elapsed.value = elapsed_text(time.monotonic() - started)
            self._release(handles)
            self._set_running(False)
        self.show_result(result)
        try:
            self.dash.after_run(result)
        except Exception:  # refreshing side panels must never lose a result
            pass
        return result

    def _on_progress(self, p: Progress) -> None:
        if p.total:
            pct = 100.0 * p.progress / p.total
        else:  # unknown total: fill asymptotically so the bar still moves
            pct = 100.0 * (1.0 - math.exp(-p.progress / 8.0))
        self.progress.value = max(0.0, min(100.0, pct))
        bits = [b for b in (p.status, p.message) if b]
        self.status.value = html.escape(" · ".join(bits) or "Working…")
        if p.elapsed_s:
            self.elapsed.value = elapsed_text(p.elapsed_s)

    def _on_text(self, delta: str) -> None:
        self._text += delta
        now = time.monotonic()
        if now - self._text_flushed > 0.05:
            self._text_flushed = now
            self.output.value = text_html(self._text)

    def show_result(self, result: ToolResult) -> None:
        self.last_result = result
        if result.is_error:
            self.error.value = error_html(result)
            self.status.value = f"Failed: {html.escape(str(result.code))}"
            self.progress.bar_style = "danger"
            self.progress.layout.visibility = "visible"
            return
        self.progress.value = 100.0
        self.progress.bar_style = "success"
        text = self.result_text(result)
        self.output.value = text_html(text) if text else ""
        self.gallery.add_result(result)
        still = (result.meta or {}).get("code") == ErrorCode.JOB_STILL_RUNNING.value
        note = " · still running: resume it from the Jobs tab" if still else ""
        self.status.value = html.escape(footer(result) + note)

    def result_text(self, result: ToolResult) -> str:
        return result.text


# ---- Chat -----------------------------------------------------------------------------------------


class ChatPanel(RunPanel):
    name = "chat"
    title = "Chat"
    streams_text = True
    tool_name = "chat_completion"  # type: ignore[assignment]

    def controls(self) -> list[W.Widget]:
        self.system = _textarea("System message (optional)", "or-magic-system", rows=2)
        self.prompt = _textarea("Ask anything…", "or-magic-prompt", rows=5)
        self.temperature = W.FloatSlider(
            value=1.0, min=0.0, max=2.0, step=0.05, description="Temperature"
        )
        self.temperature.add_class("or-magic-temperature")
        self.max_tokens = W.BoundedIntText(
            value=0, min=0, max=1_000_000, description="Max tokens", tooltip="0 = default"
        )
        self.max_tokens.add_class("or-magic-max-tokens")
        self.reasoning = _dropdown(
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
        if self.model.value:
            args["model"] = self.model.value
        if self.max_tokens.value:
            args["max_tokens"] = self.max_tokens.value
        if self.reasoning.value:
            args["reasoning_effort"] = self.reasoning.value
        if self.online.value:
            args["online"] = True
        return "chat_completion", args


# ---- Analyze --------------------------------------------------------------------------------------

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
        self.question = _textarea(self._default_question("image"), "or-magic-prompt", rows=3)
        self.detail = _dropdown(
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


# ---- Image ----------------------------------------------------------------------------------------


class ImagePanel(RunPanel):
    name = "image"
    title = "Image"
    tool_name = "generate_image"  # type: ignore[assignment]

    def controls(self) -> list[W.Widget]:
        self.prompt = _textarea("Describe the image…", "or-magic-prompt", rows=3)
        self.aspect_ratio = _dropdown(
            "Aspect",
            C.optional_options(C.allowed_values("generate_image", "aspect_ratio")),
            "or-magic-aspect-ratio",
        )
        self.image_size = _dropdown(
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
        if self.model.value:
            args["model"] = self.model.value
        if self.aspect_ratio.value:
            args["aspect_ratio"] = self.aspect_ratio.value
        if self.image_size.value:
            args["image_size"] = self.image_size.value
        ref = self.reference.resolve(handles)
        if ref is not None:
            args["input_images"] = [ref]
        return "generate_image", args

    def result_text(self, result: ToolResult) -> str:
        return str((result.meta or {}).get("model_text") or "") if result.media else result.text


# ---- Audio ----------------------------------------------------------------------------------------

AUDIO_MODES = (("Speech (text_to_speech)", "text_to_speech"), ("Audio chat", "generate_audio"))


class AudioPanel(RunPanel):
    name = "audio"
    title = "Audio"

    def controls(self) -> list[W.Widget]:
        self.mode = W.ToggleButtons(options=list(AUDIO_MODES), value="text_to_speech")
        self.mode.style.button_width = "180px"
        self.mode.add_class("or-magic-audio-mode")
        self.prompt = _textarea("Text to speak, or what to say/compose…", "or-magic-prompt", 3)
        self.voice = _dropdown("Voice", [("default", None)], "or-magic-voice")
        self.format = _dropdown("Format", [("default", None)], "or-magic-format")
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
        if self.model.value:
            args["model"] = self.model.value
        if self.voice.value:
            args["voice"] = self.voice.value
        if self.format.value:
            args[self._format_field()] = self.format.value
        if tool == "text_to_speech" and self.speed.value != 1.0:
            args["speed"] = self.speed.value
        return tool, args

    def result_text(self, result: ToolResult) -> str:
        return result.text if not result.media else str((result.meta or {}).get("transcript") or "")


def _positive(v: Any) -> bool:
    try:
        return float(v) > 0
    except (TypeError, ValueError):
        return False


# ---- Video ----------------------------------------------------------------------------------------


class VideoPanel(RunPanel):
    name = "video"
    title = "Video"
    tool_name = "generate_video"  # type: ignore[assignment]

    def controls(self) -> list[W.Widget]:
        self.prompt = _textarea("Describe the video…", "or-magic-prompt", rows=3)
        self.duration = _dropdown("Duration", [("default", None)], "or-magic-duration")
        self.resolution = _dropdown("Resolution", [("default", None)], "or-magic-resolution")
        self.aspect_ratio = _dropdown("Aspect", [("default", None)], "or-magic-aspect-ratio")
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
        from ..tools import find_video_model

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


# ---- Models ---------------------------------------------------------------------------------------

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
        self.input_mod = _dropdown("Input", C.optional_options(MODALITIES, "any"), "or-magic-in")
        self.output_mod = _dropdown(
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


# ---- Jobs -----------------------------------------------------------------------------------------


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
        from ..jobs import get_job_store

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


# ---- Usage ----------------------------------------------------------------------------------------


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
        from ..usage import snapshot, totals

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
