"""The local response cache: a repeated request costs nothing and sends nothing; misses are honest."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from or_magic import response_cache
from or_magic.callopts import call_options
from or_magic.config import get_settings
from or_magic.display import footer_text
from or_magic.double import Fault
from or_magic.result import ToolResult
from or_magic.tools.api import call_tool_sync

MODEL = "openai/gpt-4o-mini"
FIXTURES = Path(__file__).parent / "fixtures"


def upstream(double, suffix: str = "/chat/completions") -> int:
    return sum(1 for r in double.requests if r.path.endswith(suffix))


def chat(**extra):
    return call_tool_sync(
        "chat_completion", {"prompt": "Three facts about tides", "model": MODEL, **extra}
    )


def test_a_hit_sends_nothing_costs_nothing_and_says_cached(double):
    with call_options(cache="on"):
        first = chat()
        second = chat()
    assert first.ok and second.ok and upstream(double) == 1
    assert second.text == first.text and first.cost and second.cost == 0.0
    assert second.meta["cached"] is True and "usage" not in second.meta
    assert second.meta["cached_usage"] == first.meta["usage"]
    assert "cached" in footer_text(second) and "cached" not in footer_text(first)


def test_the_cache_is_off_by_default_and_env_turns_it_on(double, monkeypatch):
    chat()
    chat()
    assert upstream(double) == 2
    monkeypatch.setenv("OR_MAGIC_CACHE", "on")  # the MCP server's switch
    chat()
    assert chat().meta.get("cached") and upstream(double) == 3


def test_every_parameter_is_part_of_the_key(double):
    with call_options(cache="on"):
        chat()
        chat(temperature=0.2)
        chat(temperature=0.3)
        chat(max_tokens=50)
        chat(system="be brief")
        chat(cache=True)  # OpenRouter's server-side cache flag stays a request parameter
        assert upstream(double) == 6
        assert chat(temperature=0.2).meta.get("cached") and upstream(double) == 6


def test_deterministic_mode_caches_only_temperature_zero_or_a_seed(double):
    with call_options(cache="deterministic"):
        chat()
        chat()
        assert upstream(double) == 2
        chat(temperature=0)
        assert chat(temperature=0).meta.get("cached")
        chat(seed=7)
        assert chat(seed=7).meta.get("cached")
    assert upstream(double) == 4


def test_errors_are_never_cached(double):
    double.inject(Fault(status=400, times=1, message="bad thing"))
    with call_options(cache="on"):
        assert chat().is_error
        r = chat()
    assert r.ok and not r.meta.get("cached") and upstream(double) == 2


def test_answers_cut_by_max_tokens_are_never_cached(double):
    with call_options(cache="on"):
        r = chat(max_tokens=2)
        assert r.meta.get("finish_reason") == "length", r.meta
        chat(max_tokens=2)
    assert upstream(double) == 2


@pytest.mark.parametrize(
    "meta,code",
    [({"result_truncated": True}, None), ({}, "JOB_STILL_RUNNING"), ({"cached": True}, None)],
)
def test_storable_refuses_partial_results(meta, code):
    assert not response_cache.storable(
        ToolResult("chat_completion", text="x", meta=meta, code=code)
    )
    assert response_cache.storable(ToolResult("chat_completion", text="x"))


def test_media_inputs_are_keyed_by_content_not_path(double, tmp_path):
    a = Path.cwd() / "a.png"
    shutil.copy(FIXTURES / "diagram.png", a)
    b = Path.cwd() / "b.png"
    shutil.copy(a, b)
    with call_options(cache="on"):
        call_tool_sync("analyze_image", {"image_path": "a.png", "question": "What?"})
        assert call_tool_sync(
            "analyze_image", {"image_path": "b.png", "question": "What?"}
        ).meta.get("cached")  # same bytes, other name: a hit
        from PIL import Image

        Image.new("RGB", (40, 30), "red").save(a)  # edited in place: a miss
        r = call_tool_sync("analyze_image", {"image_path": "a.png", "question": "What?"})
    assert r.ok and not r.meta.get("cached")
    assert upstream(double) == 2


def test_generated_media_come_back_from_the_saved_copy_and_a_deleted_copy_is_a_miss(double):
    args = {"prompt": "a red fox", "model": "google/gemini-2.5-flash-image"}
    with call_options(cache="on"):
        first = call_tool_sync("generate_image", {**args, "save_path": "fox1.png"})
        assert first.ok, first.text
        second = call_tool_sync("generate_image", {**args, "save_path": "fox2.png"})
        assert second.meta.get("cached") and second.cost == 0.0
        assert Path(second.media[0].path).name == "fox2.png"
        assert Path(second.media[0].path).read_bytes() == Path(first.media[0].path).read_bytes()
        assert upstream(double) == 1
        blobs = get_settings().state_root / "cache" / "blobs"
        for p in blobs.rglob("*"):
            if p.is_file():
                p.unlink()
        third = call_tool_sync("generate_image", {**args, "save_path": "fox3.png"})
    assert third.ok and not third.meta.get("cached") and upstream(double) == 2


def test_notebook_objects_are_hashed_and_unhashable_ones_skip_the_cache(double):
    from PIL import Image

    img = Image.new("RGB", (20, 20), "blue")
    with call_options(cache="on"):
        call_tool_sync("analyze_image", {"image_path": img, "question": "Colour?"})
        same = call_tool_sync("analyze_image", {"image_path": img.copy(), "question": "Colour?"})
    assert same.meta.get("cached")
    key = response_cache.request_key(
        "analyze_image", {"image_path": "object://" + "A" * 22}, get_settings()
    )  # a handle that resolves to nothing cannot be hashed: not cached, never wrong
    assert key is None


def test_an_unreadable_cache_is_a_miss_not_a_failure(double):
    with call_options(cache="on"):
        chat()
        db = get_settings().state_root / "cache.sqlite3"
        response_cache._caches.clear()
        db.write_bytes(b"garbage" * 50)
        r = chat()
    assert r.ok and not r.meta.get("cached")


def test_an_offline_answer_never_serves_a_live_request(monkeypatch):
    from or_magic.double import get_offline_double

    offline = get_offline_double()
    offline.reset()
    with call_options(cache="on"):
        first = chat()
        assert first.offline
        # the same request with a key (live) must not be answered by the offline copy
        s_off = get_settings()
        key_off = response_cache.request_key("chat_completion", {"prompt": "p"}, s_off)
        monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-" + "e" * 64)
        key_live = response_cache.request_key("chat_completion", {"prompt": "p"}, get_settings())
    assert key_off != key_live


def test_an_answer_that_echoes_the_key_is_stored_scrubbed(double):
    import sqlite3

    from tests.conftest import TEST_KEY

    double.inject(Fault(echo="repeat after me: {key} / {authorization}", times=None))
    with call_options(cache="on"):
        first = chat()
    assert first.ok and TEST_KEY not in first.text
    cache = response_cache.get_cache(get_settings())
    with sqlite3.connect(cache.db) as c:
        rows = [r[0] for r in c.execute("SELECT result FROM entries")]
    assert rows and all(TEST_KEY not in r for r in rows)  # never on disk in the clear


def test_another_accounts_key_misses(double, monkeypatch):
    from tests.conftest import REVOCABLE_KEY

    with call_options(cache="on"):
        chat()
        monkeypatch.setenv("OPENROUTER_API_KEY", REVOCABLE_KEY)  # a second account, same base URL
        other = chat()
    assert other.ok and not other.meta.get("cached") and upstream(double) == 2


def test_a_hit_says_where_this_call_saved_the_copy(double):
    args = {"prompt": "a red fox", "model": "google/gemini-2.5-flash-image"}
    with call_options(cache="on"):
        first = call_tool_sync("generate_image", {**args, "save_path": "first.png"})
        second = call_tool_sync("generate_image", {**args, "save_path": "second.png"})
    assert first.ok and second.meta.get("cached"), second.text
    assert "first.png" in first.text
    assert "second.png" in second.text and "first.png" not in second.text
