"""Memory benchmark (issue 3): peak RSS growth while ``analyze_video`` sends a 100 MiB video.

    python tests/bench/bench_analyze_memory.py [--mib 100]

* The OpenRouter double runs in a subprocess (``python -m or_magic.double --port 0``) so its
  buffering of the 133 MiB request body does not count against us.
* A video of exactly ``--mib`` MiB is made from ``tests/fixtures/clip.mp4`` plus a ``free`` box of
  random padding (a valid ISO-BMFF file, so sniffing and the truncation check pass).
* **ours**: this process imports everything, warms up with one small ``analyze_video`` call, then
  sends the big file through ``call_tool("analyze_video", ...)`` (file-backed ``Blob`` → streamed
  ``StreamingJSON`` body with an exact Content-Length).
* **naive**: a fresh subprocess, same imports and warm-up, then ``read()`` + ``b64encode`` +
  ``json.dumps`` of the chat body + ``httpx.post`` - what building one JSON string costs.

Growth = peak RSS during the send minus RSS just before it, sampled every 2 ms with psutil (and
``ru_maxrss`` deltas as a cross-check). Prints both, and the ratio to the file size (target for
ours: ≤ 0.3×). Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.bench._common import PeakRSS, start_double  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "clip.mp4"
MiB = 1 << 20
MODEL = "google/gemini-2.5-flash"


def make_video(path: Path, size: int) -> None:
    clip = FIXTURE.read_bytes()
    pad = size - len(clip) - 8
    with open(path, "wb") as f:
        f.write(clip)
        f.write((pad + 8).to_bytes(4, "big") + b"free")
        left = pad
        while left:
            n = min(left, 4 * MiB)
            f.write(os.urandom(n))
            left -= n
    assert path.stat().st_size == size


class PeakAndMaxRSS(PeakRSS):
    """``PeakRSS`` sampled every 2 ms, with the ``ru_maxrss`` delta as a cross-check."""

    def __init__(self, interval: float = 0.002) -> None:
        super().__init__(interval)
        self.maxrss_start = _maxrss()

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self.maxrss_end = _maxrss()

    @property
    def growth(self) -> int:
        return self.peak - self.start

    @property
    def maxrss_growth(self) -> int:
        return self.maxrss_end - self.maxrss_start


def _maxrss() -> int:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024  # Linux reports KiB


def _env(base_url: str, root: Path) -> None:
    os.environ["OPENROUTER_BASE_URL"] = base_url
    os.environ["OPENROUTER_API_KEY"] = "sk-or-v1-bench"
    os.environ["OPENROUTER_INPUT_DIR"] = str(root)
    os.environ["OPENROUTER_LOG_LEVEL"] = "error"


# ---- the two measurements -------------------------------------------------------------------------


def measure_ours(base_url: str, root: Path, name: str) -> PeakAndMaxRSS:
    _env(base_url, root)
    from or_magic.tools.api import call_tool

    async def run() -> PeakAndMaxRSS:
        warm = await call_tool("analyze_video", {"video_path": "small.mp4", "model": MODEL})
        assert warm.ok, warm.text
        with PeakAndMaxRSS() as m:
            r = await call_tool("analyze_video", {"video_path": name, "model": MODEL})
        assert r.ok, r.text
        assert r.meta["inputs"][0]["size_bytes"] == (root / name).stat().st_size
        return m

    return asyncio.run(run())


def measure_naive(base_url: str, root: Path, name: str) -> PeakAndMaxRSS:
    """Read, base64, json.dumps, post: the approach the streaming body replaces."""
    import httpx

    def send(path: Path) -> None:
        data = path.read_bytes()
        b64 = base64.b64encode(data).decode("ascii")
        body = json.dumps(
            {
                "model": MODEL,
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "Describe this video."},
                            {
                                "type": "video_url",
                                "video_url": {"url": f"data:video/mp4;base64,{b64}"},
                            },
                        ],
                    }
                ],
            }
        )
        r = httpx.post(
            base_url + "/chat/completions",
            content=body.encode("utf-8"),
            headers={"Authorization": "Bearer sk-or-v1-bench", "Content-Type": "application/json"},
            timeout=300,
        )
        r.raise_for_status()

    send(root / "small.mp4")
    with PeakAndMaxRSS() as m:
        send(root / name)
    return m


# ---- driver ----------------------------------------------------------------------------------------


def _child(mode: str, base_url: str, root: str, name: str) -> None:
    fn = measure_ours if mode == "ours" else measure_naive
    m = fn(base_url, Path(root), name)
    print(json.dumps({"growth": m.growth, "maxrss_growth": m.maxrss_growth, "start": m.start}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=100)
    ap.add_argument("--child", nargs=4, metavar=("MODE", "BASE_URL", "ROOT", "NAME"))
    a = ap.parse_args()
    if a.child:
        _child(*a.child)
        return

    size = a.mib * MiB
    root = Path(tempfile.mkdtemp(prefix="or_magic-bench-"))
    double, base_url = start_double()
    try:
        shutil.copy(FIXTURE, root / "small.mp4")
        t = time.perf_counter()
        make_video(root / "big.mp4", size)
        print(
            f"video: {size / MiB:.0f} MiB ISO-BMFF at {root / 'big.mp4'} ({time.perf_counter() - t:.1f} s)"
        )

        t = time.perf_counter()
        ours = measure_ours(base_url, root, "big.mp4")
        t_ours = time.perf_counter() - t
        out = subprocess.run(
            [sys.executable, __file__, "--child", "naive", base_url, str(root), "big.mp4"],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        naive = json.loads(out.stdout.strip().splitlines()[-1])

        def fmt(label: str, growth: int, maxrss: int, secs: float | None = None) -> str:
            took = f", {secs:.1f} s" if secs is not None else ""
            return (
                f"{label:<28} peak RSS growth {growth / MiB:7.1f} MiB = {growth / size:5.2f}x file"
                f"   (ru_maxrss delta {maxrss / MiB:6.1f} MiB{took})"
            )

        print(fmt("analyze_video (streamed):", ours.growth, ours.maxrss_growth, t_ours))
        print(fmt("naive json.dumps + post:", naive["growth"], naive["maxrss_growth"]))
        ratio = ours.growth / size
        verdict = "OK" if ratio <= 0.3 else "OVER TARGET"
        print(
            f"target ours <= 0.30x file: {ratio:.3f}x -> {verdict}; "
            f"naive / ours = {naive['growth'] / max(ours.growth, 1):.1f}x"
        )
    finally:
        double.terminate()
        try:
            double.wait(5)
        except subprocess.TimeoutExpired:
            double.kill()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
