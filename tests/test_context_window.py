"""Context limits: history trimmed to fit (visibly), a prompt that cannot fit refused unsent."""

from __future__ import annotations

import pytest

from or_magic.callopts import call_options
from or_magic.context_window import (
    IMAGE_TOKENS,
    estimate_content_tokens,
    estimate_message_tokens,
    estimate_text_tokens,
    fit_messages,
)
from or_magic.display import footer_text
from or_magic.errors import ToolError
from or_magic.tools.api import call_tool_sync

MODEL = "openai/gpt-4o-mini"  # 128,000-token window in the double's catalogue


def chat_bodies(double):
    return [r.json for r in double.requests if r.path.endswith("/chat/completions")]


def turn(role: str, n_chars: int, tag: str = "") -> dict:
    return {"role": role, "content": (tag + " " + "x" * n_chars).strip()}


def test_the_estimate_is_documented_arithmetic():
    assert estimate_text_tokens("") == 0
    assert estimate_text_tokens("abcd") == 1 and estimate_text_tokens("abcde") == 2
    assert estimate_message_tokens({"role": "user", "content": "abcd"}) == 5
    parts = [{"type": "text", "text": "abcdefgh"}, {"type": "image_url", "image_url": {"url": "u"}}]
    assert estimate_content_tokens(parts) == 2 + IMAGE_TOKENS


def test_oldest_turns_go_first_and_system_and_prompt_stay():
    msgs = [
        {"role": "system", "content": "rules"},
        turn("user", 400, "q1"),
        turn("assistant", 400, "a1"),
        turn("user", 400, "q2"),
        turn("assistant", 400, "a2"),
        turn("user", 40, "now"),
    ]
    fit = fit_messages(msgs, fixed_tokens=0, context_length=300, reserve=50)
    kept = [m["content"][:3] for m in fit.messages]
    assert kept == ["rul", "q2 ", "a2 ", "now"]
    assert fit.note["dropped_messages"] == 2 and fit.note["limit"] == "context_window"


def test_a_reply_is_never_kept_without_its_question():
    msgs = [turn("user", 400, "q1"), turn("assistant", 40, "a1"), turn("user", 40, "now")]
    fit = fit_messages(msgs, fixed_tokens=0, context_length=100, reserve=10)
    assert [m["content"][:3] for m in fit.messages] == ["now"]


def test_nothing_changes_when_it_fits():
    msgs = [turn("assistant", 10), turn("user", 10)]  # a leading reply is fine when untrimmed
    fit = fit_messages(msgs, fixed_tokens=0, context_length=1000, reserve=10)
    assert fit.messages == msgs and fit.note is None


def test_history_tokens_caps_history_below_the_window():
    msgs = [turn("user", 400, "q1"), turn("assistant", 400, "a1"), turn("user", 4)]
    fit = fit_messages(msgs, fixed_tokens=0, context_length=100_000, reserve=10, history_tokens=150)
    assert fit.note["limit"] == "history_tokens" and fit.note["dropped_messages"] == 2


@pytest.mark.parametrize("reserve", [0, 1000])
def test_a_prompt_that_cannot_fit_is_refused(reserve):
    with pytest.raises(ToolError) as exc:
        fit_messages([turn("user", 4000)], fixed_tokens=0, context_length=1000, reserve=reserve)
    assert exc.value.code.value == "INVALID_INPUT"
    assert "an estimate" in exc.value.message and "1,000" in exc.value.message


def test_the_issue_repro_a_million_token_prompt_is_refused_unsent(double):
    r = call_tool_sync("chat_completion", {"prompt": "word " * 800_000, "model": MODEL})
    assert r.code == "INVALID_INPUT" and "context window" in r.text
    assert r.details["estimated_prompt_tokens"] > 1_000_000
    assert chat_bodies(double) == []


def test_a_huge_old_turn_is_trimmed_from_history_and_the_footer_says_so(double):
    history = [
        {"role": "user", "content": "word " * 200_000},  # ~250k tokens: over the 128k window
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "small question"},
        {"role": "assistant", "content": "small answer"},
    ]
    r = call_tool_sync(
        "chat_completion", {"messages": history, "prompt": "and now?", "model": MODEL}
    )
    assert r.ok, r.text
    note = r.meta["history_trimmed"]
    assert note["dropped_messages"] == 2 and note["context_length"] == 128_000
    assert "history trimmed: 2 oldest messages dropped" in footer_text(r)
    (body,) = chat_bodies(double)
    assert [m["content"] for m in body["messages"]] == [
        "small question",
        "small answer",
        "and now?",
    ]


def test_history_tokens_option_trims_without_the_catalogue(double):
    history = [turn("user", 4000, "old"), turn("assistant", 40, "a"), turn("user", 40, "recent")]
    with call_options(history_tokens=100):
        r = call_tool_sync("chat_completion", {"messages": history, "model": MODEL})
    assert r.ok and r.meta["history_trimmed"]["limit"] == "history_tokens"
    (body,) = chat_bodies(double)
    assert [m["content"][:6] for m in body["messages"]] == ["recent"]
    assert not any(r.path.endswith("/models") for r in double.requests)


def test_small_chats_cost_no_catalogue_request(double):
    r = call_tool_sync("chat_completion", {"prompt": "hi", "model": MODEL})
    assert r.ok and "history_trimmed" not in r.meta
    assert [q.path.rsplit("/", 1)[-1] for q in double.requests] == ["completions"]


def test_a_model_missing_from_the_catalogue_is_left_to_the_upstream(double):
    r = call_tool_sync("chat_completion", {"prompt": "word " * 10_000, "model": "nobody/unknown-1"})
    assert r.code != "INVALID_INPUT" or "context window" not in r.text
