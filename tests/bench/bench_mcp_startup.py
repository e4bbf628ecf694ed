"""MCP server benchmarks (issue 5). Prints figures; asserts nothing.

    python tests/bench/bench_mcp_startup.py [--runs 10] [--calls 50]

1. Cold start to the first ``tools/list`` over stdio (spawn → initialize → initialized →
   tools/list answered), median of N, for ``python -m or_magic.mcp`` next to a bare ``MCPServer``
   with one tool measured in the same run (the SDK floor), runs interleaved. Target: ≤ 1.1× the
   floor. The first or_magic start (tools/list cache cold) is reported separately.
2. p50 round trip of a ``chat_completion`` ``tools/call`` through stdio against the double
   (loopback), with the bare ``POST /chat/completions`` p50 of the same body for scale.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

BARE_SERVER = """
from mcp.server.mcpserver import MCPServer

mcp = MCPServer("bare", log_level="WARNING")


@mcp.tool()
def add(a: int, b: int) -> int:
    \"\"\"Add two integers.\"\"\"
    return a + b


if __name__ == "__main__":
    mcp.run()
"""

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "bench", "version": "0"},
    },
}


class Proc:
    def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
        self.p = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=str(REPO),
        )
        self._id = 1

    def send(self, obj: dict) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write((json.dumps(obj) + "\n").encode())
        self.p.stdin.flush()

    def recv(self) -> dict:
        assert self.p.stdout is not None
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("server closed stdout")
        return json.loads(line)

    def request(self, method: str, params: dict | None = None) -> dict:
        self._id += 1
        msg: dict = {"jsonrpc": "2.0", "id": self._id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        while True:
            r = self.recv()
            if r.get("id") == self._id:
                return r

    def handshake(self) -> None:
        self.send(INIT)
        self.recv()
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def close(self) -> None:
        if self.p.stdin:
            self.p.stdin.close()
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def time_to_first_list(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    proc = Proc(cmd, env)
    proc.handshake()
    r = proc.request("tools/list")
    ms = (time.perf_counter() - t) * 1000
    assert r.get("result", {}).get("tools"), r
    proc.close()
    return ms


def server_env(state: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENROUTER_", "OR_MAGIC_")) and k != "DEFAULT_MODEL"
    }
    env["OR_MAGIC_STATE_DIR"] = str(state)
    env["OPENROUTER_LOG_LEVEL"] = "warn"
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def bench_startup(runs: int, base_url: str) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="or_magic-bench-"))
    try:
        bare = tmp / "bare_server.py"
        bare.write_text(BARE_SERVER)
        state = tmp / "state"
        ours_env = server_env(
            state, OPENROUTER_API_KEY="sk-or-v1-bench", OPENROUTER_BASE_URL=base_url
        )
        bare_env = server_env(state)
        ours_cmd = [sys.executable, "-m", "or_magic.mcp"]
        bare_cmd = [sys.executable, str(bare)]

        cold_cache = time_to_first_list(ours_cmd, ours_env)  # builds the tools/list cache
        for _ in range(2):  # warm the OS file cache for both
            time_to_first_list(ours_cmd, ours_env)
            time_to_first_list(bare_cmd, bare_env)
        ours: list[float] = []
        floor: list[float] = []
        for _ in range(runs):  # interleaved, so drift hits both equally
            floor.append(time_to_first_list(bare_cmd, bare_env))
            ours.append(time_to_first_list(ours_cmd, ours_env))
        m_ours, m_floor = statistics.median(ours), statistics.median(floor)
        ntools = len(json.loads((state / "mcp" / "tools.json").read_text())["tools"])
        print(
            f"[startup] first tools/list over stdio, median of {runs}: "
            f"bare MCPServer (1 tool) {m_floor:.0f} ms | or_magic.mcp ({ntools} tools) {m_ours:.0f} ms "
            f"| ratio {m_ours / m_floor:.3f} (target <= 1.1)"
        )
        print(
            f"[startup] or_magic.mcp first start with a cold tools/list cache: {cold_cache:.0f} ms; "
            f"min/max ours {min(ours):.0f}/{max(ours):.0f} ms, floor {min(floor):.0f}/{max(floor):.0f} ms"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench_roundtrip(calls: int, base_url: str) -> None:
    import httpx

    tmp = Path(tempfile.mkdtemp(prefix="or_magic-bench-"))
    args = {"prompt": "Benchmark me, please.", "model": "openai/gpt-4o-mini", "max_tokens": 32}
    try:
        env = server_env(
            tmp / "state", OPENROUTER_API_KEY="sk-or-v1-bench", OPENROUTER_BASE_URL=base_url
        )
        proc = Proc([sys.executable, "-m", "or_magic.mcp"], env)
        proc.handshake()
        proc.request("tools/list")
        for _ in range(5):  # warm-up: imports, connection pool
            proc.request("tools/call", {"name": "chat_completion", "arguments": args})
        times = []
        for _ in range(calls):
            t = time.perf_counter()
            r = proc.request("tools/call", {"name": "chat_completion", "arguments": args})
            times.append((time.perf_counter() - t) * 1000)
            assert r["result"]["isError"] is False, r
        proc.close()
        body = {
            "model": args["model"],
            "messages": [{"role": "user", "content": args["prompt"]}],
            "max_tokens": 32,
        }
        raw = []
        with httpx.Client() as http:
            for _ in range(5):
                http.post(
                    f"{base_url}/chat/completions", json=body, headers={"Authorization": "Bearer x"}
                )
            for _ in range(calls):
                t = time.perf_counter()
                http.post(
                    f"{base_url}/chat/completions", json=body, headers={"Authorization": "Bearer x"}
                )
                raw.append((time.perf_counter() - t) * 1000)
        q = statistics.quantiles(times, n=10)
        print(
            f"[roundtrip] chat_completion tools/call over stdio against the double, {calls} calls: "
            f"p50 {statistics.median(times):.2f} ms, p90 {q[8]:.2f} ms | bare POST p50 "
            f"{statistics.median(raw):.2f} ms"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--calls", type=int, default=50)
    a = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from or_magic.double import OpenRouterDouble

    with OpenRouterDouble() as double:
        bench_startup(a.runs, double.base_url)
        bench_roundtrip(a.calls, double.base_url)


if __name__ == "__main__":
    main()
