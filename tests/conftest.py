"""Shared fixtures: every test runs with a clean OpenRouter environment in its own directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
TEST_KEY = "sk-or-v1-" + "0123456789abcdef" * 4  # fake, but shaped like a real key


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """No OPENROUTER_* / OR_MAGIC_* variable leaks in; cwd, output and state dirs are per-test."""
    from or_magic import config

    for name in list(os.environ):
        if name.startswith(("OPENROUTER_", "OR_MAGIC_")) or name == "DEFAULT_MODEL":
            monkeypatch.delenv(name, raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("OR_MAGIC_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(config, "_KEY_OVERRIDE", None)
    yield


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
