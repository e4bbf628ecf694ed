"""The Batch API engine: order and index alignment, chunking, per-item failures, restarts, cancel,
faults, the MCP tools and the ``--batch`` magic, all against the double."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import or_magic
from or_magic.double import Fault
from or_magic.double.faults import BatchScript
from or_magic.errors import ALL_CODES, ToolError
from tests.tools._helpers import batch_row, chat_requests, finish_first_batch_with, requests_to

pd = pytest.importorskip("pandas")
ROOT = Path(__file__).resolve().parents[2]
MEDIA = ROOT / "or_magic" / "double" / "assets"


def submits(double) -> list:
    return requests_to(double, "/batches", method="POST")


def fresh_registry() -> None:
    """Forget cached stores, as a new process would."""
    from or_magic import jobs

    jobs._stores.clear()


def test_results_follow_input_order_and_the_series_index(double):
    s = pd.Series([f"review {i}" for i in range(7)], index=[f"k{7 - i}" for i in range(7)])
    h = or_magic.map("chat_completion", s, engine="batch", batch_size=3, progress=False)
    assert h.id.startswith("orb_") and not h.done  # returned at once, nothing waited
    h.wait(poll_s=0.01, progress=False)
    assert h.progress["status"] == "completed" and h.progress["completed"] == 7
    texts = [r.text for r in h.results()]
    assert all(f"review {i}" in t for i, t in enumerate(texts))
    df = h.to_pandas()
    assert list(df.index) == list(s.index)
    assert all(f"review {i}" in df.loc[f"k{7 - i}", "text"] for i in range(7))
    assert h.usage["total_tokens"] > 0 and h.total_cost >= 0
    assert not chat_requests(double)  # nothing went through the interactive endpoint


def test_chunks_split_at_the_limit_and_carry_the_interactive_bodies(double):
    items = [f"item {i}" for i in range(7)]
    h = or_magic.map(
        "chat_completion",
        items,
        engine="batch",
        batch_size=3,
        progress=False,
        max_tokens=20,
        system="Be brief",
    )
    sent = [r.json for r in submits(double)]
    assert [len(b["requests"]) for b in sent] == [3, 3, 1]
    assert [q["custom_id"] for b in sent for q in b["requests"]] == [f"i{i}" for i in range(7)]
    assert all(
        b["endpoint"] == "/v1/chat/completions" and b["completion_window"] == "24h" for b in sent
    )
    or_magic.call_tool_sync("chat_completion", prompt="item 4", max_tokens=20, system="Be brief")
    assert sent[1]["requests"][1]["body"] == chat_requests(double)[-1].json
    assert sent[1]["model"] == sent[1]["requests"][1]["body"]["model"]
    h.wait(poll_s=0.01, progress=False)
    chunks = h._engine.store.batch_chunks(h.id)
    assert [c["count"] for c in chunks] == [3, 3, 1] and {c["status"] for c in chunks} == {
        "completed"
    }


def test_chunks_also_split_by_size(double):
    from or_magic.config import get_settings
    from or_magic.tools.batch_engine import BatchEngine

    big = ["x" * 3000 + str(i) for i in range(5)]
    args = [{"prompt": p} for p in big]
    bid = or_magic.tools.api.run_sync(
        BatchEngine(get_settings()).submit("chat_completion", args, max_bytes=7000)
    )
    assert [len(r.json["requests"]) for r in submits(double)] == [2, 2, 1]
    assert or_magic.batch(bid).progress["total"] == 5


def test_analysis_bodies_are_built_by_the_tool(double, tmp_path):
    from PIL import Image

    Image.new("RGB", (40, 30), "red").save("a.png")
    h = or_magic.map("analyze_image", ["a.png"], engine="batch", question="Colour?", progress=False)
    body = submits(double)[0].json["requests"][0]["body"]
    or_magic.call_tool_sync("analyze_image", image_path="a.png", question="Colour?")
    assert body == chat_requests(double)[-1].json
    assert body["messages"][0]["content"][1]["image_url"]["url"].startswith(
        "data:image/jpeg;base64,"
    )
    h.wait(poll_s=0.01, progress=False)
    r = h.results()[0]
    assert r.ok and r.meta["content_is_untrusted"] is True


def test_per_item_failures_are_reported_not_raised(double):
    double.app.batch_api.script(BatchScript(fail_custom_ids={"i2"}, fail_status=500))
    items = ["fine", {"prompt": "bad", "temperature": 9}, "upstream fails", "fine too"]
    h = or_magic.map("chat_completion", items, engine="batch", progress=False)
    assert len(submits(double)[0].json["requests"]) == 3  # the invalid item never left
    h.wait(poll_s=0.01, progress=False)
    res = h.results()
    assert [r.ok for r in res] == [True, False, False, True]
    assert res[1].code == "INVALID_INPUT" and res[2].code == "UPSTREAM_HTTP"
    assert all(r.code in ALL_CODES for r in res if not r.ok)
    assert h.progress["failed"] == 2 and h.progress["completed"] == 2
    b = h.to_batch_result()
    assert [i.index for i in b.failed] == [1, 2] and "2/4 ok" in b.summary()
    with pytest.raises(ToolError):
        b.raise_for_errors()


def test_restart_mid_batch_loses_nothing(double):
    """A process submits, polls once and dies; a new process reattaches by id and collects all."""
    double.app.batch_api.script(
        BatchScript(
            statuses=["validating", "in_progress", "in_progress", "in_progress", "completed"]
        )
    )
    code = textwrap.dedent(
        """
        import pandas as pd, or_magic
        s = pd.Series([f"row {i}" for i in range(12)], index=range(100, 112))
        h = or_magic.map("chat_completion", s, engine="batch", batch_size=5, progress=False)
        h.status()
        print(h.id)
        """
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    bid = out.stdout.strip().splitlines()[-1]
    fresh_registry()
    listed = or_magic.batches()
    assert listed[0]["id"] == bid and listed[0]["status"] == "in_progress"
    h = or_magic.batch(bid)
    assert h.progress["total"] == 12 and not h.done
    h.wait(poll_s=0.01, progress=False, timeout=60)
    df = h.to_pandas()
    assert list(df.index) == list(range(100, 112)) and df["ok"].all()
    assert all(f"row {i}" in t for i, t in enumerate(df["text"]))
    # an upstream chunk id finds the same registry batch
    chunk = json.loads(json.dumps(submits(double)[1].json))
    assert len(chunk["requests"]) == 5
    fresh_registry()
    assert [r.ok for r in or_magic.batch(bid).results()] == [True] * 12


def test_cancel_keeps_finished_items_and_fails_the_rest(double):
    double.app.batch_api.script(
        BatchScript(
            statuses=["validating", "in_progress", "in_progress", "in_progress", "completed"]
        )
    )
    h = or_magic.map("chat_completion", [f"p{i}" for i in range(6)], engine="batch", progress=False)
    h.status()
    h.cancel()
    assert any(r.path.endswith("/cancel") for r in double.requests)
    h.wait(poll_s=0.01, progress=False)
    assert h.progress["status"] == "cancelled"
    res = h.results()
    done = [r for r in res if r.ok]
    assert 0 < len(done) < 6
    assert {r.code for r in res if not r.ok} == {"JOB_FAILED"}
    h.cancel()  # cancelling a finished batch is a no-op, not an error


def test_submit_fault_fails_the_items_with_a_code(double):
    double.inject(Fault(path="/batches", method="POST", status=500, times=1))
    h = or_magic.map(
        "chat_completion", ["a", "b", "c"], engine="batch", batch_size=2, progress=False
    )
    h.wait(poll_s=0.01, progress=False)
    res = h.results()
    assert [r.ok for r in res] == [False, False, True]  # only the first chunk was refused
    assert res[0].code == "UPSTREAM_HTTP"


@pytest.mark.parametrize(
    "fault",
    [dict(status=500, times=None), dict(malformed=True, times=None)],
    ids=["5xx", "malformed"],
)
def test_poll_faults_raise_coded_errors_and_the_batch_survives(double, fault):
    h = or_magic.map("chat_completion", ["a"], engine="batch", progress=False)
    chunk = h._engine.store.batch_chunks(h.id)[0]["upstream_id"]
    double.inject(Fault(path=f"/batches/{chunk}", method="GET", **fault))
    with pytest.raises(ToolError) as exc:
        h.status()
    assert exc.value.code.value in ALL_CODES and exc.value.code.value != "INTERNAL"
    double.reset()  # upstream forgot the batch (deleted elsewhere): reported, not hung
    h.wait(poll_s=0.01, progress=False, timeout=30)
    assert h.progress["status"] == "failed"
    assert [r.code for r in h.results()] == ["JOB_FAILED"]


def test_unknown_batch_and_unbatchable_tool(double):
    with pytest.raises(ToolError) as exc:
        or_magic.batch("orb_doesnotexist")
    assert exc.value.code.value == "INVALID_INPUT"
    with pytest.raises(ToolError) as exc:
        or_magic.map("generate_video", ["a cat"], engine="batch", progress=False)
    assert exc.value.code.value == "INVALID_INPUT"
    with pytest.raises(ValueError):
        or_magic.map("chat_completion", ["a"], engine="warp")


def test_structured_output_expands_into_columns(double):
    schema = {
        "type": "json_schema",
        "json_schema": {
            "name": "label",
            "schema": {
                "type": "object",
                "properties": {"sentiment": {"type": "string"}, "score": {"type": "number"}},
                "required": ["sentiment", "score"],
            },
        },
    }
    s = pd.Series(["good", "bad"], index=["x", "y"])
    h = or_magic.map("chat_completion", s, engine="batch", response_format=schema, progress=False)
    df = h.wait(poll_s=0.01, progress=False).to_pandas()
    assert {"sentiment", "score"} <= set(df.columns) and list(df.index) == ["x", "y"]
    inter = or_magic.map("chat_completion", s, response_format=schema, progress=False).to_pandas()
    assert list(inter.index) == ["x", "y"] and "sentiment" in inter.columns


def test_interactive_engine_accepts_series_and_dataframes(double):
    s = pd.Series(["one", "two"], index=[10, 20])
    b = or_magic.map("chat_completion", s, progress=False)
    assert list(b.to_pandas().index) == [10, 20]
    frame = pd.DataFrame({"prompt": ["a", "b"], "max_tokens": [5, 6]}, index=["r1", "r2"])
    b = or_magic.map("chat_completion", frame, progress=False)
    assert list(b.to_pandas().index) == ["r1", "r2"]
    assert sorted(r.json["max_tokens"] for r in chat_requests(double)[-2:]) == [5, 6]


def test_pandas_is_not_imported_for_plain_lists(double):
    code = (
        "import sys, or_magic\n"
        "h = or_magic.map('chat_completion', ['a'], engine='batch', progress=False)\n"
        "h.wait(poll_s=0.01, progress=False); h.results()\n"
        "print('pandas' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("False")


@pytest.mark.anyio
async def test_mcp_tools_submit_and_report_progress(double):
    events = []
    sub = await or_magic.call_tool(
        "submit_batch", {"items": ["a", "b", {"prompt": "c"}], "args": {"max_tokens": 9}}
    )
    assert sub.ok, sub.text
    bid = sub.data["batch_id"]
    st = await or_magic.call_tool("get_batch_status", {"batch_id": bid})
    assert st.code == "JOB_STILL_RUNNING" and "results" not in st.data
    fin = await or_magic.call_tool(
        "get_batch_status",
        {"batch_id": bid, "wait": True, "results_limit": 2},
        on_progress=events.append,
    )
    assert fin.ok and fin.code is None and fin.data["counts"]["completed"] == 3
    assert [r["index"] for r in fin.data["results"]] == [0, 1] and fin.data["next_offset"] == 2
    assert events and all(b.progress > a.progress for a, b in itertools.pairwise(events))
    page = await or_magic.call_tool(
        "get_batch_status", {"batch_id": bid, "results_offset": 2, "results_limit": 5}
    )
    assert [r["index"] for r in page.data["results"]] == [2] and page.data["next_offset"] is None
    bad = await or_magic.call_tool("get_batch_status", {"batch_id": "orb_nope"})
    assert bad.code == "INVALID_INPUT"


def test_expiry_keeps_finished_items(double):
    double.app.batch_api.script(BatchScript(statuses=["validating", "in_progress", "expired"]))
    h = or_magic.map("chat_completion", [f"p{i}" for i in range(4)], engine="batch", progress=False)
    h.wait(poll_s=0.01, progress=False)
    assert h.progress["status"] == "expired"
    res = h.results()
    assert 0 < sum(r.ok for r in res) < 4
    assert {r.code for r in res if not r.ok} == {"JOB_FAILED"}


def test_a_submitter_that_died_mid_submission_does_not_hang_waiters(double):
    """Items registered but never sent by a dead process fail with JOB_FAILED; the rest finish."""
    from or_magic.config import get_settings
    from or_magic.jobs import get_job_store

    store = get_job_store(get_settings())
    items = [(i, f"i{i}", None, f"p{i}") for i in range(3)]
    store.create_batch(
        id="orb_orphan",
        tool="chat_completion",
        endpoint="/v1/chat/completions",
        model=None,
        backend="test",
        items=items,
    )
    with store._conn() as c:  # owned by a process that no longer exists
        c.execute("UPDATE batches SET owner_pid = 999999999 WHERE id = 'orb_orphan'")
    h = or_magic.batch("orb_orphan")
    h.wait(poll_s=0.01, progress=False, timeout=10)
    assert h.progress["status"] == "failed"
    assert {r.code for r in h.results()} == {"JOB_FAILED"}


def test_interrupted_submission_keeps_what_was_sent(double, monkeypatch):
    import asyncio

    from or_magic.tools import batch_engine

    real = batch_engine.capture_body
    calls = {"n": 0}

    async def flaky(tool, args, settings):
        calls["n"] += 1
        if calls["n"] == 4:  # Ctrl-C / task cancelled while building item 3
            raise asyncio.CancelledError
        return await real(tool, args, settings)

    monkeypatch.setattr(batch_engine, "capture_body", flaky)
    with pytest.raises(asyncio.CancelledError):
        or_magic.map(
            "chat_completion", list("abcdef"), engine="batch", batch_size=2, progress=False
        )
    monkeypatch.setattr(batch_engine, "capture_body", real)
    bid = or_magic.batches()[0]["id"]
    h = or_magic.batch(bid)
    h.wait(poll_s=0.01, progress=False, timeout=30)
    res = h.results()
    assert [r.ok for r in res] == [True, True, False, False, False, False]
    assert {r.code for r in res[2:]} == {"JOB_FAILED"} and "never submitted" in res[2].text


def test_hostile_results_are_mapped_by_custom_id_only(double):
    """Unknown, duplicated, malformed or missing results never shift answers between rows."""
    h = or_magic.map("chat_completion", ["a", "b", "c"], engine="batch", progress=False)

    def answer(cid: str, text: str) -> dict:
        body = {
            "id": "gen-x",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": text},
                }
            ],
        }
        return {"id": "r", **batch_row(cid, body)}

    rows = [
        answer("i2", "for c"),
        answer("i99", "nobody's"),
        answer("i2", "second c"),
        "garbage",
        batch_row("i0", "x"),
    ]
    finish_first_batch_with(double, h, rows)
    h.wait(poll_s=0.01, progress=False, timeout=30)
    res = h.results()
    assert res[2].ok and res[2].text == "for c"
    assert res[0].code == "UPSTREAM_HTTP"  # a result whose body is not an answer
    assert res[1].code == "JOB_FAILED"  # never answered


@pytest.mark.anyio
async def test_await_handle_inside_a_running_loop(double):
    from or_magic.batch import amap_batch

    h = await amap_batch("chat_completion", ["x", "y"], progress=False)
    assert (await h) is h and h.done
    assert [r.ok for r in h.results()] == [True, True]
    assert (await h.astatus())["status"] == "completed"
