"""A save that fails after the paid request never loses what was paid for (saving.py, ``paid``).

The race is real: the double holds its answer (``Fault(delay_s=...)``) and, once the request has
arrived, a thread swaps the save folder for a symlink pointing outside the root (or makes it
unwritable). The write must still fail safely (nothing outside, nothing half-written), and the
result must carry the bytes, the save error's code and ``saved: false``.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from or_magic.double import Fault
from or_magic.tools.api import call_tool

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(os.name != "posix", reason="symlinks and the dir_fd sandbox"),
]

# tool -> (arguments, the double's path for its paid request, magic bytes of the output)
PAID: dict[str, tuple[dict[str, Any], str, bytes]] = {
    "generate_image": ({"prompt": "a fox"}, "/chat/completions", b"\x89PNG"),
    "generate_image_dedicated": ({"prompt": "a fox"}, "/images", b"\x89PNG"),
    "generate_audio": ({"prompt": "hello"}, "/chat/completions", b"RIFF"),
    "text_to_speech": ({"input": "hello", "response_format": "wav"}, "/audio/speech", b"RIFF"),
}
EXT = {"generate_image": "png", "generate_image_dedicated": "png"}


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    root, outside = tmp_path / "out", tmp_path / "outside"
    (root / "pics").mkdir(parents=True)
    outside.mkdir()
    monkeypatch.setenv("OPENROUTER_OUTPUT_DIR", str(root))
    return root, outside


def _when_requested(double, path: str, action) -> threading.Thread:
    """Run ``action`` once the paid request has reached the double (its answer is held)."""

    def wait_then_act() -> None:
        deadline = time.monotonic() + 20
        while not double.requests_to(path) and time.monotonic() < deadline:
            time.sleep(0.005)
        action()

    t = threading.Thread(target=wait_then_act, daemon=True)
    t.start()
    return t


def _swap_for_symlink(folder: Path, outside: Path) -> None:
    os.rename(folder, folder.with_name(folder.name + ".aside"))
    os.symlink(outside, folder, target_is_directory=True)


def _files(d: Path) -> list[Path]:
    return sorted(Path(r) / f for r, _, fs in os.walk(d) for f in fs)


def _save_path(tool: str) -> str:
    return f"pics/out.{EXT.get(tool, 'wav')}"


async def _race(double, tool: str, action, **extra: Any):
    args, path, _ = PAID[tool]
    double.inject(Fault(path=path, delay_s=0.6))
    t = _when_requested(double, path, action)
    r = await call_tool(tool, {**args, "save_path": _save_path(tool), **extra})
    t.join(5)
    return r


@pytest.mark.parametrize("tool", list(PAID))
async def test_a_folder_swapped_for_a_symlink_mid_request_keeps_the_paid_bytes(double, tree, tool):
    root, outside = tree
    r = await _race(double, tool, lambda: _swap_for_symlink(root / "pics", outside))
    assert r.ok, r.text  # a success: error results carry no media in any front-end
    assert r.code == "UNSAFE_PATH", (r.code, r.text)
    assert r.meta["saved"] is False and r.meta["save_error"]["code"] == "UNSAFE_PATH"
    assert "NOT saved" in r.text and "kept in this result" in r.text, r.text
    (item,) = r.media
    assert item.path is None and item.data is not None
    assert item.data.startswith(PAID[tool][2]) and item.size_bytes == len(item.data)
    if tool != "text_to_speech":  # (its default model is a free one)
        assert r.cost is not None and r.cost > 0  # it was paid for, and it says so
    # the write failed safely: nothing through the symlink, nothing half-written anywhere
    assert _files(outside) == [] and _files(root) == []


def _replace_by_a_file(folder: Path) -> None:
    os.rename(folder, folder.with_name(folder.name + ".aside"))
    folder.write_bytes(b"not a directory")


@pytest.mark.parametrize("how", ["a file in its place", "made unwritable"])
@pytest.mark.parametrize("tool", ["generate_image", "generate_audio"])
async def test_a_folder_that_cannot_take_the_file_mid_request_keeps_the_paid_bytes(
    double, tree, tool, how
):
    root, _ = tree
    pics = root / "pics"
    if how == "made unwritable":
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            pytest.skip("root writes through any permission bits")
        action = lambda: os.chmod(pics, 0o500)  # noqa: E731
    else:
        action = lambda: _replace_by_a_file(pics)  # noqa: E731
    try:
        r = await _race(double, tool, action)
    finally:
        if pics.is_dir():
            os.chmod(pics, 0o700)
    assert r.ok and r.code in ("INVALID_INPUT", "INTERNAL"), (r.code, r.text)
    assert r.meta["saved"] is False and r.media[0].data.startswith(PAID[tool][2])
    assert [p.name for p in _files(root)] == (["pics"] if pics.is_file() else [])


async def test_a_folder_removed_mid_request_is_made_again_and_the_save_works(double, tree):
    import shutil

    root, _ = tree
    r = await _race(double, "generate_image", lambda: shutil.rmtree(root / "pics"))
    assert r.ok and r.code is None and "saved" not in r.meta, r.text
    assert Path(r.media[0].path).read_bytes() == r.media[0].data


async def test_too_big_to_inline_it_is_rescued_under_the_auto_folder(double, tree, monkeypatch):
    """MCP drops inline media over the ceiling: the bytes then go to or_magic-output/ instead."""
    from or_magic.config import get_settings
    from or_magic.mcp._adapt import to_call_result

    monkeypatch.setenv("OPENROUTER_IMAGE_INLINE_MAX_BYTES", "16")
    root, outside = tree
    r = await _race(double, "generate_image", lambda: _swap_for_symlink(root / "pics", outside))
    assert r.ok and r.code == "UNSAFE_PATH" and r.meta["saved"] is False, r.text
    (item,) = r.media
    rescued = Path(item.path)
    assert rescued.parent == Path(os.path.realpath(root)) / "or_magic-output"
    assert rescued.read_bytes().startswith(b"\x89PNG") and rescued.stat().st_size == item.size_bytes
    assert f"A copy was saved to: {rescued}" in r.text
    assert r.meta["save_path"] == str(rescued) and r.meta["save_error"]["path"].endswith("out.png")
    assert _files(outside) == [] and _files(root / "pics.aside") == []
    mcp = to_call_result(r, structured=False, settings=get_settings())
    assert not mcp.is_error and mcp.meta["code"] == "UNSAFE_PATH"
    assert [c.type for c in mcp.content] == ["text", "resource_link"]


async def test_several_images_stay_all_or_nothing_and_all_are_kept(double, tree):
    root, outside = tree
    r = await _race(
        double,
        "generate_image_dedicated",
        lambda: _swap_for_symlink(root / "pics", outside),
        n=3,
    )
    assert r.ok and r.code == "UNSAFE_PATH" and len(r.media) == 3, r.text
    assert all(m.path is None and m.data.startswith(b"\x89PNG") for m in r.media)
    assert r.text.count("NOT saved") == 3 and "media[2]" in r.text
    assert _files(outside) == [] and _files(root) == []


async def test_the_front_ends_show_the_kept_image_and_the_code(double, tree):
    from or_magic.config import get_settings
    from or_magic.display import result_bundles
    from or_magic.mcp._adapt import to_call_result

    root, outside = tree
    r = await _race(double, "generate_image", lambda: _swap_for_symlink(root / "pics", outside))
    mcp = to_call_result(r, structured=False, settings=get_settings())
    assert not mcp.is_error and mcp.meta["code"] == "UNSAFE_PATH" and mcp.meta["saved"] is False
    assert [c.type for c in mcp.content] == ["text", "image"]
    assert "NOT saved" in mcp.content[0].text
    bundles = result_bundles(r)
    assert any("image/png" in data for data, _ in bundles)
    assert any("NOT saved" in data.get("text/plain", "") for data, _ in bundles)


async def test_a_save_that_works_is_unchanged(double, tree):
    r = await call_tool("generate_image", {"prompt": "a fox", "save_path": "pics/ok.png"})
    assert r.ok and r.code is None and "saved" not in r.meta, r.text
    assert Path(r.media[0].path).read_bytes() == r.media[0].data


def test_under_a_swapper_process_a_paid_delivery_is_saved_or_kept_never_lost(tmp_path, monkeypatch):
    """``deliver_all(paid=True)`` against the directory swapper of tests/safety: every call
    either saved the exact bytes inside the root or kept them with the save error's code."""
    from or_magic.config import Settings
    from or_magic.double._media import png
    from or_magic.tools.saving import Output, deliver_all, resolve_save, save_failure_code
    from tests.safety.test_sandbox_races import _acceptable, _dir_swapper, _files_under, _race

    if os.open not in os.supports_dir_fd:
        pytest.skip("the race-free guarantee needs dir_fd")
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    s = Settings(output_dir=root, input_dir=root)
    data = png(4, 4, b"\x02" * 32)
    seen = {"saved": 0, "kept": 0}

    def call(i: int) -> None:
        try:
            target = resolve_save(f"sub/img-{i}.png", s)
        except Exception:  # the swap caught the free pre-check: nothing was paid yet
            return
        out = Output(data, "image", "image/png", ".png", target)
        (d,) = deliver_all([out], settings=s, tool="t", noun="Image", paid=True)
        if d.save_error is None:
            assert d.item.path and d.meta.get("saved") is None
            seen["saved"] += 1
        else:
            assert _acceptable(d.save_error), d.save_error.message
            assert d.item.data == data and d.item.path is None and d.meta["saved"] is False
            assert save_failure_code([d]) == d.save_error.code.value
            seen["kept"] += 1

    n = _race(_dir_swapper, (root / "sub", outside), call)
    assert n > 50, n
    assert _files_under(outside) == []
    assert not [p for p in _files_under(root) if p.name.endswith(".part")]
    assert seen["kept"] > 0, seen  # the race did bite


@pytest.mark.parametrize("plant", ["symlink out", "file", "fifo"])
async def test_a_poisoned_auto_folder_does_not_lose_a_rescue_the_front_end_would_drop(
    double, tree, monkeypatch, plant
):
    """``or_magic-output`` pre-planted as a symlink out, a file or a FIFO: the rescue copy goes
    to a fresh name in the root itself (never through the plant), since an inline copy over the
    ceiling is dropped by MCP and the paid bytes would be gone."""
    from or_magic.config import get_settings
    from or_magic.mcp._adapt import to_call_result

    monkeypatch.setenv("OPENROUTER_IMAGE_INLINE_MAX_BYTES", "16")
    root, outside = tree
    auto = root / "or_magic-output"
    {
        "symlink out": lambda: os.symlink(outside, auto, target_is_directory=True),
        "file": lambda: auto.write_bytes(b"planted"),
        "fifo": lambda: os.mkfifo(auto),
    }[plant]()
    r = await _race(double, "generate_image", lambda: _swap_for_symlink(root / "pics", outside))
    assert r.ok and r.code == "UNSAFE_PATH" and r.meta["saved"] is False, r.text
    (item,) = r.media
    rescued = Path(item.path)
    assert rescued.parent == Path(os.path.realpath(root)), rescued
    assert rescued.read_bytes().startswith(b"\x89PNG") and rescued.stat().st_size == item.size_bytes
    assert f"A copy was saved to: {rescued}" in r.text
    assert _files(outside) == [] and os.path.lexists(auto)  # the plant is left as it was
    mcp = to_call_result(r, structured=False, settings=get_settings())
    assert [c.type for c in mcp.content] == ["text", "resource_link"]
