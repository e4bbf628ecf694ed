"""health_check: the key checked for real, a revoked key never valid, the offline backend."""

from __future__ import annotations

import pytest

from or_magic.tools.api import call_tool
from tests.conftest import REVOCABLE_KEY
from tests.tools._helpers import inproc_double_fixture

pytestmark = pytest.mark.anyio


double = inproc_double_fixture()


async def test_health_checks_the_key_for_real(double):
    r = await call_tool("health_check", {})
    assert r.ok and r.data["ok"] is True and r.data["api_key_valid"] is True
    assert r.data["models_cached"] > 0
    assert any(q.path.endswith("/key") for q in double.requests)
    assert r.data["protocol_version"] and r.data["server_version"]


async def test_health_never_reports_a_revoked_key_valid_even_with_a_warm_catalog(
    double, monkeypatch
):
    monkeypatch.setenv("OPENROUTER_API_KEY", REVOCABLE_KEY)
    warm = await call_tool("health_check", {})
    assert warm.data["api_key_valid"] is True
    double.revoke(REVOCABLE_KEY)
    r = await call_tool("health_check", {})
    assert not r.is_error  # health_check reports, it does not fail
    assert r.data["api_key_valid"] is False and r.data["ok"] is False
    assert r.data["error"] and REVOCABLE_KEY not in r.data["error"] and REVOCABLE_KEY not in r.text


async def test_health_offline_is_ok_but_claims_no_valid_key(monkeypatch):
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    r = await call_tool("health_check", {})
    assert r.ok and r.offline
    assert r.data["ok"] is True and r.data["api_key_valid"] is False and r.data["offline"] is True
    assert "offline" in r.text
