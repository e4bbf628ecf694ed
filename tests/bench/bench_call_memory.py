"""Cost of the core's memory per call (issue 15): call log on/off, and a local-cache hit.

    python tests/bench/bench_call_memory.py [-n 200]

Runs ``chat_completion`` against the in-process offline double in a temporary state directory:
``n`` calls with the call log off, ``n`` with it on (rows written by the background thread; the
time to flush them is printed separately), then ``n`` local-cache hits of one request. Prints
median and mean per call. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.bench._common import times_ms  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=200)
    n = ap.parse_args().n
    os.environ["OR_MAGIC_STATE_DIR"] = tempfile.mkdtemp(prefix="or-magic-bench-")
    for k in [k for k in os.environ if k.startswith("OPENROUTER_")]:
        del os.environ[k]
    from or_magic import calllog
    from or_magic.callopts import call_options
    from or_magic.tools.api import call_tool_sync

    def chat(i: int):
        r = call_tool_sync("chat_completion", {"prompt": f"q{i}", "model": "openai/gpt-4o-mini"})
        assert r.ok, r.text

    chat(-1)  # warm up: double, client, catalogue-free path
    os.environ["OR_MAGIC_LOG"] = "0"
    off = times_ms(chat, n)
    del os.environ["OR_MAGIC_LOG"]
    on = times_ms(chat, n)
    t0 = time.perf_counter()
    calllog.flush_all(60)
    flush_ms = (time.perf_counter() - t0) * 1000
    with call_options(cache="on"):
        chat(10**6)
        hits = times_ms(lambda i: chat(10**6), n)

    def show(label: str, xs: list[float]) -> None:
        print(
            f"{label:<28} median {statistics.median(xs):7.2f} ms   mean {statistics.mean(xs):7.2f} ms"
        )

    show("chat, call log off", off)
    show("chat, call log on", on)
    print(f"{'':<28} + {flush_ms:.0f} ms to flush {n} rows afterwards (background thread)")
    show("local cache hit", hits)


if __name__ == "__main__":
    main()
