"""``%openrouter`` / ``%%openrouter``: the magics class.

Everything runs through the tool core (``call_tool`` + ``run_sync``); this module parses flags,
builds tool arguments, shows live progress and turns results into durable outputs. A failed call
raises one ``OpenRouterCellError`` (``[CODE] message`` + suggestions).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from traitlets import Bool, Dict, Enum, Float, Int, Unicode

from . import _parsing as P
from ._errors import OpenRouterCancelled, OpenRouterCellError, OpenRouterInterrupted

if TYPE_CHECKING:  # pragma: no cover
    from ._live import Panel, StreamView

# asyncio, html, json and the live views are imported on first use: ``%load_ext`` stays cheap.


def shell_kind(shell: Any) -> str:
    from ._live import shell_kind as kind

    return kind(shell)


def show_bundles(bundles: list[Any], *, rich: bool = True) -> None:
    from ._live import show_bundles as show

    show(bundles, rich=rich)


def _widgets_available() -> bool:
    from ._live import widgets_available

    return widgets_available()


def Panel(**kw: Any) -> Any:
    from ._live import Panel as cls

    return cls(**kw)


def StreamView(**kw: Any) -> Any:
    from ._live import StreamView as cls

    return cls(**kw)


_FMT_ALIASES = {"md": "markdown"}
_FMT_HINTS = {
    "json": "Answer with one JSON value only (no prose, no code fences).",
    "html": "Answer in HTML only (no Markdown, no code fences).",
    "code": "Answer with code only, in a single fenced code block, without explanations.",
    "text": "Answer in plain text without Markdown.",
}
_KIND_TOOL = {"image": "analyze_image", "audio": "analyze_audio", "video": "analyze_video"}
_KIND_ARG = {"image": "image_path", "audio": "audio_path", "video": "video_path"}


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != [] and v != ""}


def _stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + f"-{int(time.time() * 1000) % 1000:03d}"


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

    # ---- helpers ----------------------------------------------------------------------------------
    @property
    def ns(self) -> dict[str, Any]:
        return self.shell.user_ns if self.shell is not None else {}

    def _rich(self) -> bool:
        if self.display_mode == "auto":
            return shell_kind(self.shell) != "terminal"
        return self.display_mode == "rich"

    def _panel_mode(self) -> str:
        if not self._rich():
            return "text"
        want = self.widgets
        if (
            want == "on" or (want == "auto" and shell_kind(self.shell) == "kernel")
        ) and _widgets_available():
            return "widgets"
        return "handle"

    def _model(self, given: str | None, trait: str) -> str | None:
        m = given or getattr(self, trait) or None
        if m and m in self.aliases:
            m = self.aliases[m]
        return m

    def _settings(self) -> Any:
        from ..config import get_settings

        try:
            return get_settings()
        except Exception as exc:
            raise _cell_error(exc) from None

    def _media_dir(self) -> Path:
        p = Path(self.output_dir).expanduser()
        if p.is_absolute():
            return p
        return self._settings().output_root / p

    def _auto_save(self, kind: str, ext: str) -> str | None:
        if not self.save_generated:
            return None
        return str(Path(self.output_dir) / f"{kind}-{_stamp()}.{ext}")

    def _prompt(self, cell: str | None, raw: bool, ns: Any = None) -> str:
        """The cell as a prompt: blank lines around it dropped, ``{{name}}`` interpolated."""
        text = (cell or "").strip("\n").rstrip()
        if self.interpolate and not raw:
            from ._interp import interpolate

            text, _ = interpolate(text, self.ns if ns is None else ns)
        return text

    def _source(self, word: str, kind: str = "image") -> Any:
        from ._sources import to_source

        try:
            return to_source(word, self.ns, default_kind=kind)
        except Exception as exc:
            raise _cell_error(exc, prefix=word) from None

    def _wrap(self, raw: Any, fmt: str = "markdown", prompt: str | None = None) -> Any:
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
        if var:
            if not var.isidentifier():
                raise UsageError(f"-o needs a variable name, got {var!r}")
            self.ns[var] = value

    # ---- running tools ------------------------------------------------------------------------------
    def _call(
        self,
        tool: str,
        args: dict[str, Any],
        *,
        view: StreamView | None = None,
        panel: Panel | None = None,
        stream: bool = False,
    ) -> Any:
        """Run one tool call blocking (nested on the kernel loop); raise on cancel/interrupt."""
        import asyncio

        from ..tools import call_tool, run_sync

        state: dict[str, Any] = {}
        started = time.time()

        async def go() -> Any:
            state["loop"] = asyncio.get_running_loop()
            state["task"] = asyncio.current_task()
            if state.get("stop"):  # Stop was clicked before the task existed
                raise asyncio.CancelledError
            ticker = asyncio.ensure_future(_tick(panel)) if panel is not None else None
            try:
                return await call_tool(
                    tool,
                    args,
                    on_text=view.on_text if (view is not None and stream) else None,
                    on_progress=panel.progress if panel is not None else None,
                )
            finally:
                if ticker is not None:
                    ticker.cancel()
                    await asyncio.gather(ticker, return_exceptions=True)

        if panel is not None:
            # may be called from the Stop button's subshell thread: cancel thread-safely. A click
            # before the task exists is remembered (flag first, then look for the task; go()
            # sets the task first, then looks at the flag: one of the two always sees the other).
            def on_stop() -> None:
                state["stop"] = True
                if "task" in state:
                    state["loop"].call_soon_threadsafe(state["task"].cancel)

            panel.on_stop = on_stop
            panel.start()
        elif view is not None:
            view.start()
        try:
            result = run_sync(go())
        except KeyboardInterrupt:
            # one line, from the exception: not the panel too, and no trip through the loop
            if panel is not None:
                panel.end("interrupted")
            if view is not None:
                view.fail("interrupted")
            raise OpenRouterInterrupted(tool, self._resume_hint(tool, started)) from None
        except asyncio.CancelledError:
            hint = self._resume_hint(tool, started)
            if panel is not None:
                panel.end("stopped", hint)
            if view is not None:
                view.fail("stopped")
            raise OpenRouterCancelled(
                f"{tool} was stopped", suggestions=[hint] if hint else None
            ) from None
        if view is not None:
            view.flush()
        if result.is_error:
            if panel is not None:
                panel.end("failed", f"[{result.code}]")
            if view is not None:
                view.fail(f"failed: {result.code}")
            raise OpenRouterCellError.from_result(result) from None
        return result

    def _resume_hint(self, tool: str, started: float) -> str:
        if tool not in ("generate_video", "get_video_status"):
            return ""
        try:
            from ..jobs import get_job_store

            jobs = get_job_store(self._settings()).list(kind="video", limit=5)
            for j in jobs:
                if j.created_at >= started - 1:
                    return (
                        f"The video job continues upstream: resume with %openrouter status {j.id}"
                    )
        except Exception:
            pass
        return "If a video job was submitted, %openrouter jobs lists it; resume with %openrouter status ID"

    def _show(
        self,
        raw: Any,
        fmt: str,
        *,
        view: StreamView | None = None,
        panel: Panel | None = None,
        quiet: bool = False,
    ) -> None:
        if quiet:
            if panel is not None:
                panel.end("done")
            elif view is not None:
                view.fail("hidden")
            return
        bundles = self._bundles(raw, fmt)
        if view is not None:
            view.finish(bundles)
        elif panel is not None:
            panel.finish(bundles, rich=self._rich())
        else:
            show_bundles(bundles, rich=self._rich())

    def _background(
        self,
        tool: str,
        args: dict[str, Any],
        *,
        title: str,
        fmt: str = "markdown",
        label: str = "",
        out: str | None = None,
        on_done: Callable[[Any], None] | None = None,
    ) -> Any:
        import asyncio

        from ..tools import call_tool
        from ._jobs import Job

        job = Job(tool, label or title, wrap=lambda raw: self._wrap(raw, fmt))
        panel = Panel(mode=self._panel_mode(), title=f"{title} [{job.id}]", on_stop=job.cancel)
        job.panel = panel
        started = time.time()

        async def run() -> Any:
            ticker = asyncio.ensure_future(_tick(panel))
            try:
                result = await call_tool(tool, args, on_progress=panel.progress)
            except asyncio.CancelledError:
                panel.end("stopped", self._resume_hint(tool, started))
                raise
            finally:
                ticker.cancel()
            if result.is_error:
                panel.end("failed", f"[{result.code}] {result.text[:200]}")
            else:
                if on_done is not None:
                    on_done(result)
                panel.finish([self._single_bundle(result, fmt)], rich=self._rich())
            return result

        panel.start()
        job.start(run())
        self._store(out, job)
        hint = f"Started job {job.id}: `%openrouter wait {job.id}`" + (
            f", `await {out}` or `{out}.wait()`" if out else ""
        )
        if self._rich():
            show_bundles(
                [({"text/markdown": hint, "text/plain": hint}, {"or_magic": {"part": "job"}})]
            )
        else:
            print("\n" + hint.replace("`", ""))
        return None

    # ---- the magic ------------------------------------------------------------------------------------
    @no_var_expand
    @line_cell_magic
    def openrouter(self, line: str, cell: str | None = None) -> Any:
        """OpenRouter from the notebook. ``%openrouter help`` for the cheat sheet."""
        from ._memory import cell_options

        with cell_options(self, line, cell):  # --cache, --max-cost, --resume, budget traits
            return self._openrouter(line, cell)

    def _openrouter(self, line: str, cell: str | None = None) -> Any:
        words = P.split(line)
        try:
            if cell is not None:
                if words and words[0] in P.LINE_COMMANDS and words[0] != "help":
                    raise UsageError(
                        f"'{words[0]}' is a line command: use %openrouter {words[0]} (one %)"
                    )
                mode = "chat"
                if words and words[0] in P.CELL_MODES:
                    mode = words.pop(0)
                if words and words[0] == "help":
                    return self._help()
                return getattr(self, f"_cell_{mode}")(words, cell)
            if not words:
                return self._help()
            cmd = words.pop(0)
            if cmd in P.LINE_COMMANDS:
                if self.interpolate and cmd != "key":  # `status {{video_id}}` reads a variable
                    from ._interp import interpolate

                    words = [interpolate(w, self.shell.user_ns)[0] for w in words]
                return getattr(self, f"_line_{cmd}")(words)
            if cmd == "embed":  # `%openrouter embed --each df.text` needs no cell body
                return self._cell_embed(words, "")
            if cmd in P.CELL_MODES:
                raise UsageError(
                    f"'{cmd}' is a cell mode: write %%openrouter {cmd} on the first line of a "
                    "cell and the prompt below it"
                )
            import difflib

            near = difflib.get_close_matches(cmd, [*P.LINE_COMMANDS, *P.CELL_MODES], n=1)
            raise UsageError(
                f"unknown %openrouter command {cmd!r}"
                + (f" (did you mean {near[0]!r}?)" if near else "")
                + "; see %openrouter help"
            )
        except P.HelpShown as h:
            print(h.text)
            return None

    # ---- cell modes -----------------------------------------------------------------------------------
    def _fmt(self, given: str | None) -> str:
        f = given or self.default_format
        return _FMT_ALIASES.get(f, f)

    def _history(self, name: str | None) -> list[dict[str, Any]]:
        if name is None or self.history_length <= 0:
            return []
        return self.chats.get(name, [])[-2 * self.history_length :]

    def _remember(self, name: str | None, prompt: str, answer: str) -> None:
        if name is None:
            return
        log = self.chats.setdefault(name, [])
        log += [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
        keep = max(2 * self.history_length, 0) * 5 or 2
        del log[:-keep]

    def _schema(self, var: str) -> tuple[dict[str, Any], Any]:
        from ._interp import is_missing, resolve

        value = resolve(var, self.ns)
        if is_missing(value):
            raise UsageError(f"--schema {var}: no such variable")
        model_cls = None
        if hasattr(value, "model_json_schema"):
            model_cls = value
            schema, name = value.model_json_schema(), getattr(value, "__name__", "answer")
        elif isinstance(value, dict):
            if value.get("type") == "json_schema" and "json_schema" in value:
                return value, None
            if "schema" in value and isinstance(value["schema"], dict) and "name" in value:
                return {"type": "json_schema", "json_schema": value}, None
            schema, name = value, str(value.get("title") or "answer")
        elif isinstance(value, str):
            try:
                import json

                schema, name = json.loads(value), "answer"
            except (ValueError, RecursionError):
                raise UsageError(f"--schema {var}: not valid JSON") from None
        else:
            raise UsageError(
                f"--schema {var}: give a dict, a JSON string or a pydantic model class"
            )
        safe = "".join(c if c.isalnum() or c in "_-" else "_" for c in name)[:64] or "answer"
        return {
            "type": "json_schema",
            "json_schema": {"name": safe, "schema": schema, "strict": True},
        }, model_cls

    def _cell_chat(self, words: list[str], cell: str) -> Any:
        opts = P.parse(P.chat_parser(), words)
        if opts.each:
            return self._each_chat(opts, cell)
        prompt = self._prompt(cell, opts.raw)
        if not prompt.strip():
            raise UsageError(
                "%%openrouter: the cell is empty; write the prompt below the first line"
            )
        fmt = self._fmt(opts.format)
        response_format, model_cls = (None, None)
        if opts.schema:
            response_format, model_cls = self._schema(opts.schema)
            fmt = "json" if opts.format is None else fmt
        elif fmt == "json":
            response_format = {"type": "json_object"}
        chat_name = None if opts.no_history else (opts.chat or "default")
        args = self._chat_args(opts, prompt, fmt, response_format, chat_name)
        if opts.background:
            return self._background(
                "chat_completion",
                args,
                title="chat",
                fmt=fmt,
                label=prompt[:60],
                out=opts.out,
                on_done=lambda r: self._remember(chat_name, prompt, r.text),
            )
        stream = self.streaming and not opts.no_stream and fmt in ("markdown", "text", "code")
        view = StreamView(
            rich=self._rich(),
            fmt=fmt,
            throttle_s=self.stream_throttle_ms / 1000,
            label=args.get("model") or "waiting for the model",
        )
        if opts.quiet and not stream:
            view = None
        raw = self._call("chat_completion", args, view=view, stream=stream)
        self._remember(chat_name, prompt, raw.text)
        rich = self._wrap(raw, fmt, prompt)
        if model_cls is not None:
            try:
                rich.parsed = model_cls.model_validate(rich.value)
            except Exception:
                rich.parsed = None
        self._store(opts.out, rich)
        self._show(raw, fmt, view=view, quiet=opts.quiet)
        return None

    def _chat_args(
        self,
        opts: Any,
        prompt: str,
        fmt: str,
        response_format: dict[str, Any] | None,
        chat_name: str | None,
    ) -> dict[str, Any]:
        system_parts = [s for s in (self.system_prompt, opts.system, _FMT_HINTS.get(fmt)) if s]
        messages = [*self._history(chat_name), {"role": "user", "content": prompt}]
        return _drop_none(
            {
                "messages": messages,
                "system": "\n\n".join(system_parts) or None,
                "model": self._model(opts.model, "default_model"),
                "models": opts.fallback,
                "temperature": opts.temperature,
                "max_tokens": opts.max_tokens,
                "seed": opts.seed,
                "reasoning_effort": opts.reasoning,
                "online": True if opts.online else None,
                "response_format": response_format,
            }
        )

    # -- analysis
    def _analysis_calls(
        self, sources: list[Any], question: str | None, model: str | None
    ) -> list[tuple[str, dict[str, Any], str]]:
        """(tool, args, label): one call, whatever the number of sources.

        One source → ``analyze_<kind>``; several images → ``analyze_image`` with ``image_paths``;
        mixed media → ``analyze_media`` (each source is detected from its content).
        """
        label = ", ".join(s.label for s in sources)
        kinds = {s.kind for s in sources}
        if len(kinds) == 1:
            kind = next(iter(kinds))
            trait = "vision_model" if kind == "image" else f"{kind}_model"
            args: dict[str, Any] = {
                _KIND_ARG[kind]: sources[0].value,
                "question": question,
                "model": model or self._model(None, trait),
            }
            if len(sources) > 1:
                if kind != "image":
                    return [("analyze_media", self._media_args(sources, question, model), label)]
                args["image_paths"] = [s.value for s in sources[1:]]
            return [(_KIND_TOOL[kind], _drop_none(args), label)]
        return [("analyze_media", self._media_args(sources, question, model), label)]

    def _media_args(self, sources: list[Any], question: str | None, model: str | None) -> Any:
        return _drop_none(
            {"sources": [s.value for s in sources], "question": question, "model": model}
        )

    def _cell_analyze(self, words: list[str], cell: str) -> Any:
        opts = P.parse(P.analyze_parser(), words)
        question = self._prompt(cell, opts.raw).strip() or None
        if opts.each:
            return self._each_analyze(opts, question)
        if not opts.sources:
            raise UsageError(
                "%%openrouter analyze needs at least one SOURCE (path, URL or variable name)"
            )
        model = self._model(opts.model, "default_model") if opts.model else None
        sources = [self._source(w, opts.kind or "image") for w in opts.sources]
        if opts.kind:
            for s in sources:
                s.kind = opts.kind
        fmt = self._fmt(opts.format)
        [(tool, args, label)] = self._analysis_calls(sources, question, model)
        if opts.background:
            return self._background(
                tool, args, title=f"analyze {label}", fmt=fmt, label=label, out=opts.out
            )
        view = StreamView(
            rich=self._rich(),
            fmt=fmt,
            throttle_s=self.stream_throttle_ms / 1000,
            label=f"analyzing {label}",
        )
        raw = self._call(tool, args, view=view, stream=self.streaming)
        self._store(opts.out, self._wrap(raw, fmt, question))
        self._show(raw, fmt, view=view, quiet=opts.quiet)
        return None

    # -- generation
    def _run_generation(
        self,
        tool: str,
        args: dict[str, Any],
        opts: Any,
        *,
        title: str,
        prompt: str,
    ) -> Any:
        if opts.background:
            return self._background(tool, args, title=title, label=prompt[:60], out=opts.out)
        panel = Panel(mode=self._panel_mode(), title=title)
        raw = self._call(tool, args, panel=panel)
        self._store(opts.out, self._wrap(raw, "markdown", prompt))
        self._show(raw, "markdown", panel=panel, quiet=opts.quiet)
        return None

    def _need_prompt(self, cell: str, opts: Any, mode: str) -> str:
        prompt = self._prompt(cell, opts.raw).strip()
        if not prompt:
            raise UsageError(f"%%openrouter {mode}: write the prompt in the cell body")
        return prompt

    def _cell_image(self, words: list[str], cell: str) -> Any:
        opts = P.parse(P.image_parser(), words)
        prompt = self._need_prompt(cell, opts, "image")
        refs = [self._source(r).value for r in (opts.ref or [])]
        args = _drop_none(
            {
                "prompt": prompt,
                "model": self._model(opts.model, "image_model"),
                "aspect_ratio": opts.aspect,
                "image_size": opts.size,
                "input_images": refs or None,
                "save_path": opts.save or self._auto_save("image", "png"),
            }
        )
        return self._run_generation("generate_image", args, opts, title="image", prompt=prompt)

    def _cell_audio(self, words: list[str], cell: str) -> Any:
        opts = P.parse(P.audio_parser(), words)
        if opts.tts:
            return self._speech(opts, cell)
        prompt = self._need_prompt(cell, opts, "audio")
        fmt = opts.audio_format
        args = _drop_none(
            {
                "prompt": prompt,
                "model": self._model(opts.model, "audio_gen_model"),
                "voice": opts.voice,
                "format": fmt,
                "save_path": opts.save or self._auto_save("audio", fmt or "wav"),
            }
        )
        return self._run_generation("generate_audio", args, opts, title="audio", prompt=prompt)

    def _cell_speech(self, words: list[str], cell: str) -> Any:
        return self._speech(P.parse(P.audio_parser(speech=True), words), cell)

    def _speech(self, opts: Any, cell: str) -> Any:
        text = self._need_prompt(cell, opts, "speech")
        fmt = opts.audio_format
        args = _drop_none(
            {
                "input": text,
                "model": self._model(opts.model, "tts_model"),
                "voice": opts.voice,
                "response_format": fmt,
                "speed": getattr(opts, "speed", None),
                "instructions": getattr(opts, "instructions", None),
                "save_path": opts.save or self._auto_save("speech", fmt or "mp3"),
            }
        )
        return self._run_generation("text_to_speech", args, opts, title="speech", prompt=text)

    def _cell_video(self, words: list[str], cell: str) -> Any:
        opts = P.parse(P.video_parser(), words)
        prompt = self._need_prompt(cell, opts, "video")
        max_wait = opts.max_wait or self.video_max_wait_s or None
        args = _drop_none(
            {
                "prompt": prompt,
                "model": self._model(opts.model, "video_gen_model"),
                "duration": opts.duration,
                "resolution": opts.resolution,
                "aspect_ratio": opts.aspect,
                "seed": opts.seed,
                "first_frame_image": self._source(opts.first_frame).value
                if opts.first_frame
                else None,
                "last_frame_image": self._source(opts.last_frame).value
                if opts.last_frame
                else None,
                "reference_images": [self._source(r).value for r in (opts.ref or [])] or None,
                "save_path": opts.save or str(Path(self.output_dir) / f"video-{_stamp()}.mp4"),
                "max_wait_ms": int(max_wait * 1000) if max_wait else None,
                "poll_interval_ms": int(opts.poll * 1000) if opts.poll else None,
            }
        )
        return self._run_generation("generate_video", args, opts, title="video", prompt=prompt)

    def _cell_embed(self, words: list[str], cell: str) -> Any:
        from ._embed import cell_embed  # the mode lives in its own module

        return cell_embed(self, words, cell)

    # -- batch (--each)
    def _each_items(self, var: str) -> list[Any]:
        from ._interp import is_missing, resolve

        value = resolve(var, self.ns)
        if is_missing(value):
            raise UsageError(f"--each {var}: no such variable")
        if isinstance(value, (str, bytes)):
            raise UsageError(f"--each {var}: needs a list (or other iterable), got a string")
        try:
            return list(value)
        except TypeError:
            raise UsageError(f"--each {var}: is not iterable") from None

    def _run_batch(self, tool: str, items: list[Any], opts: Any, fmt: str) -> Any:
        from ._batches import run_each

        return run_each(self, tool, items, opts, fmt)

    def _each_chat(self, opts: Any, cell: str) -> Any:
        items = self._each_items(opts.each)
        fmt = self._fmt(opts.format)
        response_format = None
        if opts.schema:
            response_format, _ = self._schema(opts.schema)
            fmt = "json" if opts.format is None else fmt
        elif fmt == "json":
            response_format = {"type": "json_object"}
        arg_list = []
        template = (cell or "").strip("\n").rstrip()
        for i, item in enumerate(items):
            ns = {**self.ns, "item": item, "index": i}
            text = template if opts.raw else self._prompt(template, False, ns)
            if "{{" not in template:  # no placeholder: the item follows the instructions
                text = f"{template}\n\n{item}"
            arg_list.append(self._chat_args(opts, text, fmt, response_format, None))
        return self._run_batch("chat_completion", arg_list, opts, fmt)

    def _each_analyze(self, opts: Any, question: str | None) -> Any:
        items = self._each_items(opts.each)
        from ._sources import to_source

        arg_list = []
        for i in range(len(items)):
            try:
                src = to_source(f"{opts.each}[{i}]", self.ns, default_kind=opts.kind or "image")
            except Exception as exc:
                raise _cell_error(exc, prefix=f"{opts.each}[{i}]") from None
            kind = opts.kind or src.kind
            trait = "vision_model" if kind == "image" else f"{kind}_model"
            arg_list.append(
                (
                    _KIND_TOOL[kind],
                    _drop_none(
                        {
                            _KIND_ARG[kind]: src.value,
                            "question": question,
                            "model": self._model(opts.model, trait),
                        }
                    ),
                )
            )
        tools = {t for t, _ in arg_list}
        if len(tools) == 1:
            return self._run_batch(
                tools.pop(), [a for _, a in arg_list], opts, self._fmt(opts.format)
            )
        raise UsageError("--each: all items must be the same kind of media (or pass --kind)")

    # ---- line commands ------------------------------------------------------------------------------
    def _line_help(self, words: list[str]) -> Any:
        return self._help()

    def _help(self) -> None:
        from ._help import CHEAT_SHEET

        show_bundles(
            [({"text/markdown": CHEAT_SHEET, "text/plain": CHEAT_SHEET}, {})], rich=self._rich()
        )

    def _quick(self, tool: str, args: dict[str, Any]) -> Any:
        """A short blocking call with no live view."""
        return self._call(tool, args)

    def _line_models(self, words: list[str]) -> Any:
        opts = P.parse(P.models_parser(), words)
        caps = {
            "vision": opts.vision or None,
            "audio": opts.audio or None,
            "video": opts.video or None,
            "image_output": opts.image_out or None,
            "audio_output": opts.audio_out or None,
            "video_output": opts.video_out or None,
        }
        caps = _drop_none(caps)
        args = _drop_none(
            {
                "query": " ".join(opts.query) or None,
                "provider": opts.provider,
                "capabilities": caps or None,
                "free_only": True if opts.free else None,
                "output_modalities": ["embeddings"] if opts.embed else None,
                "limit": max(1, min(opts.limit, 50)),
            }
        )
        raw = self._quick("search_models", args)
        self._store(opts.out, self._wrap(raw, "markdown"))
        show_bundles([_models_table(raw)], rich=self._rich())

    def _line_info(self, words: list[str]) -> Any:
        if len(words) != 1:
            raise UsageError("usage: %openrouter info MODEL")
        raw = self._quick("get_model_info", {"model": self._model(words[0], "default_model")})
        show_bundles([_info_bundle(raw)], rich=self._rich())

    def _line_health(self, words: list[str]) -> Any:
        raw = self._quick("health_check", {})
        text = raw.text
        badge = " **`offline`**" if (raw.data or {}).get("offline") or raw.offline else ""
        md = "```text\n" + text + "\n```\n" + (f"\n{badge.strip()}" if badge else "")
        show_bundles(
            [({"text/markdown": md, "text/plain": text}, {"or_magic": {"tool": "health_check"}})],
            rich=self._rich(),
        )

    def _line_dashboard(self, words: list[str]) -> Any:
        """The ipywidgets dashboard over the same tools (one line of text outside Jupyter)."""
        from ..widgets.dashboard import Dashboard

        return Dashboard()

    def _line_usage(self, words: list[str]) -> Any:
        from .. import usage

        if words and words[0] == "reset":
            usage.reset()
            print("Usage totals reset.")
            return None
        show_bundles([_usage_bundle(usage.snapshot(), usage.totals())], rich=self._rich())
        from ._memory import budget_line

        line = budget_line(self)
        if line:
            print(line)
        return None

    def _line_log(self, words: list[str]) -> Any:
        from ._memory import line_log

        return line_log(self, words)

    def _line_cache(self, words: list[str]) -> Any:
        from ._memory import line_cache

        return line_cache(self, words)

    def _line_jobs(self, words: list[str]) -> Any:
        """This kernel's jobs, each once; ``--all`` adds every job in the registry."""
        import os

        from ._joblist import job_rows
        from ._jobs import JOBS

        if words not in ([], ["--all"]):
            raise UsageError("usage: %openrouter jobs [--all]")
        store: list[Any] = []
        try:
            from ..jobs import get_job_store

            store = get_job_store(self._settings()).list(limit=30)
        except Exception as exc:  # the registry is optional for this listing
            print(f"(job registry unavailable: {exc})", file=sys.stderr)
        rows = job_rows(JOBS.values(), store, pid=os.getpid(), include_all=words == ["--all"])
        header = ("id", "tool", "status", "age/started", "prompt", "where")
        empty = (
            "No jobs."
            if words
            else "No jobs in this kernel (%openrouter jobs --all for every job)."
        )
        show_bundles([_table_bundle(header, rows, empty=empty)], rich=self._rich())

    def _find_job(self, job_id: str | None) -> Any:
        from ._jobs import JOBS

        if job_id is None:
            running = [j for j in JOBS.values() if not j.done()]
            pool = running or list(JOBS.values())
            if not pool:
                raise UsageError("No background jobs in this kernel (see %openrouter jobs)")
            return pool[-1]
        job = JOBS.get(job_id)
        if job is None:
            raise UsageError(
                f"No background job {job_id!r} in this kernel; for a video job started "
                f"before a restart use %openrouter status {job_id}"
            )
        return job

    def _line_wait(self, words: list[str]) -> Any:
        from ._batches import is_batch_id, line_wait

        opts = P.parse(P.wait_parser(), words)
        if is_batch_id(opts.job_id):
            return line_wait(self, opts.job_id, out=opts.out, timeout=opts.timeout)
        job = self._find_job(opts.job_id)
        result = job.wait(timeout=opts.timeout)
        self._store(opts.out, result)
        if hasattr(result, "bundles"):
            show_bundles(result.bundles(), rich=self._rich())
        return None

    def _line_batches(self, words: list[str]) -> Any:
        from ._batches import line_batches

        return line_batches(self, words)

    def _line_cancel(self, words: list[str]) -> Any:
        from ._batches import is_batch_id, line_cancel

        if words and is_batch_id(words[0]):
            return line_cancel(words[0])
        job = self._find_job(words[0] if words else None)
        print(f"Cancelling {job.id}." if job.cancel() else f"Job {job.id} already {job.status}.")

    def _line_status(self, words: list[str]) -> Any:
        opts = P.parse(P.status_parser(), words)
        args = _drop_none(
            {
                "video_id": opts.video_id,
                "save_path": opts.save,
                "wait": True if opts.wait else None,
                "max_wait_ms": int(opts.max_wait * 1000) if opts.max_wait else None,
            }
        )
        if opts.wait:
            panel = Panel(mode=self._panel_mode(), title=f"video {opts.video_id or ''}".strip())
            raw = self._call("get_video_status", args, panel=panel)
            self._store(opts.out, self._wrap(raw))
            self._show(raw, "markdown", panel=panel)
            return None
        raw = self._quick("get_video_status", args)
        self._store(opts.out, self._wrap(raw))
        show_bundles(self._bundles(raw, "markdown"), rich=self._rich())

    def _line_reset(self, words: list[str]) -> Any:
        if not words or words == ["--all"]:
            if words == ["--all"]:
                self.chats.clear()
                print("All conversations cleared.")
            else:
                self.chats.pop("default", None)
                print("Conversation 'default' cleared.")
            return None
        for name in words:
            self.chats.pop(name, None)
        print(f"Conversation(s) {', '.join(words)} cleared.")

    def _line_history(self, words: list[str]) -> Any:
        name = words[0] if words else "default"
        log = self.chats.get(name, [])
        if not log:
            print(f"Conversation {name!r} is empty. Chats: {', '.join(self.chats) or 'none'}")
            return None
        md = "\n\n".join(f"**{m['role']}**: {m['content']}" for m in log)
        show_bundles([({"text/markdown": md, "text/plain": md}, {})], rich=self._rich())

    def _line_key(self, words: list[str]) -> Any:
        from .. import keyring_store
        from ..config import set_api_key

        if words and words[0] in ("--clear", "clear"):
            set_api_key(None)
            removed = keyring_store.delete_key()
            print(
                "Key cleared for this kernel"
                + (" and removed from the OS keyring" if removed else "")
                + " (OPENROUTER_API_KEY from the environment still applies)."
            )
            return None
        save = words == ["--save"]
        if save and not keyring_store.available():
            raise UsageError(
                "%openrouter key --save needs the optional 'keyring' package (pip install keyring); "
                "the key is never written to the notebook or the state directory"
            )
        if words and not save:
            raise UsageError(
                "%openrouter key takes no value on the line (it would be saved in the notebook); "
                "run it alone and paste the key into the hidden prompt"
            )
        import getpass

        try:
            where = "saved in the OS keyring" if save else "this kernel only"
            key = getpass.getpass(f"OpenRouter API key (hidden; {where}): ")
        except (EOFError, KeyboardInterrupt):
            print("No key entered.")
            return None
        except Exception as exc:  # StdinNotImplementedError: a frontend without input()
            raise OpenRouterCellError(
                "INVALID_INPUT",
                f"This frontend cannot prompt for input ({type(exc).__name__})",
                suggestions=[
                    "Set OPENROUTER_API_KEY in the kernel's environment",
                    "or call or_magic.set_api_key(...) with a value read from a file",
                ],
            ) from None
        key = (key or "").strip()
        if not key:
            print("No key entered; nothing changed.")
            return None
        from ..errors import ConfigError

        try:
            set_api_key(key, source="%openrouter key")
        except ConfigError as exc:  # a malformed key: a coded cell error, never INTERNAL
            del key
            raise _cell_error(exc) from None
        if save:
            try:
                keyring_store.save_key(key)
            except RuntimeError as exc:
                del key
                raise OpenRouterCellError(
                    "INVALID_INPUT",
                    f"Key set for this kernel, but not saved: {exc}",
                    suggestions=["Set OPENROUTER_API_KEY in the kernel's environment instead"],
                ) from None
            del key
            print(
                "Key set for this kernel and saved in the OS keyring (new kernels find it; "
                "%openrouter key --clear removes it). Check it with %openrouter health."
            )
            return None
        del key
        print("Key set for this kernel (not saved anywhere). Check it with %openrouter health.")

    def _line_config(self, words: list[str]) -> Any:
        s = self._settings()
        rows = []
        for name in sorted(self.trait_names(config=True)):
            rows.append((f"OpenRouterMagics.{name}", repr(getattr(self, name))))
        rows += [
            ("backend", "offline double" if s.offline else s.base_url),
            ("API key", "set" if s.api_key is not None else "not set"),
            ("output root", str(s.output_root)),
            ("media dir", str(self._media_dir())),
            ("job registry", str(s.state_root)),
            ("frontend", shell_kind(self.shell)),
        ]
        show_bundles(
            [_table_bundle(("setting", "value"), rows, empty="")],
            rich=self._rich(),
        )
        print("Change with: %config OpenRouterMagics.default_model = 'openai/gpt-4o-mini'")

    def _line_mcp(self, words: list[str]) -> Any:
        opts = P.parse(P.mcp_parser(), words)
        if opts.action == "status":
            h = self._mcp_handle
            if h is None:
                try:
                    from ..mcp import current

                    h = current()
                except Exception:
                    h = None
            if h is None or not getattr(h, "running", True):
                print("MCP server: not running (start it with %openrouter mcp start).")
                return None
            st = h.status() if hasattr(h, "status") else {}
            extra = f" · {st.get('calls', 0)} calls, {st.get('errors', 0)} errors" if st else ""
            print(f"MCP server: running at {h.url}{extra}")
            return None
        if opts.action == "stop":
            h, self._mcp_handle = self._mcp_handle, None
            if h is None:
                print("MCP server: not running.")
            else:
                h.stop()
                print("MCP server stopped.")
            return None
        if self._mcp_handle is not None:
            print(f"MCP server already running at {self._mcp_handle.url}")
            return None
        try:
            from ..mcp import serve_in_background  # type: ignore[attr-defined]
        except ImportError:
            raise OpenRouterCellError(
                "INTERNAL",
                "The in-kernel MCP server is not available in this build of or_magic",
                suggestions=["Run `or-magic-mcp` in a terminal instead"],
            ) from None
        kwargs: dict[str, Any] = {"port": opts.port}
        if opts.host != "127.0.0.1":
            kwargs["host"] = opts.host
        try:
            handle = serve_in_background(**kwargs)
        except Exception as exc:
            raise _cell_error(exc) from None
        self._mcp_handle = handle
        show_bundles([_mcp_bundle(handle)], rich=self._rich())


# ---- module helpers ----------------------------------------------------------------------------------


async def _tick(panel: Panel | None) -> None:
    import asyncio

    if panel is None:
        return
    try:
        while True:
            await asyncio.sleep(0.5)
            panel.tick()
    except asyncio.CancelledError:
        pass


def _cell_error(exc: BaseException, prefix: str = "") -> OpenRouterCellError:
    from ..errors import ToolError

    if isinstance(exc, OpenRouterCellError):
        return exc
    if isinstance(exc, ToolError):
        msg = f"{prefix}: {exc.message}" if prefix and prefix not in exc.message else exc.message
        from ..redact import redact

        return OpenRouterCellError(
            exc.code.value,
            redact(msg, limit=2000),
            suggestions=exc.suggestions,
            details=exc.details,
        )
    from ..redact import redact

    return OpenRouterCellError(
        "INVALID_INPUT" if isinstance(exc, (ValueError, TypeError)) else "INTERNAL",
        redact(f"{prefix + ': ' if prefix else ''}{type(exc).__name__}: {exc}", limit=2000),
    )


def _md_cell(v: Any) -> str:
    from ..display import md_escape

    return md_escape(str(v)).replace("|", "\\|").replace("\n", " ")


def _table_bundle(
    header: tuple[str, ...], rows: list[tuple[Any, ...]], empty: str, *, bold_last: bool = False
) -> Any:
    """Markdown and plain-text renderings of one table (``bold_last``: a totals row, bold in
    Markdown only, so the terminal never shows ``**``)."""
    if not rows:
        return ({"text/markdown": empty or "(none)", "text/plain": empty or "(none)"}, {})
    md = ["| " + " | ".join(_md_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
    if bold_last:
        md[-1] = "| " + " | ".join(f"**{_md_cell(c)}**" for c in rows[-1]) + " |"
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    plain = [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in (header, *rows)
    ]
    return ({"text/markdown": "\n".join(md), "text/plain": "\n".join(plain)}, {})


def _price(p: Any) -> str:
    try:
        v = float(p)
    except (TypeError, ValueError):
        return "?"
    return "free" if v == 0 else f"${v * 1e6:.2f}"


def _models_table(raw: Any) -> Any:
    data = raw.data or {}
    rows = []
    for m in data.get("results", []):
        arch = m.get("architecture") or {}
        ins = "+".join(arch.get("input_modalities") or []) or "?"
        outs = "+".join(arch.get("output_modalities") or []) or "?"
        pricing = m.get("pricing") or {}
        rows.append(
            (
                m.get("id"),
                f"{ins} → {outs}",
                m.get("context_length") or "",
                _price(pricing.get("prompt")),
                _price(pricing.get("completion")),
            )
        )
    total = data.get("total", len(rows))
    bundle = _table_bundle(
        ("model", "modalities", "context", "in $/M tok", "out $/M tok"),
        rows,
        empty="No models match.",
    )
    note = f"\n\n<sub>{len(rows)} of {total} shown</sub>" + (
        " **`offline`**" if raw.offline else ""
    )
    bundle[0]["text/markdown"] += note
    bundle[0]["text/plain"] += f"\n{len(rows)} of {total} shown" + (
        " (offline)" if raw.offline else ""
    )
    return bundle


def _info_bundle(raw: Any) -> Any:
    m = raw.data or {}
    md = f"### {_md_cell(m.get('id', ''))}\n\n{_md_cell(m.get('name', ''))}\n\n```text\n{raw.text}\n```"
    desc = m.get("description")
    if desc:
        import html

        md += "\n\n" + html.escape(str(desc)[:1500], quote=False)
    if raw.offline:
        md += "\n\n**`offline`**"
    return ({"text/markdown": md, "text/plain": raw.text}, {"or_magic": {"tool": "get_model_info"}})


def _usage_bundle(rows: list[Any], total: Any) -> Any:
    from ..display import format_spend

    def row(u: Any, name: str) -> tuple[Any, ...]:
        cost = format_spend(u.cost_usd, u.simulated_cost_usd) or "$0"
        return (name, u.calls, u.prompt_tokens, u.completion_tokens, cost, u.offline_calls)

    order = sorted(rows, key=lambda u: (-u.cost_usd, -u.simulated_cost_usd))
    table = [row(u, u.model) for u in order]
    if table:
        table.append(row(total, "total"))
    return _table_bundle(
        ("model", "calls", "prompt tokens", "completion tokens", "cost", "offline calls"),
        table,
        empty="No calls yet in this session.",
        bold_last=bool(table),
    )


def _mcp_bundle(handle: Any) -> Any:
    import json

    if hasattr(handle, "client_config"):
        cfg = handle.client_config()
    else:  # pragma: no cover - older handle
        cfg = {"mcpServers": {"or-magic": {"type": "http", "url": handle.url}}}
        if getattr(handle, "token", None):
            cfg["mcpServers"]["or-magic"]["headers"] = {"Authorization": f"Bearer {handle.token}"}
    text = json.dumps(cfg, indent=2)
    from ..config import get_settings

    persistent = get_settings().mcp_token
    token = getattr(handle, "token", None)
    if token and persistent is not None and persistent.get() == token:
        # A token from OR_MAGIC_MCP_TOKEN outlives this kernel: never write it into the notebook.
        text = text.replace(token, "$OR_MAGIC_MCP_TOKEN")
        note = "the bearer token is the value of `OR_MAGIC_MCP_TOKEN`"
    else:
        note = (
            "contains this kernel's one-off bearer token, valid only while this kernel runs; "
            "it is not your OpenRouter key"
        )
    md = (
        f"MCP server running at `{handle.url}` (stop with `%openrouter mcp stop`).\n\n"
        f"Client configuration ({note}):\n\n```json\n" + text + "\n```"
    )
    return (
        {"text/markdown": md, "text/plain": f"MCP server running at {handle.url}\n{text}"},
        {"or_magic": {"part": "mcp"}},
    )
