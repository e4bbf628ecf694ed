"""``or_magic.Dashboard()`` / ``%openrouter dashboard``: an ipywidgets panel over the tool core.

Tabs: Chat, Analyze, Image, Audio, Video, Models, Jobs, Usage. Every tool call goes through
``call_tool`` as an asyncio task on the kernel's loop (Run starts it, Stop cancels it); results
are shown exactly as the core made them (an error result's code, message and suggestions in a red
box). The API-key field is a password widget that is cleared the moment the key is handed to
``set_api_key``, so the key is never in widget state or the saved notebook. Outside a Jupyter
kernel the dashboard prints one line instead of widget reprs.

Stable CSS classes for browser tests: ``or-magic-dashboard`` (root, plus ``or-magic-ready`` once
the model lists are loaded), ``or-magic-tab-<name>``, ``or-magic-model``, ``or-magic-prompt``,
``or-magic-run``, ``or-magic-stop``, ``or-magic-progress``, ``or-magic-status``,
``or-magic-error``, ``or-magic-output``, ``or-magic-gallery`` (items ``or-magic-gallery-item``,
players ``or-magic-image`` / ``-audio`` / ``-video``, ``or-magic-save``), ``or-magic-key``,
``or-magic-key-set``, ``or-magic-offline-badge``.
"""

from __future__ import annotations

import asyncio
import html
from typing import Any

import ipywidgets as W

from ._env import FALLBACK_LINE, spawn, user_namespace, widget_frontend
from ._panels import (
    AnalyzePanel,
    AudioPanel,
    ChatPanel,
    DashboardPanel,
    ImagePanel,
    JobsPanel,
    ModelsPanel,
    UsagePanel,
    VideoPanel,
)

__all__ = ["FALLBACK_LINE", "Dashboard"]

BADGE_STYLE = (
    "background:#6c757d;color:#fff;border-radius:10px;padding:1px 9px;font-size:12px;"
    "font-weight:600"
)


class Dashboard:
    """The widget dashboard. Display it (last expression of a cell) or call ``.show()``.

    ``namespace`` is where the "variable" inputs look (default: the notebook's ``user_ns``).
    Model lists load in the background on the kernel loop; ``await dash.ready()`` waits for them.
    """

    def __init__(self, *, namespace: dict[str, Any] | None = None, autoload: bool = True) -> None:
        self._namespace = namespace
        self._load_task: Any = None
        self.models: list[dict[str, Any]] = []
        self.video_models: dict[str, dict[str, Any]] = {}

        # ---- header: title, offline badge, API key -----------------------------------------------
        self.title = W.HTML("<b style='font-size:15px'>or_magic</b>")
        self.offline_badge = W.HTML(f"<span style='{BADGE_STYLE}'>offline</span>")
        self.offline_badge.add_class("or-magic-offline-badge")
        self.key_input = W.Password(
            placeholder="OpenRouter API key (kept in this kernel only)",
            continuous_update=False,
            layout=W.Layout(width="320px"),
        )
        self.key_input.add_class("or-magic-key")
        self.key_button = W.Button(description="Set key", icon="key")
        self.key_button.add_class("or-magic-key-set")
        self.key_clear_button = W.Button(description="Forget key", icon="times")
        self.key_clear_button.add_class("or-magic-key-clear")
        self.key_status = W.HTML("")
        self.key_status.add_class("or-magic-key-status")
        self.key_button.on_click(lambda _b: self.set_key())
        self.key_clear_button.on_click(lambda _b: self.forget_key())
        # Enter (or leaving the field) commits the value: take it and clear the widget at once.
        self.key_input.observe(self._key_committed, names="value")
        self.load_status = W.HTML("")
        self.load_status.add_class("or-magic-load-status")
        header = W.HBox(
            [
                self.title,
                self.offline_badge,
                self.key_input,
                self.key_button,
                self.key_clear_button,
                self.key_status,
            ],
            layout=W.Layout(align_items="center", flex_flow="row wrap"),
        )
        header.add_class("or-magic-header")

        # ---- tabs ------------------------------------------------------------------------------------
        self.chat = ChatPanel(self)
        self.analyze = AnalyzePanel(self)
        self.image = ImagePanel(self)
        self.audio = AudioPanel(self)
        self.video = VideoPanel(self)
        self.models_panel = ModelsPanel(self)
        self.jobs = JobsPanel(self)
        self.usage = UsagePanel(self)
        self.panels: dict[str, DashboardPanel] = {
            p.name: p
            for p in (
                self.chat,
                self.analyze,
                self.image,
                self.audio,
                self.video,
                self.models_panel,
                self.jobs,
                self.usage,
            )
        }
        self.tabs = W.Tab(children=[p.box for p in self.panels.values()])
        self.tabs.titles = tuple(p.title for p in self.panels.values())
        self.tabs.add_class("or-magic-tabs")
        self.tabs.observe(self._tab_changed, names="selected_index")
        self.widget = W.VBox([header, self.load_status, self.tabs])
        self.widget.add_class("or-magic-dashboard")
        self.refresh_badge()
        if autoload:
            self._start_load()

    # ---- environment -------------------------------------------------------------------------------

    def namespace(self) -> dict[str, Any]:
        return self._namespace if self._namespace is not None else user_namespace()

    @staticmethod
    def settings() -> Any:
        from ..config import get_settings

        return get_settings()

    # ---- model lists ---------------------------------------------------------------------------------

    def _start_load(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a script / terminal): load on demand (ready() / load())
        self._load_task = spawn(self.refresh_models())

    async def refresh_models(self) -> None:
        """(Re)load the catalog and the video capabilities; fill every model picker.

        Both come from the core as results (stamped and redacted like any tool call), so a
        failure is shown as the core phrased it and never raises here.
        """
        from ..tools import model_catalog, video_capabilities

        self.load_status.value = "<small>Loading models…</small>"
        catalog = await model_catalog()
        models: list[dict[str, Any]] = []
        if catalog.is_error:
            self.load_status.value = (
                f"<small style='color:#b00'>Could not load the model catalog: "
                f"{html.escape(catalog.text)}</small>"
            )
        else:
            models = list((catalog.data or {}).get("models") or [])
        videos: dict[str, dict[str, Any]] = {}
        if models:
            caps = await video_capabilities()
            if caps.ok:  # else the video tab falls back to the catalog's video-output models
                videos = dict((caps.data or {}).get("models") or {})
            self.load_status.value = ""
        self.models, self.video_models = models, videos
        for p in self.panels.values():
            p.set_catalog(models, videos)
        self.widget.add_class("or-magic-ready")

    async def ready(self) -> Dashboard:
        """Wait until the model pickers are filled (loads them now if nothing has yet)."""
        task = self._load_task
        if task is None:
            self._load_task = task = asyncio.ensure_future(self.refresh_models())
        if isinstance(task, asyncio.Future):
            await task
        else:
            await asyncio.wrap_future(task)
        return self

    def load(self) -> Dashboard:
        """Blocking ``ready()`` for synchronous code."""
        from ..tools import run_sync

        return run_sync(self.ready())

    # ---- API key -----------------------------------------------------------------------------------

    def _key_committed(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.set_key()

    def set_key(self, key: str | None = None) -> None:
        """Use the typed key (or ``key``) for this kernel; the widget is cleared immediately."""
        value = self.key_input.value if key is None else key
        if self.key_input.value:
            self.key_input.value = ""  # never keep the key in widget state
        if not value or not value.strip():
            self.key_status.value = "<small>Type a key first.</small>"
            return
        import html

        from ..config import set_api_key
        from ..errors import ConfigError

        try:
            set_api_key(value, source="the dashboard's key field")
        except ConfigError as exc:  # names where, never what: the value is a secret
            self.key_status.value = f"<small>{html.escape(exc.message)}</small>"
            return
        finally:
            del value
        self.key_status.value = "<small class='or-magic-key-ok'>key set for this kernel</small>"
        self._backend_changed()

    def forget_key(self) -> None:
        from ..config import set_api_key

        self.key_input.value = ""
        set_api_key(None)
        self.key_status.value = "<small>key forgotten (environment key, if any, applies)</small>"
        self._backend_changed()

    def _backend_changed(self) -> None:
        self.refresh_badge()
        self.widget.remove_class("or-magic-ready")
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._load_task = None  # reloaded on the next ready()/load()
            return
        self._load_task = spawn(self.refresh_models())

    def refresh_badge(self) -> bool:
        """Show the offline badge while no key is set (the offline double answers)."""
        from ..errors import ConfigError

        try:
            offline = bool(self.settings().offline)
        except ConfigError as err:
            self.key_status.value = f"<small style='color:#b00'>{html.escape(str(err))}</small>"
            offline = True
        self.offline_badge.layout.display = None if offline else "none"
        return offline

    # ---- hooks ---------------------------------------------------------------------------------------

    def after_run(self, result: Any) -> None:
        self.refresh_badge()
        self.usage.refresh()
        meta = getattr(result, "meta", None) or {}
        if meta.get("job_id") or meta.get("video_id"):
            self.jobs.refresh()

    def _tab_changed(self, change: dict[str, Any]) -> None:
        names = list(self.panels)
        idx = change.get("new")
        if isinstance(idx, int) and 0 <= idx < len(names):
            name = names[idx]
            if name == "usage":
                self.usage.refresh()
            elif name == "jobs":
                self.jobs.refresh()

    def select(self, name: str) -> None:
        self.tabs.selected_index = list(self.panels).index(name)

    # ---- display -------------------------------------------------------------------------------------

    def _ipython_display_(self) -> None:
        if widget_frontend():
            from IPython.display import display

            display(self.widget)
        else:
            print(FALLBACK_LINE)

    def show(self) -> None:
        self._ipython_display_()

    def __repr__(self) -> str:
        if widget_frontend():
            return "<or_magic Dashboard: display it in a notebook cell>"
        return FALLBACK_LINE

    def all_widgets(self) -> list[W.Widget]:
        """Every widget in the dashboard's tree (for tests and state checks)."""
        seen: dict[str, W.Widget] = {}

        def walk(w: Any) -> None:
            if not isinstance(w, W.Widget) or w.model_id in seen:
                return
            seen[w.model_id] = w
            for name in w.keys:
                value = getattr(w, name, None)
                for v in value if isinstance(value, (list, tuple)) else (value,):
                    if isinstance(v, W.Widget):
                        walk(v)

        walk(self.widget)
        return list(seen.values())

    def close(self) -> None:
        """Stop running jobs and close every widget."""
        for p in self.panels.values():
            task = getattr(p, "task", None)
            if task is not None and not task.done():
                task.cancel()
        for w in self.all_widgets():
            w.close()
