"""chat_completion and the HTTP client, driven against the double over a real socket."""

from __future__ import annotations

import asyncio
import io
import json
import time

import pytest

from or_magic import log
from or_magic.double import Fault
from or_magic.tools.api import call_tool, call_tool_sync
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.anyio

MODEL = "openai/gpt-4o-mini"


def chat_requests(double):
    return [r for r in double.requests if r.path.endswith("/chat/completions")]


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


async def test_streaming_survives_crlf_and_comment_lines(double):
    double.crlf = True
    try:
        deltas: list[str] = []
        r = await call_tool(
            "chat_completion", {"prompt": "hello there", "model": MODEL}, on_text=deltas.append
        )
    finally:
        double.crlf = False
    assert r.ok and "".join(deltas) == r.text and r.text


async def test_429_with_retry_after_is_retried_and_honoured(double):
    double.inject(Fault(status=429, retry_after="1", times=1))
    t = time.monotonic()
    r = await call_tool("chat_completion", {"prompt": "hi", "model": MODEL})
    waited = time.monotonic() - t
    assert r.ok, r.text
    assert len(chat_requests(double)) == 2
    assert waited >= 0.19  # Retry-After 1 s is a floor, but the test cap (200 ms) bounds it
    assert waited < 5


async def test_retry_after_is_capped(double, monkeypatch):
    monkeypatch.setenv("OPENROUTER_RETRY_MAX_DELAY_MS", "300")
    double.inject(Fault(status=503, retry_after="3600", times=1))
    t = time.monotonic()
    r = await call_tool("chat_completion", {"prompt": "hi", "model": MODEL})
    assert r.ok
    assert time.monotonic() - t < 2.0


async def test_5xx_exhausts_retries_then_classifies(double):
    double.inject(Fault(status=502, times=None, shape="old"))
    r = await call_tool("chat_completion", {"prompt": "hi", "model": MODEL})
    assert r.is_error and r.code == "UPSTREAM_HTTP"
    assert len(chat_requests(double)) == 3  # 1 + OPENROUTER_MAX_RETRIES (2)
    assert r.suggestions


@pytest.mark.parametrize(
    "status,code",
    [
        (400, "INVALID_INPUT"),
        (401, "INVALID_CREDENTIALS"),
        (402, "UPSTREAM_REFUSED"),
        (404, "MODEL_NOT_FOUND"),
        (413, "RESOURCE_TOO_LARGE"),
    ],
)
async def test_other_4xx_are_never_retried(double, status, code):
    double.inject(Fault(status=status, times=None))
    r = await call_tool("chat_completion", {"prompt": "hi", "model": MODEL})
    assert r.is_error and r.code == code, (r.code, r.text)
    assert len(chat_requests(double)) == 1


@pytest.mark.parametrize(
    "fault,code",
    [
        (
            Fault(
                status=403,
                body={
                    "error": {
                        "code": 403,
                        "message": "flagged for violence",
                        "metadata": {"reasons": ["violence"]},
                    }
                },
            ),
            "UPSTREAM_REFUSED",
        ),
        (
            Fault(
                status=404,
                shape="new",
                message="No endpoints match your data policy (zero data retention)",
                body=None,
            ),
            "ZDR_INCOMPATIBLE",
        ),
        (Fault(status=429, shape="new", retry_after="7", times=None), "UPSTREAM_REFUSED"),
        (Fault(status=408, times=None), "UPSTREAM_TIMEOUT"),
    ],
)
async def test_structured_bodies_decide_the_code(double, fault, code, monkeypatch):
    monkeypatch.setenv("OPENROUTER_MAX_RETRIES", "0")
    if fault.message and "zero data retention" in fault.message:
        fault.body = {
            "error": {
                "message": fault.message,
                "error_type": "not_found",
                "http_status": 404,
                "availability": {
                    "code": "privacy_restricted",
                    "retryable": False,
                    "excluded_by": ["data_policy:zdr"],
                },
            }
        }
    double.inject(fault)
    r = await call_tool("chat_completion", {"prompt": "hi", "model": MODEL})
    assert r.is_error and r.code == code, (r.code, r.text)
    if fault.retry_after == "7":
        assert r.retry_after_seconds == 7


async def test_unknown_model_is_model_not_found(double):
    r = await call_tool("chat_completion", {"prompt": "hi", "model": "acme/does-not-exist"})
    assert r.is_error and r.code == "MODEL_NOT_FOUND"
    assert any("search_models" in s for s in r.suggestions)


@pytest.mark.parametrize("kind", ["malformed", "html", "error_in_200"])
async def test_bad_200_bodies_are_detected(double, kind, monkeypatch):
    monkeypatch.setenv("OPENROUTER_MAX_RETRIES", "0")
    double.inject(Fault(**{kind: True}))
    r = await call_tool("chat_completion", {"prompt": "hi", "model": MODEL})
    assert r.is_error
    if kind == "html":
        assert "HTML" in r.text and r.code == "UPSTREAM_HTTP"
    elif kind == "malformed":
        assert r.code == "UPSTREAM_HTTP" and "JSON" in r.text
    else:
        assert r.code != "INTERNAL"


async def test_dropped_and_truncated_connections_are_retried(double):
    double.inject(Fault(drop=True, times=1))
    r = await call_tool("chat_completion", {"prompt": "hi", "model": MODEL})
    assert r.ok and len(chat_requests(double)) == 2
    double.reset()
    double.inject(Fault(truncate=True, times=None))
    r = await call_tool("chat_completion", {"prompt": "hi", "model": MODEL})
    assert r.is_error and r.code == "UPSTREAM_HTTP"


async def test_timeout_covers_slow_headers_and_slow_bodies(double, monkeypatch):
    monkeypatch.setenv("OPENROUTER_REQUEST_TIMEOUT_MS", "1000")
    monkeypatch.setenv("OPENROUTER_MAX_RETRIES", "0")
    double.inject(Fault(delay_s=3))
    t = time.monotonic()
    r = await call_tool("chat_completion", {"prompt": "hi", "model": MODEL})
    assert r.is_error and r.code == "UPSTREAM_TIMEOUT"
    assert time.monotonic() - t < 2.5
    double.inject(Fault(slow_body_s=4))
    t = time.monotonic()
    r = await call_tool("chat_completion", {"prompt": "hi", "model": MODEL})
    assert r.is_error and r.code == "UPSTREAM_TIMEOUT", r.text
    assert time.monotonic() - t < 2.5


async def test_midstream_error_keeps_partial_text(double):
    double.inject(Fault(midstream_error=True))
    deltas: list[str] = []
    r = await call_tool(
        "chat_completion",
        {"prompt": "write a long answer please", "model": MODEL},
        on_text=deltas.append,
    )
    assert r.is_error and r.code in ("UPSTREAM_REFUSED", "UPSTREAM_HTTP")
    assert deltas, "chunks before the error were delivered"
    assert r.details.get("partial_text")


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


async def test_32_concurrent_calls_share_the_pool(double):
    rs = await asyncio.gather(
        *(call_tool("chat_completion", {"prompt": f"n{i}", "model": MODEL}) for i in range(32))
    )
    assert all(r.ok for r in rs)
    assert all(f"n{i}" in r.text for i, r in enumerate(rs))


async def test_paid_submits_are_not_retried_after_an_ambiguous_5xx(double, monkeypatch):
    from or_magic.client.http import get_client
    from or_magic.config import get_settings
    from or_magic.errors import ToolError

    client = get_client(get_settings())
    body = {"model": "google/veo-3.1", "prompt": "a fox", "duration": 4}
    double.inject(Fault(path="/videos", method="POST", status=502, times=None))
    with pytest.raises(ToolError) as ei:
        await client.request_json("POST", "/videos", json=body, idempotent=False)
    assert ei.value.code.value == "UPSTREAM_HTTP"
    assert len(double.requests_to("/videos")) == 1  # never submitted twice
    double.reset()
    double.inject(Fault(path="/videos", method="POST", status=429, times=1))
    resp = await client.request_json("POST", "/videos", json=body, idempotent=False)
    assert (
        resp.status == 202 and len(double.requests_to("/videos")) == 2
    )  # 429: nothing started, retried


@pytest.mark.parametrize("front", ["call_tool_sync", "magic"])
def test_a_streamed_call_leaves_nothing_pending_at_exit(tmp_path, front):
    """A streamed call, then interpreter exit: stderr stays clean (no ``Task was destroyed but
    it is pending!`` from an async generator httpx left for the loop's finalizer)."""
    import os
    import subprocess
    import sys

    if front == "magic":
        code = (
            "from IPython.testing.globalipapp import start_ipython\n"
            "ip = start_ipython()\n"
            "ip.run_line_magic('load_ext', 'or_magic')\n"
            "ip.run_cell_magic('openrouter', '', 'hello there, tell me a story')\n"
        )
    else:
        code = (
            "from or_magic.tools.api import call_tool_sync\n"
            "seen = []\n"
            "r = call_tool_sync('chat_completion', {'prompt': 'tell me a story'}, on_text=seen.append)\n"
            "assert not r.is_error and seen, r.text\n"
        )
    env = {
        **os.environ,
        "OPENROUTER_OFFLINE": "1",
        "OR_MAGIC_STATE_DIR": str(tmp_path),
        "PYTHONDEVMODE": "",
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "destroyed" not in out.stderr and "pending" not in out.stderr, out.stderr[-2000:]
    assert "Traceback" not in out.stderr, out.stderr[-2000:]


@pytest.mark.parametrize("stream", [False, True])
async def test_a_connection_closed_on_a_large_upload_says_too_large(double, monkeypatch, stream):
    """A proxy closing the connection mid-upload reads as a refused, oversized request, not as
    "connection broke mid-response"."""
    from or_magic.double.faults import BodyCutoff

    monkeypatch.setenv("OPENROUTER_MAX_RETRIES", "0")
    double.inject(BodyCutoff(after_bytes=256 * 1024, times=None))
    big = "word " * (400 * 1024)  # ~2 MiB of prompt
    kw = {"on_text": lambda d: None} if stream else {}
    r = await call_tool("chat_completion", {"prompt": big, "model": MODEL}, **kw)
    assert r.is_error and r.code == "RESOURCE_TOO_LARGE", (r.code, r.text)
    assert "probably too large" in r.text and "mid-response" not in r.text
    assert r.details["size_bytes"] > 2_000_000
    cut = chat_requests(double)
    assert cut and cut[-1].status == 0 and cut[-1].body_size < r.details["size_bytes"]


async def test_a_small_body_cut_off_or_a_broken_response_is_not_called_too_large(
    double, monkeypatch
):
    from or_magic.double.faults import BodyCutoff

    monkeypatch.setenv("OPENROUTER_MAX_RETRIES", "0")
    double.inject(BodyCutoff(after_bytes=100, times=None))  # a small request, dropped
    r = await call_tool("chat_completion", {"prompt": "hi " * 100, "model": MODEL})
    assert r.is_error and r.code == "UPSTREAM_HTTP", (r.code, r.text)
    double.reset()
    double.inject(Fault(truncate=True, times=None))  # a big request whose answer breaks
    r = await call_tool("chat_completion", {"prompt": "word " * (400 * 1024), "model": MODEL})
    assert r.is_error and r.code == "UPSTREAM_HTTP", (r.code, r.text)
    double.reset()
    double.inject(BodyCutoff(after_bytes=1 << 30, times=None))  # under the cutoff: passes
    r = await call_tool("chat_completion", {"prompt": "hi", "model": MODEL})
    assert r.ok, r.text
