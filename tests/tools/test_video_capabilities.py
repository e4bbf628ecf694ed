"""Video capability validation against GET /videos/models: allowed values listed, nothing paid for,
the catalogue cached and coalesced, and an unreachable catalogue not blocking generation."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest

from or_magic.double import Fault
from or_magic.double._media import png
from or_magic.tools import video_catalog
from or_magic.tools.api import call_tool
from tests.tools._helpers import inproc_double_fixture, requests_to

pytestmark = pytest.mark.anyio


double = inproc_double_fixture()


FAST = {"poll_interval_ms": 50}
FRAME = "data:image/png;base64," + base64.b64encode(png(32, 18, bytes(range(32)))).decode()


@pytest.fixture(autouse=True)
def _fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    video_catalog.reset()
    monkeypatch.setenv("OPENROUTER_OUTPUT_DIR", str(tmp_path / "out"))
    yield
    video_catalog.reset()


def submits(double):
    return requests_to(double, "/videos", method="POST")


def catalog_gets(double):
    return requests_to(double, "/videos/models")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"duration": 5}, "duration 5 is not supported by google/veo-3.1; allowed: 4, 6, 8"),
        (
            {"resolution": "4K"},
            "resolution 4K is not supported by google/veo-3.1; allowed: 720p, 1080p",
        ),
        (
            {"aspect_ratio": "1:1"},
            "aspect_ratio 1:1 is not supported by google/veo-3.1; allowed: 16:9, 9:16",
        ),
        (
            {"size": "640x480"},
            "size 640x480 is not supported by google/veo-3.1; allowed: 1280x720, 720x1280",
        ),
        (
            {"model": "openai/sora-2-pro", "first_frame_image": FRAME},
            "openai/sora-2-pro does not accept frame images (first_frame given)",
        ),
        (
            {"model": "alibaba/wan-2.7", "duration": 5, "last_frame_image": FRAME},
            "last_frame image is not supported by alibaba/wan-2.7; allowed: first_frame",
        ),
        (
            {"model": "alibaba/wan-2.7", "generate_audio": True},
            "generate_audio is not supported by alibaba/wan-2.7",
        ),
    ],
)
async def test_unsupported_values_are_invalid_input_listing_the_allowed(double, args, message):
    r = await call_tool("generate_video", {"prompt": "x", **args, **FAST})
    assert r.code == "INVALID_INPUT", r.text
    assert message in r.text
    assert r.details["capabilities"]["model"] == (args.get("model") or "google/veo-3.1")
    assert submits(double) == []


async def test_several_problems_are_reported_together(double):
    r = await call_tool(
        "generate_video", {"prompt": "x", "duration": 3, "resolution": "480p", **FAST}
    )
    assert r.code == "INVALID_INPUT"
    assert len(r.details["problems"]) == 2 and "; " in r.text


async def test_a_non_video_model_is_model_not_found_with_the_list(double):
    r = await call_tool("generate_video", {"prompt": "x", "model": "openai/gpt-4o", **FAST})
    assert r.code == "MODEL_NOT_FOUND"
    assert "google/veo-3.1" in r.text and "bytedance/seedance-2.0-fast" in r.details["video_models"]
    assert submits(double) == []


async def test_capabilities_are_case_insensitive_and_canonicalised(double):
    r = await call_tool(
        "generate_video",
        {"prompt": "x", "model": "Google/Veo-3.1", "resolution": "1080P", "duration": 8, **FAST},
    )
    assert r.ok, r.text
    body = submits(double)[0].json
    assert (body["model"], body["resolution"]) == ("google/veo-3.1", "1080p")  # catalogue spelling


async def test_the_catalogue_is_cached_and_coalesced(double):
    await asyncio.gather(
        *[call_tool("generate_video", {"prompt": "x", "duration": 5, **FAST}) for _ in range(6)]
    )
    assert len(catalog_gets(double)) == 1
    r = await call_tool("generate_video", {"prompt": "x", "duration": 4, **FAST})
    assert r.ok, r.text
    assert len(catalog_gets(double)) == 1


async def test_an_unreachable_catalogue_does_not_block_generation(double):
    double.inject(Fault("/videos/models", status=503, times=3))
    r = await call_tool("generate_video", {"prompt": "x", **FAST})
    assert r.ok, r.text
    assert r.meta["capability_check"].startswith("skipped")
    assert len(submits(double)) == 1


async def test_valid_requests_pass_for_each_model(double):
    cases = [
        {
            "model": "bytedance/seedance-2.0-fast",
            "duration": 11,
            "resolution": "480p",
            "aspect_ratio": "21:9",
        },
        {"model": "alibaba/wan-2.7", "duration": 10, "first_frame_image": FRAME},
        {
            "model": "google/veo-3.1",
            "first_frame_image": FRAME,
            "last_frame_image": FRAME,
            "seed": 7,
        },
        {"model": "openai/sora-2-pro", "duration": 12, "size": "1792x1024"},
    ]
    for args in cases:
        r = await call_tool("generate_video", {"prompt": "x", **args, **FAST})
        assert r.ok, (args, r.text)
    sora = submits(double)[-1].json
    assert sora["size"] == "1792x1024"
    veo = submits(double)[-2].json
    assert [f["frame_type"] for f in veo["frame_images"]] == ["first_frame", "last_frame"]


def test_check_ignores_capabilities_the_catalogue_does_not_list():
    assert (
        video_catalog.check({"id": "m"}, duration=99, resolution="8K", frames=["first_frame"]) == []
    )
    assert video_catalog.check({"id": "m", "supported_durations": []}, duration=3) == []
