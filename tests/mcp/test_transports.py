"""The MCP server as a real process (stdio, streamable HTTP) and in the caller's event loop."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters

from or_magic.double import Fault
from tests.conftest import TEST_KEY, clean_environ, default_sigint, run_python
from tests.mcp._helpers import initialize_request

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::mcp.MCPDeprecationWarning")]

MODEL = "openai/gpt-4o-mini"
REPO = Path(__file__).resolve().parents[2]
INIT = initialize_request("raw")


def server_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A clean environment for a server process (no OPENROUTER_* from the developer's shell)."""
    env = clean_environ(OR_MAGIC_STATE_DIR=str(tmp_path / "state"), PYTHONPATH=str(REPO))
    env.update(extra)  # a test's own values win
    return env


def spawn(args: list[str], env: dict[str, str], **kw: Any) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "or_magic.mcp", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=str(REPO),
        preexec_fn=default_sigint,  # the tests Ctrl-C it, even when the suite ignores SIGINT
        **kw,
    )


def text_of(r) -> str:
    return "\n".join(getattr(c, "text", "") for c in r.content if c.type == "text")


# ---- command line ----------------------------------------------------------------------------


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "or_magic.mcp", *args],
        env=env,
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )


def test_importing_the_package_does_not_import_the_sdk(tmp_path):
    code = (
        "import sys, or_magic, or_magic.mcp; "
        "print(sorted(m for m in ('mcp', 'uvicorn', 'pydantic') if m in sys.modules))"
    )
    r = run_python(code, env=server_env(tmp_path), cwd=str(REPO), timeout=30)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stderr


def test_help_and_version(tmp_path):
    from or_magic._version import __version__

    r = run_cli(["--version"], server_env(tmp_path))
    assert r.returncode == 0 and r.stdout.strip() == f"or-magic-mcp {__version__}"
    r = run_cli(["--help"], server_env(tmp_path))
    assert r.returncode == 0 and "--http" in r.stdout and "--offline" in r.stdout
    script = Path(sys.executable).with_name("or-magic-mcp")
    if script.exists():  # the console script of an installed checkout
        r = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and r.stdout.strip() == f"or-magic-mcp {__version__}"


def test_no_api_key_exits_2_with_one_line(tmp_path):
    r = run_cli([], server_env(tmp_path))
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "OPENROUTER_API_KEY" in lines[0] and "--offline" in lines[0]


def test_malformed_variable_exits_2_naming_it(tmp_path):
    env = server_env(tmp_path, OPENROUTER_API_KEY=TEST_KEY, OPENROUTER_MAX_RETRIES="lots")
    r = run_cli([], env)
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "OPENROUTER_MAX_RETRIES" in r.stderr


def test_non_loopback_bind_is_refused(tmp_path):
    env = server_env(tmp_path, OPENROUTER_OFFLINE="1")
    r = run_cli(["--http", "--host", "0.0.0.0", "--port", "0"], env)
    assert r.returncode == 2 and r.stdout == ""
    assert "--allow-remote" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run_cli(["--port", "9"], env)  # HTTP options without --http
    assert r.returncode == 2 and "--http" in r.stderr


def test_a_taken_port_exits_1_with_one_line(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        r = run_cli(["--http", "--port", str(port)], server_env(tmp_path, OPENROUTER_OFFLINE="1"))
    assert r.returncode == 1 and r.stdout == ""
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("or-magic-mcp: cannot serve on 127.0.0.1:") and str(port) in last


def test_bind_checks_and_host_patterns():
    from or_magic.mcp._http import RemoteBindRefused, _host_patterns, check_bind, is_loopback

    for h in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"):
        assert is_loopback(h), h
        check_bind(h, allow_remote=False)
    for h in ("0.0.0.0", "192.168.1.5", "::", "example.com"):
        assert not is_loopback(h)
        with pytest.raises(RemoteBindRefused):
            check_bind(h, allow_remote=False)
        check_bind(h, allow_remote=True)
    hosts, origins = _host_patterns("192.168.1.5", ["mcp.example.com"])
    assert "127.0.0.1:*" in hosts and "192.168.1.5:*" in hosts
    assert "mcp.example.com:*" in hosts and "mcp.example.com" in hosts
    assert "https://mcp.example.com" in origins and "http://evil.com:*" not in origins
    hosts, _ = _host_patterns("0.0.0.0", [])
    assert hosts == ["127.0.0.1:*", "localhost:*", "[::1]:*"]  # a wildcard is no Host name


# ---- stdio ---------------------------------------------------------------------------------


def test_raw_stdio_protocol_only_on_stdout_and_sigterm_exits_0(double, tmp_path):
    env = server_env(tmp_path, OPENROUTER_BASE_URL=double.base_url, OPENROUTER_API_KEY=TEST_KEY)
    p = spawn([], env)
    try:

        def send(obj: dict[str, Any]) -> None:
            p.stdin.write((json.dumps(obj) + "\n").encode())
            p.stdin.flush()

        def recv() -> dict[str, Any]:
            line = p.stdout.readline()
            assert line, p.stderr.read().decode()
            return json.loads(line)

        send(INIT)
        init = recv()
        assert init["id"] == 1 and init["result"]["serverInfo"]["name"] == "or-magic"
        assert init["result"]["capabilities"]["tools"] is not None
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        tools = recv()["result"]["tools"]
        assert "chat_completion" in {t["name"] for t in tools}
        send(
            {
                "jsonrpc": "2.0",
                "id": 3,
                "method": "tools/call",
                "params": {
                    "name": "chat_completion",
                    "arguments": {"prompt": "hello stdio", "model": MODEL},
                    "_meta": {"progressToken": "p1"},
                },
            }
        )
        res = recv()
        assert res["id"] == 3 and res["result"]["isError"] is False
        assert "hello stdio" in res["result"]["content"][0]["text"]
        assert res["result"]["_meta"]["server_version"]
        # Idle client still attached: SIGTERM must end the process cleanly and promptly.
        t = time.monotonic()
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=60) == 0
        assert time.monotonic() - t < 20  # promptly: an idle stdin read must not hold it
        rest = p.stdout.read().decode()
        assert rest == ""  # nothing but the three answers ever went to stdout
        err_lines = [ln for ln in p.stderr.read().decode().splitlines() if ln.strip()]
        assert err_lines, "expected JSON log lines on stderr"
        for ln in err_lines:
            rec = json.loads(ln)  # every stderr line is a JSON log record
            assert {"ts", "level", "msg"} <= set(rec)
        assert TEST_KEY not in "\n".join(err_lines)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def run_stdio_to_eof(lines: list[Any], env: dict[str, str]) -> subprocess.CompletedProcess:
    """A whole stdio server life: ``lines`` written, stdin closed, the process waited for."""
    return subprocess.run(
        [sys.executable, "-m", "or_magic.mcp"],
        input="".join(json.dumps(x) + "\n" for x in lines),
        capture_output=True,
        text=True,
        env=env,
        cwd=str(REPO),
        timeout=100,  # a whole server life (imports included): seconds when the CPU is busy
    )


def test_stdin_eof_answers_pending_requests_then_exits_0(tmp_path):
    """A host may write all its requests and close stdin: each is still answered, on a busy
    machine too (the first run starts the ordinary way, the second from the handshake cache)."""
    env = server_env(tmp_path, OPENROUTER_OFFLINE="1")
    calls = [
        {
            "jsonrpc": "2.0",
            "id": i,
            "method": "tools/call",
            "params": {"name": "health_check", "arguments": {}},
        }
        for i in range(3, 9)
    ]
    lines = [
        INIT,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        *calls,
    ]
    for _ in range(2):
        r = run_stdio_to_eof(lines, env)
        assert r.returncode == 0, r.stderr
        answers = [json.loads(ln) for ln in r.stdout.splitlines()]
        assert sorted(a["id"] for a in answers) == list(range(1, 9)), r.stderr
        assert "mcp.stdio.unanswered" not in r.stderr  # each answer seen going out, none waited for
        health = next(a for a in answers if a["id"] == 3)["result"]
        assert health["structuredContent"]["ok"] is True and health["_meta"]["offline"] is True


def test_stdin_eof_with_lines_the_sdk_never_answers_exits_0_at_once(tmp_path):
    """Ids the SDK refuses (an object, an array, a float, a boolean), a batch, and a cancellation
    naming an object: the server answers what it can and exits promptly. An unhashable id killed
    the stdin reader (the server then hung for good); the others held the exit for 30 s."""
    env = server_env(tmp_path, OPENROUTER_OFFLINE="1")
    hostile = [
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": {"a": 1}}},
        {"jsonrpc": "2.0", "id": {"a": 1}, "method": "ping"},
        {"jsonrpc": "2.0", "id": [1], "method": "ping"},
        {"jsonrpc": "2.0", "id": 1.5, "method": "ping"},
        {"jsonrpc": "2.0", "id": True, "method": "ping"},
        [{"jsonrpc": "2.0", "id": 9, "method": "ping"}],
    ]
    lines = [
        INIT,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        *hostile,
        {"jsonrpc": "2.0", "id": 2, "method": "ping"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "health_check"}},
    ]
    for _ in range(2):  # the ordinary start, then the handshake fast path
        r = run_stdio_to_eof(lines, env)
        assert r.returncode == 0, r.stderr
        assert "Traceback" not in r.stderr
        assert "mcp.stdio.unanswered" not in r.stderr  # nothing waited for in vain
        assert sorted(json.loads(ln)["id"] for ln in r.stdout.splitlines()) == [1, 2, 3]


def test_sigint_also_exits_0(tmp_path):
    p = spawn([], server_env(tmp_path, OPENROUTER_OFFLINE="1"))
    try:
        p.stdin.write((json.dumps(INIT) + "\n").encode())
        p.stdin.flush()
        assert json.loads(p.stdout.readline())["id"] == 1
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=60) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_sdk_client_over_stdio(double, tmp_path, mode):
    env = server_env(
        tmp_path,
        OPENROUTER_BASE_URL=double.base_url,
        OPENROUTER_API_KEY=TEST_KEY,
        OPENROUTER_MAX_RETRIES="0",
    )
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "or_magic.mcp"], env=env, cwd=str(REPO)
    )
    with open(tmp_path / "stderr.txt", "w") as errlog:
        from mcp.client.stdio import stdio_client

        async with Client(stdio_client(params, errlog=errlog), mode=mode) as c:
            tools = (await c.list_tools()).tools
            assert {"chat_completion", "search_models", "rerank_documents", "health_check"} <= {
                t.name for t in tools
            }
            r = await c.call_tool("search_models", {"query": "gpt", "limit": 1})
            assert not r.is_error and r.structured_content["limit"] == 1
            double.inject(Fault(status=402))
            r = await c.call_tool("chat_completion", {"prompt": "hi", "model": MODEL})
            assert r.is_error and r.meta["code"] == "UPSTREAM_REFUSED"
    log = (tmp_path / "stderr.txt").read_text()
    assert '"msg": "mcp.call"' in log


# ---- streamable HTTP (command line) ---------------------------------------------------------------


def _wait_for_url(p: subprocess.Popen, timeout: float = 20) -> tuple[str, str | None]:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = p.stderr.readline().decode()
        if not line:
            if p.poll() is not None:
                break
            continue
        seen.append(line)
        m = re.search(r"serving (http://\S+)", line)
        if m:
            tok = re.search(r"Bearer (\S+)", line)
            return m.group(1), tok.group(1) if tok else None
    raise AssertionError(f"server did not announce its URL: {''.join(seen)}")


def _http_client(token: str | None):
    import httpx2

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx2.AsyncClient(headers=headers, timeout=30)


async def _call_over_http(url: str, token: str, mode: str, big_body: bool = False) -> None:
    from mcp.client.streamable_http import streamable_http_client

    async with (
        _http_client(token) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as c,
    ):
        tools = (await c.list_tools()).tools
        assert "chat_completion" in {t.name for t in tools}
        seen: list[float] = []

        async def on_progress(p: float, total: float | None, message: str | None) -> None:
            seen.append(p)

        r = await c.call_tool(
            "chat_completion",
            {"prompt": "over http", "model": MODEL},
            progress_callback=on_progress,
        )
        assert not r.is_error, text_of(r)
        assert "over http" in text_of(r)
        r = await c.call_tool("get_model_info", {"model": "nope/missing"})
        assert r.is_error and r.meta["code"] == "MODEL_NOT_FOUND"
        if big_body:  # larger than the SDK's 4 MiB default: still reaches the tool
            r = await c.call_tool("health_check", {"junk": "a" * (6 * 1024 * 1024)})
            assert r.is_error and r.meta["code"] == "INVALID_INPUT" and "junk" in text_of(r)


def _post_initialize(url: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        url,
        json=INIT,
        headers={"Accept": "application/json, text/event-stream", **headers},
        timeout=10,
    )


async def test_http_server_requires_the_token_and_checks_the_host(double, tmp_path):
    env = server_env(
        tmp_path,
        OPENROUTER_BASE_URL=double.base_url,
        OPENROUTER_API_KEY=TEST_KEY,
        OR_MAGIC_MCP_TOKEN="test-token-0123456789",
    )
    p = spawn(["--http", "--port", "0"], env)
    try:
        url, shown = _wait_for_url(p)
        assert url.startswith("http://127.0.0.1:") and url.endswith("/mcp")
        assert shown is None  # a token from the environment is not printed
        r = await anyio.to_thread.run_sync(_post_initialize, url, {})
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"
        assert r.headers["www-authenticate"].startswith("Bearer")
        r = await anyio.to_thread.run_sync(
            _post_initialize, url, {"Authorization": "Bearer wrong-token"}
        )
        assert r.status_code == 401
        good = {"Authorization": "Bearer test-token-0123456789"}
        r = await anyio.to_thread.run_sync(
            _post_initialize, url, {**good, "Host": "evil.example:80"}
        )
        assert r.status_code == 421  # DNS-rebinding protection is on
        r = await anyio.to_thread.run_sync(
            _post_initialize, url, {**good, "Origin": "http://evil.example"}
        )
        assert r.status_code == 403
        r = await anyio.to_thread.run_sync(_post_initialize, url, good)
        assert r.status_code == 200
        for mode in ("auto", "legacy"):
            await _call_over_http(url, "test-token-0123456789", mode)
        p.send_signal(signal.SIGTERM)
        assert await anyio.to_thread.run_sync(lambda: p.wait(timeout=60)) == 0
        err = p.stderr.read().decode()
        assert "test-token-0123456789" not in err
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_http_generated_token_is_printed_once(tmp_path):
    p = spawn(["--http", "--port", "0"], server_env(tmp_path, OPENROUTER_OFFLINE="1"))
    try:
        url, token = _wait_for_url(p)
        assert token and len(token) >= 32
        r = _post_initialize(url, {"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=60) == 0
        assert token not in p.stderr.read().decode()  # printed once, never logged
        assert p.stdout.read() == b""
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


# ---- in-process background server ------------------------------------------------------------


async def test_serve_in_background_runs_on_the_callers_loop(double):
    import or_magic.mcp

    h = or_magic.mcp.serve_in_background(port=0)
    try:
        assert h.mode == "loop" and h.task is not None
        assert h.task.get_loop() is asyncio.get_running_loop()
        assert or_magic.mcp.current() is h
        assert or_magic.mcp.serve_in_background(port=0) is h  # already running: same handle
        await h.wait_started()
        assert "token" not in repr(h).replace("token in .token", "")
        assert h.token not in repr(h)
        for mode in ("auto", "legacy"):
            await _call_over_http(h.url, h.token, mode, big_body=True)
        # The event loop is free while the server runs: other work keeps going.
        ticks = 0
        for _ in range(5):
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 5
        st = h.status()
        assert st["running"] and st["calls"] >= 4 and st["errors"] >= 2 and st["tools"] >= 8
        cfg = h.client_config()["mcpServers"]["or-magic"]
        assert cfg["url"] == h.url and cfg["headers"]["Authorization"] == f"Bearer {h.token}"
        async with _http_client("nope") as http:
            r = await http.post(h.url, json=INIT)
            assert r.status_code == 401
    finally:
        await h.astop()
    assert not h.running and or_magic.mcp.current() is None
    with pytest.raises(httpx.ConnectError):
        await anyio.to_thread.run_sync(_post_initialize, h.url, {})


def test_serve_in_background_without_a_loop_uses_a_thread(double, monkeypatch):
    import or_magic.mcp
    from or_magic.mcp._http import RemoteBindRefused

    with pytest.raises(RemoteBindRefused):
        or_magic.mcp.serve_in_background(host="0.0.0.0")
    monkeypatch.setenv("OR_MAGIC_MCP_TOKEN", "kernel-token-abcdef")
    h = or_magic.mcp.serve_in_background(port=0)
    try:
        assert h.mode == "thread" and h.running and h.token == "kernel-token-abcdef"
        asyncio.run(_call_over_http(h.url, h.token, "legacy"))
    finally:
        h.stop()
    assert not h.running


# ---- a real Jupyter kernel -------------------------------------------------------------------------


@pytest.mark.notebook
def test_in_a_real_kernel_cells_keep_running_while_an_agent_calls_tools(double, tmp_path):
    """The server is a task on the kernel's loop: served between cells, during awaiting cells and
    while a cell blocks in ``call_tool_sync``; ``stop()`` ends it and the kernel lives on."""
    pytest.importorskip("jupyter_client")
    pytest.importorskip("ipykernel")
    from jupyter_client.manager import start_new_kernel

    env = server_env(tmp_path, OPENROUTER_BASE_URL=double.base_url, OPENROUTER_API_KEY=TEST_KEY)
    km, kc = start_new_kernel(kernel_name="python3", env=env, cwd=str(tmp_path))
    try:

        def run(code: str, timeout: float = 30) -> str:
            out: list[str] = []

            def hook(msg: dict[str, Any]) -> None:
                c = msg["content"]
                if msg["msg_type"] == "stream" and c["name"] == "stdout":
                    out.append(c["text"])
                elif msg["msg_type"] in ("execute_result", "display_data"):
                    out.append(c["data"].get("text/plain", ""))
                elif msg["msg_type"] == "error":
                    out.append("ERROR " + c["ename"] + ": " + c["evalue"])

            reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook)
            text = "".join(out)
            assert reply["content"]["status"] == "ok", text
            return text

        out = run(
            "import asyncio, or_magic.mcp\n"
            "h = or_magic.mcp.serve_in_background(port=0)\n"
            "print(h.mode, h.url, h.token, h.task.get_loop() is asyncio.get_running_loop())"
        )
        mode, url, token, same_loop = out.split()
        assert mode == "loop" and same_loop == "True"

        # Kernel idle between cells: an outside agent is served.
        asyncio.run(_call_over_http(url, token, "legacy"))

        # A cell blocking in call_tool_sync (its upstream takes 1.5 s) while an agent calls in:
        # the agent is answered before the cell ends, by the same event loop.
        import threading

        double.inject(Fault(model="openai/gpt-4o", delay_s=1.5))
        errors: list[BaseException] = []
        agent_done: list[float] = []

        def agent() -> None:
            try:
                time.sleep(0.4)
                asyncio.run(_call_over_http(url, token, "auto"))
                agent_done.append(time.time())
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        th = threading.Thread(target=agent)
        th.start()
        out = run(
            "import time, or_magic\n"
            "r = or_magic.call_tool_sync('chat_completion', prompt='slow one', model='openai/gpt-4o')\n"
            "print(r.ok, time.time())"
        )
        th.join(20)
        assert not th.is_alive() and not errors, errors
        ok, cell_end = out.split()
        assert ok == "True"
        assert agent_done and agent_done[0] < float(cell_end), "agent waited for the cell"

        out = run(
            "await h.astop()\n"
            "print(h.running, or_magic.mcp.current())\n"
            "h2 = or_magic.mcp.serve_in_background(port=0)\n"
            "await h2.wait_started()\n"
            "print(h2.url != h.url or h2.running)\n"
            "h2.stop(); await asyncio.sleep(0.5); print(h2.running)"
        )
        assert out.split() == ["False", "None", "True", "False"]
        with pytest.raises(httpx.ConnectError):
            _post_initialize(url, {})
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
