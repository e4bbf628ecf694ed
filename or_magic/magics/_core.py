"""``%openrouter`` / ``%%openrouter``: the magics class — configuration and a dispatcher.

``OpenRouterMagics`` holds the traitlets configuration (``%config OpenRouterMagics.x = ...``),
the kernel's named conversations, and the small helper API the modes share (``_prompt``,
``_model``, ``_source``, ``_wrap``, ``_store``...). The ``openrouter`` magic only splits the line
and hands it to ``magics/_dispatch.py``, whose tables map each cell mode to ``magics/cells/`` and
each line command to ``magics/commands/`` (its docstring says how to add one). Running a tool
call with its live view is ``magics/_run.py``; a failed call raises one ``OpenRouterCellError``
(``[CODE] message`` + suggestions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from traitlets import Bool, Dict, Enum, Float, Int, Unicode

from . import _parsing as P

# asyncio, html, json, the live views and every mode module are imported on first use:
# ``%load_ext`` stays cheap.


@magics_class
class OpenRouterMagics(Magics):
    """``%openrouter`` line magic and ``%%openrouter`` cell magic (see ``%openrouter help``)."""

    # ---- configuration (``%config OpenRouterMagics.x = ...`` or ``c.OpenRouterMagics.x``) ----------
    default_model = Unicode("", help="Chat model ('' = OPENROUTER_DEFAULT_MODEL / built-in)").tag(
        config=True
    )
    vision_model = Unicode("", help="Model for image analysis ('' = core default)").tag(config=True)
    audio_model = Unicode("", help="Model for audio analysis ('' = core default)").tag(config=True)
    video_model = Unicode("", help="Model for video analysis ('' = core default)").tag(config=True)
    image_model = Unicode("", help="Image generation model ('' = core default)").tag(config=True)
    audio_gen_model = Unicode("", help="Audio generation model ('' = core default)").tag(
        config=True
    )
    tts_model = Unicode("", help="Text-to-speech model ('' = core default)").tag(config=True)
    video_gen_model = Unicode("", help="Video generation model ('' = core default)").tag(
        config=True
    )
    system_prompt = Unicode("", help="System message added to every chat").tag(config=True)
    default_format = Enum(
        ["markdown", "text", "json", "html", "code"], "markdown", help="Default --format"
    ).tag(config=True)
    output_dir = Unicode(
        "or_magic-output",
        help="Where generated media is saved (relative to OPENROUTER_OUTPUT_DIR / the cwd)",
    ).tag(config=True)
    save_generated = Bool(
        False,
        help="Save every generated image/audio to output_dir (videos are always saved; big "
        "media is saved anyway)",
    ).tag(config=True)
    streaming = Bool(True, help="Stream chat answers as they arrive").tag(config=True)
    stream_throttle_ms = Int(50, help="Minimum time between two streamed updates").tag(config=True)
    history_length = Int(10, help="Exchanges of a named chat sent as context (0 = none)").tag(
        config=True
    )
    inline_max_bytes = Int(
        2 * 1024 * 1024, help="Media larger than this is shown from its saved path, not base64"
    ).tag(config=True)
    interpolate = Bool(True, help="Replace {{name}} in prompts with notebook values").tag(
        config=True
    )
    display_mode = Enum(
        ["auto", "rich", "text"], "auto", help="rich outputs, or text (terminal) fallbacks"
    ).tag(config=True)
    widgets = Enum(
        ["auto", "on", "off"], "auto", help="ipywidgets progress panel (auto: in a Jupyter kernel)"
    ).tag(config=True)
    video_max_wait_s = Float(0.0, help="Default --max-wait for video (0 = core default)").tag(
        config=True
    )
    aliases = Dict({}, help="Model aliases, e.g. {'fast': 'openai/gpt-4o-mini'}").tag(config=True)
    engine = Enum(
        ["interactive", "batch"],
        "interactive",
        help="How --each runs: calls now, or OpenRouter Batch API jobs (like --batch)",
    ).tag(config=True)
    cache = Enum(
        ["off", "on", "deterministic"],
        None,
        allow_none=True,
        help="Local response cache (None = OR_MAGIC_CACHE; deterministic: temperature 0 or a seed)",
    ).tag(config=True)
    budget_usd = Float(
        None, allow_none=True, help="Session budget in USD (None = OR_MAGIC_BUDGET_USD)"
    ).tag(config=True)
    history_tokens = Int(
        0, help="Most estimated tokens of chat history sent (0 = whatever fits the model)"
    ).tag(config=True)
    log_calls = Bool(
        True, help="Record calls in the call log (OR_MAGIC_LOG=0 also turns it off)"
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.chats: dict[str, list[dict[str, Any]]] = {}
        self._mcp_handle: Any = None

    # ---- the magic --------------------------------------------------------------------------------
    @no_var_expand
    @line_cell_magic
    def openrouter(self, line: str, cell: str | None = None) -> Any:
        """OpenRouter from the notebook. ``%openrouter help`` for the cheat sheet."""
        from ._memory import cell_options

        with cell_options(self, line, cell):  # --cache, --max-cost, --resume, budget traits
            return self._openrouter(line, cell)

    def _openrouter(self, line: str, cell: str | None = None) -> Any:
        from . import _dispatch

        words = P.split(line)
        try:
            if cell is not None:
                return _dispatch.run_cell(self, words, cell)
            return _dispatch.run_line(self, words)
        except P.HelpShown as h:
            print(h.text)
            return None

    # ---- the helpers every mode shares ------------------------------------------------------------
    @property
    def ns(self) -> dict[str, Any]:
        """The notebook's namespace (``{{name}}``, ``-o VAR``, sources by variable name)."""
        return self.shell.user_ns if self.shell is not None else {}

    def _rich(self) -> bool:
        """Rich outputs (Markdown, media) or the terminal's text fallbacks."""
        if self.display_mode == "auto":
            return _shell_kind(self.shell) != "terminal"
        return self.display_mode == "rich"

    def _panel_mode(self) -> str:
        """How a progress panel shows: ipywidgets, an updated display handle, or text."""
        if not self._rich():
            return "text"
        want = self.widgets
        if want == "on" or (want == "auto" and _shell_kind(self.shell) == "kernel"):
            from ._live import widgets_available

            if widgets_available():
                return "widgets"
        return "handle"

    def _model(self, given: str | None, trait: str) -> str | None:
        """``-m`` or the mode's configured model, through ``aliases``."""
        m = given or getattr(self, trait) or None
        if m and m in self.aliases:
            m = self.aliases[m]
        return m

    def _fmt(self, given: str | None) -> str:
        from ._common import FMT_ALIASES

        f = given or self.default_format
        return FMT_ALIASES.get(f, f)

    def _settings(self) -> Any:
        from ..config import get_settings
        from ._common import cell_error

        try:
            return get_settings()
        except Exception as exc:
            raise cell_error(exc) from None

    def _media_dir(self) -> Path:
        p = Path(self.output_dir).expanduser()
        if p.is_absolute():
            return p
        return self._settings().output_root / p

    def _auto_save(self, kind: str, ext: str) -> str | None:
        """A ``save_path`` under ``output_dir`` when ``save_generated`` is on."""
        if not self.save_generated:
            return None
        from ._common import stamp

        return str(Path(self.output_dir) / f"{kind}-{stamp()}.{ext}")

    def _prompt(self, cell: str | None, raw: bool, ns: Any = None) -> str:
        """The cell as a prompt: blank lines around it dropped, ``{{name}}`` interpolated."""
        text = (cell or "").strip("\n").rstrip()
        if self.interpolate and not raw:
            from ._interp import interpolate

            text, _ = interpolate(text, self.ns if ns is None else ns)
        return text

    def _source(self, word: str, kind: str = "image") -> Any:
        """A path, URL or variable name as a media source (``magics/_sources.py``)."""
        from ._common import cell_error
        from ._sources import to_source

        try:
            return to_source(word, self.ns, default_kind=kind)
        except Exception as exc:
            raise cell_error(exc, prefix=word) from None

    def _wrap(self, raw: Any, fmt: str = "markdown", prompt: str | None = None) -> Any:
        """The ``RichResult`` that ``-o VAR`` stores."""
        from ..display import RichResult

        return RichResult(
            raw,
            fmt=fmt,
            inline_max_bytes=self.inline_max_bytes,
            media_dir=self._media_dir(),
            prompt=prompt,
        )

    def _bundles(self, raw: Any, fmt: str) -> list[Any]:
        from ..display import result_bundles

        return result_bundles(
            raw,
            fmt=fmt,
            inline_max_bytes=self.inline_max_bytes,
            media_dir=self._media_dir(),
            save_all_media=not self._rich(),
        )

    def _single_bundle(self, raw: Any, fmt: str) -> Any:
        from ..display import result_bundle

        if not self._rich():
            from ..display import save_media

            for m in raw.media:
                if not m.path:
                    save_media(m, self._media_dir())
        return result_bundle(
            raw, fmt=fmt, inline_max_bytes=self.inline_max_bytes, media_dir=self._media_dir()
        )

    def _store(self, var: str | None, value: Any) -> None:
        """``-o VAR``: put ``value`` in the notebook's namespace."""
        if var:
            if not var.isidentifier():
                raise UsageError(f"-o needs a variable name, got {var!r}")
            self.ns[var] = value


def _shell_kind(shell: Any) -> str:
    from ._live import shell_kind

    return shell_kind(shell)
