"""``python -m or_magic lab``: JupyterLab on the quickstart notebook, one command for everyone.

Why a launcher instead of ``jupyter lab notebooks/quickstart.ipynb`` in the README: JupyterLab
refuses to start as root without ``--allow-root`` (containers, cloud notebooks and CI images run as
root), and that flag cannot simply be written into the command (JupyterLab's own advice is not to
pass it otherwise). The launcher finds the notebook, adds ``--allow-root`` only when the effective
uid is 0, forwards every other argument to JupyterLab unchanged, prints the command it runs, and
then *replaces itself* with JupyterLab, so Ctrl-C, signals and the exit code are JupyterLab's own.
``--dry-run`` prints the command without running it.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

QUICKSTART = "quickstart.ipynb"


def find_notebook(cwd: Path | None = None) -> Path | None:
    """The quickstart next to the working directory, else in the checkout this package is in."""
    here = Path.cwd() if cwd is None else cwd
    package_checkout = Path(__file__).resolve().parent.parent
    for candidate in (
        here / "notebooks" / QUICKSTART,
        here / QUICKSTART,
        package_checkout / "notebooks" / QUICKSTART,
    ):
        if candidate.is_file():
            return candidate
    return None


def _euid() -> int | None:
    geteuid = getattr(os, "geteuid", None)  # absent on Windows, where there is no root check
    return geteuid() if geteuid is not None else None


def build_command(
    notebook: Path | None,
    extra: Sequence[str] = (),
    *,
    euid: int | None = None,
    cwd: Path | None = None,
    python: str | None = None,
) -> list[str]:
    """``python -m jupyterlab [NOTEBOOK] [--allow-root] EXTRA...`` for this interpreter.

    The notebook is given relative to the working directory when it is inside it (the server's
    root is the working directory, as with ``jupyter lab``); otherwise the server is rooted at
    the notebook's folder so the file is reachable.
    """
    here = (Path.cwd() if cwd is None else cwd).resolve()
    cmd = [python or sys.executable, "-m", "jupyterlab"]
    if notebook is not None:
        nb = notebook.resolve()
        try:
            cmd.append(str(nb.relative_to(here)))
        except ValueError:
            cmd += [f"--ServerApp.root_dir={nb.parent}", nb.name]
    if euid == 0 and "--allow-root" not in extra:
        cmd.append("--allow-root")
    cmd += list(extra)
    return cmd


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def main(extra: Sequence[str] = (), *, dry_run: bool = False) -> int:
    """Print what is about to run, then exec JupyterLab (or only print it with ``dry_run``)."""
    notebook = find_notebook()
    euid = _euid()
    cmd = build_command(notebook, extra, euid=euid)
    if os.environ.get("OPENROUTER_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        mode = "offline (OPENROUTER_OFFLINE): the built-in OpenRouter double answers"
    elif os.environ.get("OPENROUTER_API_KEY"):
        mode = "live (OPENROUTER_API_KEY is set)"
    else:
        mode = "offline: no OPENROUTER_API_KEY, the built-in OpenRouter double answers"
    what = (
        f"the quickstart notebook ({_shown(notebook)})" if notebook is not None else "this folder"
    )
    print(f"or_magic lab: starting JupyterLab on {what}; {mode}.")
    if notebook is None:
        print(f"  ({QUICKSTART} not found here or next to the package; opening the file browser)")
    if "--allow-root" in cmd and "--allow-root" not in extra:
        print("  running as root (containers, CI): passing --allow-root")
    print("  $ " + shlex.join(cmd), flush=True)
    if dry_run:
        return 0
    if importlib.util.find_spec("jupyterlab") is None:
        print(
            "or_magic lab: JupyterLab is not installed in this environment: "
            "pip install 'or_magic[notebooks]' (or try `python -m or_magic demo` in the terminal)",
            file=sys.stderr,
        )
        return 2
    sys.stderr.flush()
    if os.name == "posix":
        os.execv(cmd[0], cmd)  # JupyterLab takes over this process: its signals, its exit code
        return 0  # only reached when execv is replaced (tests)
    return subprocess.call(cmd)  # pragma: no cover - Windows has no exec that keeps the console
