"""chat_completion against the double (in-process): usage and attribution, streaming, answers without text, fallbacks, structured output, cache headers, provider defaults, bad input, no key in results, the sync entry point."""

from __future__ import annotations

import asyncio
import io
import json

import pytest

from or_magic import log
from or_magic.double import Fault
from or_magic.tools.api import call_tool, call_tool_sync
from tests.conftest import TEST_KEY
from tests.tools._helpers import chat_requests, inproc_double_fixture

pytestmark = pytest.mark.anyio


double = inproc_double_fixture()


MODEL = "openai/gpt-4o-mini"


async def test_chat_happy_path_sends_attribution_and_reports_usage(double):
    r = await call_tool(
        "chat_completion", {"prompt": "Name three moons of Jupiter", "model": MODEL}
    )
    assert r.ok, r.text
    assert "Name three moons" in r.text  # the double is content-aware
    assert r.meta["model"] == MODEL
    assert r.meta["usage"]["total_tokens"] > 0
    assert r.meta["cost_usd"] >= 0
    assert r.meta["generation_id"].startswith("gen-")
    assert not r.offline
    (req,) = chat_requests(double)
    assert req.auth == TEST_KEY
    assert req.headers["http-referer"]
    assert req.headers["x-openrouter-title"] == "or_magic"
    assert req.json["messages"] == [{"role": "user", "content": "Name three moons of Jupiter"}]
    assert "temperature" not in req.json  # not sent unless asked


async def test_streaming_deltas_add_up_to_the_final_text(double):
    deltas: list[str] = []
    r = await call_tool(
        "chat_completion",
        {"prompt": "Tell me a short story about a fox", "model": MODEL},
        on_text=deltas.append,
    )
    assert r.ok, r.text
    assert len(deltas) > 2
    assert "".join(deltas) == r.text
    assert r.meta["usage"]["total_tokens"] > 0  # from the usage chunk with choices: []
    (req,) = chat_requests(double)
    assert req.json["stream"] is True


@pytest.mark.parametrize("stream", [False, True])
async def test_reasoning_cutoff_is_explained(double, stream):
    double.inject(Fault(scenario="reasoning_cutoff"))
    cb = (lambda d: None) if stream else None
    r = await call_tool(
        "chat_completion", {"prompt": "think hard", "model": MODEL, "max_tokens": 16}, on_text=cb
    )
    assert r.is_error and r.code == "INVALID_INPUT"
    assert "max_tokens" in r.text
    assert r.details["finish_reason"] == "length"
    assert r.details["reasoning_preview"]


@pytest.mark.parametrize(
    "scenario,code",
    [
        ("content_filter", "UPSTREAM_REFUSED"),
        ("tool_calls", "INVALID_INPUT"),
        ("empty", "INTERNAL"),
        ("provider_error_200", None),
    ],
)
async def test_answers_without_text(double, scenario, code):
    double.inject(Fault(scenario=scenario))
    r = await call_tool("chat_completion", {"prompt": "hi", "model": MODEL})
    assert r.is_error
    if code:
        assert r.code == code
    else:
        assert r.code in ("UPSTREAM_HTTP", "UPSTREAM_REFUSED", "INVALID_INPUT")


async def test_refusal_and_reasoning_only_stop_are_answers(double):
    double.inject(Fault(scenario="refusal"))
    r = await call_tool("chat_completion", {"prompt": "hi", "model": MODEL})
    assert r.ok and r.meta.get("refusal") and r.text
    double.inject(Fault(scenario="reasoning_only_stop"))
    r = await call_tool("chat_completion", {"prompt": "hi", "model": MODEL})
    assert r.ok and r.text


async def test_models_fallback_reports_the_served_model(double):
    double.inject(Fault(status=503, model=MODEL, times=None))
    r = await call_tool(
        "chat_completion",
        {"prompt": "hi", "model": MODEL, "models": ["anthropic/claude-sonnet-4.5"]},
    )
    assert r.ok, r.text
    assert r.meta["model"] == "anthropic/claude-sonnet-4.5"


async def test_json_schema_answer_is_parsed_into_data(double):
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
        "additionalProperties": False,
    }
    r = await call_tool(
        "chat_completion",
        {
            "prompt": "Largest city in France?",
            "model": MODEL,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "city", "schema": schema, "strict": True},
            },
        },
    )
    assert r.ok, r.text
    assert set(r.data) == {"city", "population"}
    assert isinstance(r.data["population"], int)


async def test_cache_headers_ttl_normalised_and_cache_meta(double):
    args = {"prompt": "cache me", "model": MODEL, "cache": True, "cache_ttl": "5m"}
    r1 = await call_tool("chat_completion", args)
    r2 = await call_tool("chat_completion", args)
    reqs = chat_requests(double)
    assert reqs[0].headers["x-openrouter-cache"] == "true"
    assert reqs[0].headers["x-openrouter-cache-ttl"] == "300"
    assert r1.meta["cache"]["status"] == "MISS"
    assert r2.meta["cache"]["status"] == "HIT"


async def test_provider_env_defaults_merge_under_call_values(double, monkeypatch):
    monkeypatch.setenv("OPENROUTER_PROVIDER_SORT", "price")
    monkeypatch.setenv("OPENROUTER_PROVIDER_IGNORE", "a,b")
    r = await call_tool(
        "chat_completion",
        {"prompt": "hi", "model": MODEL, "provider": {"sort": "latency", "allow_fallbacks": False}},
    )
    assert r.ok
    (req,) = chat_requests(double)
    assert req.json["provider"] == {
        "ignore": ["a", "b"],
        "sort": "latency",
        "allow_fallbacks": False,
    }


@pytest.mark.parametrize(
    "args",
    [
        {"messages": []},
        {},
        {"prompt": "hi", "temperature": 3},
        {"prompt": "hi", "max_tokens": 0},
        {"prompt": "hi", "web_max_results": 3},
        {"prompt": "hi", "cache_ttl": "5 minutes"},
        {"prompt": "hi", "promt": "typo"},
        {"messages": [{"role": "user", "content": None}]},
        {"prompt": "hi", "stop": ["a", "b", "c", "d", "e"]},
    ],
)
async def test_bad_input_costs_nothing(double, args):
    r = await call_tool("chat_completion", args)
    assert r.is_error and r.code == "INVALID_INPUT", r.text
    assert double.requests == [], "validation must happen before any request"


async def test_unknown_tool_is_invalid_input_not_an_exception(double):
    r = await call_tool("no_such_tool", {})
    assert r.is_error and r.code == "INVALID_INPUT" and "Unknown tool" in r.text


async def test_key_never_leaks_into_results_or_logs(double, monkeypatch):
    buf = io.StringIO()
    monkeypatch.setattr(log, "_stream", buf)
    monkeypatch.setenv("OPENROUTER_LOG_LEVEL", "debug")
    double.inject(
        Fault(status=401, body={"error": {"code": 401, "message": f"Key {TEST_KEY} is disabled"}})
    )
    r = await call_tool("chat_completion", {"prompt": "hi", "model": MODEL})
    assert r.is_error and r.code == "INVALID_CREDENTIALS"
    double.inject(
        Fault(
            status=502,
            times=None,
            body={"error": {"code": 502, "message": f"upstream echoed Bearer {TEST_KEY}"}},
        )
    )
    r2 = await call_tool("chat_completion", {"prompt": "hi", "model": MODEL})
    everything = (
        json.dumps([r.to_dict(), r2.to_dict()], default=str)
        + repr(r)
        + repr(r2)
        + str(r)
        + buf.getvalue()
    )
    assert TEST_KEY not in everything
    assert TEST_KEY[9:25] not in everything
    with pytest.raises(Exception) as ei:
        r2.raise_for_error()
    assert TEST_KEY not in str(ei.value) and TEST_KEY not in repr(ei.value)


async def test_offline_backend_answers_without_a_key(monkeypatch):
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    r = await call_tool("chat_completion", {"prompt": "hello offline"})
    assert r.ok and r.offline and r.meta["offline"] is True
    assert "offline" in r.text.lower()


def test_call_tool_sync_outside_and_inside_a_running_loop(double):
    r = call_tool_sync("chat_completion", {"prompt": "sync", "model": MODEL})
    assert r.ok

    async def inside():  # what a Jupyter cell looks like: a loop is already running
        return call_tool_sync("chat_completion", {"prompt": "nested", "model": MODEL})

    r2 = asyncio.run(inside())
    assert r2.ok and "nested" in r2.text
