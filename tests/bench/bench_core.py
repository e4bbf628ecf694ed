"""Core benchmarks (issue 2). Prints figures; asserts nothing.

    python tests/bench/bench_core.py

1. ``import or_magic`` wall time in fresh interpreters, next to ``python -c pass``.
2. Per-call overhead of ``chat_completion`` against the double on loopback versus a bare httpx POST
   of the same body, same run, p50 ratio (target ≤ 1.5).
3. 32 concurrent ``chat_completion`` calls: wall time and per-call latency.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time


def bench_import(n: int = 15) -> None:
    def run(code: str) -> float:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return (time.perf_counter() - t) * 1000

    for _ in range(2):  # warm the file cache
        run("import or_magic")
    base = statistics.median(run("pass") for _ in range(n))
    imp = statistics.median(run("import or_magic") for _ in range(n))
    heavy = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, or_magic; print(sorted(m for m in ('httpx','PIL','pydantic','mcp','ipywidgets','IPython') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(
        f"[import] python -c pass: {base:.1f} ms | import or_magic: {imp:.1f} ms | extra: {imp - base:.1f} ms | heavy modules loaded: {heavy}"
    )


async def bench_overhead(n: int = 300, concurrency: int = 32) -> None:
    import httpx

    from or_magic.double import OpenRouterDouble
    from or_magic.tools.api import call_tool

    with OpenRouterDouble() as double:
        os.environ["OPENROUTER_BASE_URL"] = double.base_url
        os.environ["OPENROUTER_API_KEY"] = "sk-or-v1-bench"
        args = {"prompt": "Benchmark me, please.", "model": "openai/gpt-4o-mini", "max_tokens": 32}
        body = {
            "model": "openai/gpt-4o-mini",
            "messages": [{"role": "user", "content": "Benchmark me, please."}],
            "max_tokens": 32,
        }
        headers = {"Authorization": "Bearer sk-or-v1-bench", "Content-Type": "application/json"}
        async with httpx.AsyncClient() as bare:
            for _ in range(20):  # warm both paths
                await bare.post(double.base_url + "/chat/completions", json=body, headers=headers)
                r = await call_tool("chat_completion", args)
                assert not r.is_error, r.text
            bare_t, ours_t = [], []
            for _ in range(n):  # interleave so drift hits both equally
                t = time.perf_counter()
                resp = await bare.post(
                    double.base_url + "/chat/completions", json=body, headers=headers
                )
                resp.json()
                bare_t.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                r = await call_tool("chat_completion", args)
                ours_t.append((time.perf_counter() - t) * 1000)
            b50, o50 = statistics.median(bare_t), statistics.median(ours_t)
            print(
                f"[overhead] bare httpx POST p50 {b50:.2f} ms | chat_completion p50 {o50:.2f} ms | ratio {o50 / b50:.2f} (target <= 1.5) | n={n}"
            )

            t = time.perf_counter()
            lat: list[float] = []

            async def one() -> None:
                s = time.perf_counter()
                r = await call_tool("chat_completion", args)
                assert not r.is_error
                lat.append((time.perf_counter() - s) * 1000)

            await asyncio.gather(*(one() for _ in range(concurrency)))
            wall = (time.perf_counter() - t) * 1000
            print(
                f"[concurrency] {concurrency} concurrent chat_completion: wall {wall:.1f} ms | per-call p50 {statistics.median(lat):.1f} ms, max {max(lat):.1f} ms"
            )


if __name__ == "__main__":
    bench_import()
    asyncio.run(bench_overhead())
