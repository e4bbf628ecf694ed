"""The error codes: unique, and exactly the documented set."""

from __future__ import annotations

from or_magic.errors import ALL_CODES


def test_every_code_is_unique_and_fourteen():
    """The Node server's 13 codes plus our BUDGET_EXCEEDED (refused before spending)."""
    assert len(ALL_CODES) == 14 == len(set(ALL_CODES))
    assert "INVALID_CREDENTIALS" in ALL_CODES and "JOB_STILL_RUNNING" in ALL_CODES
    assert "BUDGET_EXCEEDED" in ALL_CODES
