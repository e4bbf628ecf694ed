"""Budgets: estimated before sending, refused with BUDGET_EXCEEDED (nothing sent), edges exact."""

from __future__ import annotations

import pytest

from or_magic import budget, usage
from or_magic.callopts import call_options
from or_magic.config import get_settings
from or_magic.tools.api import call_tool_sync

MODEL = "openai/gpt-4o-mini"  # the double prices it at 0.15 / 0.60 USD per million tokens


@pytest.fixture(autouse=True)
def _fresh_usage():
    usage.reset()
    yield
    usage.reset()


def chat_requests(double) -> int:
    return sum(1 for r in double.requests if r.path.endswith("/chat/completions"))


def record(model: str) -> dict:
    from or_magic.double.catalog import MODELS

    return next(m for m in MODELS if m["id"] == model)


def test_estimate_from_the_catalogue_prices():
    rec = record(MODEL)
    p, c = float(rec["pricing"]["prompt"]), float(rec["pricing"]["completion"])
    args = {"prompt": "x" * 400, "model": MODEL, "max_tokens": 100}
    est = budget.estimate_from_record("chat_completion", args, rec, settings=get_settings())
    assert est.usd == pytest.approx(100 * p + 100 * c)
    # without max_tokens the model's completion cap is assumed (an upper bound)
    cap = rec["top_provider"]["max_completion_tokens"]
    est = budget.estimate_from_record(
        "chat_completion", {"prompt": "x" * 400, "model": MODEL}, rec, settings=get_settings()
    )
    assert est.usd == pytest.approx(100 * p + cap * c)


def test_image_and_video_prices():
    from or_magic.double.catalog import MODELS

    img = next(m for m in MODELS if "image_output" in m["pricing"])
    est = budget.estimate_from_record(
        "generate_image",
        {"prompt": "fox", "model": img["id"], "n": 3},
        img,
        settings=get_settings(),
    )
    assert est.usd >= 3 * float(img["pricing"]["image_output"])
    video = {"pricing_skus": {"per-video-second": "0.40", "per-video-second-1080p": "0.60"}}
    est = budget.estimate_from_record(
        "generate_video",
        {"prompt": "waves", "model": "google/veo-3.1", "duration": 8, "resolution": "1080p"},
        None,
        settings=get_settings(),
        video_record=video,
    )
    assert est.usd == pytest.approx(4.8) and "8 s of video" in est.detail


def test_unknown_model_cannot_be_estimated():
    est = budget.estimate_from_record(
        "chat_completion", {"prompt": "x"}, None, settings=get_settings()
    )
    assert est.usd is None


def test_max_cost_refusal_is_clear_and_costs_nothing(double):
    with call_options(max_cost_usd=0.000001):
        r = call_tool_sync("chat_completion", {"prompt": "hello", "model": MODEL})
    assert r.code == "BUDGET_EXCEEDED" and r.is_error
    assert "estimated at $" in r.text and "--max-cost" in r.text and "nothing was sent" in r.text
    assert r.details["estimate_usd"] > 0.000001
    assert chat_requests(double) == 0 and usage.totals().cost_usd == 0


def test_session_budget_counts_what_was_spent(double):
    rec = record(MODEL)
    args = {"prompt": "hello", "model": MODEL, "max_tokens": 1000}
    est = budget.estimate_from_record("chat_completion", args, rec, settings=get_settings()).usd
    spent_before = 0.0
    with call_options(budget_usd=est * 1.5):
        first = call_tool_sync("chat_completion", args)
        assert first.ok and first.meta["cost_estimate"]["usd"] == pytest.approx(est)
        spent_before = usage.totals().cost_usd
        assert spent_before > 0
    # now only est*1.5 - spent is left: make the budget so the next one cannot fit
    with call_options(budget_usd=spent_before + est * 0.5):
        r = call_tool_sync("chat_completion", args)
    assert r.code == "BUDGET_EXCEEDED"
    assert "session budget" in r.text and "left" in r.text
    assert r.details["remaining_usd"] == pytest.approx(est * 0.5, rel=1e-3)
    assert chat_requests(double) == 1


def test_exactly_at_the_edge_is_allowed_and_a_hair_over_is_not(double, monkeypatch):
    rec = record(MODEL)
    args = {"prompt": "edge", "model": MODEL, "max_tokens": 10}
    est = budget.estimate_from_record("chat_completion", args, rec, settings=get_settings()).usd
    with call_options(max_cost_usd=est):
        assert call_tool_sync("chat_completion", args).ok
    with call_options(max_cost_usd=est * 0.999):
        assert call_tool_sync("chat_completion", args).code == "BUDGET_EXCEEDED"
    usage.reset()
    monkeypatch.setenv("OR_MAGIC_BUDGET_USD", repr(est))  # the MCP server's switch
    assert call_tool_sync("chat_completion", args).ok
    spent = usage.totals().cost_usd
    assert spent > 0
    r = call_tool_sync("chat_completion", args)  # part of the budget is spent now
    assert r.code == "BUDGET_EXCEEDED"


def test_free_models_pass_a_spent_budget(double):
    with call_options(budget_usd=0.0):
        r = call_tool_sync(
            "chat_completion", {"prompt": "hi", "model": "google/gemma-4-26b-a4b-it:free"}
        )
    assert r.ok, r.text


def test_bad_budget_env_names_the_variable(monkeypatch):
    monkeypatch.setenv("OR_MAGIC_BUDGET_USD", "five")
    r = call_tool_sync("chat_completion", {"prompt": "hi"})
    assert r.code == "INVALID_INPUT" and "OR_MAGIC_BUDGET_USD" in r.text


def test_a_cache_hit_is_never_refused(double):
    args = {"prompt": "cached", "model": MODEL}
    with call_options(cache="on"):
        assert call_tool_sync("chat_completion", args).ok
        with call_options(max_cost_usd=0.0):
            r = call_tool_sync("chat_completion", args)
    assert r.ok and r.meta["cached"]


def test_status_of_a_counted_job_is_not_counted_again():
    from or_magic.result import ToolResult

    done = ToolResult(
        "get_video_status", meta={"model": "google/veo-3.1", "video_id": "job_1", "cost_usd": 1.6}
    )
    usage.record_result(done)
    usage.record_result(done)  # `%openrouter status job_1 --save other.mp4`
    usage.record_result(ToolResult("get_video_status", meta={**done.meta, "video_id": "job_2"}))
    t = usage.totals()
    assert t.calls == 2 and t.cost_usd == pytest.approx(3.2)


def test_a_dear_fallback_model_is_priced_not_only_the_free_primary(double):
    """``models`` fallbacks may answer instead of the first model: the bound is the dearest."""
    free = "google/gemma-4-26b-a4b-it:free"
    args = {"prompt": "hi", "model": free, "models": ["openai/gpt-4o"], "max_tokens": 4000}
    with call_options(max_cost_usd=0.0001):
        r = call_tool_sync("chat_completion", args)
    assert r.is_error and r.code == "BUDGET_EXCEEDED", (r.code, r.text)
    assert chat_requests(double) == 0
    with call_options(max_cost_usd=0.0001):
        alone = call_tool_sync("chat_completion", {k: v for k, v in args.items() if k != "models"})
    assert alone.ok and chat_requests(double) == 1  # the free model alone is within the limit
