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


def requests_to(double: Any, path: str, *, method: str | None = None) -> list[Any]:
    """The requests the double received at an endpoint ending in ``path`` (only ``method`` ones
    when given), oldest first."""
    return [
        r
        for r in double.requests
        if r.path.endswith(path) and (method is None or r.method == method)
    ]


def chat_requests(double: Any) -> list[Any]:
    """The ``/chat/completions`` requests the double received."""
    return requests_to(double, "/chat/completions")


def sent_media(double: Any) -> list[tuple[str, str]]:
    """The media parts of the double's last request, in order: (part type, audio format or MIME)."""
    assert double.requests, "the double received nothing"
    return [(m["type"], m.get("format") or m["mime"]) for m in double.requests[-1].media]


def batch_row(custom_id: str, body: Any) -> dict[str, Any]:
    """One row of a Batch API result: a 200 answer with ``body`` for ``custom_id``."""
    return {"custom_id": custom_id, "error": None, "response": {"status_code": 200, "body": body}}


def finish_first_batch_with(double: Any, handle: Any, results: list[Any]) -> None:
    """Make the double answer the next poll of ``handle``'s first upstream batch: completed, with
    ``results`` as its rows (forged ones included)."""
    from or_magic.double import Fault

    chunk = handle._engine.store.batch_chunks(handle.id)[0]["upstream_id"]
    forged = {
        "id": chunk,
        "object": "batch",
        "status": "completed",
        "request_counts": {},
        "results": results,
    }
    double.inject(Fault(path=f"/batches/{chunk}", method="GET", status=200, body=forged))
