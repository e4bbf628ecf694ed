"""The Batch API engine: many tool calls as OpenRouter batches (``POST /batches``).

Why a separate engine: a day-long job of 500,000 rows must survive a closed laptop, so the work is
handed to OpenRouter (which runs it within ``completion_window`` = 24h) and only *ids* live here —
in the SQLite job registry, where any process (a restarted kernel, the MCP server) finds them.

- Request bodies are built by the tools themselves: ``capture_body`` runs the tool's own handler
  (validation, defaults, media loading, ``build_body``) against a client that records the
  ``/chat/completions`` request instead of sending it. Nothing about a body is duplicated here.
- Items are chunked into upstream batches: one model per batch (the API's rule), at most
  ``max_requests`` requests and ``max_bytes`` of JSON each (the SDK documents no limits; the
  defaults below are conservative and configurable).
- Results are turned back into ``ToolResult`` with the tools' own finishing code
  (``finish_chat`` / ``finish_analysis``) and upstream per-request errors with the client's error
  classifier, so a batch item fails with the same codes as an interactive call.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..errors import ErrorCode, ToolError
from ..result import ToolResult

CHAT_ENDPOINT = "/v1/chat/completions"
EMBED_ENDPOINT = "/v1/embeddings"
# Tools whose single request is a /chat/completions body (chat, and analysis-as-chat).
CHAT_TOOLS = frozenset(
    {"chat_completion", "analyze_image", "analyze_audio", "analyze_video", "analyze_media"}
)
# Tools whose single request is an /embeddings body (one text per batch item).
EMBED_TOOLS = frozenset({"embed_texts"})
BATCH_TOOLS = CHAT_TOOLS | EMBED_TOOLS
DEFAULT_MAX_REQUESTS = 1000
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})

ProgressFn = Callable[[dict[str, Any]], Awaitable[None] | None]


def endpoint_for(tool: str) -> str:
    """The Batch API endpoint a tool's requests go to."""
    return EMBED_ENDPOINT if tool in EMBED_TOOLS else CHAT_ENDPOINT


def _not_batchable(tool: str) -> ToolError:
    return ToolError(
        ErrorCode.INVALID_INPUT,
        f"{tool} cannot run through the Batch API",
        suggestions=[f"Batchable tools: {', '.join(sorted(BATCH_TOOLS))}"],
    )


# ---- capturing a tool's request body ---------------------------------------------------------


class _Captured(BaseException):
    """Raised by the capture client to stop the handler once its request is known.

    A ``BaseException`` so no ``except Exception`` inside a tool turns it into an error result;
    the handler's ``finally`` blocks (closing media blobs) still run.
    """

    def __init__(self, path: str, body: dict[str, Any]) -> None:
        super().__init__(path)
        self.path = path
        self.body = body


def _materialise(body: Any) -> dict[str, Any]:
    """Streamed base64 references → plain strings (while the handler's blobs are still open)."""
    from ..client.body import StreamingJSON, contains_refs

    if contains_refs(body):
        return json.loads(StreamingJSON(body).to_bytes())
    return body


class _CaptureClient:
    """Looks like ``OpenRouterClient`` to a tool; records the inference request, forwards others."""

    CAPTURED = ("/chat/completions", "/embeddings")

    def __init__(self, settings: Settings, *, media: bool = True) -> None:
        self.settings = settings
        self.media = media  # False: the body cannot hold streamed media (skip the scan)

    def _body(self, body: Any) -> dict[str, Any]:
        return _materialise(body) if self.media else body

    def _real(self) -> Any:
        from ..client.http import get_client

        return get_client(self.settings)

    async def request_json(self, method: str, path: str, **kw: Any) -> Any:
        if method == "POST" and path in self.CAPTURED:
            raise _Captured(path, self._body(kw.get("json") or {}))
        return await self._real().request_json(method, path, **kw)

    def stream_sse(self, path: str, json: Any, **kw: Any) -> Any:
        if path in self.CAPTURED:
            body = dict(self._body(json))
            body.pop("stream", None)
            raise _Captured(path, body)
        return self._real().stream_sse(path, json, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)


@dataclass
class Prepared:
    """One item made ready: its request body, or the error that stopped it before any request."""

    body: dict[str, Any] | None
    parsed: Any = None
    error: ToolResult | None = None


async def capture_body(tool: str, args: dict[str, Any], settings: Settings) -> Prepared:
    """Run ``tool``'s handler up to its HTTP request and return that request's body."""
    from .api import _objects_to_handles, _validate
    from .base import ToolContext
    from .registry import get_tool

    spec = get_tool(tool)
    if spec is None or tool not in BATCH_TOOLS:
        raise _not_batchable(tool)
    handles: list[str] = []
    try:
        parsed = _validate(spec, _objects_to_handles(dict(args), handles))
        if tool in EMBED_TOOLS and not isinstance(parsed.input, str) and len(parsed.input) != 1:
            raise ToolError(
                ErrorCode.INVALID_INPUT,
                f"{tool}: one text per batch item (got {len(parsed.input)})",
                suggestions=[
                    "Pass the texts as the items: or_magic.map('embed_texts', texts, ...)"
                ],
            )
        ctx = ToolContext(tool=tool, settings=settings)
        media = tool not in ("chat_completion", *EMBED_TOOLS)
        ctx._client = _CaptureClient(settings, media=media)  # type: ignore[assignment]
        await spec.handler(parsed, ctx)
    except _Captured as cap:
        return Prepared(cap.body, parsed)
    except ToolError as exc:
        return Prepared(None, error=ToolResult.from_error(tool, exc))
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bad item must not sink the batch
        err = ToolError(ErrorCode.INVALID_INPUT, f"{tool}: {type(exc).__name__}: {exc}")
        return Prepared(None, error=ToolResult.from_error(tool, err))
    finally:
        if handles:
            from ..media.sources import release

            for h in handles:
                release(h)
    err = ToolError(ErrorCode.INTERNAL, f"{tool} answered without sending a request")
    return Prepared(None, error=ToolResult.from_error(tool, err))


# ---- results ---------------------------------------------------------------------------------


def finish_params(tool: str, parsed: Any) -> dict[str, Any]:
    """What turning an answer back into a ``ToolResult`` needs, small enough to persist."""
    if tool in EMBED_TOOLS and parsed is not None:
        return {"dimensions": parsed.dimensions}
    if tool == "chat_completion" and parsed is not None:
        return {
            "response_format": parsed.response_format,
            "include_reasoning": parsed.include_reasoning,
            "online": parsed.online,
        }
    return {}


class Finisher:
    """Turns answers into results with the tools' own code; built once per collected batch."""

    def __init__(self, tool: str, finish: dict[str, Any], settings: Settings) -> None:
        self.tool = tool
        self.settings = settings
        self.finish = finish
        self.args: Any = None
        self.ctx: Any = None
        if tool == "chat_completion":
            from .base import ToolContext
            from .chat import ChatInput

            self.args = ChatInput.model_construct(
                response_format=finish.get("response_format"),
                include_reasoning=finish.get("include_reasoning"),
                online=finish.get("online"),
            )
            self.ctx = ToolContext(tool=tool, settings=settings)

    def __call__(self, c: Any) -> ToolResult:
        if self.tool == "chat_completion":
            from .chat import finish_chat

            return finish_chat(c, self.args, self.ctx)
        from .analyze import finish_analysis

        return finish_analysis(c, self.tool, c.model or "", self.settings, inputs=None)


def to_tool_result(
    tool: str,
    result: dict[str, Any],
    finish: dict[str, Any] | Finisher,
    settings: Settings,
) -> ToolResult:
    """One upstream batch result → ``ToolResult`` via the tools' own finishing code."""
    from ..client.classify import classify_upstream
    from .completion import parse_message

    finisher = finish if isinstance(finish, Finisher) else Finisher(tool, finish, settings)

    err = result.get("error")
    response = result.get("response") if isinstance(result.get("response"), dict) else None
    try:
        if err is not None or response is None:
            e = err if isinstance(err, dict) else {"message": "no response"}
            if e.get("type") in (
                "batch_cancelled",
                "batch_expired",
            ):  # never run: not a model error
                raise ToolError(
                    ErrorCode.JOB_FAILED,
                    f"{tool}: {e.get('message') or 'the request was not run'}",
                    details={"reason": e.get("type")},
                    suggestions=["Submit the unfinished items again"],
                )
            # a per-request error carries the canonical ``error_type`` (no HTTP status): classify
            # it like the same error from an interactive call
            etype = e.get("error_type") or e.get("type")
            status = (response or {}).get("status_code")
            body = {
                "error": {
                    "message": e.get("message"),
                    "error_type": etype,
                    "metadata": {"error_type": etype},
                }
            }
            http = status if isinstance(status, int) and status >= 400 else None
            raise classify_upstream(http, body, {}, context=tool)
        data = response.get("body")
        if not isinstance(data, dict):
            raise ToolError(ErrorCode.UPSTREAM_HTTP, f"{tool}: unexpected result shape")
        if tool in EMBED_TOOLS:
            from .embed import finish_embedding

            dims = finisher.finish.get("dimensions")
            res = finish_embedding(data, dims if isinstance(dims, int) else None)
            res.tool = tool
            res.meta["batch"] = {"custom_id": result.get("custom_id")}
            return res
        c = parse_message(data)
        if c.error is not None:
            raise classify_upstream(None, {"error": c.error}, {}, context=tool)
        res = finisher(c)
    except ToolError as exc:
        res = ToolResult.from_error(tool, exc)
    res.tool = tool
    res.meta["batch"] = {"custom_id": result.get("custom_id")}
    return res


def dump_result(r: ToolResult) -> tuple[bool, str]:
    """``(ok, json)`` for the registry (media bytes are never stored)."""
    d = r.to_dict()
    d.pop("media", None)
    return r.ok, json.dumps(d, separators=(",", ":"), default=str)


def load_result(raw: str) -> ToolResult:
    d = json.loads(raw)
    res = ToolResult(
        tool=d.get("tool", ""),
        text=d.get("text") or "",
        is_error=bool(d.get("is_error")),
        code=d.get("code"),
        data=d.get("data"),
        meta=d.get("meta") or {},
        details=d.get("details"),
        suggestions=d.get("suggestions") or [],
        retry_after_seconds=d.get("retry_after_seconds"),
    )
    if res.tool in EMBED_TOOLS:
        from .embed import load_vectors

        load_vectors(res)
    return res


# ---- the engine -----------------------------------------------------------------------------


def new_batch_id() -> str:
    return "orb_" + uuid.uuid4().hex[:20]


class BatchEngine:
    """Submit, poll, collect and cancel one registry batch (``orb_…``) and its upstream chunks."""

    def __init__(self, settings: Settings) -> None:
        from ..jobs import get_job_store

        self.settings = settings
        self.store = get_job_store(settings)

    @property
    def client(self) -> Any:
        from ..client.http import get_client

        return get_client(self.settings)

    # -- submit
    async def submit(
        self,
        tool: str,
        arg_list: Sequence[dict[str, Any] | ToolResult],
        *,
        labels: Sequence[Any] | None = None,
        previews: Sequence[str] | None = None,
        max_requests: int = DEFAULT_MAX_REQUESTS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        on_progress: ProgressFn | None = None,
    ) -> str:
        """Register every item, then build and send the chunks; returns the registry id.

        ``arg_list`` holds each item's arguments (or a ``ToolResult`` error for an item that
        failed before it could be built). Bodies are built chunk by chunk, so media payloads
        never pile up in memory.
        """
        from ..jobs import backend_label

        if tool not in BATCH_TOOLS:
            raise _not_batchable(tool)
        if not arg_list:
            raise ToolError(ErrorCode.INVALID_INPUT, "no items to batch")
        max_requests = max(1, int(max_requests))
        bid = new_batch_id()
        n = len(arg_list)
        label_json = [None] * n if labels is None else [json.dumps(x, default=str) for x in labels]
        prev = list(previews) if previews is not None else [""] * n
        self.store.create_batch(
            id=bid,
            tool=tool,
            endpoint=endpoint_for(tool),
            model=None,
            backend=backend_label(self.settings),
            items=[(i, f"i{i}", label_json[i], prev[i]) for i in range(n)],
            params={"max_requests": max_requests, "max_bytes": max_bytes},
        )
        early: list[tuple[int, bool, str]] = []
        chunk: list[tuple[int, dict[str, Any]]] = []
        size = 0
        seq = 0
        model: str | None = None
        finish: dict[str, Any] | None = None

        async def flush() -> None:
            nonlocal chunk, size, seq
            if chunk:
                await self._send_chunk(bid, tool, seq, model or "", chunk, early)
                seq += 1
            if early:  # persist as we go: a crash later must not lose these
                self.store.save_batch_results(bid, early)
                early.clear()
            chunk, size = [], 0

        try:
            for i, args in enumerate(arg_list):
                if isinstance(args, ToolResult):
                    early.append((i, *dump_result(args)))
                    continue
                prep = await capture_body(tool, args, self.settings)
                if prep.body is None:
                    assert prep.error is not None
                    early.append((i, *dump_result(prep.error)))
                    continue
                if finish is None:
                    finish = finish_params(tool, prep.parsed)
                    self.store.update_batch(
                        bid, params={"max_requests": max_requests, "finish": finish}
                    )
                body = prep.body
                m = str(body.get("model") or "")
                nbytes = len(json.dumps(body, separators=(",", ":"), default=str)) + 40
                if chunk and (
                    m != model or len(chunk) >= max_requests or size + nbytes > max_bytes
                ):
                    await flush()
                model = m
                chunk.append((i, body))
                size += nbytes
            await flush()
        except BaseException:  # Ctrl-C / cancellation: what was sent still runs upstream
            if early:
                self.store.save_batch_results(bid, early)
            self._fail_unsent(bid, tool, "the submission was interrupted")
            raise
        self.store.update_batch(
            bid,
            status="in_progress",
            model=model,
            params={"max_requests": max_requests, "max_bytes": max_bytes, "finish": finish or {}},
        )
        await self.refresh(bid, poll=False, on_progress=on_progress)
        return bid

    async def _send_chunk(
        self,
        bid: str,
        tool: str,
        seq: int,
        model: str,
        chunk: list[tuple[int, dict[str, Any]]],
        early: list[tuple[int, bool, str]],
    ) -> None:
        payload = {
            "endpoint": endpoint_for(tool),
            "model": model,
            "completion_window": "24h",
            "requests": [{"custom_id": f"i{i}", "body": body} for i, body in chunk],
        }
        try:
            resp = await self.client.request_json(
                "POST", "/batches", json=payload, context="submit_batch", idempotent=False
            )
            data = resp.data if isinstance(resp.data, dict) else {}
            upstream = data.get("id")
            if not isinstance(upstream, str) or not upstream:
                raise ToolError(
                    ErrorCode.UPSTREAM_HTTP,
                    "submit_batch: the answer carries no batch id",
                    details={"reason": "shape"},
                )
        except ToolError as exc:
            ok, err = dump_result(ToolResult.from_error(tool, exc))
            early.extend((i, ok, err) for i, _ in chunk)
            return
        status = str(data.get("status") or "validating")
        self.store.add_batch_chunk(bid, upstream, seq, [i for i, _ in chunk], status)

    # -- poll / collect
    async def refresh(
        self, bid: str, *, poll: bool = True, on_progress: ProgressFn | None = None
    ) -> dict[str, Any]:
        """Poll every live chunk once, collect finished ones; return the counts by status."""
        rec = self._record(bid)
        if rec["status"] == "submitting":
            rec = self._adopt_orphan(rec)
        counts: dict[str, Any] = {}
        live_done: dict[str, tuple[int, int]] = {}
        for ch in self.store.batch_chunks(bid):
            if ch["status"] in TERMINAL or not poll:
                continue
            try:
                resp = await self.client.request_json(
                    "GET", f"/batches/{ch['upstream_id']}", context="get_batch_status"
                )
            except ToolError as exc:
                if (exc.details or {}).get(
                    "status"
                ) == 404:  # deleted upstream: nothing to wait for
                    await self._collect(rec, ch, {"status": "failed", "results": []})
                    continue
                raise
            data = resp.data if isinstance(resp.data, dict) else {}
            status = str(data.get("status") or ch["status"])
            if status in TERMINAL:
                await self._collect(rec, ch, data)
            else:
                rc = (
                    data.get("request_counts")
                    if isinstance(data.get("request_counts"), dict)
                    else {}
                )
                live_done[ch["upstream_id"]] = (
                    int(rc.get("completed") or 0),
                    int(rc.get("failed") or 0),
                )
                if status != ch["status"]:
                    self.store.update_batch_chunk(ch["upstream_id"], status)
        counts = self._counts(bid, live_done)
        status = self._overall(bid, counts)
        self.store.update_batch(bid, counts=counts, status=status)
        counts["status"] = status
        if on_progress is not None:
            r = on_progress(counts)
            if asyncio.iscoroutine(r):
                await r
        return counts

    def _adopt_orphan(self, rec: dict[str, Any]) -> dict[str, Any]:
        """A process that died while submitting leaves items never sent: fail those (they can
        be submitted again) and let the sent ones finish, instead of waiting forever."""
        from ..jobs import _pid_alive

        if _pid_alive(rec.get("owner_pid")):
            return rec
        self._fail_unsent(rec["id"], rec["tool"], "the submitting process exited first")
        return self._record(rec["id"])

    def _fail_unsent(self, bid: str, tool: str, why: str) -> None:
        ok, err = dump_result(
            ToolResult.from_error(
                tool,
                ToolError(
                    ErrorCode.JOB_FAILED,
                    f"{tool}: never submitted ({why})",
                    suggestions=["Submit these items again"],
                ),
            )
        )
        unsent = [
            (row["idx"], ok, err)
            for row in self.store.batch_items(bid, with_results=True)
            if row["upstream_id"] is None and row["result"] is None
        ]
        if unsent:
            self.store.save_batch_results(bid, unsent)
        self.store.update_batch(bid, status="in_progress")

    async def _collect(self, rec: dict[str, Any], ch: dict[str, Any], data: dict[str, Any]) -> None:
        tool = rec["tool"]
        finish = (rec.get("params") or {}).get("finish") or {}
        status = str(data.get("status"))
        items = self.store.batch_items(rec["id"], with_results=False)
        by_cid = {
            row["custom_id"]: row["idx"] for row in items if row["upstream_id"] == ch["upstream_id"]
        }
        out: list[tuple[int, bool, str]] = []
        finisher = Finisher(tool, finish, self.settings)
        for r in data.get("results") or []:
            if not isinstance(r, dict):
                continue
            idx = by_cid.pop(str(r.get("custom_id")), None)
            if idx is None:
                continue
            out.append((idx, *dump_result(to_tool_result(tool, r, finisher, self.settings))))
        if by_cid:  # requests the upstream never answered
            why = (
                (data.get("error") or {}).get("message")
                if isinstance(data.get("error"), dict)
                else None
            )
            code = ErrorCode.JOB_FAILED
            msg = f"{tool}: no result (batch {status}{': ' + why if why else ''})"
            ok, missing = dump_result(
                ToolResult.from_error(tool, ToolError(code, msg, details={"batch_status": status}))
            )
            out.extend((idx, ok, missing) for idx in by_cid.values())
        self.store.save_batch_results(rec["id"], out)
        self.store.update_batch_chunk(ch["upstream_id"], status)

    def _counts(self, bid: str, live: dict[str, tuple[int, int]]) -> dict[str, Any]:
        c = self.store.batch_item_counts(bid)
        for done, failed in live.values():  # finished upstream, not collected yet
            moved = min(c["in_progress"], done + failed)
            c["in_progress"] -= moved
            c["completed"] += min(done, moved)
            c["failed"] += moved - min(done, moved)
        chunks: dict[str, int] = {}
        for ch in self.store.batch_chunks(bid):
            chunks[ch["status"]] = chunks.get(ch["status"], 0) + 1
        return {"total": sum(c.values()), **c, "batches": chunks}

    def _overall(self, bid: str, counts: dict[str, Any]) -> str:
        rec = self._record(bid)
        if rec["status"] == "submitting":
            return "submitting"
        statuses = set(counts["batches"])
        if counts["pending"] or counts["in_progress"] or not statuses <= TERMINAL:
            return "cancelling" if "cancelling" in statuses else "in_progress"
        for s in ("cancelled", "expired"):
            if s in statuses:
                return s
        if counts["completed"] == 0:
            return "failed"
        return "completed"

    def _record(self, bid: str) -> dict[str, Any]:
        rec = self.store.get_batch(bid)
        if rec is None:
            raise ToolError(
                ErrorCode.INVALID_INPUT,
                f"Unknown batch: {bid}",
                suggestions=["or_magic.batches() lists the batches this machine knows"],
            )
        return rec

    async def wait(
        self,
        bid: str,
        *,
        poll_s: float | None = None,
        timeout_s: float | None = None,
        on_progress: ProgressFn | None = None,
    ) -> dict[str, Any]:
        """Poll until every chunk is terminal and collected (or ``timeout_s`` passes)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        polls = 0
        while True:
            # small batches finish in seconds, big ones in hours: back off from 0.5 s to 30 s
            interval = (
                poll_s
                if poll_s is not None
                else 0.05
                if self.settings.offline
                else min(30.0, 0.5 * 1.5**polls)
            )
            polls += 1
            counts = await self.refresh(bid, on_progress=on_progress)
            if counts["status"] in TERMINAL:
                return counts
            if deadline is not None and time.monotonic() >= deadline:
                raise ToolError(
                    ErrorCode.JOB_STILL_RUNNING,
                    f"batch {bid} is still {counts['status']} "
                    f"({counts['completed'] + counts['failed']}/{counts['total']} done)",
                    details={"batch_id": bid, "counts": counts},
                    suggestions=[f"Wait again later: or_magic.batch({bid!r}).wait()"],
                )
            if deadline is not None:
                interval = max(0.0, min(interval, deadline - time.monotonic()))
            await asyncio.sleep(interval)

    async def cancel(self, bid: str) -> dict[str, Any]:
        """Ask OpenRouter to cancel every live chunk; finished requests keep their results."""
        self._record(bid)
        for ch in self.store.batch_chunks(bid):
            if ch["status"] in TERMINAL:
                continue
            try:
                await self.client.request_json(
                    "POST",
                    f"/batches/{ch['upstream_id']}/cancel",
                    json={},
                    context="cancel_batch",
                    idempotent=False,
                )
            except ToolError as exc:
                if (exc.details or {}).get("status") != 409:  # 409: it finished meanwhile
                    raise
            self.store.update_batch_chunk(ch["upstream_id"], "cancelling")
        return await self.refresh(bid, poll=False)

    def results(self, bid: str) -> list[ToolResult | None]:
        """Collected results in input order (``None`` where an item is still running)."""
        rows = self.store.batch_items(bid, with_results=True)
        return [load_result(r["result"]) if r["result"] is not None else None for r in rows]

    def labels(self, bid: str) -> list[Any]:
        rows = self.store.batch_items(bid, with_results=False)
        return [json.loads(r["label"]) if r["label"] is not None else r["idx"] for r in rows]

    def previews(self, bid: str) -> list[str]:
        return [r["preview"] or "" for r in self.store.batch_items(bid, with_results=False)]
