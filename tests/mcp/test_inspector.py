"""An external client nobody here wrote: the MCP Inspector CLI, pinned, against ``python -m or_magic.mcp``.

Runs in CI (needs ``npx`` and the npm registry). The version is pinned exactly: unpinned ``npx``
on Node 20 silently resolves to an old 0.x inspector.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from or_magic.tools.registry import all_tools
from tests.conftest import TEST_KEY, clean_environ

INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"
REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.inspector,
    pytest.mark.skipif(shutil.which("npx") is None, reason="npx (Node.js) is not installed"),
]


def inspector(double, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = clean_environ()
    server_env = {
        "OPENROUTER_BASE_URL": double.base_url,
        "OPENROUTER_API_KEY": TEST_KEY,
        "OPENROUTER_MAX_RETRIES": "0",
        "OR_MAGIC_STATE_DIR": str(tmp_path / "state"),
        "PYTHONPATH": str(REPO),
    }
    env_args = [a for k, v in server_env.items() for a in ("-e", f"{k}={v}")]
    cmd = [
        "npx",
        "-y",
        INSPECTOR,
        "--cli",
        *env_args,
        "--cwd",
        str(REPO),
        sys.executable,
        "-m",
        "or_magic.mcp",
        "--format",
        "json",
        *args,
    ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)


def inspector_call(
    double, tmp_path: Path, tool: str, *tool_args: str
) -> subprocess.CompletedProcess:
    """``tools/call`` of ``tool`` with ``key=value`` arguments, through the Inspector CLI."""
    return inspector(
        double, tmp_path, "--method", "tools/call", "--tool-name", tool, "--tool-arg", *tool_args
    )


def parse(out: str) -> dict:
    start = out.index("{")
    return json.loads(out[start:])


def test_inspector_lists_every_tool(double, tmp_path):
    r = inspector(double, tmp_path, "--method", "tools/list")
    assert r.returncode == 0, r.stderr[-2000:]
    tools = parse(r.stdout)["result"]["tools"]
    assert [t["name"] for t in tools] == list(all_tools())
    for t in tools:
        assert t["inputSchema"]["type"] == "object"
        ann = t["annotations"]
        assert {
            "title",
            "readOnlyHint",
            "destructiveHint",
            "idempotentHint",
            "openWorldHint",
        } <= set(ann), t["name"]
    by_name = {t["name"]: t for t in tools}
    assert by_name["search_models"]["inputSchema"]["properties"]["limit"]["type"] == "integer"
    assert "outputSchema" in by_name["health_check"]


def test_inspector_strict_schema_check_passes(double, tmp_path):
    r = inspector(double, tmp_path, "--method", "tools/list", "--strict")
    assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-2000:])


def test_inspector_calls_a_tool(double, tmp_path):
    r = inspector_call(
        double,
        tmp_path,
        "chat_completion",
        "prompt=hello from the inspector",
        "model=openai/gpt-4o-mini",
    )
    assert r.returncode == 0, r.stderr[-2000:]
    res = parse(r.stdout)["result"]
    assert res["isError"] is False
    assert "hello from the inspector" in res["content"][0]["text"]
    assert res["_meta"]["server_version"]
    assert [q for q in double.requests if q.path.endswith("/chat/completions")]


def test_inspector_sees_a_coded_error(double, tmp_path):
    r = inspector_call(double, tmp_path, "get_model_info", "model=nope/missing")
    assert r.returncode == 5, (r.returncode, r.stderr[-2000:])  # the inspector's "isError" exit
    res = parse(r.stdout)["result"]
    assert res["isError"] is True and res["_meta"]["code"] == "MODEL_NOT_FOUND"
    assert "nope/missing" in res["content"][0]["text"]


def test_inspector_over_streamable_http_with_the_token(double, tmp_path):
    from tests.mcp.test_transports import _wait_for_url, server_env, spawn

    token = "inspector-token-0123456789"
    env = server_env(
        tmp_path,
        OPENROUTER_BASE_URL=double.base_url,
        OPENROUTER_API_KEY=TEST_KEY,
        OR_MAGIC_MCP_TOKEN=token,
    )
    p = spawn(["--http", "--port", "0"], env)
    try:
        url, _ = _wait_for_url(p)
        clean = clean_environ()
        base = ["npx", "-y", INSPECTOR, "--cli", url, "--format", "json"]
        call = [
            "--method",
            "tools/call",
            "--tool-name",
            "validate_model",
            "--tool-arg",
            "model=openai/gpt-4o-mini",
        ]
        r = subprocess.run(
            [*base, "--header", f"Authorization: Bearer {token}", *call],
            env=clean,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert r.returncode == 0, r.stderr[-2000:]
        res = parse(r.stdout)["result"]
        assert res["structuredContent"]["valid"] is True
        assert res["structuredContent"]["model"] == "openai/gpt-4o-mini"
        r = subprocess.run(
            [*base, "--header", "Authorization: Bearer wrong", *call],
            env=clean,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert r.returncode != 0 and "valid" not in r.stdout
    finally:
        p.terminate()
        assert p.wait(timeout=60) == 0
