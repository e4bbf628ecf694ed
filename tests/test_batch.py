"""or_magic.map / map_tool: concurrency, per-item errors, Retry-After, cost totals."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

import or_magic
from or_magic.batch import BatchResult, build_args, map_tool
from or_magic.double import Fault, get_offline_double

MEDIA = Path(__file__).resolve().parents[1] / "or_magic" / "double" / "assets"


@pytest.fixture
def double():
    d = get_offline_double()
    d.reset()
    yield d
    d.reset()


def chats(d):
    return [r for r in d.requests if r.path.endswith("/chat/completions")]


def test_map_is_wired_and_collects_results_in_order(double):
    assert or_magic.map is map_tool
    prompts = [f"item {i}" for i in range(6)]
    b = or_magic.map("chat_completion", prompts, concurrency=3, progress=False, max_tokens=20)
    assert isinstance(b, BatchResult) and len(b) == 6 and b.all_ok
    assert [r.tool for r in b] == ["chat_completion"] * 6
    assert all(f"item {i}" in t for i, t in enumerate(b.texts))
    assert all(r.json["max_tokens"] == 20 for r in chats(double))
    assert b.total_tokens > 0 and b.total_cost == 0.0 and b.offline
    assert "6/6 ok" in b.summary()
    data, _ = b.bundle()
    assert data["text/markdown"].count("\n| ") == 6


def test_per_item_errors_do_not_abort_the_batch(double):
    shutil.copy(MEDIA / "speech.mp3", "a.mp3")
    b = map_tool("analyze_audio", ["a.mp3", "missing.mp3", "a.mp3"], progress=False)
    assert len(b.ok) == 2 and len(b.failed) == 1
    assert b.failed[0].index == 1 and b.failed[0].result.code == "INVALID_INPUT"
    assert b.texts[1] is None
    with pytest.raises(or_magic.ToolError):
        b.raise_for_errors()
    rec = b.to_records()
    assert rec[1]["ok"] is False and rec[0]["ok"] is True


def test_notebook_objects_become_media(double):
    import numpy as np

    arr = np.zeros((8, 8, 3), dtype="uint8")
    b = map_tool("analyze_image", [arr, arr], question="What?", progress=False)
    assert b.all_ok, [i.result for i in b.failed]
    assert len(chats(double)) == 2


def test_retry_after_pauses_and_retries(double, monkeypatch):
    monkeypatch.setenv("OPENROUTER_MAX_RETRIES", "0")  # the client would retry on its own
    double.inject(Fault("/chat/completions", status=429, retry_after="1", times=1))
    t0 = time.monotonic()
    b = map_tool("chat_completion", ["a", "b"], concurrency=1, progress=False)
    assert b.all_ok, [i.result.code for i in b.failed]
    assert max(i.attempts for i in b.items) == 2
    assert time.monotonic() - t0 >= 0.9


def test_retry_is_bounded(double, monkeypatch):
    monkeypatch.setenv("OPENROUTER_MAX_RETRIES", "0")
    double.inject(Fault("/chat/completions", status=429, retry_after="0", times=None))
    b = map_tool("chat_completion", ["a"], progress=False, retries=2)
    assert not b.all_ok and b.items[0].attempts == 3
    assert b.failed[0].result.code == "UPSTREAM_REFUSED"


def test_build_args():
    assert build_args("chat_completion", "hi", {"model": "m"}) == {"model": "m", "prompt": "hi"}
    assert build_args("analyze_image", {"image_path": "x.png"}, {"question": "q"}) == {
        "question": "q",
        "image_path": "x.png",
    }
    with pytest.raises(TypeError):
        build_args("rerank_documents", "x", {})
    b = map_tool("rerank_documents", [object()], progress=False)
    assert b.failed[0].result.code == "INVALID_INPUT"


def test_to_pandas_when_available(double):
    pd = pytest.importorskip("pandas")
    b = map_tool("chat_completion", ["x"], progress=False)
    df = b.to_pandas()
    assert isinstance(df, pd.DataFrame) and list(df["ok"]) == [True]
