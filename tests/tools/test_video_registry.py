"""The SQLite job registry as the video tools use it: several processes at once, restarts, and
frame/reference images that must fail before anything is sent."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from or_magic.config import get_settings
from or_magic.jobs import get_job_store
from or_magic.tools import video_catalog
from or_magic.tools.api import call_tool

pytestmark = pytest.mark.anyio

WRITER = """
import sys
from or_magic.config import get_settings
from or_magic.jobs import get_job_store
store = get_job_store(get_settings())
w = sys.argv[1]
for i in range(25):
    jid = f"job_{w}_{i}"
    store.create(id=jid, kind="video", tool="generate_video", backend="offline", status="pending",
                 model="google/veo-3.1", prompt=f"p {w} {i}", polling_url=f"/api/v1/videos/{jid}")
    for st in ("in_progress", "in_progress", "downloading"):
        store.update(jid, status=st, upstream_status=st, progress=float(i))
    store.update(jid, status="completed", cost=0.01, result={"path": f"/tmp/{jid}.mp4"})
print("ok")
"""


def test_concurrent_processes_do_not_corrupt_the_registry(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(w)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(4)
    ]
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0 and out.strip() == "ok", err[-2000:]
    store = get_job_store(get_settings())
    jobs = store.list(kind="video", limit=1000)
    assert len(jobs) == 100
    assert all(j.status == "completed" and j.result["path"].endswith(f"{j.id}.mp4") for j in jobs)
    with sqlite3.connect(store.path) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


async def test_listing_shows_jobs_from_another_process(double, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENROUTER_OUTPUT_DIR", str(tmp_path / "out"))
    code = (
        "from or_magic.config import get_settings\n"
        "from or_magic.jobs import get_job_store, backend_label\n"
        "s = get_settings()\n"
        "get_job_store(s).create(id='job_from_before', kind='video', tool='generate_video',"
        " backend=backend_label(s), status='in_progress', model='google/veo-3.1', prompt='old one')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    r = await call_tool("get_video_status", {})
    assert r.ok and [j["video_id"] for j in r.data["jobs"]] == ["job_from_before"]
    assert "old one" in r.text and json.dumps(r.data)


async def test_bad_frames_and_references_fail_before_any_request(double, tmp_path, monkeypatch):
    video_catalog.reset()
    monkeypatch.setenv("OPENROUTER_OUTPUT_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("OPENROUTER_INPUT_DIR", str(tmp_path / "work"))
    (tmp_path / "work" / "clip.txt").write_text("not an image")
    cases = [
        ({"first_frame_image": "/etc/hostname"}, "UNSAFE_PATH", "first_frame_image"),
        ({"last_frame_image": "missing.png"}, "INVALID_INPUT", "last_frame_image"),
        ({"reference_images": ["clip.txt"]}, "UNSUPPORTED_FORMAT", "reference_images[0]"),
        (
            {"first_frame_image": "http://127.0.0.1:9/x.png"},
            "UPSTREAM_REFUSED",
            "first_frame_image",
        ),
    ]
    for args, code, prefix in cases:
        r = await call_tool("generate_video", {"prompt": "x", **args})
        assert r.code == code, (args, r.text)
        assert r.text.startswith(prefix), r.text
    r = await call_tool("generate_video_from_image", {"image": "../elsewhere.png", "prompt": "x"})
    assert r.code == "UNSAFE_PATH" and r.text.startswith("image")
    assert double.requests == []
