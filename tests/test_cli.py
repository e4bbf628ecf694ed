"""``python -m or_magic``: the ``lab`` launcher (root or not), ``demo``, and quiet closed pipes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from or_magic import __main__ as cli
from or_magic import _lab

ROOT = Path(__file__).resolve().parent.parent


# ---- lab: the command it builds ------------------------------------------------------------------


def test_root_gets_allow_root_and_nobody_else_does(tmp_path: Path) -> None:
    nb = tmp_path / "notebooks" / "quickstart.ipynb"
    nb.parent.mkdir()
    nb.write_text("{}")
    as_root = _lab.build_command(nb, ["--no-browser"], euid=0, cwd=tmp_path, python="py")
    assert as_root == [
        "py",
        "-m",
        "jupyterlab",
        str(Path("notebooks") / "quickstart.ipynb"),
        "--allow-root",
        "--no-browser",
    ]
    as_user = _lab.build_command(nb, ["--no-browser"], euid=1000, cwd=tmp_path, python="py")
    assert "--allow-root" not in as_user and as_user[-1] == "--no-browser"
    windows = _lab.build_command(nb, [], euid=None, cwd=tmp_path, python="py")
    assert "--allow-root" not in windows
    # given by the user already: passed once, where they put it
    twice = _lab.build_command(nb, ["--allow-root", "--port", "9"], euid=0, cwd=tmp_path)
    assert twice.count("--allow-root") == 1 and twice[-3:] == ["--allow-root", "--port", "9"]


def test_a_notebook_outside_the_working_directory_roots_the_server_at_its_folder(
    tmp_path: Path,
) -> None:
    nb = tmp_path / "elsewhere" / "quickstart.ipynb"
    nb.parent.mkdir()
    nb.write_text("{}")
    cwd = tmp_path / "here"
    cwd.mkdir()
    cmd = _lab.build_command(nb, [], euid=1000, cwd=cwd, python="py")
    assert cmd[3:] == [f"--ServerApp.root_dir={nb.parent.resolve()}", "quickstart.ipynb"]


def test_the_quickstart_is_found_here_first_then_in_the_checkout(tmp_path: Path) -> None:
    assert _lab.find_notebook(tmp_path) == ROOT / "notebooks" / "quickstart.ipynb"
    mine = tmp_path / "notebooks" / "quickstart.ipynb"
    mine.parent.mkdir()
    mine.write_text("{}")
    assert _lab.find_notebook(tmp_path) == mine


# ---- lab: what it prints and runs ----------------------------------------------------------------


def _no_exec(*a: object) -> None:
    raise AssertionError("--dry-run must not start anything")


def test_dry_run_prints_the_command_and_starts_nothing(monkeypatch, capsys) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(os, "execv", _no_exec)
    monkeypatch.setattr(_lab, "_euid", lambda: 0)
    assert cli.main(["lab", "--dry-run", "--no-browser", "--port", "8999"]) == 0
    out = capsys.readouterr().out
    assert "notebooks/quickstart.ipynb" in out and "offline" in out
    assert "passing --allow-root" in out
    assert out.rstrip().endswith(
        "-m jupyterlab notebooks/quickstart.ipynb --allow-root --no-browser --port 8999"
    )


@pytest.mark.parametrize("euid", [0, 1000])
def test_lab_execs_jupyterlab_with_the_arguments(monkeypatch, capsys, euid: int) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(_lab, "_euid", lambda: euid)
    calls: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(os, "execv", lambda path, argv: calls.append((path, list(argv))))
    monkeypatch.setattr(os, "name", "posix")
    cli.main(["lab", "--no-browser"])
    assert len(calls) == 1
    path, argv = calls[0]
    assert path == sys.executable and argv[:4] == [
        sys.executable,
        "-m",
        "jupyterlab",
        "notebooks/quickstart.ipynb",
    ]
    assert ("--allow-root" in argv) is (euid == 0) and argv[-1] == "--no-browser"
    assert ("passing --allow-root" in capsys.readouterr().out) is (euid == 0)


def test_lab_without_jupyterlab_says_how_to_install_it(monkeypatch, capsys) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "jupyterlab" else real(n, *a)
    )
    monkeypatch.setattr(os, "execv", _no_exec)
    assert cli.main(["lab"]) == 2
    assert "pip install 'or_magic[notebooks]'" in capsys.readouterr().err


def test_unknown_arguments_are_still_errors_outside_lab(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["tools", "--bogus"])
    assert exc.value.code == 2 and "--bogus" in capsys.readouterr().err


# ---- demo and pipes ------------------------------------------------------------------------------


def test_demo_runs_offline_and_labels_simulated_costs(capsys) -> None:
    assert cli.main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "OFFLINE" in out
    costs = [ln for ln in out.splitlines() if ln.strip().startswith("cost:")]
    assert costs and all("simulated, offline" in ln for ln in costs), costs
    assert "cost_usd" not in out  # no bare figure that reads as money spent


def test_a_closed_pipe_ends_quietly() -> None:
    """``python -m or_magic tools | head -1``: the reader is gone before we write."""
    r, w = os.pipe()
    os.close(r)  # nobody will read: the first write fails with EPIPE, every time
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "or_magic", "tools"],
            stdout=w,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(w)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
