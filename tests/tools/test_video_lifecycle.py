"""The video lifecycle against the double: submit → poll → download, JOB_STILL_RUNNING and resume,
failed/cancelled/expired jobs, progress, cancellation, restarts, size caps and inline ceilings."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from or_magic.config import get_settings
from or_magic.double import Fault, OpenRouterDouble
from or_magic.jobs import get_job_store
from or_magic.media.video import mp4_has_signature
from or_magic.tools import video_catalog
from or_magic.tools.api import call_tool
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.anyio

FAST = {"poll_interval_ms": 50}
MiB = 1 << 20


@pytest.fixture(autouse=True)
def _fresh_video_catalog():
    video_catalog.reset()
    yield
    video_catalog.reset()


def store():
    return get_job_store(get_settings())


def parts(root: Path) -> list[Path]:
    return list(root.rglob(".*.part")) if root.exists() else []


def media_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def strictly_increasing(values: list[float]) -> bool:
    return all(b > a for a, b in itertools.pairwise(values))


# ---- the happy path -----------------------------------------------------------------------------


async def test_generate_video_end_to_end_saves_a_real_mp4(double, out):
    events = []
    r = await call_tool(
        "generate_video",
        {
            "prompt": "A sunflower swaying",
            "duration": 4,
            "resolution": "720p",
            "aspect_ratio": "16:9",
            "save_path": "clips/flower.mp4",
            **FAST,
        },
        on_progress=events.append,
    )
    assert r.ok, r.text
    assert r.code is None
    final = out / "clips" / "flower.mp4"
    data = final.read_bytes()
    assert mp4_has_signature(data) and data[4:8] == b"ftyp"
    assert r.text == f"Video saved to: {final}"
    (item,) = r.media
    assert item.kind == "video" and item.mime == "video/mp4" and item.path == str(final)
    assert item.data == data  # under the 10 MiB inline ceiling: both, MCP sends only the link
    vid = r.meta["video_id"]
    assert r.meta["status"] == "completed" and r.meta["cost_usd"] == pytest.approx(1.6)
    assert r.meta["polls"] == 2 and r.meta["capability_check"] == "passed"
    # wire: GET /videos/models, POST /videos, 2 polls on the relative polling_url, the content
    paths = [(q.method, q.path) for q in double.requests]
    assert paths == [
        ("GET", "/api/v1/videos/models"),
        ("POST", "/api/v1/videos"),
        ("GET", f"/api/v1/videos/{vid}"),
        ("GET", f"/api/v1/videos/{vid}"),
        ("GET", f"/api/v1/videos/{vid}/content"),
    ]
    sub = double.requests[1].json
    assert sub == {
        "model": "google/veo-3.1",
        "prompt": "A sunflower swaying",
        "resolution": "720p",
        "aspect_ratio": "16:9",
        "duration": 4,
    }
    assert double.requests[-1].auth == TEST_KEY
    # progress: strictly increasing, with status and elapsed time
    assert strictly_increasing([e.progress for e in events])
    statuses = [e.status for e in events]
    assert statuses[0] == "pending" and "in_progress" in statuses and "downloading" in statuses
    assert all(e.message.startswith(f"video {vid} — ") for e in events)
    assert all(e.elapsed_s >= 0 for e in events)
    # the registry row
    job = store().get(vid)
    assert job.kind == "video" and job.status == "completed" and job.model == "google/veo-3.1"
    assert job.prompt == "A sunflower swaying" and job.save_path == str(final)
    assert job.result["path"] == str(final) and job.cost == pytest.approx(1.6)
    assert job.polling_url == f"/api/v1/videos/{vid}"
    assert not parts(out)


async def test_without_save_path_a_small_video_is_inline_only(double, out):
    r = await call_tool("generate_video", {"prompt": "waves", **FAST})
    assert r.ok, r.text
    (item,) = r.media
    assert item.path is None and mp4_has_signature(item.data)
    assert r.text.startswith("Video generated (video/mp4, ")
    assert media_files(out) == []


async def test_extension_follows_the_container(double, out):
    r = await call_tool("generate_video", {"prompt": "x", "save_path": "a.webm", **FAST})
    assert r.ok
    assert (out / "a.mp4").is_file() and not (out / "a.webm").exists()
    assert "(detected MP4, saved as" in r.text and r.meta["extension_corrected"] is True


async def test_generate_video_from_image_sends_the_first_frame(double, out, fixtures_dir, tmp_path):
    (tmp_path / "work").mkdir(exist_ok=True)
    (tmp_path / "work" / "start.png").write_bytes((fixtures_dir / "diagram.png").read_bytes())
    r = await call_tool(
        "generate_video_from_image",
        {"image": "start.png", "prompt": "zoom in slowly", "duration": 4, **FAST},
    )
    assert r.ok, r.text
    sub = next(q for q in double.requests if q.method == "POST")
    (frame,) = sub.json["frame_images"]
    assert frame["type"] == "image_url" and frame["frame_type"] == "first_frame"
    assert frame["image_url"]["url"].startswith("data:image/png;base64,")


# ---- JOB_STILL_RUNNING and resume -----------------------------------------------------------------


async def test_timeout_returns_job_still_running_then_resume_completes(double, out):
    double.script_video(["in_progress"] * 3 + ["completed"])
    r = await call_tool(
        "generate_video",
        {"prompt": "slow one", "save_path": "slow.mp4", "max_wait_ms": 100, "poll_interval_ms": 60},
    )
    assert r.ok and not r.is_error
    assert r.code == "JOB_STILL_RUNNING" and r.still_running
    vid = r.meta["video_id"]
    assert r.meta["code"] == "JOB_STILL_RUNNING" and r.meta["last_status"] == "in_progress"
    assert r.meta["polling_url"] == f"{double.base_url}/videos/{vid}"
    assert r.text.startswith("Video still generating after ") and f"video_id={vid}" in r.text
    assert not (out / "slow.mp4").exists()
    assert store().get(vid).status == "in_progress"
    # one poll, still running
    r2 = await call_tool("get_video_status", {"video_id": vid})
    assert r2.code == "JOB_STILL_RUNNING" and r2.text.startswith(f"Video {vid} status: in_progress")
    # wait until done: the save_path recorded at submit is used
    r3 = await call_tool("get_video_status", {"video_id": vid, "wait": True, **FAST})
    assert r3.ok and r3.code is None, r3.text
    assert mp4_has_signature((out / "slow.mp4").read_bytes())
    assert r3.meta["save_path"] == str(out / "slow.mp4")
    assert store().get(vid).status == "completed"
    # already downloaded: answered from the registry, nothing sent
    n = len(double.requests)
    r4 = await call_tool("get_video_status", {"video_id": vid})
    assert r4.ok and r4.meta["from_registry"] is True and len(double.requests) == n
    assert r4.media[0].path == str(out / "slow.mp4")


async def test_unknown_statuses_count_as_running(double, out):
    double.script_video(["queued", "PROCESSING", "rendering", "completed"])
    events = []
    r = await call_tool("generate_video", {"prompt": "x", **FAST}, on_progress=events.append)
    assert r.ok and r.meta["polls"] == 4, r.text
    assert [e.status for e in events][1:4] == ["queued", "processing", "rendering"]


@pytest.mark.parametrize(
    ("script", "status", "needle"),
    [
        (["in_progress", "failed"], "failed", "Content policy violation"),
        (["cancelled"], "cancelled", "was cancelled upstream"),
        (["Canceled"], "cancelled", "was cancelled upstream"),
        (["expired"], "expired", "expired before it was downloaded"),
    ],
)
async def test_failed_cancelled_expired_are_job_failed(double, out, script, status, needle):
    double.script_video(script, error="Content policy violation")
    r = await call_tool("generate_video", {"prompt": "x", "save_path": "f.mp4", **FAST})
    assert r.code == "JOB_FAILED", r.text
    assert needle in r.text and r.suggestions
    assert r.details["status"] == status and r.details["video_id"]
    assert not (out / "f.mp4").exists() and not parts(out)
    job = store().get(r.details["video_id"])
    assert job.status == status and job.error["code"] == "JOB_FAILED"
    # get_video_status reports the same failure
    r2 = await call_tool("get_video_status", {"video_id": r.details["video_id"]})
    assert r2.code == "JOB_FAILED"


async def test_progress_is_monotonic_under_missing_and_backward_values(double, out):
    double.script_video(["in_progress"] * 100)
    r = await call_tool(
        "generate_video", {"prompt": "x", "max_wait_ms": 100, "poll_interval_ms": 80}
    )
    vid = r.meta["video_id"]
    path = f"/videos/{vid}"
    for p in (50, 30, None, 20.5, 0.9, 10, None):
        body = {"id": vid, "status": "in_progress"}
        if p is not None:
            body["progress"] = p
        double.inject(Fault(path, method="GET", body=body))
    # then the job ends: the wait is counted in polls, not in how many fit in a time budget
    double.inject(Fault(path, method="GET", body={"id": vid, "status": "failed", "error": "x"}))
    events = []
    r = await call_tool(
        "get_video_status",
        {"video_id": vid, "wait": True, "max_wait_ms": 120_000, "poll_interval_ms": 50},
        on_progress=events.append,
    )
    assert r.code == "JOB_FAILED"
    events = [e for e in events if e.status == "in_progress"]
    values = [e.progress for e in events]
    assert len(values) >= 7 and strictly_increasing(values)
    assert values[0] == 50 and events[0].total == 100 and "(50%)" in events[0].message
    assert all(e.total is None or e.total >= e.progress for e in events)
    assert events[4].progress > 50 and events[4].progress <= 100  # 0.9 read as 90 %
    assert all(e.status == "in_progress" for e in events)


# ---- cancellation -------------------------------------------------------------------------------


async def _wait_for(cond, timeout=5.0):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


async def test_cancel_mid_download_leaves_no_file_and_the_job_resumable(double, out):
    double.inject(Fault("/content", method="GET", slow_body_s=3.0))
    task = asyncio.create_task(
        call_tool("generate_video", {"prompt": "x", "save_path": "c.mp4", **FAST})
    )
    await _wait_for(
        lambda: parts(out) and any(q.path.endswith("/content") for q in double.requests)
    )
    await asyncio.sleep(0.3)  # the body is trickling in
    assert parts(out)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not (out / "c.mp4").exists() and not parts(out)
    (job,) = store().list(kind="video")
    assert job.status == "in_progress" and job.upstream_status == "completed"
    r = await call_tool("get_video_status", {"video_id": job.id})
    assert r.ok, r.text
    assert mp4_has_signature((out / "c.mp4").read_bytes())


async def test_cancel_while_polling_stops_cleanly(double, out):
    double.script_video(["in_progress"] * 1000)
    events = []
    task = asyncio.create_task(
        call_tool(
            "generate_video",
            {"prompt": "x", "save_path": "p.mp4", **FAST},
            on_progress=events.append,
        )
    )
    await _wait_for(lambda: len(events) >= 3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    n = len(double.requests)
    await asyncio.sleep(0.2)
    assert len(double.requests) == n  # no polling after the cancel
    (job,) = store().list(kind="video")
    assert job.status == "in_progress" and media_files(out) == []


async def test_truncated_download_leaves_no_partial_file(double, out):
    double.inject(Fault("/content", method="GET", truncate=True))
    r = await call_tool("generate_video", {"prompt": "x", "save_path": "t.mp4", **FAST})
    assert r.code == "UPSTREAM_HTTP", r.text
    assert r.text.startswith("Download")
    assert r.details["video_id"] and any("get_video_status" in s for s in r.suggestions)
    assert media_files(out) == []
    r = await call_tool("get_video_status", {"video_id": r.details["video_id"]})
    assert r.ok and (out / "t.mp4").is_file()


async def test_a_download_that_is_not_a_video_is_unsupported_format(double, out):
    double.inject(Fault("/content", method="GET", body={"note": "not a video"}))
    r = await call_tool("generate_video", {"prompt": "x", "save_path": "j.mp4", **FAST})
    assert r.code == "UNSUPPORTED_FORMAT", r.text
    assert "JSON text" in r.text and media_files(out) == []


# ---- restarts --------------------------------------------------------------------------------------


async def test_resume_in_a_new_process_uses_the_registry(double, out, tmp_path):
    double.script_video(["in_progress"] * 3 + ["completed"])
    r = await call_tool(
        "generate_video",
        {"prompt": "restart me", "save_path": "r.mp4", "max_wait_ms": 100, "poll_interval_ms": 80},
    )
    assert r.code == "JOB_STILL_RUNNING"
    vid = r.meta["video_id"]
    code = (
        "import asyncio, json\n"
        "from or_magic.tools.api import call_tool\n"
        "async def main():\n"
        "    listed = await call_tool('get_video_status', {})\n"
        f"    r = await call_tool('get_video_status', {{'video_id': {vid!r}, 'wait': True, 'poll_interval_ms': 50, 'max_wait_ms': 10000}})\n"
        "    print(json.dumps({'listed': listed.data, 'result': r.to_dict()}, default=str))\n"
        "asyncio.run(main())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        cwd=tmp_path / "work",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [j["video_id"] for j in got["listed"]["jobs"]] == [vid]
    assert got["listed"]["jobs"][0]["prompt"] == "restart me"
    res = got["result"]
    assert not res["is_error"] and res["code"] is None, res
    assert res["meta"]["save_path"] == str(out / "r.mp4")
    assert mp4_has_signature((out / "r.mp4").read_bytes())
    assert store().get(vid).status == "completed"


async def test_unknown_to_the_registry_still_polls_upstream(double, out, tmp_path, monkeypatch):
    double.script_video(["in_progress", "completed"])
    r = await call_tool(
        "generate_video", {"prompt": "x", "max_wait_ms": 100, "poll_interval_ms": 80}
    )
    vid = r.meta["video_id"]
    monkeypatch.setenv("OR_MAGIC_STATE_DIR", str(tmp_path / "other-state"))  # a different registry
    assert store().get(vid) is None
    r = await call_tool(
        "get_video_status", {"video_id": vid, "save_path": "u.mp4", "wait": True, **FAST}
    )
    assert r.ok, r.text
    assert (out / "u.mp4").is_file() and store().get(vid).status == "completed"
    r = await call_tool("get_video_status", {"video_id": "job_does-not-exist"})
    assert r.code == "INVALID_INPUT" and "does not know" in r.text
    assert store().get("job_does-not-exist") is None  # not recorded: upstream never had it


async def test_listing_and_bad_ids(double, out):
    r = await call_tool("get_video_status", {})
    assert r.ok and r.data == {"jobs": []} and r.text == "No video jobs recorded yet."
    for bad in ("../../etc/passwd", "a/b", "", " "):
        r = await call_tool("get_video_status", {"video_id": bad})
        assert r.code == "INVALID_INPUT", bad
    assert double.requests == []


async def test_off_origin_content_urls_fall_back_to_the_api_endpoint(double, out):
    double.script_video(["in_progress", "completed"])
    r = await call_tool(
        "generate_video", {"prompt": "x", "max_wait_ms": 100, "poll_interval_ms": 80}
    )
    vid = r.meta["video_id"]
    httpx.get(f"{double.base_url}/videos/{vid}", headers={"Authorization": f"Bearer {TEST_KEY}"})
    double.inject(
        Fault(
            f"/videos/{vid}",
            method="GET",
            body={
                "id": vid,
                "status": "completed",
                "unsigned_urls": ["https://cdn.elsewhere.test/v.mp4"],
                "usage": {"cost": 0.5},
            },
        )
    )
    r = await call_tool("get_video_status", {"video_id": vid, "save_path": "o.mp4"})
    assert r.ok, r.text
    content = double.requests[-1]
    assert content.path == f"/api/v1/videos/{vid}/content" and content.query == {"index": "0"}
    assert r.meta["cost_usd"] == 0.5


# ---- big videos (a second double serving 3 MiB) -----------------------------------------------------


@pytest.fixture(scope="module")
def big_double() -> Iterator[OpenRouterDouble]:
    with OpenRouterDouble(
        valid_keys={TEST_KEY}, video_polls_to_complete=1, video_content_bytes=3 * MiB
    ) as d:
        yield d


@pytest.fixture
def big(big_double, monkeypatch, out):
    big_double.reset()
    monkeypatch.setenv("OPENROUTER_BASE_URL", big_double.base_url)
    monkeypatch.setenv("OPENROUTER_API_KEY", TEST_KEY)
    monkeypatch.setenv("OPENROUTER_RETRY_MAX_DELAY_MS", "200")
    return big_double


async def test_over_the_size_cap_is_refused_without_a_file_and_stays_resumable(
    big, out, monkeypatch
):
    monkeypatch.setenv("OPENROUTER_VIDEO_GEN_MAX_BYTES", str(MiB))
    r = await call_tool("generate_video", {"prompt": "x", "save_path": "big.mp4", **FAST})
    assert r.code == "RESOURCE_TOO_LARGE", r.text
    assert "OPENROUTER_VIDEO_GEN_MAX_BYTES" in r.suggestions[0]
    assert media_files(out) == []
    vid = r.details["video_id"]
    assert store().get(vid).status == "in_progress"
    monkeypatch.delenv("OPENROUTER_VIDEO_GEN_MAX_BYTES")
    r = await call_tool("get_video_status", {"video_id": vid})
    assert r.ok, r.text
    data = (out / "big.mp4").read_bytes()
    assert len(data) == 3 * MiB and mp4_has_signature(data)


async def test_video_inline_ceiling(big, out, monkeypatch):
    r = await call_tool("generate_video", {"prompt": "x", **FAST})
    assert r.ok and len(r.media[0].data) == 3 * MiB and r.media[0].path is None
    assert media_files(out) == []
    monkeypatch.setenv("OPENROUTER_VIDEO_INLINE_MAX_BYTES", str(MiB))
    events = []
    r = await call_tool("generate_video", {"prompt": "x", **FAST}, on_progress=events.append)
    assert r.ok, r.text
    (item,) = r.media
    assert item.data is None and item.size_bytes == 3 * MiB
    p = Path(item.path)
    assert (
        p.parent == out / "or_magic-output" and p.suffix == ".mp4" and p.stat().st_size == 3 * MiB
    )
    assert r.meta["auto_saved"] is True and "larger than the inline limit" in r.text
    monkeypatch.setenv("OPENROUTER_VIDEO_INLINE_MAX_BYTES", "0")
    r = await call_tool("generate_video", {"prompt": "x", "save_path": "s.mp4", **FAST})
    assert r.ok and r.media[0].data is None and r.media[0].path == str(out / "s.mp4")


async def test_offline_videos_do_not_wait_the_live_poll_interval(monkeypatch):
    import time

    from or_magic.tools.api import call_tool

    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    t = time.monotonic()
    r = await call_tool("generate_video", {"prompt": "a fox running", "duration": 4})
    assert r.ok and r.offline, r.text
    assert time.monotonic() - t < 5  # the live default would poll every 15 s
