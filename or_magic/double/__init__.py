"""The OpenRouter double: a local HTTP stand-in for the OpenRouter API.

Used by the test-suite (real client, real loopback socket) and as the offline backend when no API
key is set. Importing this package is cheap: the server and uvicorn load on first use.

    from or_magic.double import OpenRouterDouble, Fault
    with OpenRouterDouble() as double:
        double.inject(Fault("/chat/completions", status=429, retry_after="1"))
        ...  # point a client at double.base_url
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .faults import SCENARIOS, Fault, RecordedRequest

if TYPE_CHECKING:
    from .server import OpenRouterDouble, get_offline_double

__all__ = ["SCENARIOS", "Fault", "OpenRouterDouble", "RecordedRequest", "get_offline_double"]


def __getattr__(name: str) -> Any:
    if name in ("OpenRouterDouble", "get_offline_double"):
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
