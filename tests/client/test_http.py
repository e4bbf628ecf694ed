"""The HTTP client against the double over a real socket: retries and Retry-After, classification of error bodies, cut and slow connections, mid-stream errors, the pool, paid submits, upload size."""

from __future__ import annotations

import asyncio
import time

import pytest

from or_magic.double import Fault
from or_magic.tools.api import call_tool
from tests.client.test_classify import zdr_body

pytestmark = pytest.mark.anyio


MODEL = "openai/gpt-4o-mini"
LONG_CONTEXT = "google/gemini-2.5-flash"  # 1,048,576 tokens: a 2 MiB prompt fits


def chat_requests(double):
    return [r for r in double.requests if r.path.endswith("/chat/completions")]


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
    assert time.monotonic() - t < 15  # not the 3600 s the server asked for


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
        fault.body = zdr_body(fault.message)
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
    double.inject(Fault(delay_s=60))
    t = time.monotonic()
    r = await call_tool("chat_completion", {"prompt": "hi", "model": MODEL})
    assert r.is_error and r.code == "UPSTREAM_TIMEOUT"
    assert time.monotonic() - t < 15  # the 1 s deadline, not the 60 s the headers would take
    double.inject(Fault(slow_body_s=60))
    t = time.monotonic()
    r = await call_tool("chat_completion", {"prompt": "hi", "model": MODEL})
    assert r.is_error and r.code == "UPSTREAM_TIMEOUT", r.text
    assert time.monotonic() - t < 15  # nor the 60 s the body would


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
    big = "word " * (400 * 1024)  # ~2 MiB of prompt: a model whose context window holds it
    kw = {"on_text": lambda d: None} if stream else {}
    r = await call_tool("chat_completion", {"prompt": big, "model": LONG_CONTEXT}, **kw)
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
    big = "word " * (400 * 1024)
    r = await call_tool("chat_completion", {"prompt": big, "model": LONG_CONTEXT})
    assert r.is_error and r.code == "UPSTREAM_HTTP", (r.code, r.text)
    double.reset()
    double.inject(BodyCutoff(after_bytes=1 << 30, times=None))  # under the cutoff: passes
    r = await call_tool("chat_completion", {"prompt": "hi", "model": MODEL})
    assert r.ok, r.text
