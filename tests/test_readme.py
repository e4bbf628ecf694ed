"""The README stays true: its commands are what CI runs, its tables come from the code."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", README, re.DOTALL)


def test_the_two_commands_and_ci_runs_the_test_command():
    commands = [b.strip() for b in _bash_blocks()[:2]]
    # the launcher: JupyterLab on the quickstart, as root too (see tests/test_cli.py)
    assert commands[0].endswith(".venv/bin/python -m or_magic lab")
    assert (ROOT / "notebooks" / "quickstart.ipynb").exists()
    assert commands[1].endswith("python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci


def test_env_table_is_generated_from_the_settings():
    from or_magic.config import ENV_VARS, env_table_markdown

    assert env_table_markdown() in README
    for v in ENV_VARS:
        assert f"`{v.name}`" in README


def test_every_tool_and_error_code_is_documented():
    from or_magic.errors import ALL_CODES
    from or_magic.tools.registry import all_tools

    for name in all_tools():
        assert f"`{name}`" in README, name
    for code in ALL_CODES:
        assert f"`{code}`" in README, code


def test_cheat_sheet_matches_the_magics_help():
    from or_magic.magics._help import CHEAT_SHEET

    body = CHEAT_SHEET.split("\n", 2)[2]  # drop the heading line
    assert body.strip() in README


def test_python_api_snippet_runs_offline(monkeypatch, tmp_path):
    """The README's Python block, run as written (top-level await inside a coroutine)."""
    import asyncio
    import textwrap

    from PIL import Image

    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    monkeypatch.setenv("OPENROUTER_OUTPUT_DIR", str(tmp_path))
    block = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
    code = next(b for b in block if "call_tool_sync" in b and "await" in b)
    ns: dict = {"fig": Image.new("RGB", (64, 48), "navy")}
    body = "async def __readme():\n" + textwrap.indent(code, "    ") + "\n    return locals()\n"
    exec(compile(body, "README.md", "exec"), ns)
    out = asyncio.run(ns["__readme"]())
    assert out["r"].ok and out["r"].media and (tmp_path / "fox.png").exists()
    assert out["batch"].failed  # the example paths do not exist: errors are collected, not raised


def test_mcp_client_snippets_are_valid_json_naming_our_entry_point():
    import json
    import shutil

    blocks = re.findall(r"```jsonc\n(.*?)```", README, re.DOTALL)
    assert len(blocks) >= 3
    for block in blocks:
        text = "\n".join(line for line in block.splitlines() if not line.lstrip().startswith("//"))
        cfg = json.loads(text)
        servers = cfg.get("mcpServers") or cfg.get("servers")
        entry = servers["or-magic"]
        assert entry.get("command", "").endswith("or-magic-mcp") or entry.get("url", "").endswith(
            "/mcp"
        )
        if "command" in entry:  # a spawned server: hosts often start it in "/", so set both roots
            env = entry.get("env", {})
            assert env.get("OPENROUTER_INPUT_DIR") and env.get("OPENROUTER_OUTPUT_DIR"), entry
    claude = next(b for b in _bash_blocks() if "claude mcp add or-magic --env" in b)
    assert "OPENROUTER_INPUT_DIR=" in claude and "OPENROUTER_OUTPUT_DIR=" in claude
    import sys

    assert shutil.which("or-magic-mcp", path=str(Path(sys.executable).parent)), (
        "console script installed"
    )


def test_every_tier_deselected_by_default_is_a_ci_step_and_documented():
    """A marker the default run skips is run by .ci/run and named in the README's tier table."""
    import shlex

    line = re.search(r"^addopts = \"(.*)\"$", (ROOT / "pyproject.toml").read_text(), re.M)
    assert line, "pyproject addopts"  # (tomllib would need Python 3.11)
    addopts = shlex.split(line.group(1))
    expr = addopts[addopts.index("-m") + 1]
    skipped = re.findall(r"not (\w+)", expr)
    assert set(skipped) >= {"slow", "browser", "notebook", "inspector"}
    ci = (ROOT / ".ci" / "run").read_text()
    steps = re.findall(r'^tier (\w+) "([^"]*)"', ci, re.MULTILINE)
    for marker in skipped:
        assert any(re.search(rf"(^|\band )\b{marker}\b", e) for _, e in steps), marker
        assert f"-m {marker}" in README or f'-m "{marker}' in README or marker == "slow", marker
    assert ".ci/wheel-check" in ci and (ROOT / ".ci" / "wheel-check").is_file()
