"""Background chat jobs and their registry: completion across a restart, failures, dead processes, bad ids, concurrent processes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from or_magic.config import get_settings
from or_magic.double import Fault
from or_magic.jobs import JobStore, get_job_store
from or_magic.tools.api import call_tool

pytestmark = pytest.mark.anyio


@pytest.fixture
def double(double_inproc):
    """This file's tests need no socket: the double's app runs in-process (tests/conftest.py)."""
    return double_inproc


async def test_background_chat_completes_and_survives_a_restart(double):
    start = await call_tool(
        "start_chat_completion", {"prompt": "background hello", "model": "openai/gpt-4o-mini"}
    )
    assert start.ok
    job_id = start.data["job_id"]
    assert job_id.startswith("chat_")
    done = await call_tool("get_chat_completion_status", {"job_id": job_id, "wait_s": 10})
    assert done.ok, done.text
    assert "background hello" in done.text and done.meta["status"] == "completed"
    # "restart": a fresh store over the same file sees the finished job
    fresh = JobStore(get_job_store(get_settings()).path)
    job = fresh.get(job_id)
    assert (
        job is not None and job.status == "completed" and "background hello" in job.result["text"]
    )


async def test_background_chat_failure_reports_the_upstream_code(double):
    double.inject(Fault(status=402, times=None))
    start = await call_tool("start_chat_completion", {"prompt": "x", "model": "openai/gpt-4o-mini"})
    r = await call_tool(
        "get_chat_completion_status", {"job_id": start.data["job_id"], "wait_s": 10}
    )
    assert r.is_error and r.code == "UPSTREAM_REFUSED"
    assert r.suggestions


async def test_job_from_a_dead_process_is_reported_interrupted(double, tmp_path):
    # A real process creates a running job and exits without finishing it.
    code = (
        "from or_magic.jobs import JobStore; from pathlib import Path; import sys;"
        "JobStore(Path(sys.argv[1])).create(id='chat_dead_001_deadbeef', kind='chat', tool='start_chat_completion',"
        " backend='x', status='running')"
    )
    path = get_job_store(get_settings()).path
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, env={**os.environ})
    r = await call_tool("get_chat_completion_status", {"job_id": "chat_dead_001_deadbeef"})
    assert r.is_error and r.code == "JOB_FAILED" and "exited" in r.text


@pytest.mark.parametrize("job_id", ["../../etc/passwd", "chat_..", "job_123", "chat_a/b", ""])
async def test_malformed_job_ids_are_rejected(double, job_id):
    r = await call_tool("get_chat_completion_status", {"job_id": job_id})
    assert r.is_error and r.code == "INVALID_INPUT"


async def test_unknown_job_id(double):
    r = await call_tool(
        "get_chat_completion_status", {"job_id": "chat_20260101000000_001_00000000"}
    )
    assert r.is_error and r.code == "INVALID_INPUT" and "No chat job" in r.text


def test_concurrent_processes_do_not_corrupt_the_registry(tmp_path):
    db = tmp_path / "jobs.sqlite3"
    JobStore(db)
    code = (
        "import sys; from pathlib import Path; from or_magic.jobs import JobStore;"
        "s = JobStore(Path(sys.argv[1])); p = sys.argv[2]\n"
        "for i in range(60):\n"
        "    s.create(id=f'{p}_{i}', kind='video', tool='t', backend='b'); s.update(f'{p}_{i}', status='completed', cost=0.5)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(db), f"p{n}"]) for n in range(4)]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    jobs = JobStore(db).list(limit=1000)
    assert len(jobs) == 240 and all(j.status == "completed" and j.cost == 0.5 for j in jobs)
