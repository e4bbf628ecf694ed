"""Fixtures shared by the tests that talk to the double over a real loopback socket."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from or_magic.double import OpenRouterDouble


def socket_double_fixtures(auth: dict[str, str]) -> tuple[Any, Any]:
    """``(double, client)`` fixtures: one double per module, and a fresh-state client per test.

    A module assigns them to the names ``double`` and ``client``; ``auth`` is the headers the
    client sends, so each module keeps its own recognisable key.
    """

    @pytest.fixture(scope="module")
    def double() -> Iterator[OpenRouterDouble]:
        with OpenRouterDouble() as d:
            yield d

    @pytest.fixture
    def client(double: OpenRouterDouble) -> Iterator[httpx.Client]:
        double.reset()
        with httpx.Client(base_url=double.base_url, headers=auth, timeout=10) as c:
            yield c

    return double, client
