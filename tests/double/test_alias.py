"""``or_magic.testing`` (the double's old name) stays an alias of ``or_magic.double``.

Branches written against the old name import ``or_magic.testing.faults`` and friends and
monkeypatch them; that only works if each alias name is the *same* module object as the real one.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import or_magic.double
import or_magic.testing

SUBMODULES = sorted(
    info.name for info in pkgutil.iter_modules(or_magic.double.__path__) if info.name != "__main__"
)


def test_the_double_has_the_submodules_old_code_imports() -> None:
    assert {"faults", "server", "app", "catalog", "_chat", "_schema"} <= set(SUBMODULES)


@pytest.mark.parametrize("name", SUBMODULES)
def test_each_alias_submodule_is_the_real_module(name: str) -> None:
    alias = importlib.import_module(f"or_magic.testing.{name}")
    real = importlib.import_module(f"or_magic.double.{name}")
    assert alias is real
    assert sys.modules[f"or_magic.testing.{name}"] is real
    assert getattr(or_magic.testing, name) is real
    assert real.__name__ == f"or_magic.double.{name}"  # not re-executed under the alias name


def test_public_names_are_the_same_objects() -> None:
    from or_magic.testing import SCENARIOS, Fault, OpenRouterDouble, get_offline_double

    assert Fault is or_magic.double.Fault
    assert SCENARIOS is or_magic.double.SCENARIOS
    assert OpenRouterDouble is or_magic.double.OpenRouterDouble
    assert get_offline_double is or_magic.double.get_offline_double


def test_monkeypatching_through_the_alias_reaches_the_double(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import or_magic.testing.catalog as alias

    import or_magic.double.catalog as real

    monkeypatch.setattr(alias, "MODELS", ())
    assert real.MODELS == ()


def test_unknown_names_fail_like_any_missing_module() -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("or_magic.testing.no_such_module")
    with pytest.raises(AttributeError):
        _ = or_magic.testing.no_such_name


def test_alias_first_in_a_fresh_process_is_light_and_shared() -> None:
    # The alias imported before the real name (as an old branch would): still one object, and
    # importing the alias loads nothing heavy.
    code = (
        "import sys, or_magic.testing as t\n"
        "heavy = [m for m in ('uvicorn', 'httpx', 'pydantic') if m in sys.modules]\n"
        "import or_magic.testing.faults as f, or_magic.testing.server as s\n"
        "import or_magic.double.faults as F, or_magic.double.server as S\n"
        "print(heavy, f is F, s is S, t.Fault is F.Fault)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["[]", "True", "True", "True"], out.stderr


# ``python -m or_magic.testing`` serving: tests/double/test_server.py::test_cli_serves_until_interrupted.
