"""save_path safety for every generation tool: each sandbox case is refused with UNSAFE_PATH before
any request (nothing paid for), the explicit bypass works, and the tool annotations/descriptions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from or_magic.tools import video_catalog
from or_magic.tools.api import call_tool, get_tool
from or_magic.tools.base import SECTIONS
from tests.tools._helpers import GEN_TOOLS as SAVING_TOOLS
from tests.tools._helpers import inproc_double_fixture

pytestmark = pytest.mark.anyio


double = inproc_double_fixture()

GEN_TOOLS = {
    **SAVING_TOOLS,
    "generate_video_from_image": {"image": "start.png", "prompt": "waves", "poll_interval_ms": 50},
    "get_video_status": {"video_id": "job_abc"},
}


@pytest.fixture
def roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    video_catalog.reset()
    out = tmp_path / "out"
    outside = tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    monkeypatch.setenv("OPENROUTER_OUTPUT_DIR", str(out))
    (out / "link").symlink_to(outside, target_is_directory=True)
    (outside / "target.bin").write_bytes(b"precious")
    (out / "final.png").symlink_to(outside / "target.bin")
    (out / "dangling.wav").symlink_to(outside / "nothing-here.wav")
    return out, outside


def unsafe_cases(outside: Path) -> dict[str, str]:
    return {
        "traversal": "../outside/x.bin",
        "deep traversal": "a/b/../../../outside/x.bin",
        "absolute outside": str(outside / "x.bin"),
        "symlinked parent": "link/x.bin",
        "symlink final component": "final.png",
        "dangling symlink final component": "dangling.wav",
        "nul byte": "x\x00.bin",
    }


@pytest.mark.parametrize("tool", list(GEN_TOOLS))
async def test_every_unsafe_save_path_is_refused_before_any_request(double, roots, tool):
    _, outside = roots
    for case, path in unsafe_cases(outside).items():
        r = await call_tool(tool, {**GEN_TOOLS[tool], "save_path": path})
        assert r.code == "UNSAFE_PATH", (tool, case, r.text)
        assert case == "nul byte" or "OPENROUTER_ALLOW_UNSAFE_PATHS" in r.text, r.text
    assert double.requests == [], f"{tool} sent a request"
    assert sorted(p.name for p in outside.iterdir()) == ["target.bin"]
    assert (outside / "target.bin").read_bytes() == b"precious"


async def test_the_explicit_bypass_writes_where_asked(double, roots, monkeypatch):
    _, outside = roots
    monkeypatch.setenv("OPENROUTER_ALLOW_UNSAFE_PATHS", "1")
    r = await call_tool("generate_image", {"prompt": "x", "save_path": str(outside / "free.png")})
    assert r.ok, r.text
    assert (outside / "free.png").read_bytes()[:4] == b"\x89PNG"


async def test_missing_output_root_is_created(double, tmp_path, monkeypatch):
    root = tmp_path / "not" / "yet" / "there"
    monkeypatch.setenv("OPENROUTER_OUTPUT_DIR", str(root))
    r = await call_tool("text_to_speech", {"input": "hello", "save_path": "sub/hi.mp3"})
    assert r.ok, r.text
    assert (root / "sub" / "hi.mp3").is_file()


async def test_a_symlink_at_the_corrected_name_is_not_written_through(double, roots):
    out, outside = roots
    (out / "pic.png").symlink_to(outside / "target.bin")
    r = await call_tool("generate_image", {"prompt": "x", "save_path": "pic.jpg"})
    assert r.code == "UNSAFE_PATH", r.text
    assert (outside / "target.bin").read_bytes() == b"precious"
    assert not (out / "pic.jpg").exists()


async def test_existing_files_are_replaced_atomically(double, roots):
    out, _ = roots
    (out / "keep.png").write_bytes(b"old")
    r = await call_tool("generate_image", {"prompt": "x", "save_path": "keep.png"})
    assert r.ok
    assert (out / "keep.png").read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in os.listdir(out) if p.endswith(".part")]


# ---- annotations and descriptions --------------------------------------------------------------


def test_annotations_and_descriptions():
    for name in GEN_TOOLS:
        spec = get_tool(name)
        assert spec is not None, name
        d = spec.description
        positions = [d.index(f"{s}:") for s in SECTIONS]
        assert positions == sorted(positions), name
        a = spec.annotations
        assert a.destructive is False and a.open_world is True and a.read_only is False, name
        if name == "get_video_status":
            assert a.idempotent is True
        else:
            assert a.idempotent is False
        if "video" in name:
            assert "JOB_STILL_RUNNING" in d, name
        assert "UNSAFE_PATH" in d, name
        props = spec.input_model.model_json_schema()["properties"]
        assert "save_path" in props, name
    vs = get_tool("generate_video").input_model.model_json_schema()["properties"]
    assert vs["max_wait_ms"]["anyOf"][0]["minimum"] == 100
    assert vs["poll_interval_ms"]["anyOf"][0]["minimum"] == 50
