"""Shared fixtures: every test runs with a clean OpenRouter environment in its own directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
TEST_KEY = "sk-or-v1-" + "0123456789abcdef" * 4  # fake, but shaped like a real key


def is_openrouter_setting(name: str) -> bool:
    """An environment variable that configures or_magic or its OpenRouter client: none may leak
    from the developer's shell into a test, or into a process a test starts."""
    return name.startswith(("OPENROUTER_", "OR_MAGIC_")) or name == "DEFAULT_MODEL"


def clean_environ(*drop_prefixes: str, **extra: str) -> dict[str, str]:
    """The environment for a process a test starts: ``os.environ`` without any OpenRouter setting
    (nor the variables starting with one of ``drop_prefixes``), plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not is_openrouter_setting(k) and not k.startswith(drop_prefixes)
    }
    env.update(extra)
    return env


def jupyter_dirs(root: Path) -> dict[str, str]:
    """Every directory IPython, matplotlib and Jupyter read and write, under ``root``: a Jupyter
    a test starts sees none of the developer's configuration and leaves nothing in their home."""
    return {
        "IPYTHONDIR": str(root / "ipython"),
        "MPLCONFIGDIR": str(root / "mpl"),
        "JUPYTER_CONFIG_DIR": str(root / "jupyter-config"),
        "JUPYTER_DATA_DIR": str(root / "jupyter-data"),
        "JUPYTER_RUNTIME_DIR": str(root / "jupyter-runtime"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """No OPENROUTER_* / OR_MAGIC_* variable leaks in; cwd, output and state dirs are per-test."""
    from or_magic import config

    for name in list(os.environ):
        if is_openrouter_setting(name):
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


def import_jupyter_stack() -> tuple[Any, Any]:
    """``(nbformat, nbclient)``, skipping the test without them or ipykernel.

    Called when a kernel test runs, not at collection: the default run deselects those files,
    and importing ipykernel and nbclient costs seconds of CPU.
    """
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    return nbformat, nbclient


def run_python(
    code: str, *, env: dict[str, str], timeout: float, cwd: str | None = None
) -> subprocess.CompletedProcess:
    """``python -c code`` in a fresh interpreter (what it imports is its own), output as text."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
    )


def deliver_png(data: bytes, settings: Any, save_path: Path | None) -> Any:
    """``deliver_bytes`` of a PNG the way an image tool calls it (tool ``t``)."""
    from or_magic.tools.saving import deliver_bytes

    return deliver_bytes(
        data,
        kind="image",
        mime="image/png",
        ext=".png",
        settings=settings,
        tool="t",
        save_path=save_path,
        noun="Image",
    )


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


# Where the in-process double "lives": nothing listens on port 9 (discard), so a request that
# bypassed the in-process transport fails at once instead of reaching some other server.
INPROC_BASE_URL = "http://127.0.0.1:9/api/v1"


@pytest.fixture(scope="session")
def _double_app():
    """A double that is never served on a socket: only its ASGI app is used, in-process."""
    from or_magic.double import OpenRouterDouble

    return OpenRouterDouble(valid_keys={TEST_KEY, REVOCABLE_KEY})


@pytest.fixture
def double_inproc(_double_app, monkeypatch: pytest.MonkeyPatch):
    """The double's ASGI app called in-process through ``httpx.ASGITransport``: no socket, no thread.

    For tests of what the core sends and makes of the answers. Whole responses are buffered by
    the transport, so tests of SSE timing, deadlines, dropped connections, TLS or SSRF keep the
    socket ``double``. The double's ``base_url``/``url`` are not available (not started).
    """
    import httpx

    from or_magic.client import http
    from or_magic.tools import catalog

    _double_app.reset()
    catalog.reset()
    old = http.set_transport_factory(lambda: httpx.ASGITransport(app=_double_app.app))
    monkeypatch.setenv("OPENROUTER_BASE_URL", INPROC_BASE_URL)
    monkeypatch.setenv("OPENROUTER_API_KEY", TEST_KEY)
    monkeypatch.setenv("OPENROUTER_RETRY_MAX_DELAY_MS", "200")
    yield _double_app
    http.set_transport_factory(old)
    catalog.reset()
