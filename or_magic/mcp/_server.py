"""The MCP server: every tool of the core's registry, through the SDK's low-level ``Server``.

The low-level server gives full control over what goes on the wire (input/output schemas,
annotations, ``_meta``, ``isError``) with no per-tool code: ``tools/list`` is derived from the
registry's ``ToolSpec``s and ``tools/call`` goes through ``or_magic.tools.api.call_tool`` (which
validates, classifies errors, redacts and marks offline results) and ``_adapt.to_call_result``.

Start-up cost matters (an MCP host spawns the server per session): the ``tools/list`` payload is
cached on disk under the state dir, keyed by the size and mtime of every module of the package and
by the SDK/pydantic versions, so a warm start does not import the tool families or build schemas
until the first ``tools/call``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mcp.types as types
from mcp.server import Server, ServerRequestContext

from or_magic import log
from or_magic._version import __version__

if TYPE_CHECKING:  # pragma: no cover
    from or_magic.result import Progress, ToolResult
    from or_magic.tools import ToolSpec

SERVER_NAME = "or-magic"
SERVER_TITLE = "or_magic: OpenRouter multimodal tools"
INSTRUCTIONS = (
    "Tools for the OpenRouter API: chat with any model, analyse images/audio/video, generate "
    "images/speech/video, search and validate models, rerank documents, check the API key. "
    "Failures are results with isError and _meta.code (INVALID_INPUT, MODEL_NOT_FOUND, "
    "UPSTREAM_REFUSED, ...); a result with _meta.code JOB_STILL_RUNNING is a success: resume it "
    "with the matching status tool; a success with _meta.saved false was paid for but not saved: "
    "the media are in the result. Saved media are returned as file links (_meta.save_path)."
)


@dataclass
class CallRecord:
    """One ``tools/call`` in flight (``started`` is ``time.monotonic()``)."""

    tool: str
    started: float
    request_id: Any = None

    def elapsed_ms(self) -> float:
        """Milliseconds since the call started, to 0.1 ms (what the call log records)."""
        return round((time.monotonic() - self.started) * 1000, 1)


@dataclass
class ServerStats:
    calls: int = 0
    errors: int = 0
    cancelled: int = 0
    inflight: dict[int, CallRecord] = field(default_factory=dict)
    last_call: float | None = None


class OrMagicServer(Server):
    """The low-level SDK ``Server`` plus our tool catalogue and call bookkeeping."""

    def __init__(
        self,
        *,
        tools: list[dict[str, Any]],
        structured: set[str],
        call_log_level: str = "info",
        output_models: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            SERVER_NAME,
            version=__version__,
            title=SERVER_TITLE,
            instructions=INSTRUCTIONS,
            on_list_tools=self._on_list_tools,
            on_call_tool=self._on_call_tool,
            get_tool_input_schema=self._input_schema_of,
        )
        self.tool_dicts = tools
        self.tool_names = [t["name"] for t in tools]
        self.structured = structured
        # One log line per call; "debug" inside a kernel, where stderr lands in whatever cell runs.
        self.call_log_level = call_log_level
        self.stats = ServerStats()
        self._tools_result: types.ListToolsResult | None = None
        self._schemas = {t["name"]: t.get("inputSchema") for t in tools}
        self._output_models: dict[str, Any] = dict(output_models or {})

    # ---- tools/list ------------------------------------------------------------------------
    async def _on_list_tools(
        self, ctx: ServerRequestContext, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        if self._tools_result is None:
            self._tools_result = types.ListToolsResult(
                tools=[types.Tool.model_validate(t) for t in self.tool_dicts]
            )
            self.warm()
        return self._tools_result

    def warm(self) -> None:
        """The host has the catalogue and will call a tool next: import the tool families and
        prepare the HTTP client meanwhile, in a background thread (``or_magic._warm``)."""
        from or_magic._warm import start

        start(self.tool_names, modules=_FIRST_CALL_MODULES)

    def _input_schema_of(self, name: str) -> dict[str, Any] | None:
        return self._schemas.get(name)

    # ---- tools/call ------------------------------------------------------------------------
    async def _on_call_tool(
        self, ctx: ServerRequestContext, params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        name = params.name
        args = params.arguments or {}
        session = ctx.session

        async def on_progress(p: Progress) -> None:
            await session.report_progress(p.progress, p.total, progress_message(p))

        rec = CallRecord(tool=name, started=time.monotonic(), request_id=ctx.request_id)
        key = id(rec)
        self.stats.inflight[key] = rec
        self.stats.calls += 1
        self.stats.last_call = time.time()
        try:
            # Always wired: the SDK sends nothing unless the caller asked for progress (on the
            # 2026-07-28 direct path the token is not visible in ``_meta``).
            result = await self.run_tool(name, args, on_progress)
        except asyncio.CancelledError:
            self.stats.cancelled += 1
            log.log(
                self.call_log_level, "mcp.call.cancelled", tool=name, elapsed_ms=rec.elapsed_ms()
            )
            raise
        except Exception as exc:  # call_tool never raises for a tool failure; belt and braces
            from or_magic.errors import ErrorCode, ToolError
            from or_magic.result import ToolResult

            log.error("mcp.call.crashed", tool=name, error=type(exc).__name__)
            result = ToolResult.from_error(
                name,
                ToolError(ErrorCode.INTERNAL, f"{name} failed unexpectedly ({type(exc).__name__})"),
            )
        finally:
            self.stats.inflight.pop(key, None)
        if result.is_error:
            self.stats.errors += 1
        log.log(
            self.call_log_level,
            "mcp.call",
            tool=name,
            ok=not result.is_error,
            code=result.code,
            latency_ms=rec.elapsed_ms(),
        )
        return self.adapt(name, result)

    async def run_tool(self, name: str, args: dict[str, Any], on_progress: Any) -> ToolResult:
        from or_magic.tools import call_tool

        return await call_tool(name, args, on_progress=on_progress)

    def adapt(self, name: str, result: ToolResult) -> types.CallToolResult:
        from or_magic.errors import ErrorCode, ToolError
        from or_magic.result import ToolResult

        from ._adapt import dump_data, to_call_result

        structured = name in self.structured
        settings = _settings()
        if settings.offline:  # every result says so, even those the core returns early
            result.meta.setdefault("offline", True)
        raw: str | None = None
        try:
            if structured and not result.is_error:
                raw = dump_data(result.data) if result.data is not None else None
                problem = self._check_output(name, raw)
                if problem is not None:
                    log.error("mcp.output_schema_mismatch", tool=name, problem=problem)
                    result = ToolResult.from_error(
                        name,
                        ToolError(
                            ErrorCode.INTERNAL,
                            f"{name} produced a result that does not match its output schema "
                            f"({problem})",
                            details={"problem": problem},
                            suggestions=[
                                "This is a bug in or_magic; please report it with the arguments"
                            ],
                        ),
                        meta={k: v for k, v in result.meta.items() if k == "offline"},
                    )
                    raw = None
            return to_call_result(
                result, structured=structured, settings=settings, structured_json=raw
            )
        except Exception as exc:  # the adapter must never turn a result into a protocol error
            log.error("mcp.adapt_failed", tool=name, error=type(exc).__name__, message=str(exc))
            return types.CallToolResult(
                content=[
                    types.TextContent(
                        type="text",
                        text=f"{name}: the result could not be encoded for MCP "
                        f"({type(exc).__name__})\n\nError code: INTERNAL",
                    )
                ],
                is_error=True,
                _meta={"code": "INTERNAL"},
            )

    def _check_output(self, name: str, data: str | None) -> str | None:
        """Validate ``data`` (the JSON text of the result's data) against the tool's output
        model, strictly, as JSON on the wire.

        The advertised ``outputSchema`` is generated from that model, so strict JSON-mode
        validation through pydantic (already loaded) checks what a client's JSON Schema validator
        would, without ``jsonschema``: importing it next to JupyterLab pulls in
        ``rfc3987_syntax``, whose grammar build at import stalled the first structured call ~3.5 s.
        """
        if data is None:
            return "no structured data"
        model = self._output_models.get(name)
        if model is None:
            from or_magic.tools import get_tool

            spec = get_tool(name)
            model = getattr(spec, "output_model", None)
            if model is None:  # nothing to check against (the schema came from elsewhere)
                return None
            self._output_models[name] = model
        from pydantic import ValidationError

        try:
            model.model_validate_json(data, strict=True)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = "/".join(str(p) for p in err.get("loc", ())) or "(root)"
            return f"{where}: {err.get('msg', 'invalid')}"[:300]
        return None


# What a first tools/call imports besides its tool family and the HTTP client.
_FIRST_CALL_MODULES = (
    "or_magic.mcp._adapt",
    "or_magic.usage",
    "or_magic.media.sources",
    "or_magic.media.image",
    "or_magic.media.offload",
    "PIL.Image",
    "PIL.JpegImagePlugin",
)


def progress_message(p: Progress) -> str | None:
    """A human line: the tool's message, its status, and the elapsed time."""
    parts: list[str] = []
    msg = (p.message or "").strip()
    if msg:
        parts.append(msg)
    if p.status and p.status not in msg:
        parts.append(f"status: {p.status}")
    if p.elapsed_s and p.elapsed_s >= 1:
        parts.append(f"{p.elapsed_s:.0f} s elapsed")
    return " — ".join(parts) or None


def _settings():
    from or_magic.config import Settings, get_settings

    try:
        return get_settings()
    except Exception:
        return Settings()


# ---- the catalogue -------------------------------------------------------------------------------


def tool_dict(spec: ToolSpec) -> dict[str, Any]:
    """One tool as it goes on the wire (camelCase keys)."""
    from ._schema import annotations, input_schema, output_schema

    tool = types.Tool(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        input_schema=input_schema(spec),
        output_schema=output_schema(spec),
        annotations=types.ToolAnnotations(**annotations(spec)),
    )
    return tool.model_dump(by_alias=True, mode="json", exclude_none=True)


def build_catalog(specs: list[ToolSpec] | None = None) -> list[dict[str, Any]]:
    if specs is None:
        from or_magic.tools import all_tools

        specs = list(all_tools().values())
    return [tool_dict(s) for s in specs]


def _package_fingerprint() -> str:
    from ._catalog_key import package_fingerprint

    return package_fingerprint()


def fast_handshake(tools: list[dict[str, Any]]) -> dict[str, Any]:
    """What ``_fast`` needs to answer ``initialize`` and ``tools/list`` as the SDK would, before
    it is imported: the results in their wire form per handshake protocol version (through the
    SDK's own per-version serializer), the accepted versions and the latest one."""
    from mcp_types import methods
    from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION

    probe = OrMagicServer(tools=[], structured=set())
    opts = probe.create_initialization_options()
    init_by_version: dict[str, Any] = {}
    tools_by_version: dict[str, Any] = {}
    plain = json.dumps({"tools": tools}, sort_keys=True)
    for version in HANDSHAKE_PROTOCOL_VERSIONS:
        init = types.InitializeResult(
            protocol_version=version,
            capabilities=opts.capabilities,
            server_info=types.Implementation(
                name=opts.server_name,
                title=opts.title,
                description=opts.description,
                version=opts.server_version,
                website_url=opts.website_url,
                icons=opts.icons,
            ),
            instructions=opts.instructions,
        ).model_dump(by_alias=True, mode="json", exclude_none=True)
        init_by_version[version] = methods.serialize_server_result("initialize", version, init)
        listed = methods.serialize_server_result("tools/list", version, {"tools": tools})
        if json.dumps(listed, sort_keys=True) != plain:  # only where the version reshapes it
            tools_by_version[version] = listed
    return {
        "init": init_by_version,
        "tools_by_version": tools_by_version,
        "versions": list(HANDSHAKE_PROTOCOL_VERSIONS),
        "latest": LATEST_HANDSHAKE_VERSION,
    }


def cached_catalog(state_root: Path | None) -> list[dict[str, Any]]:
    """The catalogue from the on-disk cache when it is current, else built (and cached)."""
    if state_root is None:
        return build_catalog()
    path = state_root / "mcp" / "tools.json"
    try:
        key = _package_fingerprint()
    except Exception:
        return build_catalog()
    try:
        cached = json.loads(path.read_text("utf-8"))
        if cached.get("key") == key and isinstance(cached.get("tools"), list):
            return cached["tools"]
    except (OSError, ValueError, AttributeError):
        pass
    tools = build_catalog()
    try:
        fast: dict[str, Any] | None = fast_handshake(tools)
    except Exception as exc:  # an SDK without these names: no fast path, nothing else changes
        log.debug("mcp.fast_handshake_unavailable", error=type(exc).__name__)
        fast = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tools.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"key": key, "tools": tools, "fast": fast}), "utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        log.debug("mcp.catalog_cache_unwritable", error=type(exc).__name__)
    return tools


def build_server(
    *,
    specs: list[ToolSpec] | None = None,
    use_cache: bool = False,
    call_log_level: str = "info",
) -> OrMagicServer:
    """The MCP server for every tool in the registry (or for ``specs``).

    ``use_cache=True`` reads/writes the ``tools/list`` cache under the state dir (what the CLI
    does); tests and in-kernel servers build the catalogue directly.
    """
    from ._logging import quiet_warnings

    quiet_warnings()
    if specs is not None:
        tools = build_catalog(specs)
    elif use_cache:
        tools = cached_catalog(_settings().state_root)
    else:
        tools = build_catalog()
    structured = {t["name"] for t in tools if t.get("outputSchema") is not None}
    models = {s.name: s.output_model for s in specs or () if s.output_model is not None}
    return OrMagicServer(
        tools=tools, structured=structured, call_log_level=call_log_level, output_models=models
    )
