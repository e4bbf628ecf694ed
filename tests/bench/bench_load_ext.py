"""Extra wall time of ``%load_ext or_magic`` over IPython alone (target ≤ 50 ms).

    python tests/bench/bench_load_ext.py [N]

Fresh ``python -c`` interpreters, interleaved so both variants see the same machine state:
(a) create an IPython ``InteractiveShell``; (b) the same plus ``%load_ext or_magic``. Prints the
medians of N runs (default 15) and their difference, the in-process time of the ``%load_ext``
call itself, and which heavy modules the load pulled in (there should be none).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

BASE = (
    "from IPython.core.interactiveshell import InteractiveShell; ip = InteractiveShell.instance()"
)
LOAD = BASE + "; ip.run_line_magic('load_ext', 'or_magic')"
INSIDE = (
    BASE
    + "\nimport time, sys\nt = time.perf_counter(); ip.run_line_magic('load_ext', 'or_magic')"
    + "\nprint((time.perf_counter() - t) * 1000)"
    + "\nprint(sorted(m for m in ('httpx', 'PIL', 'pydantic', 'mcp', 'ipywidgets', 'numpy',"
    + " 'uvicorn', 'anyio', 'or_magic.tools.registry', 'or_magic.client') if m in sys.modules))"
)


def _run(code: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return (time.perf_counter() - t) * 1000


def main(n: int = 15) -> None:
    for _ in range(2):  # warm the file cache
        _run(LOAD)
    base, load = [], []
    for _ in range(n):
        base.append(_run(BASE))
        load.append(_run(LOAD))
    mb, ml = statistics.median(base), statistics.median(load)
    out = subprocess.run(
        [sys.executable, "-c", INSIDE], check=True, capture_output=True, text=True
    ).stdout.split("\n")
    print(f"python {sys.version.split()[0]}, {n} runs each, medians:")
    print(f"  IPython shell alone           {mb:7.1f} ms")
    print(f"  IPython shell + %load_ext     {ml:7.1f} ms")
    print(f"  difference                    {ml - mb:7.1f} ms   (target <= 50 ms)")
    print(f"  %load_ext call in-process     {float(out[0]):7.1f} ms")
    print(f"  heavy modules after load      {out[1]}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
