"""``or-magic-double`` as an emulator: the README's SDK snippet runs against it unchanged."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("openrouter")

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
README_URL = "http://127.0.0.1:8089/api/v1"
MGMT = "mgmt-" + "k" * 20


def _block_after(marker: str | None, lang: str, needle: str) -> str:
    text = README.split(marker, 1)[1] if marker else README
    for block in re.findall(rf"```{lang}\n(.*?)```", text, re.DOTALL):
        if needle in block:
            return block
    raise AssertionError(f"no {lang} block with {needle!r} in the README")


@pytest.fixture(scope="module")
def emulator():
    """The real command, as a user runs it (port 0 = any free one), stopped at the end."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "or_magic.double", "--port", "0", "--management-key", MGMT],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = proc.stdout.readline()  # printed once it is listening
        m = re.search(r"(http://\S+/api/v1)", line)
        assert m, f"no URL in {line!r}"
        yield m.group(1)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_the_readme_sdk_snippet_runs_against_the_emulator(emulator):
    code = _block_after("<!-- contract: sdk-snippet -->", "python", "from openrouter import")
    assert README_URL in code
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code.replace(README_URL, emulator), "README-snippet", "exec"), {})
    lines = out.getvalue().splitlines()
    assert lines[0].strip()  # the double's reply text
    assert lines[1] == "1536"
    assert lines[2].startswith("400 ") and "no/such-model" in lines[2]


def test_the_readme_openai_snippet_runs_against_the_emulator(emulator):
    pytest.importorskip("openai")
    code = _block_after(None, "python", "from openai import OpenAI")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code.replace(README_URL, emulator), "README-openai", "exec"), {})
    assert len(out.getvalue().splitlines()) == 2


def test_credits_answer_a_management_key_only(emulator):
    from openrouter import OpenRouter, errors

    with OpenRouter(api_key=MGMT, server_url=emulator) as c:
        assert c.credits.get_credits().data.total_credits > 0
    with (
        OpenRouter(api_key="other", server_url=emulator) as c,
        pytest.raises(errors.ForbiddenResponseError),
    ):
        c.credits.get_credits()


def test_the_emulator_command_is_documented():
    assert "or-magic-double --port 8089" in README
    assert "### Compatibility notes" in README
