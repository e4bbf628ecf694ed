"""Spending limits: estimate a call's cost before sending it, refuse when it would go over.

Why: nothing capped spend, and a notebook loop can spend a lot quickly. Two limits, both checked
before anything is sent (a refusal costs nothing): a session budget (``OR_MAGIC_BUDGET_USD`` for
the MCP server and scripts, ``%config OpenRouterMagics.budget_usd = 5`` in a kernel) against the
cost already recorded in this process (``usage.totals()``), and a per-call ceiling
(``%%openrouter --max-cost 0.05``). A refusal is ``BUDGET_EXCEEDED`` and says the estimate and
what is left.

The estimate is an upper bound from the catalogue's prices: prompt tokens estimated from the
request (``context_window.estimate_*``: 4 characters per token), completion tokens = ``max_tokens``
or the model's completion cap (else its context window), plus per-request, per-input-image,
per-output-image (``n``) and, for video, per-second prices times the duration. A model missing
from the catalogue, or one without prices, cannot be estimated: the call goes ahead and
``meta.cost_estimate`` says ``None``. Cache hits are free and never refused.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import ErrorCode, ToolError

if TYPE_CHECKING:  # pragma: no cover
    from .tools.base import ToolContext

_DEFAULT_MODEL_FIELD = {
    "analyze_image": ("default_vision_model", "DEFAULT_VISION_MODEL"),
    "analyze_media": ("default_vision_model", "DEFAULT_VISION_MODEL"),
    "analyze_audio": ("default_audio_model", "DEFAULT_AUDIO_MODEL"),
    "analyze_video": ("default_video_model", "DEFAULT_VIDEO_MODEL"),
    "generate_image": ("default_image_model", None),
    "generate_image_dedicated": ("default_image_model", None),
    "generate_audio": ("default_audio_gen_model", None),
    "text_to_speech": ("default_tts_model", None),
    "speech_to_text": ("default_stt_model", None),
    "generate_video": ("default_video_gen_model", None),
    "generate_video_from_image": ("default_video_gen_model", None),
    "rerank_documents": ("default_rerank_model", None),
}
_FREE_TOOLS = frozenset(
    {
        "get_chat_completion_status",
        "search_models",
        "get_model_info",
        "validate_model",
        "get_video_status",
        "health_check",
    }
)
_IMAGE_ARGS = ("image_path", "image_paths", "image", "images", "input_images", "reference_images")


@dataclass
class Estimate:
    usd: float | None
    model: str
    detail: str


def _price(pricing: dict[str, Any], key: str) -> float:
    try:
        return max(float(pricing.get(key) or 0), 0.0)
    except (TypeError, ValueError):
        return 0.0


def model_for(tool: str, args: dict[str, Any], settings: Any) -> str:
    from . import config

    given = args.get("model")
    if isinstance(given, str) and given.strip():
        return given.strip()
    fld, const = _DEFAULT_MODEL_FIELD.get(tool, ("default_model", None))
    if tool in ("chat_completion", "start_chat_completion"):
        return settings.effective_default_model
    return getattr(settings, fld, None) or (getattr(config, const) if const else "") or ""


def prompt_tokens(tool: str, args: dict[str, Any]) -> int:
    from .context_window import (
        estimate_message_tokens,
        estimate_text_tokens,
    )

    total = 0
    for m in args.get("messages") or []:
        total += estimate_message_tokens(m)
    for key in ("system", "prompt", "question", "text", "input", "query", "negative_prompt"):
        v = args.get(key)
        if isinstance(v, str):
            total += estimate_text_tokens(v)
    docs = args.get("documents")
    if isinstance(docs, list):
        total += sum(estimate_text_tokens(json.dumps(d, default=str)) for d in docs)
    return total


def _count_images(args: dict[str, Any]) -> int:
    n = 0
    for key in _IMAGE_ARGS:
        v = args.get(key)
        if isinstance(v, str) and v:
            n += 1
        elif isinstance(v, list):
            n += len(v)
    return n


def estimate_from_record(
    tool: str,
    args: dict[str, Any],
    record: dict[str, Any] | None,
    *,
    settings: Any,
    video_record: dict[str, Any] | None = None,
) -> Estimate:
    """The upper-bound cost of a call from its catalogue record (pure: no I/O)."""
    from .tools.common import resolve_max_tokens

    model = model_for(tool, args, settings)
    if record is None and video_record is None:
        return Estimate(None, model, "model not in the catalogue")
    pricing = (
        (record or {}).get("pricing") if isinstance((record or {}).get("pricing"), dict) else {}
    )
    p_tokens = prompt_tokens(tool, args)
    top = (record or {}).get("top_provider") or {}
    cap = top.get("max_completion_tokens") or (record or {}).get("context_length") or 0
    given = args.get("max_tokens") if isinstance(args.get("max_tokens"), int) else None
    c_tokens = resolve_max_tokens(given, settings) or int(cap or 0)
    if tool in ("generate_image", "generate_image_dedicated", "text_to_speech", "rerank_documents"):
        c_tokens = min(c_tokens, 4096) if tool == "generate_image" else 0
    usd = p_tokens * _price(pricing, "prompt") + c_tokens * _price(pricing, "completion")
    usd += _price(pricing, "request")
    usd += _count_images(args) * _price(pricing, "image")
    n_out = args.get("n") if isinstance(args.get("n"), int) else 1
    if tool.startswith("generate_image"):
        usd += n_out * _price(pricing, "image_output")
    if tool == "text_to_speech" and isinstance(args.get("text"), str):
        usd += math.ceil(len(args["text"]) / 4) * _price(pricing, "completion")
    detail = f"{p_tokens:,} prompt + {c_tokens:,} completion tokens (estimated)"
    if video_record is not None:
        skus = video_record.get("pricing_skus") or {}
        seconds = args.get("duration") or (video_record.get("supported_durations") or [8])[0]
        res = args.get("resolution")
        per_s = _price(skus, f"per-video-second-{res}") if res else 0.0
        per_s = per_s or _price(skus, "per-video-second")
        usd += per_s * float(seconds)
        detail = f"{seconds} s of video at ${per_s:g}/s"
    return Estimate(round(usd, 10), model, detail)


async def estimate(tool: str, args: dict[str, Any], ctx: ToolContext) -> Estimate:
    """Look the model up in the catalogue (cached) and estimate the call's cost."""
    from .tools.catalog import find_model

    model = model_for(tool, args, ctx.settings)
    if not model:
        return Estimate(None, model, "no model")
    video = None
    if tool.startswith("generate_video"):
        from .tools.video_catalog import find, video_models

        try:
            video = find(await video_models(ctx), model)
        except ToolError:
            video = None
    # ``models`` fallbacks: the call may end on any of them, so the bound is the dearest one
    fallbacks = [m for m in (args.get("models") or []) if isinstance(m, str) and m != model]
    worst: Estimate | None = None
    for name in [model, *fallbacks]:
        try:
            record, _ = await find_model(ctx, name)
        except ToolError:
            record = None
        one = estimate_from_record(
            tool,
            {**args, "model": name} if name != model else args,
            record,
            settings=ctx.settings,
            video_record=video,
        )
        if worst is None or (one.usd is not None and (worst.usd is None or one.usd > worst.usd)):
            worst = one
    assert worst is not None
    return worst


def spent_usd() -> float:
    from .usage import totals

    return float(totals().cost_usd)


async def check(
    tool: str,
    args: dict[str, Any],
    ctx: ToolContext,
    *,
    budget_usd: float | None,
    max_cost_usd: float | None,
) -> dict[str, Any] | None:
    """Refuse (``BUDGET_EXCEEDED``) a call whose estimate is over a limit; return the note for
    ``meta.cost_estimate`` (None when no limit is set, so nothing is looked up)."""
    if tool in _FREE_TOOLS or (budget_usd is None and max_cost_usd is None):
        return None
    est = await estimate(tool, args, ctx)
    note: dict[str, Any] = {"usd": est.usd, "detail": est.detail}
    if est.usd is None:
        return note
    if max_cost_usd is not None and est.usd > max_cost_usd:
        raise _refusal(
            f"{tool} with {est.model} is estimated at ${est.usd:.4f} ({est.detail}), over this "
            f"call's --max-cost ${max_cost_usd:.4f}; nothing was sent.",
            est,
            limit=max_cost_usd,
            remaining=max_cost_usd,
        )
    if budget_usd is not None:
        spent = spent_usd()
        remaining = budget_usd - spent
        note |= {"budget_usd": budget_usd, "remaining_usd": round(remaining, 6)}
        if est.usd > remaining + 1e-12:
            raise _refusal(
                f"{tool} with {est.model} is estimated at ${est.usd:.4f} ({est.detail}), but only "
                f"${max(remaining, 0):.4f} of the ${budget_usd:.2f} session budget is left "
                f"(${spent:.4f} spent); nothing was sent.",
                est,
                limit=budget_usd,
                remaining=remaining,
            )
    return note


def _refusal(message: str, est: Estimate, *, limit: float, remaining: float) -> ToolError:
    return ToolError(
        ErrorCode.BUDGET_EXCEEDED,
        message,
        details={
            "estimate_usd": est.usd,
            "remaining_usd": round(max(remaining, 0.0), 6),
            "limit_usd": limit,
            "model": est.model,
        },
        suggestions=[
            "Lower max_tokens (the estimate assumes the longest answer the model allows)",
            "Raise the limit: OpenRouterMagics.budget_usd / OR_MAGIC_BUDGET_USD / --max-cost",
            "Pick a cheaper or free model (search_models)",
        ],
    )
