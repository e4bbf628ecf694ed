"""Peak RSS growth while generate_video downloads a 256 MiB video to disk (issue 4). Prints figures.

    python tests/bench/bench_video_download.py [--mib 256]

The double runs in a *subprocess* (its generated body is not counted); this process warms up
(imports, client, /videos/models), resets its peak-RSS counter, then runs ``generate_video`` with a
``save_path`` and reports the peak RSS growth next to the file size. Target: growth ≤ 32 MiB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MiB = 1 << 20

DOUBLE = """
import sys, threading
from or_magic.double import OpenRouterDouble
d = OpenRouterDouble(require_auth=False, video_polls_to_complete=1, video_content_bytes=int(sys.argv[1]))
d.start()
print(d.base_url, flush=True)
try:
    sys.stdin.read()  # until the parent closes our stdin
finally:
    d.stop()
"""


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset VmHWM (Linux ≥ 4.0); False when not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_kib() -> int:
    hwm = _status_kib("VmHWM")
    if hwm is not None:
        return hwm
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r // 1024 if sys.platform == "darwin" else r


async def run(size: int) -> None:
    from or_magic.media.video import mp4_has_signature
    from or_magic.tools.api import call_tool

    # Warm-up: imports, pooled client, SQLite registry, the cached /videos/models.
    r = await call_tool("get_video_status", {})
    r = await call_tool("generate_video", {"prompt": "warm-up", "duration": 5})
    assert r.code == "INVALID_INPUT", r.text

    baseline = _status_kib("VmRSS") or _peak_kib()
    exact = _reset_peak()
    if not exact:
        baseline = _peak_kib()
    t0 = time.perf_counter()
    r = await call_tool(
        "generate_video",
        {"prompt": "benchmark clip", "save_path": "bench.mp4", "poll_interval_ms": 50},
    )
    elapsed = time.perf_counter() - t0
    peak = _peak_kib()
    if r.is_error:
        raise SystemExit(f"generate_video failed: [{r.code}] {r.text}")
    path = Path(r.meta["save_path"])
    got = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(64)
    growth_mib = (peak - baseline) / 1024
    print(
        f"[video download] file: {path} — {got} bytes ({got / MiB:.1f} MiB), MP4 signature: {mp4_has_signature(head)}"
    )
    print(
        f"[video download] wall time {elapsed:.2f} s ({got / MiB / elapsed:.0f} MiB/s incl. submit+poll); "
        f"RSS baseline {baseline / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB"
    )
    verdict = "OK" if growth_mib <= 32 else "OVER TARGET"
    how = "VmHWM reset" if exact else "ru_maxrss (includes warm-up peak)"
    print(
        f"[video download] peak RSS growth: {growth_mib:.1f} MiB (target ≤ 32 MiB: {verdict}; {how})"
    )
    assert got == size, (got, size)
    path.unlink()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=256, help="video size in MiB (default 256)")
    args = ap.parse_args()
    size = args.mib * MiB
    proc = subprocess.Popen(
        [sys.executable, "-c", DOUBLE, str(size)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        if not base_url.startswith("http"):
            raise SystemExit("the double did not start")
        with tempfile.TemporaryDirectory() as out, tempfile.TemporaryDirectory() as state:
            os.environ.update(
                OPENROUTER_BASE_URL=base_url,
                OPENROUTER_API_KEY="sk-or-v1-bench",
                OPENROUTER_OUTPUT_DIR=out,
                OR_MAGIC_STATE_DIR=state,
                OPENROUTER_VIDEO_GEN_MAX_BYTES=str(max(size, 256 * MiB) + MiB),
            )
            os.environ.pop("OPENROUTER_OFFLINE", None)
            asyncio.run(run(size))
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
