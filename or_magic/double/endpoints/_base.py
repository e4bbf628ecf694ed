"""``Endpoints`` and ``@route``: what every API family of the double has, and how a handler
says which requests it answers.

A handler declares its routes where it is defined (``@route("GET", r"/models", auth=False)``;
stack several for one handler); ``Endpoints.routes()`` lists them in definition order, which is
match order (the first row that matches the path and method wins).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # pragma: no cover
    from .._http import Route
    from ..app import DoubleApp

_H = TypeVar("_H", bound=Callable[..., Any])


def route(method: str, pattern: str, *, auth: bool) -> Callable[[_H], _H]:
    """Mark a handler as answering ``method`` on paths (below ``/api/v1``) that fully match
    ``pattern``; ``auth`` = a key is required (discovery endpoints answer without one)."""

    def mark(handler: _H) -> _H:
        # decorators apply bottom-up: insert at the front so rows keep their written order
        handler.__dict__.setdefault("_double_routes", []).insert(0, (method, pattern, auth))
        return handler

    return mark


class Endpoints:
    """One API family's handlers, mounted by ``DoubleApp``; state it keeps is reset with the app."""

    def __init__(self, app: DoubleApp) -> None:
        self.app = app

    def routes(self) -> list[Route]:
        """The family's rows of the routing table (method, pattern, bound handler, auth)."""
        rows: list[Route] = []
        for name, member in vars(type(self)).items():
            for method, pattern, auth in getattr(member, "_double_routes", ()):
                rows.append((method, re.compile(pattern), getattr(self, name), auth))
        return rows

    def reset(self) -> None:
        """Forget the family's state; a stateless family has none."""
