"""Fixes found on the way: health tells network from key, jobs of this kernel once, the keyring."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass

import pytest

from or_magic.tools.api import call_tool_sync

# ---- health: network down is not a bad key -------------------------------------------------------


def test_health_says_network_unreachable_when_the_network_is_down(monkeypatch):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connection refused
    monkeypatch.setenv("OPENROUTER_BASE_URL", f"http://127.0.0.1:{port}/api/v1")
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-" + "0" * 64)
    monkeypatch.setenv("OPENROUTER_MAX_RETRIES", "0")
    r = call_tool_sync("health_check", {})
    assert r.data["key_status"] == "unreachable" and r.data["api_key_valid"] is False
    assert "unreachable" in r.text and "NOT valid" not in r.text


def test_health_says_not_valid_when_the_key_is_rejected(double, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-" + "9" * 64)
    r = call_tool_sync("health_check", {})
    assert r.data["key_status"] == "rejected"
    assert "NOT valid (OpenRouter rejected it)" in r.text


def test_health_with_a_good_key(double):
    r = call_tool_sync("health_check", {})
    assert r.data["key_status"] == "valid" and "API key: valid" in r.text


# ---- jobs: this kernel's, each once -----------------------------------------------------------


@dataclass
class KJob:
    id: str
    tool: str
    created_at: float
    finished_at: float | None = None
    status: str = "completed"
    label: str = "waves"
    elapsed: float = 3.0


@dataclass
class SJob:
    id: str
    tool: str
    created_at: float
    owner_pid: int
    status: str = "completed"
    prompt: str = "waves"
    backend: str = "offline"


def test_jobs_default_to_this_kernel_and_show_a_background_video_once():
    from or_magic.magics._joblist import job_rows

    kernel = [KJob("j1", "generate_video", 100.0, 130.0), KJob("j2", "chat_completion", 200.0)]
    store = [
        SJob("job_mine", "generate_video", 100.5, owner_pid=42),
        SJob("job_other_kernel", "generate_video", 150.0, owner_pid=7),
        SJob("job_mine_fg", "generate_video", 300.0, owner_pid=42),
    ]
    rows = job_rows(kernel, store, pid=42, now=400.0)
    ids = [r[0] for r in rows]
    assert ids == ["j2", "j1 · job_mine", "job_mine_fg"]
    everything = [r[0] for r in job_rows(kernel, store, pid=42, include_all=True, now=400.0)]
    assert everything == [*ids, "job_other_kernel"]


def test_job_store_lists_one_process_jobs(tmp_path):
    from or_magic.jobs import JobStore

    store = JobStore(tmp_path / "j.sqlite3")
    store.create(id="a", kind="video", tool="generate_video", backend="offline")
    with store._conn() as c:
        c.execute("UPDATE jobs SET owner_pid = 1 WHERE id = 'a'")
    store.create(id="b", kind="video", tool="generate_video", backend="offline")
    import os

    assert [j.id for j in store.list(owner_pid=os.getpid())] == ["b"]
    assert {j.id for j in store.list()} == {"a", "b"}


# ---- the key in the OS keyring ------------------------------------------------------------------


@pytest.fixture
def fake_keyring(monkeypatch):
    """A ``keyring`` module with an in-memory backend, injected as if it were installed."""
    vault: dict[tuple[str, str], str] = {}
    mod = types.ModuleType("keyring")

    def get_password(service, user):
        return vault.get((service, user))

    def set_password(service, user, value):
        vault[(service, user)] = value

    def delete_password(service, user):
        if (service, user) not in vault:
            raise RuntimeError("PasswordDeleteError")
        del vault[(service, user)]

    mod.get_password, mod.set_password, mod.delete_password = (
        get_password,
        set_password,
        delete_password,
    )
    monkeypatch.setitem(sys.modules, "keyring", mod)
    return vault


def test_the_key_lookup_order_ends_with_the_keyring(fake_keyring, monkeypatch):
    from or_magic import config, keyring_store

    key_ring = "sk-or-v1-" + "1" * 64
    key_env = "sk-or-v1-" + "2" * 64
    assert config.get_settings().api_key is None
    keyring_store.save_key(key_ring)
    config.set_api_key(None)  # any key change invalidates the settings cache
    assert config.get_settings().api_key.get() == key_ring
    monkeypatch.setenv("OPENROUTER_API_KEY", key_env)
    assert config.get_settings().api_key.get() == key_env
    config.set_api_key("sk-or-v1-" + "3" * 64)
    assert config.get_settings().api_key.get().endswith("3" * 64)
    config.set_api_key(None)
    assert keyring_store.delete_key() and not keyring_store.delete_key()
    monkeypatch.delenv("OPENROUTER_API_KEY")
    config.set_api_key(None)
    assert config.get_settings().api_key is None


def test_a_broken_keyring_backend_is_no_key(fake_keyring, monkeypatch):
    from or_magic import config, keyring_store

    def broken(*a):
        raise OSError("no D-Bus")

    monkeypatch.setattr(sys.modules["keyring"], "get_password", broken)
    config.set_api_key(None)
    assert keyring_store.get_key() is None and config.get_settings().api_key is None


def test_without_the_package_the_keyring_is_absent(monkeypatch):
    from or_magic import keyring_store

    monkeypatch.setitem(sys.modules, "keyring", None)  # import fails
    assert not keyring_store.available() and keyring_store.get_key() is None
