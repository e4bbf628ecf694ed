"""Public entry points: ``call_tool`` (async) and ``call_tool_sync``.

Every call goes through here, whichever front-end makes it: arguments are validated against the
tool's model (``INVALID_INPUT`` before anything is sent), the handler runs, any failure becomes an
error ``ToolResult`` with a code, and the result is stamped (offline flag, latency) and redacted.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, TypeVar

from .. import log
from .._version import __version__
from ..config import get_settings
from ..errors import ConfigError, ErrorCode, ToolError
from ..redact import known_secrets, redact, scrub_result
from ..result import ToolResult
from .base import MediaCallback, ProgressCallback, TextCallback, ToolContext, ToolSpec
from .registry import all_tools, get_tool

T = TypeVar("T")


def list_tools() -> list[ToolSpec]:
    return list(all_tools().values())


def format_validation_error(exc: Exception) -> str:
    """A pydantic ValidationError as one readable line per problem."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    lines = []
    for e in errors():
        loc = ".".join(str(p) for p in e.get("loc", ())) or "arguments"
        msg = e.get("msg", "invalid")
        if e.get("type") == "extra_forbidden":
            msg = "unknown argument"
        elif e.get("type") == "missing":
            msg = "is required"
        inp = e.get("input")
        shown = (
            ""
            if e.get("type") in ("missing", "extra_forbidden")
            else f" (got {redact(repr(inp), limit=60)})"
        )
        lines.append(f"{loc}: {msg}{shown}")
    return "; ".join(lines)


async def call_tool(
    name: str,
    arguments: Mapping[str, Any] | None = None,
    *,
    on_progress: ProgressCallback | None = None,
    on_text: TextCallback | None = None,
    on_media: MediaCallback | None = None,
    **kwargs: Any,
) -> ToolResult:
    """Run tool ``name`` with ``arguments`` (a dict, or keyword arguments) and return its result.

    Never raises for a tool failure (check ``result.is_error`` / ``result.code``, or call
    ``result.raise_for_error()``); cancellation propagates.
    """
    started = time.monotonic()
    args = dict(arguments or {})
    args.update(kwargs)
    spec = get_tool(name) if isinstance(name, str) else None
    if spec is None:
        known = ", ".join(sorted(all_tools()))
        unknown = ToolResult.from_error(
            str(name),
            ToolError(
                ErrorCode.INVALID_INPUT,
                f"Unknown tool: {name}",
                details={"known_tools": sorted(all_tools())},
                suggestions=[f"Known tools: {known}"],
            ),
        )
        try:
            if get_settings().offline:
                unknown.meta["offline"] = True
        except ConfigError:
            pass
        return unknown
    handles: list[str] = []
    seen: dict[str, Any] = {}

    async def run(ctx: ToolContext) -> ToolResult:
        from .memory import run_with_memory  # local cache, context window, budget

        parsed = _validate(spec, _objects_to_handles(args, handles))
        return await run_with_memory(name, parsed, ctx, spec.handler, seen)

    try:
        result = await run_core(
            name,
            run,
            started=started,
            on_progress=on_progress,
            on_text=on_text,
            on_media=on_media,
        )
        from .memory import log_call

        log_call(name, seen or {"args": args}, result)
        return result
    finally:
        if handles:
            from ..media.sources import release

            for h in handles:
                release(h)


async def run_core(
    name: str,
    body: Callable[[ToolContext], Awaitable[ToolResult]],
    *,
    started: float | None = None,
    on_progress: ProgressCallback | None = None,
    on_text: TextCallback | None = None,
    on_media: MediaCallback | None = None,
) -> ToolResult:
    """Run ``body(ctx)`` with a tool call's guarantees, so every way into the core behaves alike:
    a settings problem, a ``ToolError`` or a crash becomes an error result with a code (never an
    exception; cancellation propagates), and the result is stamped (tool, latency, offline,
    version) and redacted. ``call_tool`` and the catalogue functions below go through here.
    """
    started = time.monotonic() if started is None else started
    try:
        settings = get_settings()
    except ConfigError as exc:
        return ToolResult.from_error(name, exc)
    ctx: ToolContext | None = None
    try:
        ctx = ToolContext(
            tool=name,
            settings=settings,
            on_progress=on_progress,
            on_text=on_text,
            on_media=on_media,
        )
        result = await body(ctx)
    except ToolError as exc:
        result = ToolResult.from_error(name, exc)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bug: report it as INTERNAL with the type, never the raw repr
        log.error(
            "tool.crashed", tool=name, error=type(exc).__name__, message=redact(str(exc), limit=300)
        )
        result = ToolResult.from_error(
            name,
            ToolError(
                ErrorCode.INTERNAL,
                f"{name} failed unexpectedly ({type(exc).__name__}: {redact(str(exc), limit=300)})",
                details={"exception": type(exc).__name__},
                suggestions=[
                    "This is a bug in or_magic; please report it with the arguments you used"
                ],
            ),
        )
    if ctx is not None:
        await ctx.flush_text()  # the tail the stream scrubber held back (a possible key prefix)
    result.tool = name
    result.meta.setdefault("latency_ms", round((time.monotonic() - started) * 1000, 1))
    if settings.offline:
        result.meta["offline"] = True
    if not result.is_error:
        result.meta.setdefault("server_version", __version__)
    _finish(result, known_secrets(settings.secrets()))
    return result


async def model_catalog(*, force: bool = False) -> ToolResult:
    """The whole model catalogue (every output modality, sorted by id), cached by the core.

    ``data = {"models": [...], "info": {"count", "age_s", "stale"}}``; unreachable upstream is
    an error result like any tool's (a stale copy is served, marked stale, when there is one).
    """

    async def body(ctx: ToolContext) -> ToolResult:
        from .catalog import ensure_catalog

        models, info = await ensure_catalog(ctx, force=force)
        return ToolResult(
            tool="model_catalog",
            text=f"{len(models)} models",
            data={"models": list(models), "info": info},
        )

    return await run_core("model_catalog", body)


async def video_capabilities() -> ToolResult:
    """``GET /videos/models``, cached by the core: ``data = {"models": {lower-cased id: record}}``
    (ids and canonical slugs both map to their capability record)."""

    async def body(ctx: ToolContext) -> ToolResult:
        from .video_catalog import video_models

        models = dict(await video_models(ctx))
        return ToolResult(
            tool="video_capabilities",
            text=f"{len(models)} video model records",
            data={"models": models},
        )

    return await run_core("video_capabilities", body)


_JSON_NATIVE = (str, int, float, bool, type(None), dict)


def _plain_arg(value: Any, handles: list[str], where: str) -> Any:
    """A JSON value as is; numpy scalars unwrapped; paths as strings; media objects as handles."""
    if isinstance(value, _JSON_NATIVE):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    mod = type(value).__module__ or ""
    if mod.startswith("numpy") and getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        return value.item()  # np.int64(5), np.float32(0.2), np.bool_(True)
    from ..media.sources import register_object

    try:
        handle = register_object(value)
    except ToolError as err:
        raise err.with_prefix(where) from None
    handles.append(handle)
    return handle


def _objects_to_handles(args: dict[str, Any], handles: list[str]) -> dict[str, Any]:
    """Python API convenience: notebook objects (PIL images, numpy arrays, figures, bytes, BytesIO,
    IPython Image/Audio/Video, ``(samples, rate)`` tuples) given as argument values - top-level or
    inside a list - become in-process ``object://`` handles the media loader resolves. Handles
    made here are released when the call ends. MCP clients send JSON only, so never reach this.
    """
    out: dict[str, Any] = {}
    for key, value in args.items():
        if _is_series(value):  # a DataFrame column (``df.text``): its values, in order
            value = value.tolist()
        if isinstance(value, list) or (isinstance(value, tuple) and not _is_rate_tuple(value)):
            out[key] = [_plain_arg(v, handles, f"{key}[{i}]") for i, v in enumerate(value)]
        else:
            out[key] = _plain_arg(value, handles, key)
    return out


def _is_series(value: Any) -> bool:
    """A pandas Series (checked without importing pandas: only a loaded pandas made one)."""
    return type(value).__name__ == "Series" and (type(value).__module__ or "").startswith("pandas")


def _is_rate_tuple(value: tuple[Any, ...]) -> bool:
    """``(samples, rate)``: numpy audio with its sample rate, one media object (not a list)."""
    if len(value) != 2:
        return False
    from ..media.sources import split_rate_tuple

    return split_rate_tuple(value)[1] is not None


def _validate(spec: ToolSpec, args: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    try:
        return spec.input_model.model_validate(args)
    except ValidationError as exc:
        raise ToolError(
            ErrorCode.INVALID_INPUT,
            f"Invalid arguments for {spec.name}: {format_validation_error(exc)}",
            details={
                "errors": [
                    {"loc": list(e.get("loc", ())), "type": e.get("type")} for e in exc.errors()
                ]
            },
            suggestions=[f"See the input schema of {spec.name}"],
        ) from None


def _finish(result: ToolResult, secrets: list[str]) -> None:
    """Redact what can be shown; record usage for the session totals.

    The configured secrets (and their ``Bearer`` form) are removed from every part of every
    result, successful ones included: an upstream answer may echo the key (prompt injection, a
    proxy reflecting ``Authorization``). This is the one boundary every front-end's output
    (magic cells, saved notebooks, MCP results, widgets) passes through.
    """
    scrub_result(result, secrets)
    if result.is_error:
        result.text = redact(result.text, limit=4000)
        if result.suggestions:
            result.suggestions = [redact(s, limit=500) for s in result.suggestions]
    else:
        try:
            from ..usage import record_result

            record_result(result)
        except Exception:  # usage accounting must never break a result
            pass


# ---- sync bridge --------------------------------------------------------------------------------

_local = threading.local()


_private_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def _private_loop() -> asyncio.AbstractEventLoop:
    loop = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _local.loop = loop
        if not _private_loops:
            atexit.register(_close_private_loops)
        _private_loops.add(loop)
    return loop


def _settle(loop: asyncio.AbstractEventLoop) -> None:
    """Let callbacks queued by the call itself run (e.g. the finalizer of an async generator
    httpx left un-closed at the end of a stream), so nothing is left pending on an idle loop."""
    for _ in range(2):
        loop.run_until_complete(asyncio.sleep(0))


def _close_private_loops() -> None:
    """At interpreter exit, do what ``asyncio.run`` does for our private loops: cancel what is
    left, close async generators and the default executor. Without it a streamed call left
    ``Task was destroyed but it is pending!`` on stderr."""
    for loop in list(_private_loops):
        if loop.is_closed() or loop.is_running():
            continue
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for t in pending:
                t.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        except Exception:  # exiting: best effort, never a traceback
            pass
        finally:
            loop.close()


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, including inside a running Jupyter kernel.

    Inside a running loop the kernel's own loop runs it (nested, via nest-asyncio2, applied lazily
    here and only here) so widget events, progress updates and an in-kernel MCP server keep being
    served while the cell blocks. Ctrl-C cancels the task cleanly before re-raising.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    private = loop is None
    if loop is None:
        loop = _private_loop()
    else:
        import nest_asyncio2

        nest_asyncio2.apply(loop)
    task = loop.create_task(coro)
    try:
        return loop.run_until_complete(task)
    except BaseException:
        if not task.done():
            task.cancel()
            try:
                loop.run_until_complete(task)
            except BaseException:
                pass
        elif not task.cancelled():
            task.exception()  # retrieved: no "Task exception was never retrieved" at exit
        raise
    finally:
        if private and not loop.is_closed():
            try:
                _settle(loop)
            except BaseException:  # a second Ctrl-C while settling: the loop is closed at exit
                pass


def call_tool_sync(
    name: str,
    arguments: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> ToolResult:
    """Blocking ``call_tool``; works in scripts, threads and inside a running Jupyter kernel."""
    return run_sync(call_tool(name, arguments, **kwargs))
