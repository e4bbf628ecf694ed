"""chat_completion, start_chat_completion, get_chat_completion_status."""

from __future__ import annotations

import asyncio
import re
import secrets
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .. import log
from ..errors import ErrorCode, ToolError
from ..jobs import backend_label
from ..redact import known_secrets, scrub_result, scrub_value
from ..result import ToolResult
from .base import ToolContext, ToolSpec, describe, lookup_annotations, paid_annotations
from .common import (
    CacheFields,
    ProviderPrefs,
    StrictModel,
    cache_headers,
    cap_text,
    clean_model,
    merge_provider,
    resolve_max_tokens,
)
from .completion import Completion, check_answer, completion_meta, run_completion
from .enums import REASONING_EFFORTS

Role = Literal["system", "developer", "user", "assistant", "tool"]


class Message(StrictModel):
    role: Role
    content: str | list[dict[str, Any]] | None = Field(
        ..., description="Text, or OpenAI-style content parts"
    )
    name: str | None = None
    tool_call_id: str | None = None
    tool_calls: list[dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _null_only_for_assistant(self) -> Message:
        if self.content is None and self.role != "assistant":
            raise ValueError(
                f"content may be null only for assistant messages (role {self.role!r})"
            )
        return self


class ReasoningOptions(StrictModel):
    effort: Literal[REASONING_EFFORTS] | None = None  # type: ignore[valid-type]
    max_tokens: int | None = Field(None, ge=1)
    exclude: bool | None = None
    enabled: bool | None = None

    @model_validator(mode="after")
    def _one_budget(self) -> ReasoningOptions:
        if self.effort is not None and self.max_tokens is not None:
            raise ValueError("give reasoning.effort or reasoning.max_tokens, not both")
        return self


class ChatInput(CacheFields):
    messages: list[Message] | None = Field(
        None, min_length=1, description="Conversation so far (system/user/assistant/tool messages)"
    )
    prompt: str | None = Field(
        None, description="Shortcut for messages=[{role:'user', content: prompt}]"
    )
    system: str | None = Field(None, description="Optional system message put first")
    model: str | None = Field(
        None,
        description="Model id, e.g. openai/gpt-4o; routing suffixes :free :nitro :floor :online :exacto work. "
        "Default: OPENROUTER_DEFAULT_MODEL",
    )
    models: list[str] | None = Field(
        None, max_length=10, description="Fallback models tried in order if the first fails"
    )
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(
        None, ge=1, description="Upper bound on the answer (default OPENROUTER_MAX_TOKENS)"
    )
    top_p: float | None = Field(None, ge=0, le=1)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    seed: int | None = None
    stop: str | list[str] | None = Field(None, description="Stop sequence(s), at most 4")
    reasoning: ReasoningOptions | None = None
    reasoning_effort: Literal[REASONING_EFFORTS] | None = None  # type: ignore[valid-type]
    include_reasoning: bool | None = Field(
        None,
        description="Return the model's reasoning in meta (default OPENROUTER_INCLUDE_REASONING)",
    )
    response_format: dict[str, Any] | None = Field(
        None,
        description="{'type':'json_object'} or {'type':'json_schema','json_schema':{name, schema, strict}}",
    )
    provider: ProviderPrefs | None = None
    online: bool | None = Field(
        None, description="Enable web search (results are untrusted content)"
    )
    web_max_results: int | None = Field(None, ge=1, le=25)
    web_blocked_domains: list[str] | None = None
    response_healing: bool | None = Field(
        None, description="Ask OpenRouter to repair malformed JSON answers"
    )
    fusion: bool | None = None
    subagent: bool | dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = Field(
        None, description="OpenAI-style function tools (passed through)"
    )
    tool_choice: str | dict[str, Any] | None = None
    stream: bool | None = Field(
        None, description="Stream tokens (default: on when the caller displays them live)"
    )

    @field_validator("stop")
    @classmethod
    def _stop(cls, v: str | list[str] | None) -> str | list[str] | None:
        if isinstance(v, list) and len(v) > 4:
            raise ValueError("at most 4 stop sequences")
        return v

    @field_validator("web_blocked_domains")
    @classmethod
    def _domains(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and any(not d.strip() for d in v):
            raise ValueError("web_blocked_domains entries must be non-blank")
        return v

    @field_validator("response_format")
    @classmethod
    def _rf(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is None:
            return v
        t = v.get("type")
        if t not in ("json_object", "json_schema", "text"):
            raise ValueError("response_format.type must be json_object, json_schema or text")
        if t == "json_schema":
            js = v.get("json_schema")
            if (
                not isinstance(js, dict)
                or not isinstance(js.get("schema"), dict)
                or not js.get("name")
            ):
                raise ValueError("json_schema needs {name, schema}")
        return v

    @model_validator(mode="after")
    def _check(self) -> ChatInput:
        if not self.messages and not (self.prompt and self.prompt.strip()):
            raise ValueError("give messages (non-empty) or prompt")
        if (self.web_max_results is not None or self.web_blocked_domains) and not self.online:
            raise ValueError("web_max_results / web_blocked_domains need online=true")
        if (
            self.reasoning_effort
            and self.reasoning
            and self.reasoning.effort
            and self.reasoning.effort != self.reasoning_effort
        ):
            raise ValueError("reasoning_effort conflicts with reasoning.effort")
        return self


def build_messages(args: ChatInput) -> list[dict[str, Any]]:
    msgs: list[dict[str, Any]] = []
    if args.system:
        msgs.append({"role": "system", "content": args.system})
    if args.messages:
        for m in args.messages:
            msgs.append(m.model_dump(exclude_none=True) | {"content": m.content})
    if args.prompt and args.prompt.strip():
        msgs.append({"role": "user", "content": args.prompt})
    return msgs


def build_body(args: ChatInput, ctx: ToolContext) -> dict[str, Any]:
    s = ctx.settings
    body: dict[str, Any] = {
        "model": clean_model(args.model) or s.effective_default_model,
        "messages": build_messages(args),
    }
    if args.models:
        body["models"] = [m.strip() for m in args.models if m.strip()]
    for key in (
        "temperature",
        "top_p",
        "frequency_penalty",
        "presence_penalty",
        "seed",
        "stop",
        "response_format",
        "tools",
        "tool_choice",
    ):
        v = getattr(args, key)
        if v is not None:
            body[key] = v
    mt = resolve_max_tokens(args.max_tokens, s)
    if mt is not None:
        body["max_tokens"] = mt
    if args.reasoning is not None:
        body["reasoning"] = args.reasoning.model_dump(exclude_none=True)
    if args.reasoning_effort:
        body.setdefault("reasoning", {})["effort"] = args.reasoning_effort
    want_reasoning = (
        s.include_reasoning if args.include_reasoning is None else args.include_reasoning
    )
    if want_reasoning and "reasoning" not in body:
        body["reasoning"] = {}
    provider = merge_provider(args.provider, s)
    if provider:
        body["provider"] = provider
    plugins: list[dict[str, Any]] = []
    if args.online:
        web: dict[str, Any] = {"id": "web"}
        if args.web_max_results is not None:
            web["max_results"] = args.web_max_results
        if args.web_blocked_domains:
            web["exclude_domains"] = [d.strip() for d in args.web_blocked_domains]
        plugins.append(web)
    if args.response_healing:
        plugins.append({"id": "response-healing"})
    if plugins:
        body["plugins"] = plugins
    extra_tools: list[dict[str, Any]] = []
    if args.fusion:
        extra_tools.append({"type": "openrouter:fusion"})
    if args.subagent:
        sub: dict[str, Any] = {"type": "openrouter:subagent"}
        if isinstance(args.subagent, dict) and args.subagent.get("model"):
            sub["parameters"] = {"model": args.subagent["model"]}
        extra_tools.append(sub)
    if extra_tools:
        body["tools"] = [*(body.get("tools") or []), *extra_tools]
    return body


def finish_chat(
    c: Completion, args: ChatInput, ctx: ToolContext, *, label: str = "chat_completion"
) -> ToolResult:
    check_answer(c, label=label)
    want_reasoning = (
        ctx.settings.include_reasoning if args.include_reasoning is None else args.include_reasoning
    )
    meta = completion_meta(c, want_reasoning=bool(want_reasoning))
    text = c.text if c.text.strip() else (c.refusal or "")
    if c.refusal and not c.text.strip():
        meta["refusal"] = True
    if c.tool_calls:
        meta["tool_calls"] = c.tool_calls
    if args.online:
        meta["content_is_untrusted"] = True
    data = None
    if args.response_format and args.response_format.get("type") in ("json_object", "json_schema"):
        from ..client.reading import parse_json

        try:
            data = parse_json(_strip_fence(text))
            if not isinstance(data, dict):
                data = {"result": data}
        except (ValueError, ToolError):  # not JSON, or hostile nesting: keep the text, flag it
            meta["json_parse_error"] = True
    text = cap_text(text, ctx.settings, meta)
    return ToolResult(tool=label, text=text, data=data, meta=meta)


_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*)\n\s*```\s*$", re.DOTALL)


def _strip_fence(text: str) -> str:
    m = _FENCE.match(text)
    return m.group(1) if m else text


async def _send_chat(
    ctx: ToolContext, body: dict[str, Any], args: ChatInput, *, stream: bool, context: str
) -> Any:
    """One chat-completions request with the call's prompt-cache headers."""
    return await run_completion(
        ctx, body, headers=cache_headers(args, ctx.settings), stream=stream, context=context
    )


async def chat_completion(args: ChatInput, ctx: ToolContext) -> ToolResult:
    body = build_body(args, ctx)
    stream = args.stream if args.stream is not None else ctx.on_text is not None
    c = await _send_chat(ctx, body, args, stream=stream, context="chat_completion")
    return finish_chat(c, args, ctx)


# ---- background chat jobs ---------------------------------------------------------------------

JOB_ID_RE = re.compile(r"^chat_[A-Za-z0-9_-]{1,128}$")
_counter_lock = threading.Lock()
_counter = 0


def new_job_id() -> str:
    global _counter
    with _counter_lock:
        _counter = (_counter + 1) % 1000
        n = _counter
    return f"chat_{time.strftime('%Y%m%d%H%M%S', time.gmtime())}_{n:03d}_{secrets.token_hex(4)}"


class _Runner:
    """A daemon thread with its own event loop: background jobs keep running between cells,
    after a script's call returns, and independently of whoever started them."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self.memory: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.futures: dict[str, Future] = {}

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                t = threading.Thread(target=loop.run_forever, name="or_magic-jobs", daemon=True)
                t.start()
                self._loop = loop
            return self._loop

    def submit(self, job_id: str, coro: Any) -> Future:
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop())
        self.futures[job_id] = fut
        return fut

    def remember(self, job_id: str, record: dict[str, Any], cap: int) -> None:
        with self._lock:
            self.memory[job_id] = record
            self.memory.move_to_end(job_id)
            if cap:
                finished = [
                    k for k, v in self.memory.items() if v.get("status") in ("completed", "failed")
                ]
                while len(self.memory) > cap and finished:
                    self.memory.pop(finished.pop(0), None)


RUNNER = _Runner()


async def _run_job(job_id: str, args: ChatInput, ctx: ToolContext) -> None:
    store = ctx.jobs
    record = RUNNER.memory.get(job_id, {})
    try:
        store.update(job_id, status="running")
        body = build_body(args, ctx)
        c = await _send_chat(ctx, body, args, stream=False, context="start_chat_completion")
        result = finish_chat(c, args, ctx, label="start_chat_completion")
        scrub_result(result, known_secrets(ctx.settings.secrets()))  # the job store is on disk
        payload = {"text": result.text, "meta": result.meta, "data": result.data}
        store.update(
            job_id,
            status="completed",
            result=payload,
            cost=result.cost,
            model=result.meta.get("model") or body["model"],
        )
        record.update(status="completed", result=payload)
    except ToolError as err:
        e = {
            "code": err.code.value,
            "message": err.message,
            "suggestions": err.suggestions,
            "retry_after_seconds": err.retry_after_seconds,
            "details": err.details,
        }
        e = scrub_value(e, known_secrets(ctx.settings.secrets()))  # type: ignore[assignment]
        store.update(job_id, status="failed", error=e)
        record.update(status="failed", error=e)
    except asyncio.CancelledError:
        store.update(job_id, status="cancelled")
        record.update(status="cancelled")
        raise
    except Exception as exc:  # pragma: no cover - defensive
        e = {"code": "INTERNAL", "message": f"{type(exc).__name__}: {exc}"}
        store.update(job_id, status="failed", error=e)
        record.update(status="failed", error=e)
    finally:
        RUNNER.remember(job_id, record, ctx.settings.async_jobs_memory_max)


async def start_chat_completion(args: ChatInput, ctx: ToolContext) -> ToolResult:
    body = build_body(args, ctx)  # validates and resolves the model before the job exists
    job_id = new_job_id()
    model = body["model"]
    preview_text = next(
        (m["content"] for m in reversed(body["messages"]) if isinstance(m.get("content"), str)),
        None,
    )
    ctx.jobs.create(
        id=job_id,
        kind="chat",
        tool="start_chat_completion",
        backend=backend_label(ctx.settings),
        status="running",
        model=model,
        prompt=preview_text,
        params={"stream": False},
    )
    log.audit("async_chat.start", job_id=job_id, model=model, message_count=len(body["messages"]))
    RUNNER.remember(
        job_id,
        {"status": "running", "model": model, "created_at": time.time()},
        ctx.settings.async_jobs_memory_max,
    )
    job_ctx = ToolContext(tool="start_chat_completion", settings=ctx.settings)
    RUNNER.submit(job_id, _run_job(job_id, args, job_ctx))
    return ToolResult(
        tool="start_chat_completion",
        text=f'Chat completion job started. Use get_chat_completion_status with job_id="{job_id}" to check results.',
        data={"job_id": job_id, "status": "running", "model": model},
        meta={"job_id": job_id, "status": "running", "model": model},
    )


class JobStatusInput(StrictModel):
    job_id: str = Field(..., description="The id start_chat_completion returned (chat_...)")
    wait_s: float | None = Field(
        None, ge=0, le=600, description="Wait up to this many seconds for the job to finish"
    )

    @field_validator("job_id")
    @classmethod
    def _id(cls, v: str) -> str:
        v = v.strip()
        if not JOB_ID_RE.match(v) or ".." in v or "/" in v or "\\" in v:
            raise ValueError("job_id must look like chat_<...> (letters, digits, _ and -)")
        return v


async def get_chat_completion_status(args: JobStatusInput, ctx: ToolContext) -> ToolResult:
    job_id = args.job_id
    fut = RUNNER.futures.get(job_id)
    if args.wait_s and fut is not None and not fut.done():
        try:
            await asyncio.wait_for(asyncio.wrap_future(fut), timeout=args.wait_s)
        except (TimeoutError, asyncio.TimeoutError):
            pass
        except Exception:
            pass
    job = ctx.jobs.get(job_id)
    if job is None:
        raise ToolError(
            ErrorCode.INVALID_INPUT,
            f"No chat job {job_id} (jobs are kept in {ctx.settings.state_root})",
            details={"job_id": job_id},
            suggestions=[
                "Check the id; OR_MAGIC_STATE_DIR must be the same as when the job was started"
            ],
        )
    base = {
        "job_id": job.id,
        "status": job.status,
        "model": job.model,
        "created_at": job.created_at,
    }
    if job.status == "completed":
        if not job.result:
            raise ToolError(
                ErrorCode.INTERNAL, f"Job {job_id} completed but has no stored result", details=base
            )
        meta = {**(job.result.get("meta") or {}), **base}
        text = cap_text(job.result.get("text") or "", ctx.settings, meta)
        return ToolResult(
            tool="get_chat_completion_status", text=text, data=job.result.get("data"), meta=meta
        )
    if job.status in ("failed", "interrupted", "cancelled"):
        e = job.error or {}
        code = e.get("code") or "JOB_FAILED"
        raise ToolError(
            code if code in ErrorCode.__members__ else ErrorCode.JOB_FAILED,
            e.get("message") or f"Job {job_id} {job.status}",
            details={**base, **({"upstream": e.get("details")} if e.get("details") else {})},
            suggestions=e.get("suggestions") or ["Start the job again"],
            retry_after_seconds=e.get("retry_after_seconds"),
        )
    return ToolResult(
        tool="get_chat_completion_status",
        text=f"Job {job_id} is still {job.status}. Try again in a few seconds (or pass wait_s).",
        data=base,
        meta=base,
    )


# ---- registration -------------------------------------------------------------------------------

_CHAT_DESC = describe(
    "Send a conversation (or a single prompt) to any OpenRouter model and return its answer.",
    use_when="you need text from an LLM: answers, rewriting, extraction, JSON via response_format, "
    "web-grounded answers with online=true, fallbacks with models=[...].",
    not_when="the input is an image/audio/video file (use analyze_image / analyze_audio / analyze_video), "
    "or you want media out (generate_image, generate_audio, generate_video).",
    good=[
        '{"prompt": "Summarise the plot of Hamlet in 3 bullets"}',
        '{"messages": [{"role":"user","content":"Return JSON"}], "response_format": {"type":"json_object"}}',
        '{"prompt": "Latest Python release?", "online": true, "model": "openai/gpt-4o-mini"}',
    ],
    bad=['{"messages": []} (empty)', '{"prompt": "hi", "web_max_results": 3} (needs online=true)'],
    fails="INVALID_INPUT on bad arguments or a reasoning model cut off by max_tokens; MODEL_NOT_FOUND; "
    "INVALID_CREDENTIALS; UPSTREAM_REFUSED (credits, rate limit, moderation); ZDR_INCOMPATIBLE; UPSTREAM_TIMEOUT; UPSTREAM_HTTP.",
    works_with="search_models / validate_model to pick a model; start_chat_completion for long answers.",
)

TOOLS = [
    ToolSpec(
        name="chat_completion",
        title="Chat completion",
        description=_CHAT_DESC,
        input_model=ChatInput,
        handler=chat_completion,
        annotations=paid_annotations("Chat completion"),
    ),
    ToolSpec(
        name="start_chat_completion",
        title="Start a background chat completion",
        description=describe(
            "Start a chat completion in the background and return a job id at once.",
            use_when="the answer may take long (large max_tokens, slow reasoning models) and you want to do other work meanwhile.",
            not_when="a quick answer is fine (use chat_completion).",
            good=['{"prompt": "Write a 2000-word essay on tides", "max_tokens": 4000}'],
            bad=["{} (no prompt or messages)"],
            fails="INVALID_INPUT at once for bad arguments; later failures are reported by get_chat_completion_status.",
            works_with="get_chat_completion_status (poll with the returned job_id; jobs survive restarts).",
        ),
        input_model=ChatInput,
        handler=start_chat_completion,
        annotations=paid_annotations("Start background chat"),
    ),
    ToolSpec(
        name="get_chat_completion_status",
        title="Background chat status",
        description=describe(
            "Report the status or result of a background chat job started with start_chat_completion.",
            use_when="you have a job_id from start_chat_completion.",
            not_when="you have no job id (start one first).",
            good=[
                '{"job_id": "chat_20261124120000_001_ab12cd34"}',
                '{"job_id": "chat_…", "wait_s": 30}',
            ],
            bad=['{"job_id": "../etc/passwd"}'],
            fails="INVALID_INPUT for unknown/malformed ids; the job's own error code (or JOB_FAILED) when it failed.",
            works_with="start_chat_completion.",
        ),
        input_model=JobStatusInput,
        handler=get_chat_completion_status,
        annotations=lookup_annotations("Background chat status", open_world=False),
    ),
]
