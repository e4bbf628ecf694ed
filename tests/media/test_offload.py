"""Image preparation off the event loop: worker threads, a loop that keeps running, codes that survive the hop."""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from pathlib import Path

import pytest

from or_magic.tools.api import call_tool

pytestmark = pytest.mark.anyio


@pytest.fixture
def photo(fixtures_dir: Path) -> str:
    shutil.copy(fixtures_dir / "photo.jpg", Path.cwd() / "photo.jpg")
    return "photo.jpg"


@pytest.mark.parametrize("workers", ["", "0"])
async def test_images_are_prepared_off_the_event_loop(double, monkeypatch, photo, workers):
    from or_magic.media import image, offload

    monkeypatch.setattr(offload, "_pool", None)
    if workers:
        monkeypatch.setenv("OR_MAGIC_MEDIA_WORKERS", workers)
    seen: list[str] = []
    real = image.prepare_image

    def spy(*a, **k):
        seen.append(threading.current_thread().name)
        return real(*a, **k)

    monkeypatch.setattr(image, "prepare_image", spy)
    r = await call_tool("analyze_image", {"image_path": photo})
    assert r.ok, r.text
    if workers == "0":
        assert seen == [threading.current_thread().name]
    else:
        assert seen and seen[0].startswith("or_magic-media")


async def test_the_loop_keeps_running_while_images_are_prepared(double, monkeypatch, photo):
    """The loop ticks *during* a slow preparation (inline, it could not tick at all then)."""
    from or_magic.media import image, offload

    monkeypatch.setattr(offload, "_pool", None)
    real = image.prepare_image
    ticks = 0
    during: list[int] = []

    def slow(*a, **k):
        before = ticks
        time.sleep(0.3)  # stands for decode/resize work (Pillow releases the GIL there too)
        during.append(ticks - before)
        return real(*a, **k)

    monkeypatch.setattr(image, "prepare_image", slow)
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            await asyncio.sleep(0.005)
            ticks += 1

    t = asyncio.create_task(ticker())
    results = await asyncio.gather(
        *(call_tool("analyze_image", {"image_path": photo}) for _ in range(4))
    )
    stop.set()
    await t
    assert all(r.ok for r in results), [r.text for r in results]
    assert len(during) == 4 and max(during) >= 1, during


async def test_a_failing_preparation_still_reports_its_code(double, fixtures_dir):
    shutil.copy(fixtures_dir / "truncated.jpg", Path.cwd() / "truncated.jpg")
    r = await call_tool("analyze_image", {"image_path": "truncated.jpg"})
    assert r.is_error and r.code == "UNSUPPORTED_FORMAT" and "image_path" in r.text
    assert not double.requests_to("/chat/completions")
