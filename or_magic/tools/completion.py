"""Run one chat completion (streamed or not) and turn the answer into text + meta.

Shared by chat_completion, the background chat jobs and the analyze tools, so the reasoning-cutoff,
refusal, content-filter and tool-call rules are the same everywhere.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import ErrorCode, ToolError
from ..log import preview
from .base import ToolContext
from .common import add_usage_and_cost, cache_meta, usage_meta

CUTOFF_MESSAGE = (
    "Model exhausted max_tokens during internal reasoning without emitting a final answer. "
    "Raise max_tokens or choose a non-reasoning model."
)


@dataclass
class Completion:
    text: str = ""
    reasoning: str | None = None
    reasoned_only: bool = False
    refusal: str | None = None
    finish_reason: str | None = None
    native_finish_reason: str | None = None
    model: str | None = None
    provider: str | None = None
    generation_id: str | None = None
    usage: dict[str, Any] | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    annotations: list[dict[str, Any]] = field(default_factory=list)
    images: list[str] = field(default_factory=list)  # image URLs (data: or https:) from the answer
    headers: dict[str, str] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    truncated: bool = False  # the stream closed before a finish_reason or [DONE]


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p.get("text", "")
            for p in content
            if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def _reasoning_text(msg: dict[str, Any]) -> str | None:
    r = msg.get("reasoning")
    if isinstance(r, str) and r.strip():
        return r
    details = msg.get("reasoning_details")
    if isinstance(details, list):
        texts = [d.get("text") or d.get("summary") for d in details if isinstance(d, dict)]
        joined = "\n".join(t for t in texts if isinstance(t, str) and t)
        return joined or None
    return None


def _image_urls(msg: dict[str, Any]) -> list[str]:
    urls: list[str] = []
    for img in msg.get("images") or []:
        if isinstance(img, dict):
            u = (
                (img.get("image_url") or {}).get("url")
                if isinstance(img.get("image_url"), dict)
                else None
            )
            u = u or img.get("url")
            if isinstance(u, str):
                urls.append(u)
    return urls


def parse_message(data: dict[str, Any], headers: dict[str, str] | None = None) -> Completion:
    """A non-streaming response body → ``Completion``."""
    choices = data.get("choices") or []
    choice = choices[0] if choices and isinstance(choices[0], dict) else {}
    msg = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    c = Completion(
        model=data.get("model"),
        provider=data.get("provider"),
        generation_id=data.get("id"),
        usage=data.get("usage") if isinstance(data.get("usage"), dict) else None,
        finish_reason=choice.get("finish_reason"),
        native_finish_reason=choice.get("native_finish_reason"),
        headers=dict(headers or {}),
    )
    c.text = _content_text(msg.get("content"))
    c.reasoning = _reasoning_text(msg)
    c.refusal = msg.get("refusal") if isinstance(msg.get("refusal"), str) else None
    c.tool_calls = [t for t in msg.get("tool_calls") or [] if isinstance(t, dict)]
    c.annotations = [a for a in msg.get("annotations") or [] if isinstance(a, dict)]
    c.images = _image_urls(msg)
    if isinstance(msg.get("content"), list):
        for part in msg["content"]:
            if isinstance(part, dict) and part.get("type") == "image_url":
                u = (part.get("image_url") or {}).get("url")
                if isinstance(u, str):
                    c.images.append(u)
    if isinstance(choice.get("error"), dict):
        c.error = choice["error"]
    if not c.text.strip() and c.reasoning and not c.refusal:
        c.text, c.reasoned_only = c.reasoning, True
    return c


def chunk_choices(event: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Each choice of one streamed ``chat.completion.chunk`` with its ``delta`` (``{}`` when
    missing); a choice that is not an object is skipped, as a hostile stream may send one."""
    for choice in event.get("choices") or []:
        if isinstance(choice, dict):
            yield choice, choice.get("delta") or {}


class StreamAccumulator:
    """Folds SSE chunks into a ``Completion``; text deltas go to the context as they arrive."""

    def __init__(self, ctx: ToolContext) -> None:
        self.ctx = ctx
        self.c = Completion()
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._tool_calls: dict[int, dict[str, Any]] = {}

    async def feed(self, event: dict[str, Any]) -> None:
        c = self.c
        if event.get("__truncated__"):
            c.truncated = True
            return
        if "__full_response__" in event:  # server ignored stream:true
            full = parse_message(event["__full_response__"], c.headers)
            full.headers = c.headers
            self.c = full
            await self.ctx.text(full.text)
            self._text = [full.text]
            return
        c.model = event.get("model") or c.model
        c.provider = event.get("provider") or c.provider
        c.generation_id = event.get("id") or c.generation_id
        if isinstance(event.get("usage"), dict):
            c.usage = event["usage"]
        for choice, delta in chunk_choices(event):
            piece = delta.get("content")
            if isinstance(piece, str) and piece:
                self._text.append(piece)
                await self.ctx.text(piece)
            r = delta.get("reasoning")
            if isinstance(r, str) and r:
                self._reasoning.append(r)
            if isinstance(delta.get("refusal"), str):
                c.refusal = (c.refusal or "") + delta["refusal"]
            for tc in delta.get("tool_calls") or []:
                idx = tc.get("index", 0)
                slot = self._tool_calls.setdefault(
                    idx, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
                )
                if tc.get("id"):
                    slot["id"] = tc["id"]
                fn = tc.get("function") or {}
                if fn.get("name"):
                    slot["function"]["name"] += fn["name"]
                if fn.get("arguments"):
                    slot["function"]["arguments"] += fn["arguments"]
            c.images.extend(_image_urls(delta))
            for a in delta.get("annotations") or []:
                if isinstance(a, dict):
                    c.annotations.append(a)
            if choice.get("finish_reason"):
                c.finish_reason = choice["finish_reason"]
            if choice.get("native_finish_reason"):
                c.native_finish_reason = choice["native_finish_reason"]

    def result(self) -> Completion:
        c = self.c
        if self._text:
            c.text = "".join(self._text)
        if self._reasoning:
            c.reasoning = "".join(self._reasoning)
        if self._tool_calls:
            c.tool_calls = [self._tool_calls[i] for i in sorted(self._tool_calls)]
        if not c.text.strip() and c.reasoning and not c.refusal:
            c.text, c.reasoned_only = c.reasoning, True
        return c

    @property
    def partial_text(self) -> str:
        return "".join(self._text)


async def run_completion(
    ctx: ToolContext,
    body: dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
    stream: bool,
    context: str,
) -> Completion:
    """Send ``body`` to /chat/completions; raise ``ToolError`` for any upstream failure."""
    client = ctx.client
    if not stream:
        resp = await client.request_json(
            "POST", "/chat/completions", json=body, headers=headers, context=context
        )
        if not isinstance(resp.data, dict):
            raise ToolError(
                ErrorCode.UPSTREAM_HTTP,
                f"{context}: unexpected response shape",
                details={"reason": "shape"},
            )
        c = parse_message(resp.data, resp.headers)
        if c.error is not None:
            from ..client.classify import classify_upstream

            err = classify_upstream(None, {"error": c.error}, resp.headers, context=context)
            if c.text:
                err.details = {**(err.details or {}), "partial_text": preview(c.text, 500)}
            raise err
        return c
    acc = StreamAccumulator(ctx)

    def _grab(h: dict[str, str]) -> None:
        acc.c.headers = h

    try:
        events = client.stream_sse(
            "/chat/completions",
            {**body, "stream": True},
            headers=headers,
            context=context,
            on_headers=_grab,
        )
        async with contextlib.aclosing(events):  # close the HTTP stream now, not at loop teardown
            async for event in events:
                await acc.feed(event)
    except ToolError as err:
        if acc.partial_text:
            err.details = {**(err.details or {}), "partial_text": preview(acc.partial_text, 500)}
        raise
    return acc.result()


def completion_meta(c: Completion, *, want_reasoning: bool) -> dict[str, Any]:
    """The Node server's chat ``_meta`` plus ours (model, cost, generation id)."""
    meta: dict[str, Any] = {"finish_reason": c.finish_reason}
    if c.truncated:
        meta["truncated"] = True
    if c.native_finish_reason:
        meta["native_finish_reason"] = c.native_finish_reason
    if want_reasoning and c.reasoning and not c.reasoned_only:
        meta["reasoning"] = c.reasoning
    add_usage_and_cost(meta, usage_meta(c.usage))
    if c.model:
        meta["model"] = c.model
    if c.provider:
        meta["provider"] = c.provider
    if c.generation_id:
        meta["generation_id"] = c.generation_id
    cm = cache_meta(c.headers)
    if cm:
        meta["cache"] = cm
    if c.annotations:
        meta["citations"] = [
            a.get("url_citation")
            for a in c.annotations
            if a.get("type") == "url_citation" and a.get("url_citation")
        ]
    return meta


def check_answer(c: Completion, *, label: str) -> None:
    """Raise for answers that carry no usable text (the Node server's classifyEmptyCompletion)."""
    details: dict[str, Any] = {"finish_reason": c.finish_reason}
    if c.native_finish_reason:
        details["native_finish_reason"] = c.native_finish_reason
    if c.reasoned_only and c.finish_reason == "length":
        d: dict[str, Any] = {
            "finish_reason": c.finish_reason,
            "reasoning_preview": (c.reasoning or "")[:200],
        }
        u = usage_meta(c.usage)
        if u:
            d["usage"] = {
                k: u[k] for k in ("prompt_tokens", "completion_tokens", "total_tokens") if k in u
            }
        raise ToolError(
            ErrorCode.INVALID_INPUT,
            CUTOFF_MESSAGE,
            details=d,
            suggestions=[
                "Raise max_tokens (reasoning models spend tokens before answering)",
                "Or set reasoning={'effort': 'low'}",
            ],
        )
    if c.text.strip() or c.refusal:
        return
    if c.truncated:
        raise ToolError(
            ErrorCode.UPSTREAM_HTTP,
            f"{label}: the stream ended before the model produced any text",
            details={**details, "reason": "truncated", "truncated": True},
            suggestions=["Retry", "Try another model or provider"],
        )
    if c.finish_reason == "content_filter":
        raise ToolError(
            ErrorCode.UPSTREAM_REFUSED,
            f"{label}: the provider's content filter blocked the answer",
            details={**details, "reason": "content_filter"},
            suggestions=["Rephrase the prompt", "Try another model or provider"],
        )
    if c.finish_reason == "length":
        raise ToolError(
            ErrorCode.INVALID_INPUT,
            f"{label}: max_tokens was reached before any text was produced",
            details=details,
            suggestions=["Raise max_tokens"],
        )
    if c.tool_calls or c.finish_reason in ("tool_calls", "function_call"):
        raise ToolError(
            ErrorCode.INVALID_INPUT,
            f"{label}: the model answered with tool calls instead of text",
            details={**details, "tool_calls": c.tool_calls[:5]},
            suggestions=["Remove tools from the request, or handle tool_calls yourself"],
        )
    raise ToolError(
        ErrorCode.INTERNAL, f"{label}: model returned no textual content.", details=details
    )
