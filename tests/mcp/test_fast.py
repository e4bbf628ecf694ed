"""The stdio fast path: the handshake answered from the cache while the SDK imports, then the SDK."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from typing import Any

import pytest

from tests.conftest import TEST_KEY
from tests.mcp.test_transports import MODEL, server_env, spawn

pytestmark = pytest.mark.filterwarnings("ignore::mcp.MCPDeprecationWarning")


class Wire:
    def __init__(self, p: subprocess.Popen) -> None:
        self.p = p

    def send(self, obj: dict[str, Any]) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write((json.dumps(obj) + "\n").encode())
        self.p.stdin.flush()

    def recv(self) -> dict[str, Any]:
        assert self.p.stdout is not None
        line = self.p.stdout.readline()
        assert line, "server closed stdout"
        return json.loads(line)


def init_msg(version: str, mid: int = 1) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": mid,
        "method": "initialize",
        "params": {
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        },
    }


def handshake(env: dict[str, str], version: str) -> tuple[dict, dict, Wire]:
    w = Wire(spawn([], env))
    w.send(init_msg(version))
    init = w.recv()
    w.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    w.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    listed = w.recv()
    return init, listed, w


def stop(w: Wire) -> str:
    w.p.send_signal(signal.SIGTERM)
    assert w.p.wait(timeout=30) == 0
    assert w.p.stdout is not None and w.p.stderr is not None
    rest = w.p.stdout.read().decode()
    assert not rest.strip(), rest  # nothing but answered protocol on stdout
    return w.p.stderr.read().decode()


@pytest.mark.parametrize("version", ["2025-11-25", "2024-11-05", "1999-01-01"])
def test_fast_answers_are_the_sdks_answers_and_the_sdk_takes_over(double, tmp_path, version):
    base = dict(
        OPENROUTER_BASE_URL=double.base_url,
        OPENROUTER_API_KEY=TEST_KEY,
        OPENROUTER_LOG_LEVEL="debug",
    )
    sdk_init, sdk_list, w = handshake(
        server_env(tmp_path, OR_MAGIC_MCP_NO_FAST="1", **base), version
    )
    stop(w)  # this start wrote the cache
    init, listed, w = handshake(server_env(tmp_path, **base), version)
    try:
        assert init == sdk_init and listed == sdk_list
        w.send({"jsonrpc": "2.0", "id": 3, "method": "ping"})
        assert w.recv() == {"jsonrpc": "2.0", "id": 3, "result": {}}
        w.send(
            {
                "jsonrpc": "2.0",
                "id": 4,
                "method": "tools/call",
                "params": {
                    "name": "chat_completion",
                    "arguments": {"prompt": "fast", "model": MODEL},
                },
            }
        )
        res = w.recv()  # not a second answer to the initialize the SDK was replayed
        assert res["id"] == 4 and res["result"]["isError"] is False, res
        assert "fast" in res["result"]["content"][0]["text"]
        w.send({"jsonrpc": "2.0", "id": 5, "method": "tools/list"})  # now the SDK's own answer
        assert w.recv()["result"] == sdk_list["result"]
    finally:
        err = stop(w)
    assert '"msg": "mcp.stdio.handover"' in err


def test_sigterm_while_answering_from_the_cache_exits_0(double, tmp_path):
    env = server_env(tmp_path, OPENROUTER_BASE_URL=double.base_url, OPENROUTER_API_KEY=TEST_KEY)
    _, _, w = handshake(env, "2025-11-25")
    stop(w)
    _, listed, w = handshake(env, "2025-11-25")
    assert listed["result"]["tools"]
    t = time.monotonic()
    stop(w)
    assert time.monotonic() - t < 30


def test_eof_right_after_the_handshake_ends_cleanly(double, tmp_path):
    env = server_env(tmp_path, OPENROUTER_BASE_URL=double.base_url, OPENROUTER_API_KEY=TEST_KEY)
    _, _, w = handshake(env, "2025-11-25")
    stop(w)
    w = handshake(env, "2025-11-25")[2]
    assert w.p.stdin is not None
    w.p.stdin.close()
    assert w.p.wait(timeout=30) == 0


def test_answer_rules():
    from or_magic.mcp._fast import _answer

    cache = {
        "tools": [{"name": "a"}],
        "init": {"2025-11-25": {"v": 1}, "2024-11-05": {"v": 0}},
        "tools_by_version": {"2024-11-05": {"tools": [{"name": "a", "old": True}]}},
        "versions": ["2024-11-05", "2025-11-25"],
        "latest": "2025-11-25",
    }
    state: dict[str, Any] = {"initialized_request": False, "init_id": None, "version": None}
    # Anything but initialize first is the SDK's business.
    assert _answer({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, cache, state) is None
    assert _answer({"jsonrpc": "2.0", "id": 1, "method": "initialize"}, cache, state) is None
    r = _answer(init_msg("2024-11-05", 7), cache, state)
    assert r == {"jsonrpc": "2.0", "id": 7, "result": {"v": 0}} and state["init_id"] == 7
    listed = _answer({"jsonrpc": "2.0", "id": 8, "method": "tools/list"}, cache, state)
    assert listed["result"]["tools"][0]["old"] is True  # the version's own shape
    paged = {"jsonrpc": "2.0", "id": 9, "method": "tools/list", "params": {"cursor": "x"}}
    assert _answer(paged, cache, state) is None
    call = {"jsonrpc": "2.0", "id": 10, "method": "tools/call", "params": {"name": "a"}}
    assert _answer(call, cache, state) is None
    fresh: dict[str, Any] = {"initialized_request": False, "init_id": None, "version": None}
    assert _answer(init_msg("2031-01-01"), cache, fresh)["result"] == {"v": 1}  # the latest


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_sdk_client_over_a_warm_cache(double, tmp_path, mode):
    """The SDK's own client, both protocol eras, against a server whose cache is warm."""
    import sys

    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import stdio_client

    from tests.mcp.test_transports import REPO

    env = server_env(tmp_path, OPENROUTER_BASE_URL=double.base_url, OPENROUTER_API_KEY=TEST_KEY)
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "or_magic.mcp"], env=env, cwd=str(REPO)
    )
    for _ in range(2):  # the first start writes the cache, the second answers from it
        with open(tmp_path / "stderr.txt", "w") as errlog:
            async with Client(stdio_client(params, errlog=errlog), mode=mode) as c:
                tools = (await c.list_tools()).tools
                assert "search_models" in {t.name for t in tools}
                r = await c.call_tool("search_models", {"query": "gpt", "limit": 1})
                assert not r.is_error and r.structured_content["limit"] == 1
