"""Set-up shared by the tests that drive ``%openrouter`` in an in-process InteractiveShell.

IPython is imported when a helper is called, not here, so a test module that imports this stays
cheap to collect.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def load_magics_shell() -> tuple[Any, Any]:
    """The shell singleton with ``or_magic`` loaded and every configurable trait at its default.

    The singleton outlives a test, so a trait one test set would leak into the next without this.
    Returns ``(shell, magics)``.
    """
    from IPython.core.interactiveshell import InteractiveShell

    from or_magic.magics import get_magics

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "or_magic")
    magics = get_magics(shell)
    for name in magics.trait_names(config=True):
        setattr(magics, name, magics.trait_defaults(name))
    return shell, magics


def drop_test_names(shell: Any) -> None:
    """Forget the ``t_…`` names a test put in the shared shell's namespace."""
    for k in [k for k in shell.user_ns if k.startswith("t_")]:
        shell.user_ns.pop(k, None)


@contextmanager
def offline_magics_shell() -> Iterator[tuple[Any, Any]]:
    """``(shell, magics)`` from ``load_magics_shell`` with the offline double reset around it.

    On the way out the log stream the extension rerouted is put back and the ``t_…`` names go.
    """
    from or_magic import log
    from or_magic.double import get_offline_double

    saved = log._stream
    shell, magics = load_magics_shell()
    double = get_offline_double()
    double.reset()
    yield shell, magics
    double.reset()
    log._stream = saved
    drop_test_names(shell)


def run_cell(shell: Any, source: str) -> tuple[Any, Any]:
    """Run ``source`` as a cell; return ``(captured output, ExecutionResult)``."""
    from IPython.utils.capture import capture_output

    with capture_output() as cap:
        result = shell.run_cell(source)
    return cap, result
