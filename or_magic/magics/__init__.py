"""or_magic.magics: ``%load_ext or_magic`` registers ``%openrouter`` / ``%%openrouter``.

Loading is cheap: only IPython/traitlets (already imported by IPython) and this package's parsing
code are imported; the tool core, httpx, PIL, ipywidgets and mcp load on first use.
"""

from __future__ import annotations

from typing import Any

from .._lazy import lazy_attributes, lazy_table

__all__ = ["OpenRouterCellError", "OpenRouterMagics", "load_ipython_extension"]

_LAZY = lazy_table(
    {
        "or_magic.magics._core": ("OpenRouterMagics",),
        "or_magic.magics._errors": (
            "OpenRouterCellError",
            "OpenRouterCancelled",
            "OpenRouterInterrupted",
        ),
        "or_magic.magics._jobs": ("BackgroundJob",),
        "or_magic.magics._interp": ("interpolate",),
    },
    renamed={"Job": ("or_magic.magics._jobs", "BackgroundJob")},  # the README's name for it
)


__getattr__, __dir__ = lazy_attributes(globals(), _LAZY, cache=False)


def _registered(ipython: Any) -> Any:
    from ._core import OpenRouterMagics

    for inst in getattr(ipython, "configurables", []):
        if isinstance(inst, OpenRouterMagics):
            return inst
    return None


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics once per shell (idempotent: a second call is a no-op)."""
    from ._core import OpenRouterMagics

    current = ipython.magics_manager.registry.get("OpenRouterMagics")
    if isinstance(current, OpenRouterMagics) and _registered(ipython) is current:
        return
    ipython.register_magics(OpenRouterMagics(shell=ipython))
    _route_logs()
    _warm_after_this_cell(ipython)


# What a first chat cell imports besides the tool and the client (see ``or_magic._warm``).
_FIRST_CELL_MODULES = (
    "or_magic.magics._dispatch",
    "or_magic.magics._run",
    "or_magic.magics.cells.chat",
    "or_magic.magics._interp",
    "or_magic.magics._live",
    "or_magic.usage",
    "or_magic.display",
)


def _warm_after_this_cell(ipython: Any) -> None:
    """Once the ``%load_ext`` cell has finished, warm the first chat cell's imports and the HTTP
    client in a background thread (``or_magic._warm``): not during the load, which stays cheap."""
    events = getattr(ipython, "events", None)
    if events is None:
        return

    def start(*_: Any) -> None:
        try:
            events.unregister("post_run_cell", start)
        except ValueError:
            pass
        from .._warm import start as warm

        warm(modules=_FIRST_CELL_MODULES)

    try:
        events.register("post_run_cell", start)
    except Exception:  # an optimisation only (an unusual shell without the event)
        pass


def _route_logs() -> None:
    from .. import log

    if log.get_stream() is None:  # respect a redirect someone else set up (tests)
        log.set_stream(log.StateFileStream())  # type: ignore[arg-type]


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics (``%unload_ext or_magic``); conversations are dropped."""
    mm = ipython.magics_manager
    inst = mm.registry.pop("OpenRouterMagics", None)
    from .. import log

    if isinstance(log.get_stream(), log.StateFileStream):
        log.set_stream(None)
    for kind in ("line", "cell"):
        mm.magics[kind].pop("openrouter", None)
    if inst is not None:
        try:
            ipython.configurables.remove(inst)
        except ValueError:
            pass
        h = getattr(inst, "_mcp_handle", None)
        if h is not None:
            try:
                h.stop()
            except Exception:
                pass


def get_magics(ipython: Any = None) -> Any:
    """The registered ``OpenRouterMagics`` instance (for tests and advanced use)."""
    if ipython is None:
        from IPython import get_ipython

        ipython = get_ipython()
    return None if ipython is None else ipython.magics_manager.registry.get("OpenRouterMagics")
