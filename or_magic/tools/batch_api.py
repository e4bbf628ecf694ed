"""submit_batch and get_batch_status: big jobs through OpenRouter's Batch API, for any front-end.

The work is done by ``batch_engine``; these tools only validate, call it and shape a
``ToolResult`` (counts by status in ``data``, results page by page once finished), so an agent can
hand off 10,000 prompts, come back later (even from another process) and page through answers.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from ..errors import ErrorCode, ToolError
from ..result import ToolResult
from .base import ToolContext, ToolSpec, describe, lookup_annotations, paid_annotations
from .batch_engine import DEFAULT_MAX_REQUESTS, TERMINAL, BatchEngine
from .common import StrictModel

MAX_ITEMS = 100_000
RESULTS_PAGE_MAX = 1000


class SubmitBatchInput(StrictModel):
    tool: Literal[
        "chat_completion",
        "analyze_image",
        "analyze_audio",
        "analyze_video",
        "analyze_media",
        "embed_texts",
    ] = Field("chat_completion", description="The tool to run once per item")
    items: list[str | dict[str, Any]] = Field(
        ...,
        min_length=1,
        max_length=MAX_ITEMS,
        description="One entry per request: the tool's main input (prompt, image_path, ...) or "
        "a dict of its arguments",
    )
    args: dict[str, Any] | None = Field(
        None, description="Arguments shared by every item (model, system, question, ...)"
    )
    batch_size: int | None = Field(
        None,
        ge=1,
        le=10_000,
        description=f"Requests per upstream batch (default {DEFAULT_MAX_REQUESTS})",
    )


class BatchStatusInput(StrictModel):
    batch_id: str = Field(..., description="The id submit_batch returned (orb_…)")
    wait: bool = Field(False, description="Keep polling until the batch finishes or max_wait_ms")
    max_wait_ms: int | None = Field(None, ge=100, description="With wait: the longest wait")
    results_offset: int = Field(0, ge=0, description="First result to return once finished")
    results_limit: int = Field(
        100, ge=0, le=RESULTS_PAGE_MAX, description="How many results to return (0 = none)"
    )

    @field_validator("batch_id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("batch_id is required")
        return v.strip()


def _counts_text(bid: str, c: dict[str, Any]) -> str:
    return (
        f"Batch {bid}: {c.get('status')} · {c.get('completed', 0)} completed, "
        f"{c.get('failed', 0)} failed, {c.get('in_progress', 0)} in progress, "
        f"{c.get('pending', 0)} pending of {c.get('total', 0)}"
    )


async def submit_batch(args: SubmitBatchInput, ctx: ToolContext) -> ToolResult:
    from ..batch import build_args

    common = dict(args.args or {})
    arg_list: list[Any] = []
    for i, item in enumerate(args.items):
        try:
            arg_list.append(build_args(args.tool, item, common))
        except Exception as exc:  # a malformed item is that item's error, not the batch's
            err = ToolError(ErrorCode.INVALID_INPUT, f"items[{i}]: {exc}")
            arg_list.append(ToolResult.from_error(args.tool, err))
    engine = BatchEngine(ctx.settings)
    bid = await engine.submit(
        args.tool,
        arg_list,
        max_requests=args.batch_size or DEFAULT_MAX_REQUESTS,
    )
    counts = await engine.refresh(bid, poll=False)
    await ctx.progress(0, counts["total"], _counts_text(bid, counts), status=counts["status"])
    text = (
        _counts_text(bid, counts)
        + f'\nCheck it with get_batch_status {{"batch_id": "{bid}"}} (OpenRouter may take up'
        " to 24 h)."
    )
    return ToolResult(
        tool="submit_batch", text=text, data={"batch_id": bid, "counts": counts}, meta={}
    )


async def get_batch_status(args: BatchStatusInput, ctx: ToolContext) -> ToolResult:
    engine = BatchEngine(ctx.settings)
    bid = engine._record(args.batch_id)["id"]

    async def report(c: dict[str, Any]) -> None:
        done = int(c.get("completed", 0)) + int(c.get("failed", 0))
        await ctx.progress(done, c.get("total"), _counts_text(bid, c), status=c.get("status"))

    if args.wait:
        timeout = args.max_wait_ms / 1000 if args.max_wait_ms else None
        try:
            counts = await engine.wait(bid, timeout_s=timeout, on_progress=report)
        except ToolError as exc:
            if exc.code != ErrorCode.JOB_STILL_RUNNING:
                raise
            counts = (exc.details or {}).get("counts") or await engine.refresh(bid, poll=False)
    else:
        counts = await engine.refresh(bid, on_progress=report)
    data: dict[str, Any] = {"batch_id": bid, "counts": counts}
    text = _counts_text(bid, counts)
    if counts["status"] in TERMINAL and args.results_limit:
        results = engine.results(bid)
        page = results[args.results_offset : args.results_offset + args.results_limit]
        data["results"] = [
            {
                "index": args.results_offset + j,
                "ok": r.ok,
                "code": r.code,
                "text": r.text,
                **({"data": r.data} if r.data is not None else {}),
            }
            for j, r in enumerate(page)
            if r is not None
        ]
        data["next_offset"] = (
            args.results_offset + len(page)
            if args.results_offset + len(page) < len(results)
            else None
        )
        text += f"\nResults {args.results_offset}–{args.results_offset + len(page) - 1} in data."
    result = ToolResult(tool="get_batch_status", text=text, data=data, meta={})
    if counts["status"] not in TERMINAL:
        result.code = ErrorCode.JOB_STILL_RUNNING.value
    return result


TOOLS = [
    ToolSpec(
        name="submit_batch",
        title="Submit a batch job",
        description=describe(
            "Run chat or media analysis over many items as OpenRouter Batch API jobs (hours, not "
            "seconds; the job survives restarts). Returns a batch id at once.",
            use_when="you have hundreds to hundreds of thousands of prompts/files and can wait.",
            not_when="you need the answers now or have a handful of items (call the tool itself).",
            good=[
                '{"items": ["Label: great phone", "Label: broke in a day"], '
                '"args": {"system": "Answer positive or negative"}}',
                '{"tool": "analyze_image", "items": ["a.jpg", "b.jpg"], "args": {"question": "What is it?"}}',
            ],
            bad=['{"items": []}', '{"tool": "generate_video", "items": ["a cat"]}'],
            fails="INVALID_INPUT (no items, tool not batchable), upstream errors on submit; bad "
            "items fail one by one.",
            works_with="get_batch_status (progress and results).",
        ),
        input_model=SubmitBatchInput,
        handler=submit_batch,
        annotations=paid_annotations("Submit a batch job"),
    ),
    ToolSpec(
        name="get_batch_status",
        title="Batch status and results",
        description=describe(
            "Counts by status of a submitted batch and, once finished, its results in input order "
            "(paged), each ok or with its error code.",
            use_when="you submitted a batch (submit_batch) and want its progress or answers.",
            not_when="you ran a single tool call (its answer is already in the result).",
            good=[
                '{"batch_id": "orb_0123456789abcdef0123"}',
                '{"batch_id": "orb_0123456789abcdef0123", "wait": true, "max_wait_ms": 60000}',
            ],
            bad=['{"batch_id": ""}'],
            fails="INVALID_INPUT (unknown batch id); JOB_STILL_RUNNING while it runs.",
            works_with="submit_batch.",
        ),
        input_model=BatchStatusInput,
        handler=get_batch_status,
        annotations=lookup_annotations("Batch status and results"),
    ),
]
