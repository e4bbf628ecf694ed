"""The example notebooks in ``notebooks/``: committed clean, and executed top to bottom.

Each notebook runs with nbclient in a fresh kernel of *this* interpreter (a throw-away kernel spec
pointing at ``sys.executable``, so it works in any fresh venv), with no API key (the offline double
answers), in a temporary working/output directory. Any cell error fails the test; a few outputs per
notebook are checked, and every executed notebook is scanned for anything that looks like a key.
Executed copies are kept in ``test-artifacts/notebooks/`` for inspection.

A notebook may declare what it needs in its metadata (``or_magic.requires_tools``,
``or_magic.requires_modules``); while a tool family is not registered yet, that notebook is skipped
with a message naming what is missing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import clean_environ

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
ARTIFACTS = ROOT / "test-artifacts" / "notebooks"
NOTEBOOKS = sorted(p for p in NOTEBOOK_DIR.glob("*.ipynb") if ".nbconvert" not in p.name)
EXPECTED = {
    "quickstart",
    "analysis",
    "generation",
    "video_jobs",
    "mcp_from_kernel",
    "batch",
    "dashboard",
    "scale",
}
CELL_TIMEOUT_S = 120
# Recognisable fake token for the in-kernel MCP server: it must never show up in an output.
MCP_TOKEN = "nb-test-mcp-token-" + "5f3c9a" * 4

# Anything that looks like a credential. OpenRouter keys, generic sk- keys, bearer headers.
SECRET_PATTERNS = [
    re.compile(r"sk-or-v1-[0-9a-fA-F]{16,}"),
    re.compile(r"sk-or-[A-Za-z0-9_-]{20,}"),
    re.compile(r"\bsk-[A-Za-z0-9]{32,}"),
    re.compile(r"Bearer\s+[A-Za-z0-9._~+/=-]{16,}"),
    re.compile(re.escape(MCP_TOKEN)),
]


def _load(path: Path):
    import nbformat

    return nbformat.read(path, as_version=4)


# -------------------------------------------------------------------------------------------
# Static checks on the committed files (fast, no kernel)
# -------------------------------------------------------------------------------------------


def test_expected_notebooks_present() -> None:
    assert {p.stem for p in NOTEBOOKS} >= EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_clean(path: Path) -> None:
    """Valid nbformat, no outputs or execution counts in git, intro + 'How to go live' note."""
    import nbformat

    nb = _load(path)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: committed outputs in cell {cell.get('id')}"
            assert cell.execution_count is None, f"{path.name}: execution count committed"
    assert nb.cells[0].cell_type == "markdown", f"{path.name}: must open with a Markdown intro"
    intro = nb.cells[0].source
    assert intro.lstrip().startswith("# "), f"{path.name}: intro needs a title"
    assert (
        "How to go live" in intro and "OPENROUTER_API_KEY" in intro and "%openrouter key" in intro
    )
    assert "widgets" not in nb.metadata, f"{path.name}: saved widget state committed"
    meta = nb.metadata.get("or_magic", {})
    assert isinstance(meta.get("requires_tools", []), list)
    raw = path.read_text(encoding="utf-8")
    for pat in SECRET_PATTERNS:
        assert not pat.search(raw), f"{path.name}: something that looks like a key"


# -------------------------------------------------------------------------------------------
# Execution
# -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kernel_spec_manager(tmp_path_factory: pytest.TempPathFactory):
    """A kernel spec for this interpreter, in a private directory (nothing installed globally)."""
    pytest.importorskip("nbclient", reason="nbclient is needed to execute notebooks")
    pytest.importorskip("ipykernel", reason="ipykernel is needed to execute notebooks")
    from jupyter_client.kernelspec import KernelSpecManager

    kernels = tmp_path_factory.mktemp("kernels")
    spec = kernels / "or_magic-test"
    spec.mkdir()
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "language": "python",
                "display_name": "or_magic-test",
            }
        )
    )
    return KernelSpecManager(kernel_dirs=[str(kernels)])


def _kernel_env(work: Path, state: Path) -> dict[str, str]:
    return clean_environ(
        OPENROUTER_OUTPUT_DIR=str(work),
        OR_MAGIC_STATE_DIR=str(state),
        OR_MAGIC_MCP_TOKEN=MCP_TOKEN,
        IPYTHONDIR=str(state / "ipython"),
        MPLCONFIGDIR=str(state / "mpl"),
        MPLBACKEND="module://matplotlib_inline.backend_inline",
        PYTHONDONTWRITEBYTECODE="1",
        # The offline double finishes a video after two polls; the live default interval (15 s)
        # would only make CI wait.
        OPENROUTER_VIDEO_POLL_INTERVAL_MS="1000",
    )


def _registered_tools() -> set[str]:
    import or_magic

    return {spec.name for spec in or_magic.list_tools()}


def _missing_requirements(nb) -> list[str]:
    meta = nb.metadata.get("or_magic", {})
    tools = set(meta.get("requires_tools", []))
    missing = sorted(tools - _registered_tools())
    for mod in meta.get("requires_modules", []):
        try:
            found = importlib.util.find_spec(mod) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(mod)
    return missing


def execute_notebook(path: Path, ksm, work: Path, state: Path):
    """Run ``path`` top to bottom in a fresh kernel; returns the executed notebook."""
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    nb = _load(path)
    km = KernelManager(kernel_name="or_magic-test", kernel_spec_manager=ksm)
    client = NotebookClient(
        nb,
        km=km,
        timeout=CELL_TIMEOUT_S,
        startup_timeout=60,
        allow_errors=False,
        record_timing=True,
        resources={"metadata": {"path": str(work)}},
    )
    try:
        client.execute(env=_kernel_env(work, state), cwd=str(work))
    finally:
        # nbclient leaves a kernel it did not create running: shut it down here (no zombies).
        if client.kc is not None:
            client.kc.stop_channels()
        if km.has_kernel:
            km.shutdown_kernel(now=False)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        import nbformat

        nbformat.write(nb, ARTIFACTS / path.name)
    return nb


# -- helpers over executed outputs ------------------------------------------------------------


def _outputs(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            yield from cell.outputs


def _mime_count(nb, mime: str) -> int:
    return sum(1 for o in _outputs(nb) if mime in o.get("data", {}))


def _all_text(nb) -> str:
    parts: list[str] = []
    for o in _outputs(nb):
        if o.get("output_type") == "stream":
            parts.append(o.get("text", ""))
        for mime, value in o.get("data", {}).items():
            if mime.startswith("text/") or mime.endswith("json"):
                parts.append(value if isinstance(value, str) else json.dumps(value))
    return "\n".join(parts)


def _html(nb) -> str:
    return "\n".join(
        o["data"]["text/html"] for o in _outputs(nb) if "text/html" in o.get("data", {})
    )


# -- per-notebook checks -----------------------------------------------------------------------


def _check_quickstart(nb, work: Path) -> None:
    assert _mime_count(nb, "image/png") >= 2, "expected the drawn and the generated image"
    html = _html(nb)
    assert "<audio" in html, "expected an <audio> player (generated audio / speech)"
    assert "<video" in html, "expected a <video> player"
    text = _all_text(nb)
    assert "offline" in text.lower(), "results must be labelled offline"
    assert "offline: True" in text
    assert (work / "fox.png").is_file(), "--save fox.png writes under the output dir"


def _check_analysis(nb, work: Path) -> None:
    text = _all_text(nb)
    assert "INVALID_INPUT" in text, "a missing file is an INVALID_INPUT result"
    assert "offline: True" in text
    assert "<audio" in _html(nb) and "<video" in _html(nb)


def _check_generation(nb, work: Path) -> None:
    gallery = [h for h in _html(nb).split("\n") if "display:flex" in h]
    joined = "\n".join(gallery) or _html(nb)
    assert joined.count("<img") >= 6, "gallery: 3 images + 3 from or_magic.map"
    assert joined.count("<audio") >= 2, "gallery: music + speech"


def _check_video_jobs(nb, work: Path) -> None:
    assert "<video" in _html(nb)
    assert any(work.rglob("*.mp4")), "the videos are saved under the output dir"
    assert (work / "resumed.mp4").is_file(), "%openrouter status --save wrote the file"


def _check_mcp(nb, work: Path) -> None:
    text = _all_text(nb)
    m = re.search(r"(\d+) tools:", text)
    assert m and int(m.group(1)) >= 5, "listed the server's tools over MCP"
    assert _mime_count(nb, "image/png") >= 1, "the MCP image content was displayed"
    assert "INVALID_INPUT" in text, "error code travels in _meta.code"


def _check_batch(nb, work: Path) -> None:
    text = _all_text(nb)
    m = re.search(r"(\d+) answered, (\d+) failed, total cost \$([0-9.]+)", text)
    assert m, "batch summary line"
    assert int(m.group(1)) == 18 and int(m.group(2)) == 1


def _check_dashboard(nb, work: Path) -> None:
    assert _mime_count(nb, "application/vnd.jupyter.widget-view+json") >= 1
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    assert state.get("state"), "widget state was saved by nbclient"
    m = re.search(r"(\d+) models loaded; image tab default: (\S+)", _all_text(nb))
    assert m and int(m.group(1)) > 0 and m.group(2) != "None", "the model pickers were filled"


def _check_scale(nb, work: Path) -> None:
    text = _all_text(nb)
    assert "fresh process: chat_completion batch orb_" in text, "a new process reattached"
    assert "completed · 5000 ok, 0 failed" in text, text[-2000:]
    m = re.search(r"(\d+) rows: (\d+) labelled, (\d+) embedded, (\d+) failed", text)
    assert m and m.groups() == ("5000", "5000", "5000", "0"), "every row came back, joined"
    assert "(5000, 256) float32" in text
    assert not (work / "scale_state.json").exists(), "the clean-up cell ran"


def _stop_notebook_processes(work: Path) -> None:
    """scale.ipynb starts the double as its own process; stop it even when a cell failed."""
    state = work / "scale_state.json"
    try:
        pid = json.loads(state.read_text()).get("double_pid")
    except (OSError, ValueError):
        return
    if isinstance(pid, int):
        import signal

        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


CHECKS: dict[str, Callable] = {
    "quickstart": _check_quickstart,
    "analysis": _check_analysis,
    "generation": _check_generation,
    "video_jobs": _check_video_jobs,
    "mcp_from_kernel": _check_mcp,
    "batch": _check_batch,
    "dashboard": _check_dashboard,
    "scale": _check_scale,
}


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path: Path, kernel_spec_manager, tmp_path: Path) -> None:
    nb = _load(path)
    missing = _missing_requirements(nb)
    if missing:
        pytest.skip(f"{path.name} needs what is not in or_magic yet: {', '.join(missing)}")
    work = tmp_path / "nb-work"
    state = tmp_path / "nb-state"
    work.mkdir()
    state.mkdir()
    try:
        executed = execute_notebook(path, kernel_spec_manager, work, state)
    finally:
        _stop_notebook_processes(work)

    errors = [o for o in _outputs(executed) if o.get("output_type") == "error"]
    assert not errors, errors
    dumped = json.dumps(executed)
    for pat in SECRET_PATTERNS:
        hit = pat.search(dumped)
        assert hit is None, f"{path.name}: output contains something that looks like a key"
    check = CHECKS.get(path.stem)
    if check is not None:
        check(executed, work)
