"""Live tests against the real OpenRouter API.

Skipped unless ``OPENROUTER_API_KEY`` is set (read at import, before the env-isolation fixture
clears it) and ``OR_MAGIC_LIVE=1``. Free-tier limits are soft failures: a 402/429 skips instead of
failing, so a busy free tier does not make the suite flaky.

    OR_MAGIC_LIVE=1 OPENROUTER_API_KEY=sk-or-v1-... python -m pytest -m live
"""

from __future__ import annotations

import os

import pytest

from or_magic.tools.api import call_tool

LIVE_KEY = os.environ.get("OPENROUTER_API_KEY")
LIVE = bool(LIVE_KEY) and os.environ.get("OR_MAGIC_LIVE") == "1"
FREE_MODEL = os.environ.get("OR_MAGIC_LIVE_MODEL", "google/gemma-4-26b-a4b-it:free")

pytestmark = [
    pytest.mark.live,
    pytest.mark.anyio,
    pytest.mark.skipif(
        not LIVE, reason="live API tests need OPENROUTER_API_KEY and OR_MAGIC_LIVE=1"
    ),
]

SOFT = {"UPSTREAM_REFUSED", "UPSTREAM_TIMEOUT", "UPSTREAM_HTTP"}


@pytest.fixture
def live_env(monkeypatch):
    assert LIVE_KEY
    monkeypatch.setenv("OPENROUTER_API_KEY", LIVE_KEY)
    from or_magic.tools import catalog

    catalog.reset()


def soft(result):
    if result.is_error and result.code in SOFT:
        pytest.skip(f"live API soft failure: {result.code} {result.text[:120]}")
    return result


async def test_live_health_check(live_env):
    r = await call_tool("health_check", {})
    assert r.data["api_key_valid"] is True and not r.offline
    assert LIVE_KEY not in r.text


async def test_live_chat_and_stream(live_env):
    r = soft(
        await call_tool(
            "chat_completion",
            {"prompt": "Reply with the single word: pong", "model": FREE_MODEL, "max_tokens": 64},
        )
    )
    assert r.ok, r.text
    assert r.meta["usage"]["total_tokens"] > 0
    deltas: list[str] = []
    s = soft(
        await call_tool(
            "chat_completion",
            {"prompt": "Count from 1 to 5.", "model": FREE_MODEL, "max_tokens": 64},
            on_text=deltas.append,
        )
    )
    assert s.ok and "".join(deltas) == s.text


async def test_live_catalog_and_unknown_model(live_env):
    r = soft(await call_tool("search_models", {"output_modalities": ["image"], "limit": 5}))
    assert r.ok and r.data["total"] > 0
    bad = await call_tool(
        "chat_completion", {"prompt": "hi", "model": "acme/definitely-not-a-model"}
    )
    assert bad.is_error and bad.code in ("MODEL_NOT_FOUND", "INVALID_INPUT")


async def test_live_bad_key_is_invalid_credentials(monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-" + "0" * 64)
    r = await call_tool("chat_completion", {"prompt": "hi", "model": FREE_MODEL})
    assert r.is_error and r.code == "INVALID_CREDENTIALS"
