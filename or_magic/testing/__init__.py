"""Compatibility alias: ``or_magic.testing`` is the old name of :mod:`or_magic.double`.

The OpenRouter double is no test-only helper (the client imports it as the offline backend), so it
lives in ``or_magic/double/``. Code written against the old name keeps working: this package
re-exports the double's public names, and a meta-path finder makes every submodule import
(``or_magic.testing.faults``, ``.server``, ``.app``, ...) return the *same* module object as
``or_magic.double.<name>`` (one ``Fault`` class, one ``SCENARIOS`` dict, one patched module for
monkeypatching). Nothing heavy loads here: submodules are imported only when asked for.
``python -m or_magic.testing`` runs the double's CLI via the thin ``__main__`` beside this file.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..double import SCENARIOS, Fault, RecordedRequest

if TYPE_CHECKING:
    from ..double import OpenRouterDouble, get_offline_double

__all__ = ["SCENARIOS", "Fault", "OpenRouterDouble", "RecordedRequest", "get_offline_double"]

_OLD = __name__  # "or_magic.testing"
_NEW = _OLD.rpartition(".")[0] + ".double"


class _AliasLoader(importlib.abc.Loader):
    """Hands back the already-imported ``or_magic.double.*`` module instead of making a new one."""

    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        # The import system keeps the module's own __name__/__spec__ (it only fills unset ones) and
        # stores it in sys.modules under the alias name: both names then map to one object.
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the target module was executed under its real name."""


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Maps ``or_magic.testing.X[.Y]`` to ``or_magic.double.X[.Y]`` (except this alias's __main__)."""

    def find_spec(
        self, fullname: str, path: Any = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(_OLD + ".") or fullname == _OLD + ".__main__":
            return None
        real = _NEW + fullname[len(_OLD) :]
        if importlib.util.find_spec(real) is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(real))


if not any(isinstance(finder, _AliasFinder) for finder in sys.meta_path):
    sys.meta_path.insert(0, _AliasFinder())


def __getattr__(name: str) -> Any:
    """Lazy names, as ``or_magic.double`` has them: the server and any submodule, on first use."""
    if name in ("OpenRouterDouble", "get_offline_double"):
        return getattr(importlib.import_module(_NEW), name)
    if not name.startswith("__"):
        try:
            return importlib.import_module(f"{_OLD}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name not in (f"{_OLD}.{name}", f"{_NEW}.{name}"):
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
