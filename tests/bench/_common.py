"""Pieces shared by the benchmarks: timing calls, sampling RSS, the double in a subprocess."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def times_ms(fn: Callable[[int], object], n: int) -> list[float]:
    """The wall time of each call ``fn(i)``, ``i`` in ``range(n)``, in milliseconds."""
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t0) * 1000)
    return out


class PeakRSS:
    """Samples this process's RSS in a thread; ``peak - start`` is the growth."""

    def __init__(self, interval: float = 0.005) -> None:
        import psutil

        self.proc = psutil.Process()
        self.interval = interval
        self.start = self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def start_double() -> tuple[subprocess.Popen, str]:
    """``python -m or_magic.double --port 0`` in a subprocess (its work is not counted as ours),
    and the base URL it serves at."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "or_magic.double", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "serving at" not in line:
        proc.kill()
        raise SystemExit(f"the double did not start: {line!r}")
    return proc, line.split("serving at", 1)[1].split()[0]
