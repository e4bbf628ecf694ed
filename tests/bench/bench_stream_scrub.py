"""Benchmark: redacting a streamed answer (``redact.StreamScrubber``) against hostile echoes.

Run: ``python tests/bench/bench_stream_scrub.py [--mib 1] [--delta 4]``

A stream holds back the tail that could still grow into an encoded key (``secret_forms``); an
upstream that knows the key can keep that tail long by echoing near-misses. Each case streams
``--mib`` MiB in ``--delta``-character deltas and prints its time and its ratio to the baseline
measured in the same run: the same amount of ordinary prose, and ``str.join`` of the deltas.
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _cases(key: str, size: int) -> dict[str, str]:
    def fill(unit: str) -> str:
        return (unit * (size // len(unit) + 1))[:size]

    esc = "".join(f"\\u{ord(c):04x}" for c in key)
    b64 = base64.b64encode(key.encode()).decode()
    return {
        "prose (baseline)": fill("lorem ipsum dolor sit amet, consectetur adipiscing elit. "),
        "all 's'": "s" * size,
        "key minus its last character": fill(key[:-1] + "!"),
        "\\u-escaped key minus the last": fill(esc[:-6] + "!"),
        "hex key minus the last byte": fill(key.encode().hex()[:-2] + "zz"),
        "base64 core minus the last": fill(b64[:-4] + "!"),
        "percent-escape run": fill("%73%6B%2D%6F%72%2D"),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=float, default=1.0)
    ap.add_argument("--delta", type=int, default=4)
    a = ap.parse_args()
    from or_magic.redact import StreamScrubber
    from or_magic.secret_forms import matcher_for

    key = "sk-or-v1-" + "0123456789abcdef" * 4
    matcher_for([key]).sub("")  # built once per process (the warm-up thread does it in use)
    size = int(a.mib * (1 << 20))
    base = None
    for name, text in _cases(key, size).items():
        deltas = [text[i : i + a.delta] for i in range(0, len(text), a.delta)]
        t0 = time.perf_counter()
        "".join(deltas)
        join_s = time.perf_counter() - t0
        s = StreamScrubber([key])
        t0 = time.perf_counter()
        out = [s.feed(d) for d in deltas]
        out.append(s.flush())
        took = time.perf_counter() - t0
        base = base or took
        print(
            f"{name:32} {took:7.3f} s  {took / base:5.1f}x prose  "
            f"({len(deltas)} deltas, join {join_s * 1000:.1f} ms)"
        )


if __name__ == "__main__":
    main()
