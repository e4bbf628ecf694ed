"""search_models, get_model_info, validate_model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import SUGGEST_SEARCH_MODELS, ErrorCode, ToolError
from ..result import ToolResult
from .base import ToolContext, ToolSpec, describe, lookup_annotations
from .catalog import (
    Indexed,
    close_matches,
    ensure_catalog,
    find_model,
    is_free,
    modalities,
    search_index,
)
from .common import StrictModel, split_suffix

InMod = Literal["text", "image", "audio", "video", "file"]
OutMod = Literal[
    "text", "image", "audio", "video", "embeddings", "rerank", "speech", "transcription"
]


class Capabilities(StrictModel):
    vision: bool | None = Field(None, description="Accepts image input")
    audio: bool | None = Field(None, description="Accepts audio input")
    video: bool | None = Field(None, description="Accepts video input")
    image_output: bool | None = Field(None, description="Generates images")
    audio_output: bool | None = Field(None, description="Generates audio/speech")
    video_output: bool | None = Field(None, description="Generates video")


LIMIT_MIN, LIMIT_MAX = 1, 50


def clamp_paging(limit: int, offset: int) -> tuple[int, int, dict[str, dict[str, int]]]:
    """(limit, offset, what was clamped: {name: {given, used}})."""
    used_limit = min(LIMIT_MAX, max(LIMIT_MIN, limit))
    used_offset = max(0, offset)
    clamped = {
        name: {"given": given, "used": used}
        for name, given, used in (("limit", limit, used_limit), ("offset", offset, used_offset))
        if given != used
    }
    return used_limit, used_offset, clamped


class SearchInput(StrictModel):
    query: str | None = Field(None, description="Substring of the id or name (case-insensitive)")
    provider: str | None = Field(None, description="Author prefix, e.g. 'openai' or 'google'")
    capabilities: Capabilities | None = None
    input_modalities: list[InMod] | None = Field(None, description="All of these input modalities")
    output_modalities: list[OutMod] | None = Field(
        None, description="All of these output modalities"
    )
    free_only: bool | None = Field(None, description="Only free models (:free or zero pricing)")
    # Out-of-range paging is clamped (to 1–50 and ≥ 0) like the Node server, not refused; the
    # schema still advertises the range, and the result says when a value was clamped.
    limit: int = Field(20, json_schema_extra={"minimum": LIMIT_MIN, "maximum": LIMIT_MAX})
    offset: int = Field(0, json_schema_extra={"minimum": 0})

    @field_validator("query", "provider")
    @classmethod
    def _norm(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = v.strip().rstrip("/")
        return v or None


class SearchOutput(BaseModel):
    model_config = ConfigDict(extra="allow")
    results: list[dict[str, Any]]
    offset: int
    limit: int
    total: int
    has_more: bool
    next_offset: int | None


def _matcher(a: SearchInput) -> Callable[[Indexed], bool]:
    """The filter for these arguments, with everything that does not depend on the model
    worked out once (the catalog side is precomputed in ``search_index``)."""
    q = split_suffix(a.query.lower())[0] if a.query else None
    prefix = a.provider.lower() + "/" if a.provider else None
    need_in = set(a.input_modalities or [])
    need_out = set(a.output_modalities or [])
    any_out: list[set[str]] = []
    cap = a.capabilities
    if cap:
        for flag, mod in ((cap.vision, "image"), (cap.audio, "audio"), (cap.video, "video")):
            if flag:
                need_in.add(mod)
        for flag, mods in (
            (cap.image_output, {"image"}),
            (cap.audio_output, {"audio", "speech"}),
            (cap.video_output, {"video"}),
        ):
            if flag:
                any_out.append(mods)
    free_only = bool(a.free_only)

    def match(m: Indexed) -> bool:
        if q is not None and q not in m.id_lower and q not in m.name_lower:
            return False
        if prefix is not None and not m.id_lower.startswith(prefix):
            return False
        if any_out and not all(m.outs & mods for mods in any_out):
            return False
        if not need_in <= m.ins or not need_out <= m.outs:
            return False
        return not (free_only and not m.free)

    return match


async def search_models(args: SearchInput, ctx: ToolContext) -> ToolResult:
    models, info = await ensure_catalog(ctx)
    match = _matcher(args)
    hits = [m for m in search_index(models) if match(m)]
    total = len(hits)
    limit, offset, clamped = clamp_paging(args.limit, args.offset)
    page = hits[offset : offset + limit]
    has_more = offset + limit < total
    data: dict[str, Any] = {
        "results": [m.model for m in page],
        "offset": offset,
        "limit": limit,
        "total": total,
        "has_more": has_more,
        "next_offset": offset + limit if has_more else None,
    }
    lines = [f"{total} model(s) match; showing {len(page)} from offset {offset}."]
    if clamped:
        data["clamped"] = clamped
        lines.append(
            "Note: "
            + "; ".join(f"{k} {v['given']} was clamped to {v['used']}" for k, v in clamped.items())
            + f" ({k_range()})."
        )
    lines.extend(m.line for m in page)
    meta: dict[str, Any] = {"catalog": info}
    return ToolResult(tool="search_models", text="\n".join(lines), data=data, meta=meta)


def k_range() -> str:
    return f"limit is {LIMIT_MIN}–{LIMIT_MAX}, offset ≥ 0"


class ModelInput(StrictModel):
    model: str = Field(
        ...,
        description="Model id, e.g. openai/gpt-4o (routing suffixes like :nitro are understood)",
    )

    @field_validator("model")
    @classmethod
    def _m(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("model is required")
        return v


class ModelInfoOutput(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    name: str | None = None
    context_length: int | None = None
    architecture: dict[str, Any] | None = None


async def get_model_info(args: ModelInput, ctx: ToolContext) -> ToolResult:
    model, info = await find_model(ctx, args.model)
    if model is None:
        near = close_matches(ctx, args.model)
        raise ToolError(
            ErrorCode.MODEL_NOT_FOUND,
            f"Model '{args.model}' not found.",
            details={"model": args.model, **({"did_you_mean": near} if near else {})},
            suggestions=([f"Did you mean: {', '.join(near)}"] if near else [])
            + [SUGGEST_SEARCH_MODELS],
        )
    ins, outs = modalities(model)
    pricing = model.get("pricing") or {}
    lines = [
        f"{model['id']} — {model.get('name', '')}",
        f"context: {model.get('context_length')}; input: {', '.join(sorted(ins))}; output: {', '.join(sorted(outs))}",
        f"pricing (USD/token): prompt {pricing.get('prompt')}, completion {pricing.get('completion')}"
        + (" (free)" if is_free(model) else ""),
    ]
    return ToolResult(
        tool="get_model_info", text="\n".join(lines), data=dict(model), meta={"catalog": info}
    )


class ValidateOutput(BaseModel):
    model_config = ConfigDict(extra="allow")
    valid: bool
    model: str


async def validate_model(args: ModelInput, ctx: ToolContext) -> ToolResult:
    model, info = await find_model(ctx, args.model)
    data: dict[str, Any] = {"valid": model is not None, "model": args.model}
    if model is not None:
        data["resolved_id"] = model["id"]
        _, suffix = split_suffix(args.model)
        if suffix:
            data["routing_suffix"] = suffix
        text = f"{args.model} is a valid model id" + (
            f" (resolves to {model['id']})" if model["id"] != args.model else ""
        )
    else:
        near = close_matches(ctx, args.model)
        if near:
            data["did_you_mean"] = near
        text = f"{args.model} is not a known model id" + (
            f"; did you mean {', '.join(near)}?" if near else ""
        )
    return ToolResult(tool="validate_model", text=text, data=data, meta={"catalog": info})


_WORKS = "chat_completion, analyze_*, generate_* (pass the id as model)."

TOOLS = [
    ToolSpec(
        name="search_models",
        title="Search models",
        description=describe(
            "Search the OpenRouter model catalog (cached) by text, author, input/output modality and price.",
            use_when="you need a model id: e.g. a vision model, a free model, an image/audio/video generator.",
            not_when="you already know the exact id (use get_model_info or validate_model).",
            good=[
                '{"query": "gemini", "capabilities": {"vision": true}}',
                '{"output_modalities": ["image"], "limit": 5}',
                '{"free_only": true}',
            ],
            bad=['{"limit": 500} (clamped to 50, and the result says so; page with offset)'],
            fails="INVALID_CREDENTIALS / UPSTREAM_HTTP / UPSTREAM_TIMEOUT when the catalog cannot be fetched.",
            works_with=_WORKS,
        ),
        input_model=SearchInput,
        output_model=SearchOutput,
        handler=search_models,
        annotations=lookup_annotations("Search models"),
    ),
    ToolSpec(
        name="get_model_info",
        title="Model details",
        description=describe(
            "Return the full catalog record of one model: context length, modalities, pricing, parameters.",
            use_when="you need a model's limits or price before calling it.",
            not_when="you are searching (use search_models).",
            good=['{"model": "openai/gpt-4o"}', '{"model": "openai/gpt-4o:nitro"}'],
            bad=['{"model": ""}'],
            fails="MODEL_NOT_FOUND for unknown ids (with close matches); catalog fetch errors.",
            works_with=_WORKS,
        ),
        input_model=ModelInput,
        output_model=ModelInfoOutput,
        handler=get_model_info,
        annotations=lookup_annotations("Model details"),
    ),
    ToolSpec(
        name="validate_model",
        title="Validate a model id",
        description=describe(
            "Check whether a model id exists (valid=false is a normal result, not an error).",
            use_when="pre-flighting a user-supplied model id.",
            not_when="you need details (use get_model_info).",
            good=['{"model": "anthropic/claude-sonnet-4.5"}'],
            bad=['{"model": "   "}'],
            fails="only when the catalog cannot be fetched (INVALID_CREDENTIALS, UPSTREAM_*).",
            works_with=_WORKS,
        ),
        input_model=ModelInput,
        output_model=ValidateOutput,
        handler=validate_model,
        annotations=lookup_annotations("Validate a model id"),
    ),
]
