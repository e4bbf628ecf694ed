"""The MCP server in-process: SDK ``Client`` in both protocol eras against the double.

``mode="auto"`` negotiates the 2026-07-28 era (direct dispatch), ``mode="legacy"`` the handshake
era over in-memory JSON-RPC streams. Test-only tools (progress, failure with any code, media, a
still-running job, a sleeper) are added to the registry for the tests that need them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from pydantic import Field

from or_magic.double import Fault
from or_magic.errors import ALL_CODES, ErrorCode, ToolError
from or_magic.result import MediaItem, ToolResult
from or_magic.tools import registry
from or_magic.tools.base import SECTIONS, Annotations, ToolContext, ToolSpec
from or_magic.tools.common import StrictModel

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::mcp.MCPDeprecationWarning")]

MODEL = "openai/gpt-4o-mini"
MODES = ["auto", "legacy"]


def build():
    from or_magic.mcp import build_server

    return build_server()


@pytest.fixture(params=MODES)
def mode(request) -> str:
    return request.param


def meta_of(r) -> dict[str, Any]:
    return dict(r.meta or {})


def text_of(r) -> str:
    return "\n".join(getattr(c, "text", "") for c in r.content if c.type == "text")


def inline_media(r, kind: str) -> Any:
    """The one ``image`` or ``audio`` block of a successful result, its type a ``kind/...`` one."""
    assert not r.is_error, text_of(r)
    (block,) = [b for b in r.content if b.type == kind]
    assert block.mime_type.startswith(f"{kind}/")
    return block


# ---- test-only tools ----------------------------------------------------------------------------

CANCELLED: list[str] = []


class ProgressIn(StrictModel):
    steps: int = Field(3, ge=1, le=20)
    backwards: bool = False


async def _progress(args: ProgressIn, ctx: ToolContext) -> ToolResult:
    for i in range(1, args.steps + 1):
        value = args.steps - i if args.backwards else i  # the core keeps it increasing anyway
        await ctx.progress(value, args.steps, f"step {i}/{args.steps}", status="in_progress")
        await asyncio.sleep(0.005)
    return ToolResult(tool="t_progress", text=f"done {args.steps}")


class FailIn(StrictModel):
    code: str
    retry_after: float | None = None


async def _fail(args: FailIn, ctx: ToolContext) -> ToolResult:
    raise ToolError(
        args.code,
        f"synthetic {args.code}",
        details={"why": "test"},
        suggestions=[f"fix {args.code}"],
        retry_after_seconds=args.retry_after,
    )


class Empty(StrictModel):
    pass


async def _still_running(args: Empty, ctx: ToolContext) -> ToolResult:
    return ToolResult(
        tool="t_running",
        text="Video still generating. Use get_video_status with video_id=v1 to resume.",
        code=ErrorCode.JOB_STILL_RUNNING.value,
        meta={"video_id": "v1", "last_status": "in_progress"},
    )


class MediaIn(StrictModel):
    big: bool = False


async def _media(args: MediaIn, ctx: ToolContext) -> ToolResult:
    from or_magic.double._media import asset_bytes

    saved = Path.cwd() / "clip.mp4"
    saved.write_bytes(asset_bytes("clip.mp4"))
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    items = [
        MediaItem("image", "image/png", data=png, name="small.png"),
        MediaItem("audio", "audio/wav", data=b"RIFF\0\0\0\0WAVE" + b"\0" * 32, name="a.wav"),
        MediaItem("video", "video/mp4", path=str(saved), name="clip.mp4"),
    ]
    if args.big:
        items.append(MediaItem("image", "image/png", data=png + b"\0" * (3 * 1024 * 1024)))
    return ToolResult(tool="t_media", text="media", media=items, meta={"model": "m"})


class SleepIn(StrictModel):
    seconds: float = Field(30.0, ge=0)


async def _sleep(args: SleepIn, ctx: ToolContext) -> ToolResult:
    try:
        await asyncio.sleep(args.seconds)
    except asyncio.CancelledError:
        CANCELLED.append("t_sleep")
        raise
    return ToolResult(tool="t_sleep", text="slept")


def _spec(name, model, handler, *, read_only=True) -> ToolSpec:
    return ToolSpec(
        name=name,
        title=name,
        description=f"test tool {name}",
        input_model=model,
        handler=handler,
        annotations=Annotations(title=name, read_only=read_only, open_world=False),
    )


@pytest.fixture
def test_tools(monkeypatch):
    specs = [
        _spec("t_progress", ProgressIn, _progress),
        _spec("t_fail", FailIn, _fail),
        _spec("t_running", Empty, _still_running),
        _spec("t_media", MediaIn, _media),
        _spec("t_sleep", SleepIn, _sleep),
    ]
    monkeypatch.setattr(registry, "_tools", {**registry.all_tools(), **{s.name: s for s in specs}})
    CANCELLED.clear()
    return specs


# ---- tools/list ---------------------------------------------------------------------------------


def _walk(node: Any):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def _good_examples(description: str) -> list[dict[str, Any]]:
    line = next((ln for ln in description.splitlines() if ln.startswith("Good examples: ")), "")
    rest = line[len("Good examples: ") :]
    out: list[dict[str, Any]] = []
    dec = json.JSONDecoder()
    while rest.strip():
        rest = rest.lstrip("; ").lstrip()
        if not rest.startswith("{"):
            break
        try:
            obj, end = dec.raw_decode(rest)
        except ValueError:
            break
        out.append(obj)
        rest = rest[end:]
        cut = rest.find("; ")
        rest = rest[cut:] if cut >= 0 else ""
    return out


async def test_tools_list_has_every_tool_with_schema_and_annotations(double, mode):
    from jsonschema import Draft202012Validator

    specs = registry.all_tools()
    async with Client(build(), mode=mode) as c:
        tools = (await c.list_tools()).tools
    assert [t.name for t in tools] == list(specs)
    assert len(tools) >= 8
    for t in tools:
        spec = specs[t.name]
        s = t.input_schema
        Draft202012Validator.check_schema(s)
        assert s["type"] == "object"
        assert s.get("additionalProperties") is False, t.name  # extra=forbid
        for node in _walk(s):
            assert not isinstance(node.get("title"), str), (t.name, node)  # no auto titles
            if "$ref" in node:  # only recursive models keep a reference, and it resolves
                assert node["$ref"].removeprefix("#/$defs/") in s.get("$defs", {})
            if isinstance(node.get("anyOf"), list) and "default" in node:  # optional: no null
                assert {"type": "null"} not in node["anyOf"], (t.name, node)
            assert not ("default" in node and node["default"] is None), (t.name, node)
        # Title, description (six Node sections in order), all four hints.
        assert t.title == spec.title
        positions = [t.description.find(f"{sec}:") for sec in SECTIONS]
        assert all(p >= 0 for p in positions) and positions == sorted(positions), t.name
        a = t.annotations
        assert a is not None and a.title
        for hint in ("read_only_hint", "destructive_hint", "idempotent_hint", "open_world_hint"):
            assert isinstance(getattr(a, hint), bool), (t.name, hint)
        if "save_path" in spec.input_model.model_fields:
            assert a.read_only_hint is False, f"{t.name} writes files with save_path"
        if a.read_only_hint:
            assert a.destructive_hint is False
        assert a.read_only_hint == (
            spec.annotations.read_only and "save_path" not in s["properties"]
        )
        # outputSchema exactly for the tools with an output model.
        assert (t.output_schema is not None) == (spec.output_model is not None), t.name
        if t.output_schema is not None:
            Draft202012Validator.check_schema(t.output_schema)
            assert t.output_schema["type"] == "object"
        # The description's good examples are valid against the advertised schema.
        for ex in _good_examples(t.description):
            errors = list(Draft202012Validator(s).iter_errors(ex))
            assert not errors, (t.name, ex, errors[0].message)


async def test_input_schemas_keep_types_enums_and_ranges(double):
    async with Client(build()) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
    sm = tools["search_models"].input_schema["properties"]
    assert sm["limit"] == {"type": "integer", "minimum": 1, "maximum": 50, "default": 20}
    assert sm["offset"]["type"] == "integer" and sm["offset"]["minimum"] == 0
    assert sm["query"]["type"] == "string" and "anyOf" not in sm["query"]
    assert sm["capabilities"]["type"] == "object"  # inlined, no $ref
    assert sm["capabilities"]["properties"]["vision"]["type"] == "boolean"
    assert sm["input_modalities"]["items"]["enum"] == ["text", "image", "audio", "video", "file"]
    chat = tools["chat_completion"].input_schema["properties"]
    assert chat["temperature"] == {"type": "number", "minimum": 0, "maximum": 2}
    assert chat["max_tokens"]["type"] == "integer" and chat["max_tokens"]["minimum"] == 1
    assert "high" in chat["reasoning_effort"]["enum"]
    assert chat["provider"]["properties"]["sort"]["enum"] == ["price", "throughput", "latency"]
    assert chat["provider"]["additionalProperties"] is False
    assert {b.get("type") for b in chat["stop"]["anyOf"]} == {"string", "array"}
    msg = chat["messages"]["items"]
    assert msg["required"] == ["role", "content"]
    assert "assistant" in msg["properties"]["role"]["enum"]
    rr = tools["rerank_documents"].input_schema
    assert rr["required"] == ["query", "documents"]
    assert rr["properties"]["documents"]["maxItems"] == 1000
    assert rr["properties"]["top_n"] == {
        "type": "integer",
        "minimum": 1,
        "description": "Return only the best N",
    }
    assert tools["health_check"].input_schema == {
        "additionalProperties": False,
        "properties": {},
        "type": "object",
    }
    out = tools["rerank_documents"].output_schema
    item = out["properties"]["results"]["items"]
    assert (
        item["required"] == ["index", "score"] and item["properties"]["index"]["type"] == "integer"
    )
    assert {"type": "null"} in out["properties"]["results"]["items"]["properties"]["document"][
        "anyOf"
    ]


def test_recursive_models_keep_a_resolvable_ref():
    from or_magic.mcp._schema import clean_schema

    class Node(StrictModel):
        name: str
        children: list[Node] = Field(default_factory=list)

    class In(StrictModel):
        root: Node
        note: str | None = None

    s = clean_schema(In.model_json_schema(), collapse_optional=True)
    assert s["properties"]["note"] == {"type": "string"}
    assert s["properties"]["root"]["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    assert set(s["$defs"]) == {"Node"}
    assert s["$defs"]["Node"]["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}


def test_a_read_only_spec_with_save_path_is_exposed_as_writing():
    from or_magic.mcp._schema import annotations

    class In(StrictModel):
        video_id: str
        save_path: str | None = None

    spec = ToolSpec(
        name="get_video_status",
        title="Video status",
        description="x",
        input_model=In,
        handler=_fail,  # never called
        annotations=Annotations(title="Video status", read_only=True, idempotent=True),
    )
    a = annotations(spec)
    assert a["read_only_hint"] is False and a["destructive_hint"] is False
    assert a["idempotent_hint"] is True and a["title"] == "Video status"


def test_catalog_cache_matches_a_fresh_build_and_follows_the_code(tmp_path, monkeypatch):
    from or_magic.mcp import _server

    fresh = _server.build_catalog()
    first = _server.cached_catalog(tmp_path)
    assert first == fresh
    cache = tmp_path / "mcp" / "tools.json"
    doc = json.loads(cache.read_text())
    doc["tools"] = doc["tools"][:1]
    cache.write_text(json.dumps(doc))
    assert _server.cached_catalog(tmp_path) == fresh[:1]  # served from the cache
    monkeypatch.setattr(_server, "_package_fingerprint", lambda: "another-code-version")
    assert _server.cached_catalog(tmp_path) == fresh  # stale key: rebuilt
    assert json.loads(cache.read_text())["key"] == "another-code-version"


# ---- one call per family --------------------------------------------------------------------


async def test_chat_family(double, mode):
    async with Client(build(), mode=mode) as c:
        r = await c.call_tool(
            "chat_completion", {"prompt": "Name three moons of Jupiter", "model": MODEL}
        )
        assert not r.is_error, text_of(r)
        assert "Name three moons" in text_of(r)
        m = meta_of(r)
        assert m["server_version"] and m["model"] == MODEL and m["usage"]["total_tokens"] > 0
        assert "code" not in m and "offline" not in m
        assert r.structured_content is None  # no outputSchema: the answer stays the content

        r = await c.call_tool("start_chat_completion", {"prompt": "Write a haiku", "model": MODEL})
        assert not r.is_error, text_of(r)
        job_id = meta_of(r)["job_id"]
        assert job_id in text_of(r)
        r = await c.call_tool("get_chat_completion_status", {"job_id": job_id, "wait_s": 10})
        assert not r.is_error, text_of(r)
        assert meta_of(r)["status"] == "completed" and "haiku" in text_of(r).lower()


async def test_models_family(double, mode):
    async with Client(build(), mode=mode) as c:
        r = await c.call_tool("search_models", {"query": "gpt", "limit": 2})
        assert not r.is_error, text_of(r)
        sc = r.structured_content
        assert sc["limit"] == 2 and len(sc["results"]) <= 2 and sc["total"] >= 1
        assert json.loads(r.content[0].text) == sc  # the Node shape: text = JSON of the data
        r = await c.call_tool("get_model_info", {"model": MODEL})
        assert not r.is_error and r.structured_content["id"] == MODEL
        r = await c.call_tool("validate_model", {"model": "nope/missing"})
        assert not r.is_error and r.structured_content["valid"] is False


async def test_rerank_and_health_families(double, mode):
    async with Client(build(), mode=mode) as c:
        r = await c.call_tool(
            "rerank_documents",
            {"query": "tides", "documents": ["The moon pulls the sea", "Cats sleep a lot"]},
        )
        assert not r.is_error, text_of(r)
        res = r.structured_content["results"]
        assert len(res) == 2 and res[0]["score"] >= res[1]["score"]
        assert meta_of(r)["server_version"]
        r = await c.call_tool("health_check", {})
        assert not r.is_error
        assert r.structured_content["ok"] is True and r.structured_content["api_key_valid"] is True


async def test_every_registered_tool_answers_its_good_example(double, monkeypatch):
    """Whatever families exist: each tool's first good example gives a well-formed result
    (success, or a coded error that is not INTERNAL), and structured output validates."""
    monkeypatch.setenv("OPENROUTER_VIDEO_POLL_INTERVAL_MS", "50")
    monkeypatch.setenv("OPENROUTER_VIDEO_MAX_WAIT_MS", "2000")
    server = build()
    async with Client(server) as c:
        for t in (await c.list_tools()).tools:
            examples = _good_examples(t.description)
            assert examples, f"{t.name} has no JSON good example"
            with anyio.fail_after(20):
                r = await c.call_tool(t.name, examples[0])
            code = meta_of(r).get("code")
            assert r.content, t.name
            if r.is_error:
                assert code in ALL_CODES and code != "INTERNAL", (t.name, text_of(r))
            elif t.output_schema is not None:
                assert isinstance(r.structured_content, dict), t.name


# ---- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ALL_CODES)
async def test_each_code_goes_to_meta_with_details_and_suggestions(test_tools, code, monkeypatch):
    monkeypatch.setenv("OPENROUTER_OFFLINE", "1")
    async with Client(build(), mode="legacy") as c:
        r = await c.call_tool("t_fail", {"code": code, "retry_after": 7})
    m = meta_of(r)
    assert r.is_error is True
    assert m["code"] == code
    assert m["details"] == {"why": "test"}
    assert m["suggestions"] == [f"fix {code}"]
    assert m["retry_after_seconds"] == 7
    assert m["offline"] is True
    assert "server_version" not in m  # the Node error _meta carries no version
    t = text_of(r)
    assert t.startswith(f"synthetic {code}") and f"Error code: {code}" in t and f"fix {code}" in t
    assert "Error executing tool" not in t


async def test_error_meta_leaves_out_empty_fields(test_tools, monkeypatch):
    monkeypatch.setenv("OPENROUTER_OFFLINE", "1")

    async def bare(args: FailIn, ctx: ToolContext) -> ToolResult:
        raise ToolError(args.code, "bare")

    monkeypatch.setitem(registry._tools, "t_fail", _spec("t_fail", FailIn, bare))
    async with Client(build()) as c:
        r = await c.call_tool("t_fail", {"code": "UPSTREAM_HTTP"})
    m = {k: v for k, v in meta_of(r).items() if not k.startswith("io.modelcontextprotocol/")}
    assert m == {"code": "UPSTREAM_HTTP", "offline": True}


async def test_job_still_running_is_a_success_carrying_the_code(test_tools, mode):
    async with Client(build(), mode=mode) as c:
        r = await c.call_tool("t_running", {})
    assert r.is_error is False
    m = meta_of(r)
    assert m["code"] == "JOB_STILL_RUNNING" and m["video_id"] == "v1" and m["server_version"]
    assert "get_video_status" in text_of(r)


FAULTS = [
    ("INVALID_CREDENTIALS", Fault(status=401)),
    ("UPSTREAM_REFUSED", Fault(status=402)),
    ("UPSTREAM_TIMEOUT", Fault(status=504)),
    ("RESOURCE_TOO_LARGE", Fault(status=413)),
    ("UPSTREAM_HTTP", Fault(status=500)),
    ("MODEL_NOT_FOUND", Fault(status=404)),
    (
        "ZDR_INCOMPATIBLE",
        Fault(
            status=404, message="No endpoints found matching your data policy (Zero data retention)"
        ),
    ),
    ("INTERNAL", Fault(scenario="empty")),
]


@pytest.mark.parametrize(("code", "fault"), FAULTS, ids=[c for c, _ in FAULTS])
async def test_upstream_faults_become_coded_results(double, monkeypatch, code, fault, mode):
    monkeypatch.setenv("OPENROUTER_MAX_RETRIES", "0")
    double.inject(fault)
    async with Client(build(), mode=mode) as c:
        r = await c.call_tool("chat_completion", {"prompt": "hi", "model": MODEL})
    assert r.is_error is True, text_of(r)
    assert meta_of(r)["code"] == code, text_of(r)
    assert "sk-or-" not in json.dumps(r.model_dump(mode="json"))  # the key never leaks


async def test_rate_limit_carries_retry_after(double, monkeypatch):
    monkeypatch.setenv("OPENROUTER_MAX_RETRIES", "0")
    double.inject(Fault(status=429, retry_after="7"))
    async with Client(build(), mode="legacy") as c:
        r = await c.call_tool("chat_completion", {"prompt": "hi", "model": MODEL})
    m = meta_of(r)
    assert r.is_error and m["code"] == "UPSTREAM_REFUSED"
    assert m["retry_after_seconds"] == 7
    assert "Retry after: 7 s" in text_of(r)


async def test_local_error_codes(double, mode):
    from or_magic.config import get_settings
    from or_magic.jobs import get_job_store

    store = get_job_store(get_settings())
    store.create(
        id="chat_20260101000000_001_deadbeef",
        kind="chat",
        tool="start_chat_completion",
        backend="x",
        status="running",
    )
    store.update("chat_20260101000000_001_deadbeef", status="failed", error={"message": "boom"})
    async with Client(build(), mode=mode) as c:
        r = await c.call_tool("get_model_info", {"model": "nope/missing"})
        assert r.is_error and meta_of(r)["code"] == "MODEL_NOT_FOUND"
        assert any("search_models" in s for s in meta_of(r)["suggestions"])
        r = await c.call_tool("search_models", {"limit": 500})  # clamped like Node, not refused
        assert not r.is_error and '"clamped"' in text_of(r)
        r = await c.call_tool("search_models", {"limit": "ten"})
        assert r.is_error and meta_of(r)["code"] == "INVALID_INPUT" and "limit" in text_of(r)
        r = await c.call_tool("chat_completion", {"prompt": "hi", "promt": "typo"})
        assert r.is_error and meta_of(r)["code"] == "INVALID_INPUT" and "promt" in text_of(r)
        r = await c.call_tool("no_such_tool", {})
        assert r.is_error and meta_of(r)["code"] == "INVALID_INPUT"
        assert "search_models" in meta_of(r)["details"]["known_tools"]
        r = await c.call_tool(
            "get_chat_completion_status", {"job_id": "chat_20260101000000_001_deadbeef"}
        )
        assert r.is_error and meta_of(r)["code"] == "JOB_FAILED" and "boom" in text_of(r)
    assert not [q for q in double.requests if q.path.endswith("/chat/completions")]


async def test_output_schema_mismatch_is_reported_not_sent(double, monkeypatch):
    async def broken(args, ctx):
        return ToolResult(tool="rerank_documents", text="x", data={"model": "m", "results": "oops"})

    spec = registry.all_tools()["rerank_documents"]
    monkeypatch.setitem(
        registry._tools,
        "rerank_documents",
        dataclasses.replace(spec, handler=broken),
    )
    async with Client(build(), mode="legacy") as c:
        r = await c.call_tool("rerank_documents", {"query": "q", "documents": ["a"]})
    assert r.is_error and meta_of(r)["code"] == "INTERNAL"
    assert "results" in text_of(r) and "output schema" in text_of(r)


async def test_offline_results_are_marked(monkeypatch, mode):
    monkeypatch.setenv("OPENROUTER_OFFLINE", "1")
    async with Client(build(), mode=mode) as c:
        r = await c.call_tool("chat_completion", {"prompt": "hello"})
        assert not r.is_error and meta_of(r)["offline"] is True
        r = await c.call_tool("no_such_tool", {})
        assert r.is_error and meta_of(r)["offline"] is True


# ---- media ---------------------------------------------------------------------------------


async def test_media_inline_under_the_ceilings_and_links_for_saved_files(
    test_tools, monkeypatch, mode
):
    monkeypatch.setenv("OPENROUTER_OFFLINE", "1")
    async with Client(build(), mode=mode) as c:
        r = await c.call_tool("t_media", {"big": True})
    assert not r.is_error
    kinds = [c.type for c in r.content]
    assert kinds == ["text", "image", "audio", "resource_link", "text"], kinds
    img, aud, link, note = r.content[1:]
    assert img.mime_type == "image/png" and aud.mime_type == "audio/wav"
    saved = Path.cwd() / "clip.mp4"
    assert link.uri == saved.resolve().as_uri() and link.mime_type == "video/mp4"
    assert link.size == saved.stat().st_size
    assert meta_of(r)["save_path"] == str(saved.resolve())
    assert "larger than the inline limit" in note.text and "save_path" in note.text
    assert len(json.dumps(r.model_dump(mode="json"))) < 100_000  # the 3 MiB image is not inlined


async def test_inline_ceiling_follows_the_environment(test_tools, monkeypatch):
    monkeypatch.setenv("OPENROUTER_OFFLINE", "1")
    monkeypatch.setenv("OPENROUTER_INLINE_MAX_BYTES", "0")  # never inline
    async with Client(build()) as c:
        r = await c.call_tool("t_media", {})
    assert [c.type for c in r.content] == ["text", "resource_link", "text"]


# ---- progress and cancellation -------------------------------------------------------------------


async def test_progress_notifications_increase_with_total_and_message(
    test_tools, monkeypatch, mode
):
    monkeypatch.setenv("OPENROUTER_OFFLINE", "1")
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        seen.append((p, total, message))

    async with Client(build(), mode=mode) as c:
        r = await c.call_tool(
            "t_progress", {"steps": 4, "backwards": True}, progress_callback=on_progress
        )
        assert not r.is_error and text_of(r) == "done 4"
        values = [p for p, _, _ in seen]
        assert len(values) == 4
        assert all(b > a for a, b in itertools.pairwise(values)), values
        assert all(t is not None and p <= t for p, t, _ in seen)
        assert seen[0][2].startswith("step 1/4") and "status: in_progress" in seen[0][2]
        seen.clear()
        await c.call_tool("t_progress", {"steps": 2})  # no progress token: nothing sent
        assert seen == []


async def test_cancelling_a_slow_chat_stops_the_handler_and_the_server_stays_healthy(double, mode):
    double.inject(Fault(path="/chat/completions", delay_s=60))
    server = build()
    async with Client(server, mode=mode) as c:
        t = time.monotonic()
        with anyio.move_on_after(0.5) as scope:
            await c.call_tool("chat_completion", {"prompt": "slow", "model": MODEL})
        assert scope.cancelled_caught
        with anyio.fail_after(15):
            while server.stats.inflight or server.stats.cancelled < 1:
                await anyio.sleep(0.02)
        assert time.monotonic() - t < 15  # the handler did not wait for the 60 s upstream
        assert server.stats.cancelled == 1
        r = await c.call_tool("health_check", {})
        assert not r.is_error and r.structured_content["ok"] is True
    assert [q for q in double.requests if q.path.endswith("/chat/completions")]


async def test_cancellation_reaches_a_long_tool(test_tools, monkeypatch, mode):
    monkeypatch.setenv("OPENROUTER_OFFLINE", "1")
    server = build()
    async with Client(server, mode=mode) as c:
        with anyio.move_on_after(0.3):
            await c.call_tool("t_sleep", {"seconds": 30})
        with anyio.fail_after(15):
            while not CANCELLED:
                await anyio.sleep(0.02)
        assert CANCELLED == ["t_sleep"]
        r = await c.call_tool("t_sleep", {"seconds": 0})
        assert text_of(r) == "slept"


# ---- families that carry media (skipped until the family is registered) -----------------------


def need(*names: str) -> None:
    missing = [n for n in names if n not in registry.all_tools()]
    if missing:
        pytest.skip(f"tool family not registered yet: {', '.join(missing)}")


async def test_analyze_family_local_codes(double, fixtures_dir, mode):
    need("analyze_image")
    import shutil

    shutil.copy(fixtures_dir / "diagram.png", "diagram.png")
    Path("fake.png").write_text("<html>not an image</html>")
    async with Client(build(), mode=mode) as c:
        r = await c.call_tool("analyze_image", {"image_path": "diagram.png", "model": MODEL})
        assert not r.is_error, text_of(r)
        assert r.structured_content is None and meta_of(r)["content_is_untrusted"] is True
        r = await c.call_tool("analyze_image", {"image_path": "/etc/passwd"})
        assert r.is_error and meta_of(r)["code"] == "UNSAFE_PATH"
        r = await c.call_tool("analyze_image", {"image_path": "fake.png"})
        assert r.is_error and meta_of(r)["code"] == "UNSUPPORTED_FORMAT", text_of(r)
    assert len([q for q in double.requests if q.path.endswith("/chat/completions")]) == 1


async def test_image_generation_inline_or_saved(double, mode):
    need("generate_image")
    async with Client(build(), mode=mode) as c:
        r = await c.call_tool("generate_image", {"prompt": "a red fox"})
        assert len(inline_media(r, "image").data) > 100
        assert "save_path" not in meta_of(r)
        r = await c.call_tool("generate_image", {"prompt": "a red fox", "save_path": "fox.png"})
        assert not r.is_error, text_of(r)
        assert [b.type for b in r.content] == ["text", "resource_link"]  # saved: no inline copy
        saved = Path(meta_of(r)["save_path"])
        assert saved.is_file() and saved.parent == Path.cwd().resolve()
        assert r.content[1].uri == saved.as_uri()


async def test_speech_is_an_audio_block(double, mode):
    need("text_to_speech")
    async with Client(build(), mode=mode) as c:
        r = await c.call_tool("text_to_speech", {"input": "hello there"})
    inline_media(r, "audio")


# ---- compatibility with the Node server's newest surface (tool-surface.md §2) ----------------

_CACHE = ["cache", "cache_ttl", "cache_clear"]
_CHAT = [
    "messages", "model", "temperature", "max_tokens", "provider", "include_reasoning", "online",
    "web_max_results", "web_blocked_domains", "fusion", "subagent", "response_healing",
    "reasoning_effort", "response_format", "stop", "top_p", "frequency_penalty",
    "presence_penalty", *_CACHE,
]  # fmt: skip
_VIDEO = [
    "prompt", "model", "resolution", "aspect_ratio", "duration", "seed", "provider", "save_path",
    "max_wait_ms", "poll_interval_ms",
]  # fmt: skip
NODE_TOOLS: dict[str, tuple[list[str], list[str]]] = {
    # name: (parameters a Node client may send, parameters Node requires)
    "chat_completion": (_CHAT, ["messages"]),
    "start_chat_completion": (_CHAT, ["messages"]),
    "get_chat_completion_status": (["job_id"], ["job_id"]),
    "analyze_image": (["image_path", "question", "model", "cache_input", "provider", *_CACHE], ["image_path"]),
    "analyze_audio": (["audio_path", "question", "model", "cache_input", "provider", *_CACHE], ["audio_path"]),
    "analyze_video": (["video_path", "question", "model", "cache_input", "provider", *_CACHE], ["video_path"]),
    "search_models": (["query", "provider", "capabilities", "limit", "offset"], []),
    "get_model_info": (["model"], ["model"]),
    "validate_model": (["model"], ["model"]),
    "generate_image": (
        ["prompt", "model", "aspect_ratio", "image_size", "max_tokens", "save_path", "input_images",
         "modalities", "provider"],
        ["prompt"],
    ),
    "generate_image_dedicated": (
        ["prompt", "model", "resolution", "aspect_ratio", "quality", "output_format", "n",
         "input_references", "save_path", "provider", *_CACHE],
        ["prompt"],
    ),
    "generate_audio": (["prompt", "model", "voice", "format", "save_path", "provider"], ["prompt"]),
    "text_to_speech": (
        ["input", "model", "voice", "response_format", "speed", "instructions", "save_path",
         "provider", *_CACHE],
        ["input"],
    ),
    "speech_to_text": (
        ["audio_path", "model", "language", "response_format", "temperature", "provider", *_CACHE],
        ["audio_path"],
    ),
    "generate_video": (
        [*_VIDEO, "first_frame_image", "last_frame_image", "reference_images"], ["prompt"]
    ),
    "generate_video_from_image": ([*_VIDEO, "image"], ["image", "prompt"]),
    "get_video_status": (["video_id", "save_path"], ["video_id"]),
    "rerank_documents": (["query", "documents", "model", "top_n", "return_documents"], ["query", "documents"]),
    "health_check": ([], []),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(NODE_TOOLS))
async def test_a_client_configured_for_the_node_server_keeps_working(name):
    """Every Node tool that is registered here takes every Node parameter, and requires nothing
    the Node server did not require."""
    need(name)
    async with Client(build(), mode="legacy") as c:
        tool = next(t for t in (await c.list_tools()).tools if t.name == name)
    params, required = NODE_TOOLS[name]
    props = tool.input_schema.get("properties", {})
    missing = [p for p in params if p not in props]
    assert not missing, f"{name} lacks Node parameters {missing}"
    extra_required = set(tool.input_schema.get("required", [])) - set(required)
    assert not extra_required, f"{name} requires {sorted(extra_required)}, Node did not"


# ---- long jobs: video progress, JOB_STILL_RUNNING, cancellation that leaves the job resumable ----


@pytest.fixture
def fast_video(monkeypatch):
    need("generate_video", "get_video_status")
    monkeypatch.setenv("OPENROUTER_VIDEO_POLL_INTERVAL_MS", "50")


async def test_video_progress_increases_and_the_result_is_a_file(double, fast_video, mode):
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        seen.append((p, total, message))

    double.script_video(["pending", "in_progress", "in_progress", "completed"])
    async with Client(build(), mode=mode) as c:
        r = await c.call_tool(
            "generate_video",
            {"prompt": "a fox", "save_path": "fox.mp4"},
            progress_callback=on_progress,
        )
    assert not r.is_error, text_of(r)
    values = [p for p, _, _ in seen]
    assert len(values) >= 3 and all(b > a for a, b in itertools.pairwise(values)), seen
    assert all(m for _, _, m in seen) and any("in_progress" in m for _, _, m in seen)
    links = [b for b in r.content if b.type == "resource_link"]
    assert len(links) == 1 and links[0].mime_type == "video/mp4"
    saved = Path(meta_of(r)["save_path"])
    assert saved.is_file() and links[0].uri == saved.as_uri()
    assert not [b for b in r.content if b.type in ("resource", "image", "audio")]  # no bytes inline


async def test_video_still_running_is_a_success_and_resumes(double, fast_video, monkeypatch, mode):
    monkeypatch.setenv("OPENROUTER_VIDEO_MAX_WAIT_MS", "150")
    double.script_video(["pending", *["in_progress"] * 8, "completed"])
    async with Client(build(), mode=mode) as c:
        r = await c.call_tool("generate_video", {"prompt": "a slow fox"})
        assert r.is_error is False, text_of(r)
        m = meta_of(r)
        assert m["code"] == "JOB_STILL_RUNNING" and m["video_id"] in text_of(r)
        for _ in range(20):
            r = await c.call_tool("get_video_status", {"video_id": m["video_id"]})
            assert r.is_error is False, text_of(r)
            if meta_of(r).get("code") != "JOB_STILL_RUNNING":
                break
        assert "code" not in meta_of(r), text_of(r)
        assert any(b.type in ("resource", "resource_link") for b in r.content)


async def test_cancelling_a_video_job_stops_the_handler_and_leaves_it_resumable(
    double, fast_video, monkeypatch, mode
):
    from or_magic.config import get_settings
    from or_magic.jobs import get_job_store

    monkeypatch.setenv("OPENROUTER_VIDEO_MAX_WAIT_MS", "20000")
    double.script_video(["pending", *["in_progress"] * 400])
    server = build()
    async with Client(server, mode=mode) as c:
        t = time.monotonic()
        with anyio.move_on_after(0.5):
            await c.call_tool("generate_video", {"prompt": "never mind"})
        with anyio.fail_after(15):
            while server.stats.inflight or server.stats.cancelled < 1:
                await anyio.sleep(0.02)
        assert time.monotonic() - t < 15  # not the 20 s max wait
        polls_at_cancel = len([q for q in double.requests if "/videos/" in q.path])
        await anyio.sleep(0.3)  # no more polling once cancelled
        assert len([q for q in double.requests if "/videos/" in q.path]) == polls_at_cancel
        (job,) = get_job_store(get_settings()).list(kind="video")
        r = await c.call_tool("get_video_status", {"video_id": job.id})
        assert r.is_error is False and meta_of(r)["code"] == "JOB_STILL_RUNNING", text_of(r)


async def test_a_crash_outside_the_core_is_still_a_coded_result(monkeypatch):
    from or_magic.mcp import _server

    monkeypatch.setenv("OPENROUTER_OFFLINE", "1")

    async def boom(self, name, args, on_progress):
        raise RuntimeError("adapter bug")

    monkeypatch.setattr(_server.OrMagicServer, "run_tool", boom)
    async with Client(build(), mode="legacy") as c:
        r = await c.call_tool("health_check", {})
    assert r.is_error and meta_of(r)["code"] == "INTERNAL" and "RuntimeError" in text_of(r)


def test_structured_output_check_does_not_import_jsonschema(tmp_path):
    """The output check goes through the tool's pydantic model: ``import jsonschema`` (which,
    next to JupyterLab, builds an RFC 3987 grammar for seconds) never happens on a call."""
    import subprocess
    import sys

    code = (
        "import asyncio, sys\n"
        "from or_magic.mcp import build_server\n"
        "async def main():\n"
        "    server = build_server()\n"
        "    result = await server.run_tool('search_models', {'query': 'gpt'}, None)\n"
        "    r = server.adapt('search_models', result)\n"
        "    assert not r.is_error and r.structured_content, r\n"
        "asyncio.run(main())\n"
        "print('jsonschema' in sys.modules)\n"
    )
    env = {
        **__import__("os").environ,
        "OPENROUTER_OFFLINE": "1",
        "OR_MAGIC_STATE_DIR": str(tmp_path),
    }
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"


async def test_output_check_is_strict_like_json_schema(double, monkeypatch):
    """A numeric string where the schema says integer is a mismatch (pydantic's lax mode would
    have coerced it; a client's JSON Schema validator would not)."""

    async def stringly(args, ctx):
        return ToolResult(
            tool="rerank_documents",
            text="x",
            data={"model": "m", "results": [{"index": "0", "relevance_score": 0.5}]},
        )

    spec = registry.all_tools()["rerank_documents"]
    monkeypatch.setitem(
        registry._tools, "rerank_documents", dataclasses.replace(spec, handler=stringly)
    )
    async with Client(build(), mode="legacy") as c:
        r = await c.call_tool("rerank_documents", {"query": "q", "documents": ["a"]})
    assert r.is_error and meta_of(r)["code"] == "INTERNAL"
    assert "results/0/index" in text_of(r)
