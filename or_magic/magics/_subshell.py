"""Make a Stop button work while a *blocking* cell runs (ipykernel >= 7).

ipykernel 7 runs every shell message in one shared ``contextvars.Context``; nest-asyncio2 must
defer any handle whose context is already entered, so a widget click (a ``comm_msg`` handled on
the main thread) waits until the blocking cell ends — too late for a Stop button. ipykernel 7 can
route a comm's messages to a *subshell* thread instead (``comm._reply_subshell_id``, honoured by
the shell channel thread). We create one private subshell per kernel, route the Stop button's
comm there, and the click handler (running in that thread) cancels the job on the main loop with
``call_soon_threadsafe``. Without subshell support this is a no-op: the kernel's interrupt button
still cancels cleanly, and Stop works for ``--background`` jobs (the loop is free then).
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_subshell_id: str | None = None
_failed = False


def _kernel() -> Any:
    try:
        from IPython import get_ipython

        ip = get_ipython()
    except Exception:  # pragma: no cover
        return None
    return getattr(ip, "kernel", None)


def control_subshell() -> str | None:
    """The id of or_magic's private subshell (created once), or None when unsupported."""
    global _subshell_id, _failed
    if _subshell_id is not None or _failed:
        return _subshell_id
    kernel = _kernel()
    if kernel is None or not getattr(kernel, "_supports_kernel_subshells", False):
        _failed = True
        return None
    with _lock:
        if _subshell_id is not None:
            return _subshell_id
        try:
            manager = kernel.shell_channel_thread.manager
            io_loop = manager._shell_channel_io_loop
            done = threading.Event()
            box: dict[str, Any] = {}

            def make() -> None:
                try:
                    box["id"] = manager._create_subshell()
                except Exception as exc:  # pragma: no cover - depends on ipykernel internals
                    box["error"] = exc
                finally:
                    done.set()

            io_loop.add_callback(make)
            if not done.wait(5.0) or "id" not in box:
                _failed = True
                return None
            _subshell_id = box["id"]
        except Exception:  # pragma: no cover - ipykernel internals changed
            _failed = True
            return None
    return _subshell_id


def route_to_subshell(widget: Any) -> bool:
    """Deliver ``widget``'s frontend messages on the private subshell; True when arranged."""
    sid = control_subshell()
    comm = getattr(widget, "comm", None)
    if sid is None or comm is None or not hasattr(comm, "_reply_subshell_for"):
        return False
    comm._reply_subshell_id = sid
    return True
