"""The magics' dispatch tables: every row resolves to a function, and loading the extension
imports none of the mode modules (they load on first use)."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from or_magic.magics import _dispatch


@pytest.mark.parametrize(
    "name, spec", [*_dispatch.CELL_MODES.items(), *_dispatch.LINE_COMMANDS.items()]
)
def test_every_table_row_names_a_function_of_the_right_shape(name, spec):
    fn = _dispatch.target(spec)
    params = list(inspect.signature(fn).parameters)
    want = 3 if name in _dispatch.CELL_MODES else 2
    assert len(params) >= want, (name, params)


def test_a_mode_is_not_also_a_line_command():
    assert not set(_dispatch.CELL_MODES) & set(_dispatch.LINE_COMMANDS)


def test_a_bad_row_fails_loudly():
    with pytest.raises(AttributeError):
        _dispatch.target("or_magic.magics.cells.chat:no_such_function")


def test_loading_the_extension_imports_no_mode_module():
    code = (
        "import sys\n"
        "from IPython.testing.globalipapp import start_ipython\n"
        "ip = start_ipython()\n"
        "ip.run_line_magic('load_ext', 'or_magic')\n"
        "print(sorted(m for m in sys.modules if m.startswith('or_magic.magics.')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert "or_magic.magics._parsing" in out  # the probe saw the package load
    for lazy in ("cells", "commands", "_run", "_dispatch", "_bundles", "_common", "_live"):
        assert f"or_magic.magics.{lazy}" not in out, out
