"""The call log: every call a redacted row, written off the call path, readable back, robust."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from or_magic import calllog
from or_magic.callopts import call_options
from or_magic.config import get_settings
from or_magic.result import MediaItem, ToolResult
from or_magic.tools.api import call_tool_sync

MODEL = "openai/gpt-4o-mini"
FAKE_KEY = "sk-or-v1-" + "ab12" * 16


def _db() -> Path:
    return get_settings().state_root / calllog.FILE_NAME


def test_a_chat_is_logged_with_everything_and_read_back():
    with call_options(chat="notes"):
        r = call_tool_sync("chat_completion", {"prompt": "Name a moon of Saturn", "model": MODEL})
    assert r.ok
    (row,) = calllog.calls()
    assert row["tool"] == "chat_completion" and row["model"] == MODEL and row["chat"] == "notes"
    assert row["prompt"] == "Name a moon of Saturn" and "Saturn" in row["answer"]
    assert row["messages"] is None and row["params"]["prompt"] == "Name a moon of Saturn"
    assert row["usage"]["total_tokens"] > 0 and row["cost_usd"] == pytest.approx(r.cost)
    assert row["latency_ms"] > 0 and row["offline"] is True and row["cache_hit"] is False
    assert row["session"] == calllog.session_id() and row["pid"] == os.getpid()
    # the file is plain SQLite any tool can read
    with sqlite3.connect(_db()) as c:
        assert c.execute("SELECT count(*) FROM calls").fetchone()[0] == 1


def test_errors_are_logged_with_their_code():
    r = call_tool_sync("chat_completion", {"prompt": "hi", "temperature": 9})
    assert r.code == "INVALID_INPUT"
    (row,) = calllog.calls()
    assert row["is_error"] is True and row["code"] == "INVALID_INPUT"


def test_the_key_is_never_stored(monkeypatch):
    from or_magic.config import set_api_key

    set_api_key(FAKE_KEY)
    try:
        monkeypatch.setenv("OPENROUTER_OFFLINE", "1")
        call_tool_sync("chat_completion", {"prompt": f"my key is {FAKE_KEY} ok", "model": MODEL})
    finally:
        set_api_key(None)
    calllog.calls()  # flushes
    raw = _db().read_bytes() + b"".join(
        p.read_bytes() for p in _db().parent.glob("calls.sqlite3*") if p.is_file()
    )
    assert FAKE_KEY.encode() not in raw
    (row,) = calllog.calls()
    assert "[REDACTED]" in row["prompt"]


def test_media_are_stored_as_path_and_hash_never_bytes(tmp_path):
    log = calllog.CallLog(tmp_path / "c.sqlite3")
    data = b"\x89PNG" + os.urandom(3000)
    saved = tmp_path / "x.bin"
    saved.write_bytes(b"saved bytes")
    res = ToolResult(
        tool="generate_image",
        text="ok",
        media=[
            MediaItem("image", "image/png", data=data),
            MediaItem("image", "image/png", path=str(saved)),
        ],
    )
    log.write(calllog.build_row("generate_image", {"prompt": "p"}, res))
    (row,) = log.query()
    import hashlib

    assert [m["sha256"] for m in row["media"]] == [
        hashlib.sha256(data).hexdigest(),
        hashlib.sha256(b"saved bytes").hexdigest(),
    ]
    assert row["media"][1]["path"] == str(saved)
    assert data not in (tmp_path / "c.sqlite3").read_bytes()


def test_search_with_fts_and_with_like(tmp_path):
    log = calllog.CallLog(tmp_path / "c.sqlite3")
    for p, a in [("tides and moons", "gravity"), ("recipe", "flour 100% sugar"), ("x", "y")]:
        log.write(calllog.build_row("chat_completion", {"prompt": p}, ToolResult("t", text=a)))
    assert log.fts  # the stdlib SQLite of CI has FTS5
    assert [r["prompt"] for r in log.query("moons")] == ["tides and moons"]
    assert [r["prompt"] for r in log.query("gravity tides")] == ["tides and moons"]
    assert log.query('"unbalanced (') == []  # user punctuation is not FTS syntax
    log.fts = False  # the fallback: substring, with % and _ taken literally
    assert [r["prompt"] for r in log.query("100%")] == ["recipe"]
    assert log.query("10_%") == []
    assert len(log.query(n=2)) == 2 and log.query(n=0) == []


def test_off_switch_env_and_option(monkeypatch):
    monkeypatch.setenv("OR_MAGIC_LOG", "0")
    call_tool_sync("chat_completion", {"prompt": "a", "model": MODEL})
    monkeypatch.delenv("OR_MAGIC_LOG")
    with call_options(log=False):
        call_tool_sync("chat_completion", {"prompt": "b", "model": MODEL})
    assert calllog.calls() == []
    call_tool_sync("chat_completion", {"prompt": "c", "model": MODEL})
    assert [r["prompt"] for r in calllog.calls()] == ["c"]


def test_a_corrupt_database_is_moved_aside_and_calls_still_work():
    db = _db()
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_bytes(b"this is not a database" * 100)
    r = call_tool_sync("chat_completion", {"prompt": "still works", "model": MODEL})
    assert r.ok
    (row,) = calllog.calls()
    assert row["prompt"] == "still works"
    assert list(db.parent.glob("calls.sqlite3.corrupt-*"))


def test_a_locked_database_never_blocks_or_fails_the_call(tmp_path):
    """Another process holds the write lock: the call returns at once; the row waits in the queue."""
    call_tool_sync("chat_completion", {"prompt": "create", "model": MODEL})
    assert calllog.flush_all()
    holder = sqlite3.connect(_db(), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        t0 = time.monotonic()
        r = call_tool_sync("chat_completion", {"prompt": "while locked", "model": MODEL})
        took = time.monotonic() - t0
        assert r.ok and took < 2.0, took
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert {r["prompt"] for r in calllog.calls()} == {"create", "while locked"}


def test_a_write_that_fails_is_logged_not_raised(tmp_path, monkeypatch):
    log = calllog.CallLog(tmp_path / "c.sqlite3")

    real = log._insert
    failing = [True]

    def boom(conn, rows):
        if failing[0]:
            raise sqlite3.OperationalError("disk I/O error")
        return real(conn, rows)

    monkeypatch.setattr(log, "_insert", boom)
    seen = []
    monkeypatch.setattr(calllog.log, "warn", lambda msg, **kw: seen.append((msg, kw)))
    row = calllog.build_row("chat_completion", {"prompt": "p"}, ToolResult("t", text="a"))
    log.submit(row)
    assert log.flush(5)
    assert log.dropped == 1 and seen and seen[0][0] == "call_log.write_failed"
    failing[0] = False
    log.submit(row)  # the writer thread survived and reopens its connection
    assert log.flush(5) and len(log.query()) == 1


_WRITER = """
import sys
from pathlib import Path
from or_magic import calllog
from or_magic.result import ToolResult
log = calllog.CallLog(Path(sys.argv[1]))
for i in range(int(sys.argv[3])):
    log.write(calllog.build_row("chat_completion", {"prompt": f"{sys.argv[2]}-{i}"}, ToolResult("t", text="a")))
"""


def test_two_processes_write_the_same_database_at_once(tmp_path):
    db = tmp_path / "shared.sqlite3"
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(db), tag, "40"])
        for tag in ("left", "right")
    ]
    for p in procs:
        assert p.wait(timeout=120) == 0
    rows = calllog.CallLog(db).query(n=1000)
    prompts = {r["prompt"] for r in rows}
    assert len(rows) == 80 and {f"left-{i}" for i in range(40)} <= prompts


def test_threads_logging_concurrently_lose_nothing():
    def work(i):
        call_tool_sync("chat_completion", {"prompt": f"thread {i}", "model": MODEL})

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(calllog.calls(n=100)) == 8


def test_to_pandas_and_conversation():
    with call_options(chat="c1"):
        call_tool_sync("chat_completion", {"prompt": "first", "model": MODEL})
        call_tool_sync("chat_completion", {"prompt": "second", "model": MODEL})
    call_tool_sync("chat_completion", {"prompt": "other chat", "model": MODEL})
    df = calllog.calls().to_pandas()
    assert list(df["prompt"]) == ["other chat", "second", "first"]
    conv = calllog.conversation("c1")
    assert [m["role"] for m in conv] == ["user", "assistant", "user", "assistant"]
    assert [m["content"] for m in conv[::2]] == ["first", "second"]


def test_logging_overhead_per_call_is_small(tmp_path, capsys):
    """Building and queueing a row (what the call path pays) is well under a millisecond."""
    log = calllog.CallLog(tmp_path / "o.sqlite3")
    res = ToolResult("chat_completion", text="answer " * 200, meta={"usage": {"total_tokens": 9}})
    args = {"messages": [{"role": "user", "content": "q " * 500}], "model": MODEL}
    n = 300
    t0 = time.perf_counter()
    for _ in range(n):
        log.submit(calllog.build_row("chat_completion", args, res))
    per_call_ms = (time.perf_counter() - t0) / n * 1000
    t1 = time.perf_counter()
    assert log.flush(60)
    write_ms = (time.perf_counter() - t1) / n * 1000
    with capsys.disabled():
        print(
            f"\n[call log] call-path overhead {per_call_ms:.3f} ms/call; writer {write_ms:.2f} ms/row"
        )
    assert per_call_ms < 5.0
    assert len(log.query(n=1000)) == n


def test_rows_are_json_friendly():
    call_tool_sync("chat_completion", {"prompt": "json me", "model": MODEL})
    json.dumps(list(calllog.calls()))


def test_a_script_that_exits_right_after_a_call_keeps_its_row(tmp_path):
    code = (
        "from or_magic.tools.api import call_tool_sync\n"
        "call_tool_sync('chat_completion', {'prompt': 'last words', 'model': 'openai/gpt-4o-mini'})\n"
    )
    env = {**os.environ, "OR_MAGIC_STATE_DIR": str(tmp_path / "s")}
    env = {k: v for k, v in env.items() if not k.startswith("OPENROUTER_")}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    rows = calllog.CallLog(tmp_path / "s" / calllog.FILE_NAME).query()
    assert [r["prompt"] for r in rows] == ["last words"]


def test_a_key_of_any_shape_from_the_settings_is_redacted(monkeypatch):
    odd_key = "custom-proxy-token-" + "Zq9" * 6  # not shaped like an OpenRouter key
    monkeypatch.setenv("OPENROUTER_API_KEY", odd_key)
    monkeypatch.setenv("OPENROUTER_OFFLINE", "1")
    call_tool_sync("chat_completion", {"prompt": f"echo {odd_key}", "model": MODEL})
    (row,) = calllog.calls()
    assert odd_key not in json.dumps(row) and "[REDACTED]" in row["prompt"]
