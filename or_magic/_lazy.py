"""Lazy package attributes (PEP 562), shared by the packages' front doors.

A package lists its public names in a table (name → (module, attribute)); each is imported on
first use, so ``import or_magic`` and ``%load_ext or_magic`` stay cheap however much sits behind.
``lazy_table`` writes that table module by module, so a name is written once and a name exported
under another than its own stands out.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_table(
    by_module: Mapping[str, Iterable[str]],
    *,
    renamed: Mapping[str, tuple[str, str]] | None = None,
) -> dict[str, tuple[str, str]]:
    """The ``name → (module, attribute)`` table ``lazy_attributes`` reads.

    ``by_module`` maps a module to the names it provides under their own name; ``renamed`` maps a
    package name to the ``(module, attribute)`` it is another name for.
    """
    table = {name: (module, name) for module, names in by_module.items() for name in names}
    table.update(renamed or {})
    return table


def lazy_attributes(
    namespace: dict[str, Any], table: Mapping[str, tuple[str, str]], *, cache: bool = True
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for the module whose ``globals()`` is ``namespace``.

    With ``cache`` a resolved value is stored in the module (later lookups are plain attribute
    reads); without, every access reads the implementing module, so patching it (a test's
    monkeypatch) is seen by everyone who imports the name from the package.
    """
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        try:
            module_name, attr = table[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module_name), attr)
        if cache:
            namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(namespace.get("__all__", ())))

    return __getattr__, __dir__
