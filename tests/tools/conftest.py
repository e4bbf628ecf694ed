"""Fixtures for the tool tests (a module that needs another set-up defines its own ``out``)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The output root (not created: the tools make it) with inputs read from the test's cwd."""
    root = tmp_path / "out"
    monkeypatch.setenv("OPENROUTER_OUTPUT_DIR", str(root))
    monkeypatch.setenv("OPENROUTER_INPUT_DIR", str(tmp_path / "work"))
    return root
