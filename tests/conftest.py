"""Shared fixtures: every test runs with a clean OpenRouter environment in its own directory."""

from __future__ import annotations

import os
import signal
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


REVOCABLE_KEY = "sk-or-v1-" + "feedfacecafebeef" * 4


def default_sigint() -> None:
    """``preexec_fn`` for a child a test will Ctrl-C: SIGINT at its default disposition.

    A background job of a shell script (``cmd &``, how CI and nohup-style runners often start
    the suite) inherits SIGINT *ignored*, through exec; Python then never raises
    KeyboardInterrupt and a test that sends SIGINT waits for an exit that cannot come.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="session")
def _double_server():
    from or_magic.double import OpenRouterDouble

    d = OpenRouterDouble(valid_keys={TEST_KEY, REVOCABLE_KEY})
    d.start()
    yield d
    d.stop()


@pytest.fixture
def double(_double_server, monkeypatch: pytest.MonkeyPatch):
    """The OpenRouter double over a real loopback socket, with the client pointed at it."""
    from or_magic.tools import catalog

    _double_server.reset()
    catalog.reset()
    monkeypatch.setenv("OPENROUTER_BASE_URL", _double_server.base_url)
    monkeypatch.setenv("OPENROUTER_API_KEY", TEST_KEY)
    monkeypatch.setenv("OPENROUTER_RETRY_MAX_DELAY_MS", "200")
    yield _double_server
    catalog.reset()
