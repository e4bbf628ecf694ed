"""Batch benchmark (issue 14): N chat items through both engines of ``or_magic.map``.

    python tests/bench/bench_batch.py [--n 10000] [--concurrency 8]

* The OpenRouter double runs in a subprocess (``python -m or_magic.double --port 0``), so its
  work (answering every request, running the batches) is not counted as ours.
* Each engine runs in a fresh child process (same imports, one warm-up call, its own state dir):
  **interactive** = ``map(..., engine="interactive")`` (concurrent ``/chat/completions`` calls);
  **batch** = ``map(..., engine="batch")`` + ``wait()`` + ``results()`` (``POST /batches`` in
  chunks of 1,000, polls, results collected into the SQLite registry).
* Per engine: peak RSS growth over the run (psutil sampled every 5 ms), client CPU
  (user+system of the child only) per item, wall time. Targets for the batch engine: RSS growth
  ≤ 200 MiB and ≤ 1 ms CPU per item. Prints figures and batch/interactive ratios; asserts nothing.
* ``--embed`` adds the same two rows for ``embed_texts`` (256 dimensions): **embed** = one
  interactive call over all N texts (chunked by the tool, 256 texts per request), **embed-batch** =
  ``map("embed_texts", ..., engine="batch")`` + ``wait()`` + ``to_numpy()``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.bench._common import PeakRSS, start_double  # noqa: E402

MiB = 1 << 20


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _row(
    engine: str, n: int, ok: int, *, wall: float, submitted: float, cpu: float, rss: PeakRSS
) -> dict:
    """One engine's figures, as the child prints them for the parent."""
    return {
        "engine": engine,
        "n": n,
        "ok": ok,
        "wall_s": wall,
        "submit_s": submitted,
        "cpu_s": cpu,
        "cpu_ms_per_item": 1000 * cpu / n,
        "rss_growth_mib": (rss.peak - rss.start) / MiB,
    }


def embed_child(engine: str, n: int) -> dict:
    import or_magic

    or_magic.call_tool_sync("embed_texts", input="warm up", npy=False)
    items = [f"Review #{i}: the product was fine" for i in range(n)]
    t0, c0 = time.perf_counter(), _cpu()
    submitted = 0.0
    with PeakRSS() as rss:
        if engine == "embed-batch":
            h = or_magic.map("embed_texts", items, engine="batch", progress=False, dimensions=256)
            submitted = time.perf_counter() - t0
            h.wait(poll_s=0.2, progress=False)
            mat = h.to_numpy()
        else:
            mat = or_magic.call_tool_sync(
                "embed_texts", input=items, dimensions=256, npy=False
            ).value
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    import numpy as np

    ok = int(np.isfinite(mat).all(axis=1).sum()) if mat is not None else 0
    return _row(engine, n, ok, wall=wall, submitted=submitted, cpu=cpu, rss=rss)


def child(engine: str, n: int, concurrency: int) -> dict:
    if engine.startswith("embed"):
        return embed_child(engine, n)
    import or_magic

    or_magic.call_tool_sync("chat_completion", prompt="warm up", max_tokens=8)
    warm = or_magic.map("chat_completion", ["warm"], engine=engine, progress=False, max_tokens=8)
    if engine == "batch":
        warm.wait(poll_s=0.2, progress=False)
    items = [f"Label review #{i}: the product was fine" for i in range(n)]
    t0, c0 = time.perf_counter(), _cpu()
    with PeakRSS() as rss:
        if engine == "batch":
            h = or_magic.map("chat_completion", items, engine="batch", progress=False, max_tokens=8)
            submitted = time.perf_counter() - t0
            h.wait(poll_s=0.2, progress=False)
            results = h.results()
        else:
            submitted = 0.0
            results = or_magic.map(
                "chat_completion", items, concurrency=concurrency, progress=False, max_tokens=8
            ).results
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    ok = sum(1 for r in results if r.ok)
    return _row(engine, n, ok, wall=wall, submitted=submitted, cpu=cpu, rss=rss)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--child", choices=("interactive", "batch", "embed", "embed-batch"))
    ap.add_argument("--embed", action="store_true", help="also embed_texts, both engines")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.n, args.concurrency)))
        return
    proc, base_url = start_double()
    try:
        figures = {}
        engines = ["interactive", "batch"] + (["embed", "embed-batch"] if args.embed else [])
        for engine in engines:
            with tempfile.TemporaryDirectory() as state:
                env = {
                    **os.environ,
                    "OPENROUTER_BASE_URL": base_url,
                    "OPENROUTER_API_KEY": "sk-or-v1-" + "bench",
                    "OR_MAGIC_STATE_DIR": state,
                    "OPENROUTER_LOG_LEVEL": "error",
                    "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
                }
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        engine,
                        "--n",
                        str(args.n),
                        "--concurrency",
                        str(args.concurrency),
                    ],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=False,
                )
                if out.returncode != 0:
                    raise SystemExit(out.stderr[-3000:])
                figures[engine] = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    for f in figures.values():
        print(
            f"{f['engine']:>11}: {f['ok']}/{f['n']} ok · wall {f['wall_s']:.1f} s"
            f" (submit {f['submit_s']:.1f} s) · CPU {f['cpu_s']:.1f} s ="
            f" {f['cpu_ms_per_item']:.3f} ms/item · peak RSS growth {f['rss_growth_mib']:.1f} MiB"
        )
    i, b = figures["interactive"], figures["batch"]
    print(
        "batch/interactive ratios: wall {:.2f}× · CPU/item {:.2f}× · RSS growth {:.2f}×".format(
            b["wall_s"] / i["wall_s"],
            b["cpu_ms_per_item"] / i["cpu_ms_per_item"],
            b["rss_growth_mib"] / max(i["rss_growth_mib"], 0.1),
        )
    )
    if args.embed:
        e, eb = figures["embed"], figures["embed-batch"]
        print(
            "embeddings batch/interactive: wall {:.2f}× · CPU/item {:.2f}× · RSS {:.2f}×".format(
                eb["wall_s"] / e["wall_s"],
                eb["cpu_ms_per_item"] / max(e["cpu_ms_per_item"], 1e-6),
                eb["rss_growth_mib"] / max(e["rss_growth_mib"], 0.1),
            )
        )
    print(
        f"targets (batch): RSS growth ≤ 200 MiB → {b['rss_growth_mib']:.1f} MiB; "
        f"CPU ≤ 1 ms/item → {b['cpu_ms_per_item']:.3f} ms"
    )


if __name__ == "__main__":
    main()
