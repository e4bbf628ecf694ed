"""Pieces shared by the tool tests."""

from __future__ import annotations

from typing import Any

import pytest

# The generation tools that take a save_path, each with the least arguments it runs with.
GEN_TOOLS: dict[str, dict[str, Any]] = {
    "generate_image": {"prompt": "a fox"},
    "generate_image_dedicated": {"prompt": "a fox"},
    "generate_audio": {"prompt": "hello"},
    "text_to_speech": {"input": "hello"},
    "generate_video": {"prompt": "waves", "poll_interval_ms": 50},
}


def inproc_double_fixture() -> Any:
    """A ``double`` fixture for a module whose tests need no socket: the double's app in-process.

    Assign it to the module name ``double``; it stands in for the loopback one of tests/conftest.py.
    """

    @pytest.fixture(name="double")
    def _double(double_inproc: Any) -> Any:
        return double_inproc

    return _double
