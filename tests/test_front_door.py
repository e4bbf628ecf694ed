"""The core's front door (``or_magic.tools``): what front-ends may use, and that they use only it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import or_magic.tools as core
from or_magic.double import Fault

pytestmark = pytest.mark.anyio

PACKAGE = Path(__file__).resolve().parents[1] / "or_magic"
FRONT_ENDS = ["magics", "widgets", "mcp", "display.py", "batch.py"]


def test_every_export_resolves_and_unknown_names_fail():
    assert sorted(core.__all__) == sorted(core._EXPORTS)  # the literal list and the lazy table
    for name in core.__all__:
        assert getattr(core, name) is not None, name
    with pytest.raises(AttributeError, match="no_such_thing"):
        core.no_such_thing  # noqa: B018


def test_importing_the_front_door_loads_nothing_heavy():
    code = (
        "import sys, or_magic.tools as t\n"
        "heavy = [m for m in ('pydantic', 'httpx', 'or_magic.tools.registry') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "t.allowed_values('chat_completion', 'reasoning_effort')\n"
        "assert 'or_magic.tools.registry' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_front_ends_import_the_core_only_through_the_front_door():
    reach = re.compile(r"from (?:or_magic)?\.+tools\.\w+ import|import or_magic\.tools\.\w+")
    private = re.compile(r"import _ext_for|display\._ext_for|tools\.saving")
    offenders = []
    for entry in FRONT_ENDS:
        root = PACKAGE / entry
        for path in [root] if root.is_file() else sorted(root.rglob("*.py")):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if reach.search(line) or private.search(line):
                    offenders.append(f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}")
    assert offenders == []


async def test_model_catalog_is_a_stamped_result(double):
    r = await core.model_catalog()
    assert r.ok, r.text
    assert r.tool == "model_catalog" and "latency_ms" in r.meta and "server_version" in r.meta
    ids = {m["id"] for m in r.data["models"]}
    assert {"google/gemini-2.5-flash-image", "google/veo-3.1"} <= ids  # every output modality
    assert r.data["info"]["count"] == len(ids) and r.data["info"]["stale"] is False
    again = await core.model_catalog()
    assert again.data["models"] == r.data["models"]
    assert len([q for q in double.requests if q.path.endswith("/models")]) == 1  # cached


async def test_model_catalog_failure_is_a_redacted_error_result(double):
    key = "sk-or-v1-" + "a" * 64
    double.inject(Fault(path="/models", method="GET", status=400, message=f"bad key {key}"))
    r = await core.model_catalog()
    assert r.is_error and r.code == "INVALID_INPUT" and r.details["status"] == 400
    assert "bad key" in r.text and key not in r.text and "latency_ms" in r.meta


async def test_video_capabilities_are_a_result(double):
    from or_magic.tools import video_catalog

    video_catalog.reset()
    r = await core.video_capabilities()
    assert r.ok, r.text
    spec = core.find_video_model(r.data["models"], "Google/Veo-3.1")
    assert spec is not None and spec["supported_durations"]
    double.inject(Fault(path="/videos/models", method="GET", status=503, times=None))
    video_catalog.reset()
    failed = await core.video_capabilities()
    assert failed.is_error and failed.code and failed.tool == "video_capabilities"
    video_catalog.reset()
