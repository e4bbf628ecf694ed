"""rerank_documents."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import ErrorCode, ToolError
from ..result import ToolResult
from .base import ToolContext, ToolSpec, describe, lookup_annotations
from .common import (
    ProviderPrefs,
    StrictModel,
    add_usage_and_cost,
    cap_text,
    clean_model,
    merge_provider,
    usage_meta,
)

MAX_DOCS = 1000


class RerankInput(StrictModel):
    query: str = Field(..., description="What the documents should be relevant to")
    documents: list[str] = Field(
        ..., min_length=1, max_length=MAX_DOCS, description="Texts to rank (1–1000)"
    )
    model: str | None = Field(
        None, description="Default cohere/rerank-v3.5 (OPENROUTER_DEFAULT_RERANK_MODEL)"
    )
    top_n: int | None = Field(None, ge=1, description="Return only the best N")
    return_documents: bool = Field(
        False,
        description="Include each document's text in the results (default false, like the Node "
        "server; applied locally: the /rerank API has no such field)",
    )
    provider: ProviderPrefs | None = None

    @field_validator("query")
    @classmethod
    def _q(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("query is required")
        return v

    @field_validator("documents")
    @classmethod
    def _docs(cls, v: list[str]) -> list[str]:
        for i, d in enumerate(v):
            if not d.strip():
                raise ValueError(f"documents[{i}] is empty")
        return v


class RerankItem(BaseModel):
    index: int
    score: float
    document: str | None = None


class RerankOutput(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str
    results: list[RerankItem]


async def rerank_documents(args: RerankInput, ctx: ToolContext) -> ToolResult:
    model = clean_model(args.model) or ctx.settings.default_rerank_model
    body: dict[str, Any] = {"model": model, "query": args.query, "documents": args.documents}
    if args.top_n:
        body["top_n"] = args.top_n
    provider = merge_provider(args.provider, ctx.settings)
    if provider:
        body["provider"] = provider
    resp = await ctx.client.request_json("POST", "/rerank", json=body, context="rerank")
    raw = resp.data.get("results") if isinstance(resp.data, dict) else None
    if not isinstance(raw, list):
        raise ToolError(
            ErrorCode.UPSTREAM_HTTP,
            "rerank: response has no results list",
            details={"reason": "shape"},
        )
    results: list[dict[str, Any]] = []
    for r in raw:
        if not isinstance(r, dict):
            continue
        idx = r.get("index")
        if not isinstance(idx, int) or not 0 <= idx < len(args.documents):
            continue  # out-of-range index from upstream: drop rather than crash
        score = r.get("relevance_score", r.get("score"))
        if not isinstance(score, (int, float)) or isinstance(score, bool) or math.isnan(score):
            continue
        item: dict[str, Any] = {"index": idx, "score": float(score)}
        if args.return_documents:
            doc = r.get("document")
            text = (
                doc if isinstance(doc, str) else doc.get("text") if isinstance(doc, dict) else None
            )
            item["document"] = text if isinstance(text, str) else args.documents[idx]
        results.append(item)
    results.sort(key=lambda x: x["score"], reverse=True)
    if args.top_n:
        results = results[: args.top_n]
    served = resp.data.get("model") if isinstance(resp.data.get("model"), str) else model
    data = {"model": served, "results": results}
    meta: dict[str, Any] = {"model": served}
    add_usage_and_cost(meta, usage_meta(resp.data.get("usage")))
    lines = [
        f"{i + 1}. [{r['index']}] {r['score']:.4f}"
        + (f"  {r['document'][:80]}" if r.get("document") else "")
        for i, r in enumerate(results)
    ]
    text = cap_text("\n".join(lines), ctx.settings, meta)
    return ToolResult(tool="rerank_documents", text=text, data=data, meta=meta)


TOOLS = [
    ToolSpec(
        name="rerank_documents",
        title="Rerank documents",
        description=describe(
            "Order documents by relevance to a query with a rerank model.",
            use_when="you have candidate passages (search hits, chunks) and need the best ones first.",
            not_when="you need generated text (chat_completion) or embeddings.",
            good=[
                '{"query": "tides", "documents": ["The moon pulls the sea", "Cats sleep a lot"]}'
            ],
            bad=['{"query": "", "documents": []}'],
            fails="INVALID_INPUT (blank query, empty/too many documents), MODEL_NOT_FOUND, upstream errors.",
            works_with="chat_completion (answer from the top documents).",
        ),
        input_model=RerankInput,
        output_model=RerankOutput,
        handler=rerank_documents,
        annotations=lookup_annotations("Rerank documents"),
    ),
]
