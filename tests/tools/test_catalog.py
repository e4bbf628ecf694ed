"""The catalogue tools against the double: search and paging, one fetch for many callers, TTL and stale answers, model_info, what counts as free."""

from __future__ import annotations

import asyncio

import pytest

from or_magic.double import Fault
from or_magic.tools.api import call_tool
from tests.tools._helpers import inproc_double_fixture, requests_to

pytestmark = pytest.mark.anyio


double = inproc_double_fixture()


def models_requests(double):
    return requests_to(double, "/models")


def _model(mid: str, out: list[str], **pricing: str) -> dict:
    arch = {"input_modalities": ["text"], "output_modalities": out}
    return {"id": mid, "architecture": arch, "pricing": pricing}


async def test_search_includes_generators_despite_the_default_filter_quirk(double):
    r = await call_tool("search_models", {"output_modalities": ["image"], "limit": 50})
    assert r.ok, r.text
    ids = {m["id"] for m in r.data["results"]}
    assert "google/gemini-2.5-flash-image" in ids
    assert "black-forest-labs/flux.2-pro" in ids  # image-only: hidden by the API's default filter
    (req,) = models_requests(double)
    assert req.query.get("output_modalities") == "all"
    video = await call_tool("search_models", {"capabilities": {"video_output": True}})
    assert "google/veo-3.1" in {m["id"] for m in video.data["results"]}


async def test_search_filters_and_stable_pagination(double):
    vision = await call_tool("search_models", {"capabilities": {"vision": True}, "limit": 50})
    assert vision.ok and vision.data["total"] > 0
    for m in vision.data["results"]:
        assert "image" in m["architecture"]["input_modalities"]
    by_author = await call_tool("search_models", {"provider": "openai/", "limit": 50})
    assert all(m["id"].startswith("openai/") for m in by_author.data["results"])

    everything = await call_tool("search_models", {"limit": 50})
    total = everything.data["total"]
    seen: list[str] = []
    offset = 0
    while True:
        page = await call_tool("search_models", {"limit": 7, "offset": offset})
        assert page.data["total"] == total
        seen += [m["id"] for m in page.data["results"]]
        if not page.data["has_more"]:
            assert page.data["next_offset"] is None
            break
        assert page.data["next_offset"] == offset + 7
        offset = page.data["next_offset"]
    assert seen == sorted(seen, key=str.lower) and len(seen) == len(set(seen)) == total
    past = await call_tool("search_models", {"offset": total + 10})
    assert past.ok and past.data["results"] == [] and past.data["has_more"] is False
    assert len(models_requests(double)) == 1  # one fetch served all of that


@pytest.mark.parametrize("args", [{"limit": "ten"}, {"offset": 1.5}, {"limit": None}])
async def test_search_paging_of_the_wrong_type_is_invalid_input(double, args):
    r = await call_tool("search_models", args)
    assert r.is_error and r.code == "INVALID_INPUT"
    assert double.requests == []


@pytest.mark.parametrize(
    ("args", "limit", "offset", "clamped"),
    [
        ({"limit": 0}, 1, 0, {"limit": {"given": 0, "used": 1}}),
        ({"limit": 51}, 50, 0, {"limit": {"given": 51, "used": 50}}),
        (
            {"limit": 500, "offset": -3},
            50,
            0,
            {"limit": {"given": 500, "used": 50}, "offset": {"given": -3, "used": 0}},
        ),
        ({"offset": -1}, 20, 0, {"offset": {"given": -1, "used": 0}}),
    ],
)
async def test_search_out_of_range_paging_is_clamped_like_node(
    double, args, limit, offset, clamped
):
    r = await call_tool("search_models", args)
    assert r.ok, r.text
    assert (r.data["limit"], r.data["offset"], r.data["clamped"]) == (limit, offset, clamped)
    assert len(r.data["results"]) <= limit and "clamped to" in r.text


async def test_search_in_range_paging_reports_no_clamping(double):
    r = await call_tool("search_models", {"limit": 50, "offset": 0})
    assert r.ok and "clamped" not in r.data and "clamped" not in r.text


async def test_concurrent_cold_callers_cause_one_fetch(double):
    double.inject(Fault(path="/models", delay_s=0.3, method="GET", body=None, status=None))
    rs = await asyncio.gather(*(call_tool("search_models", {"query": "gpt"}) for _ in range(12)))
    assert all(r.ok for r in rs)
    assert len(models_requests(double)) == 1


async def test_empty_catalog_does_not_cause_a_refetch_storm(double):
    double.inject(Fault(path="/models", method="GET", status=200, body={"data": []}, times=None))
    for _ in range(5):
        r = await call_tool("search_models", {"query": "x"})
        assert r.ok and r.data["total"] == 0
    assert len(models_requests(double)) == 1


async def test_ttl_expiry_refetches_and_failure_serves_stale(double, monkeypatch):
    monkeypatch.setenv("OPENROUTER_MODEL_CACHE_TTL_MS", "1")
    r1 = await call_tool("search_models", {})
    await asyncio.sleep(0.01)
    double.inject(Fault(path="/models", method="GET", status=500, times=None))
    r2 = await call_tool("search_models", {})
    assert r1.ok and r2.ok
    assert r2.meta["catalog"]["stale"] is True
    assert r2.data["total"] == r1.data["total"]


async def test_model_info_is_suffix_aware_and_unknown_ids_get_suggestions(double):
    r = await call_tool("get_model_info", {"model": "OpenAI/GPT-4o:nitro"})
    assert r.ok, r.text
    assert r.data["id"] == "openai/gpt-4o"
    assert r.data["context_length"] and r.data["architecture"]
    miss = await call_tool("get_model_info", {"model": "openai/gpt-4oo"})
    assert miss.is_error and miss.code == "MODEL_NOT_FOUND"
    assert "openai/gpt-4o" in miss.details.get("did_you_mean", [])
    blank = await call_tool("get_model_info", {"model": "   "})
    assert blank.code == "INVALID_INPUT"


async def test_validate_model_false_is_not_an_error(double):
    ok = await call_tool("validate_model", {"model": "anthropic/claude-sonnet-4.5:floor"})
    assert ok.ok and ok.data["valid"] is True and ok.data["routing_suffix"] == "floor"
    bad = await call_tool("validate_model", {"model": "nope/nope"})
    assert bad.ok and bad.data == {"valid": False, "model": "nope/nope"} | (
        {"did_you_mean": bad.data["did_you_mean"]} if "did_you_mean" in bad.data else {}
    )


async def test_catalog_fetch_with_a_bad_key_is_invalid_credentials(double, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-wrong")
    r = await call_tool("search_models", {})
    assert r.is_error and r.code == "INVALID_CREDENTIALS"


async def test_free_only_means_every_price_is_zero(double):
    """The offline catalogue's free models all end in ``:free``; this one has every case."""
    zero = {k: "0" for k in ("prompt", "completion", "request", "image")}
    catalog = [
        _model("acme/zero-priced", ["text"], **zero),
        _model("acme/suffixed:free", ["text"], prompt="0.1", completion="0.1"),
        _model("acme/free-prompt-only", ["text"], **{**zero, "completion": "0.000002"}),
        _model("acme/per-image", ["image"], **{**zero, "image": "0.04"}),
        _model("acme/video", ["video"], **zero),
        _model("acme/no-prices", ["text"]),
        _model("acme/unparsable", ["text"], prompt="n/a"),
    ]
    double.inject(Fault(path="/models", method="GET", status=200, body={"data": catalog}))
    r = await call_tool("search_models", {"free_only": True, "limit": 50})
    assert r.ok, r.text
    assert sorted(m["id"] for m in r.data["results"]) == ["acme/suffixed:free", "acme/zero-priced"]


async def test_priced_per_image_models_are_not_free(double):
    r = await call_tool("search_models", {"free_only": True, "limit": 50})
    from or_magic.double.catalog import MODELS

    priced = {
        m["id"]
        for m in MODELS
        if any(str(v) not in ("0", "0.0") for v in (m.get("pricing") or {}).values())
    }
    assert not priced & {m["id"] for m in r.data["results"] if not m["id"].endswith(":free")}


async def test_video_models_are_never_listed_as_free(double):
    r = await call_tool("search_models", {"free_only": True, "limit": 50})
    assert not any("video" in m["architecture"]["output_modalities"] for m in r.data["results"])


async def test_a_cancelled_fetcher_does_not_cancel_the_waiters(double):
    double.inject(Fault(path="/models", method="GET", delay_s=0.4, body=None, status=None))
    first = asyncio.create_task(call_tool("search_models", {"query": "gpt"}))
    for _ in range(6000):  # until `first` is fetching the catalog (a request, not a guess)
        if double.requests_to("/models"):
            break
        await asyncio.sleep(0.01)
    second = asyncio.create_task(call_tool("search_models", {"query": "gpt"}))
    await asyncio.sleep(0.05)
    first.cancel()
    r = await second
    assert r.ok and r.data["total"] > 0
    with pytest.raises(asyncio.CancelledError):
        await first
