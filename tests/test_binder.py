"""The Binder recipe (``binder/``), checked statically and then run the way repo2docker runs it.

repo2docker with a ``binder/`` folder uses only the files in it: ``pip install -r
binder/requirements.txt``, then ``binder/postBuild`` from the repository root (the root
pyproject.toml is *not* installed on its own). The slow test does exactly that in a fresh virtual
environment (no system site-packages) on a copy of the repository, then executes
``notebooks/quickstart.ipynb`` with that environment's Jupyter, offline (no API key).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import clean_environ, jupyter_dirs

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".ruff_cache",
    ".pytest_cache",
    ".benchmarks",
    "test-artifacts",
    ".ipynb_checkpoints",
)


def _name(req: str) -> str:
    return re.split(r"[\s<>=!~;\[]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_dependencies() -> list[str]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli", reason="tomllib/tomli needed to read pyproject")
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["dependencies"]


def _binder_requirements() -> list[str]:
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    return [ln.split("#", 1)[0].strip() for ln in lines if ln.split("#", 1)[0].strip()]


# -------------------------------------------------------------------------------------------
# Static checks (fast)
# -------------------------------------------------------------------------------------------


def test_binder_files() -> None:
    assert not (ROOT / ".binder").exists(), "repo2docker refuses both binder/ and .binder/"
    post = BINDER / "postBuild"
    assert post.is_file() and os.access(post, os.X_OK), "binder/postBuild must be executable"
    text = post.read_text()
    assert text.startswith("#!"), "postBuild needs a shebang"
    assert "set -e" in text, "postBuild must stop at the first failing command"
    assert re.search(r"pip install[^\n]* \.(\s|$)", text), "postBuild installs the package"
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+", runtime), runtime
    assert not (BINDER / "environment.yml").exists(), "environment.yml would ignore runtime.txt"


def test_binder_requirements_cover_runtime_dependencies() -> None:
    """requirements.txt names JupyterLab and every runtime dependency of pyproject.toml."""
    binder = {_name(r) for r in _binder_requirements()}
    assert "jupyterlab" in binder and "ipykernel" in binder
    missing = {_name(d) for d in _pyproject_dependencies()} - binder
    assert not missing, f"binder/requirements.txt lacks runtime dependencies: {sorted(missing)}"


def test_readme_binder_badge_points_at_quickstart() -> None:
    readme = (ROOT / "README.md").read_text()
    if "mybinder.org" not in readme:
        pytest.skip("README has no Binder badge yet")
    assert "urlpath=lab/tree/notebooks/quickstart.ipynb" in readme
    assert (ROOT / "notebooks" / "quickstart.ipynb").is_file()


# -------------------------------------------------------------------------------------------
# The recipe, run for real
# -------------------------------------------------------------------------------------------


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: float, what: str) -> str:
    started = time.monotonic()
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    took = time.monotonic() - started
    print(f"binder: {what}: {took:.1f}s (exit {proc.returncode})")
    if proc.returncode != 0:
        pytest.fail(
            f"{what} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        )
    return proc.stdout


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.binder
@pytest.mark.timeout(900)
def test_binder_recipe_runs_quickstart(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=_IGNORE)
    venv = tmp_path / "venv"
    bindir = venv / "bin"
    home = tmp_path / "home"
    home.mkdir()
    env = clean_environ("PYTHON", "VIRTUAL_ENV", "JUPYTER")
    env.update(
        PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        OR_MAGIC_STATE_DIR=str(home / "state"),
        **jupyter_dirs(home),
        OPENROUTER_VIDEO_POLL_INTERVAL_MS="1000",  # the offline video is ready after two polls
    )

    _run(
        [sys.executable, "-m", "venv", str(venv)],
        cwd=tmp_path,
        env=env,
        timeout=120,
        what="python -m venv",
    )
    _run(
        [str(bindir / "python"), "-m", "pip", "install", "-q", "-r", "binder/requirements.txt"],
        cwd=repo,
        env=env,
        timeout=600,
        what="pip install -r binder/requirements.txt",
    )
    _run(["bash", "binder/postBuild"], cwd=repo, env=env, timeout=300, what="binder/postBuild")

    # The package comes from site-packages, not from the source tree.
    where = _run(
        [str(bindir / "python"), "-c", "import or_magic; print(or_magic.__file__)"],
        cwd=tmp_path,
        env=env,
        timeout=60,
        what="import or_magic",
    ).strip()
    assert str(venv) in where, where

    out = tmp_path / "executed"
    _run(
        [
            str(bindir / "jupyter"),
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--ExecutePreprocessor.timeout=120",
            "--ExecutePreprocessor.kernel_name=python3",
            "--output-dir",
            str(out),
            "notebooks/quickstart.ipynb",
        ],
        cwd=repo,
        env=env,
        timeout=400,
        what="execute notebooks/quickstart.ipynb",
    )
    nb = json.loads((out / "quickstart.ipynb").read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "an image was displayed"
    html = "".join(
        "".join(o["data"]["text/html"]) for o in outputs if "text/html" in o.get("data", {})
    )
    assert "<audio" in html, "an audio player was displayed"
