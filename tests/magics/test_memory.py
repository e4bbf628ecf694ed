"""The magics' side of the memory: --cache, --max-cost, budget_usd, log, --resume, key --save."""

from __future__ import annotations

import json
import sys
import types
from typing import Any

import pytest

from or_magic import calllog, usage
from or_magic.double import get_offline_double
from or_magic.magics import get_magics
from tests.magics._helpers import load_magics_shell, run_cell


@pytest.fixture
def ip(monkeypatch):
    from or_magic import log

    monkeypatch.setattr(log, "_stream", log._stream)
    shell, m = load_magics_shell()
    m.chats.clear()
    usage.reset()
    double = get_offline_double()
    double.reset()
    yield shell
    double.reset()
    usage.reset()
    m.chats.clear()


run = run_cell


def text_of(cap) -> str:
    return "\n".join(o.data.get("text/plain", "") for o in cap.outputs) + cap.stdout


def chat_requests() -> list[Any]:
    return [r for r in get_offline_double().requests if r.path.endswith("/chat/completions")]


def test_cache_flag_makes_the_second_run_free_and_says_cached(ip):
    cell = "%%openrouter --cache -m openai/gpt-4o-mini --no-history\nTwo facts about Mars"
    cap1, res1 = run(ip, cell)
    cap2, res2 = run(ip, cell)
    assert res1.error_in_exec is None and res2.error_in_exec is None
    assert len(chat_requests()) == 1
    assert "cached" in text_of(cap2) and "cached" not in text_of(cap1)


def test_cache_trait_applies_to_every_cell(ip):
    get_magics(ip).cache = "on"
    for _ in range(2):
        run(ip, "%%openrouter --no-history\nSame question")
    assert len(chat_requests()) == 1


def test_max_cost_refuses_before_sending(ip):
    _, res = run(ip, "%%openrouter --max-cost 0.0000001 -m openai/gpt-4o-mini\nHello")
    err = res.error_in_exec
    assert err is not None and err.code == "BUDGET_EXCEEDED" and "estimated" in str(err)
    assert chat_requests() == []
    assert get_magics(ip).chats.get("default") in (None, [])  # a refused prompt is not remembered


def test_budget_trait_and_usage_line(ip):
    m = get_magics(ip)
    m.budget_usd = 5.0
    run(ip, "%%openrouter -m openai/gpt-4o-mini --max-tokens 20\nHi")
    cap, _ = run(ip, "%openrouter usage")
    assert "Budget: $" in cap.stdout and "of $5.00 spent this session" in cap.stdout
    m.budget_usd = 0.0000001
    _, res = run(ip, "%%openrouter -m openai/gpt-4o-mini\nAgain")
    assert res.error_in_exec.code == "BUDGET_EXCEEDED" and "session budget" in str(
        res.error_in_exec
    )


def test_log_command_table_json_and_variable(ip):
    run(ip, "%%openrouter --chat notes -m openai/gpt-4o-mini\nRemember the tides")
    cap, res = run(ip, "%openrouter log tides")
    assert res.error_in_exec is None and "Remember the tides" in text_of(cap)
    cap, _ = run(ip, "%openrouter log -n 1 --json")
    rows = json.loads(cap.stdout)
    assert rows[0]["chat"] == "notes" and rows[0]["tool"] == "chat_completion"
    run(ip, "%openrouter log --here -o t_rows")
    assert ip.user_ns.pop("t_rows")[0]["prompt"] == "Remember the tides"


def test_resume_continues_a_logged_conversation_in_a_new_kernel(ip):
    run(ip, "%%openrouter --chat trip -m openai/gpt-4o-mini\nWe go to Lisbon in May")
    get_magics(ip).chats.clear()  # what a new kernel has
    _, res = run(ip, "%%openrouter --chat trip --resume -m openai/gpt-4o-mini\nWhere do we go?")
    assert res.error_in_exec is None
    sent = chat_requests()[-1].json["messages"]
    assert [m["content"] for m in sent if m["role"] == "user"][-2:] == [
        "We go to Lisbon in May",
        "Where do we go?",
    ]
    _, res = run(ip, "%%openrouter --chat nobody --resume\nHi")
    assert "no logged conversation named 'nobody'" in str(res.error_in_exec)


def test_log_calls_trait_turns_the_log_off(ip):
    get_magics(ip).log_calls = False
    run(ip, "%%openrouter --no-history\nnot logged")
    assert calllog.calls("logged") == []


def test_jobs_takes_only_all(ip, monkeypatch):
    from collections import OrderedDict

    from or_magic.magics import _jobs

    monkeypatch.setattr(_jobs, "JOBS", OrderedDict())  # this kernel (the test process): none yet
    _, res = run(ip, "%openrouter jobs --everything")
    assert "usage: %openrouter jobs [--all]" in str(res.error_in_exec)
    cap, res = run(ip, "%openrouter jobs")
    assert res.error_in_exec is None and "No jobs in this kernel" in text_of(cap)


def test_key_save_needs_keyring_then_stores_it_there(ip, monkeypatch):
    monkeypatch.setitem(sys.modules, "keyring", None)
    _, res = run(ip, "%openrouter key --save")
    assert "needs the optional 'keyring' package" in str(res.error_in_exec)

    vault: dict = {}
    mod = types.ModuleType("keyring")
    mod.get_password = lambda s, u: vault.get((s, u))
    mod.set_password = lambda s, u, v: vault.__setitem__((s, u), v)
    mod.delete_password = lambda s, u: vault.pop((s, u))
    monkeypatch.setitem(sys.modules, "keyring", mod)
    key = "sk-or-v1-" + "c" * 64
    import getpass

    monkeypatch.setattr(getpass, "getpass", lambda prompt="": key)
    cap, res = run(ip, "%openrouter key --save")
    assert res.error_in_exec is None and "saved in the OS keyring" in cap.stdout
    assert vault == {("or_magic", "OPENROUTER_API_KEY"): key}
    assert key not in json.dumps(ip.user_ns.get("_oh", {}), default=str)
    cap, _ = run(ip, "%openrouter key --clear")
    assert "removed from the OS keyring" in cap.stdout and vault == {}


def test_status_save_of_a_counted_video_does_not_count_it_again(ip, monkeypatch):
    monkeypatch.setenv("OPENROUTER_VIDEO_POLL_INTERVAL_MS", "50")
    _, res = run(ip, "%%openrouter video --duration 4 -o t_v\nWaves")
    assert res.error_in_exec is None
    video_id = ip.user_ns.pop("t_v").meta["video_id"]
    before = usage.totals()
    assert (
        before.simulated_cost_usd > 0
    )  # offline: the double's price is counted apart, as simulated
    _, res = run(ip, f"%openrouter status {video_id} --save again.mp4")
    assert res.error_in_exec is None
    after = usage.totals()
    counted = (after.calls, after.cost_usd, after.simulated_cost_usd)
    assert counted == (before.calls, before.cost_usd, before.simulated_cost_usd)


def test_a_malformed_memory_flag_is_reported_once_by_the_mode_parser(ip):
    cap, res = run(ip, "%%openrouter --max-cost lots\nHi")
    assert "--max-cost" in str(res.error_in_exec) and "invalid float value" in str(
        res.error_in_exec
    )
    assert (cap.stdout + cap.stderr).count("invalid float value") <= 1  # said once, not twice
    assert chat_requests() == []


def test_cache_command_shows_and_clears(ip):
    run(ip, "%%openrouter --cache --no-history\nCache me")
    cap, _ = run(ip, "%openrouter cache")
    assert "Local response cache: off (1 entries" in cap.stdout
    cap, _ = run(ip, "%openrouter cache clear")
    assert "cleared (1 entries)" in cap.stdout
    run(ip, "%%openrouter --cache --no-history\nCache me")
    assert len(chat_requests()) == 2


def test_the_issue_repro_in_a_notebook_a_huge_prompt_is_refused_and_never_resent(ip):
    ip.user_ns["t_huge"] = "word " * 800_000
    _, res = run(ip, "%%openrouter -m openai/gpt-4o-mini\n{{t_huge}}")
    err = res.error_in_exec
    assert err is not None and err.code == "INVALID_INPUT" and "context window" in str(err)
    assert chat_requests() == []
    _, res = run(ip, "%%openrouter -m openai/gpt-4o-mini\nA small follow-up")
    assert res.error_in_exec is None
    (req,) = chat_requests()
    assert sum(len(m["content"] or "") for m in req.json["messages"]) < 10_000
