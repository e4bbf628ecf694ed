"""The dashboard in a real browser: JupyterLab on loopback, driven by Playwright + Debian's Chromium.

Opens ``notebooks/dashboard.ipynb`` (a temporary copy), runs it, picks an image model in the Image
tab, presses Run and waits for the generated picture to be decoded in an ``<img>`` of the gallery;
then makes speech in the Audio tab and plays the ``<audio>`` element. Screenshots go to
``test-artifacts/browser/``. Offline: no API key reaches the server or the kernel.

Needs ``jupyterlab`` and ``playwright`` (Python) in this environment and ``/usr/bin/chromium``
(``apt-get install chromium``; ``.ci/system-deps`` installs it). Playwright's own browser download
is never used: Chromium is launched through ``executable_path``. ``OR_MAGIC_CHROMIUM`` may name
another Chromium binary.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import clean_environ, jupyter_dirs

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("OR_MAGIC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


def _missing() -> list[str]:
    missing = []
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    for mod in ("playwright", "jupyterlab", "ipykernel"):
        if importlib.util.find_spec(mod) is None:
            missing.append(f"the Python package {mod!r}")
    return missing


_MISSING = _missing()
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(_MISSING), reason="real-browser test needs " + ", ".join(_MISSING or ["-"])
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except Exception:
        return 0


@pytest.fixture
def jupyter_lab(tmp_path: Path):
    """JupyterLab on 127.0.0.1 (random token, free port) over a copy of notebooks/."""
    root = tmp_path / "notebooks"
    shutil.copytree(
        ROOT / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "output")
    )
    state = tmp_path / "state"
    settings = state / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    # No news / update checks (they would try the network and pop up toasts over the page).
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    # Start the notebook's kernel without the "Select Kernel" dialog.
    tracker = state / "lab-settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(
        json.dumps({"autoStartDefaultKernel": True, "windowingMode": "none"})
    )  # windowing off: every cell's output stays in the DOM for the assertions
    env = clean_environ(
        "JUPYTER",
        OPENROUTER_OUTPUT_DIR=str(root),
        OR_MAGIC_STATE_DIR=str(state / "or_magic"),
        **jupyter_dirs(state),
        JUPYTERLAB_SETTINGS_DIR=str(state / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(state / "lab-workspaces"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    token = secrets.token_hex(16)
    port = _free_port()
    log = (tmp_path / "jupyter-lab.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            f"--IdentityProvider.token={token}",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.allow_remote_access=False",
            "--LabApp.news_url=None",
            "--LabServerApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            *(["--allow-root"] if os.geteuid() == 0 else []),  # CI containers run as root
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while _get(f"{base}/api/status?token={token}") != 200:
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(
                    "jupyter lab did not start:\n"
                    + (tmp_path / "jupyter-lab.log").read_text(errors="replace")[-4000:]
                )
            time.sleep(0.25)
        yield {"base": base, "token": token, "root": root, "log": tmp_path / "jupyter-lab.log"}
    finally:
        # Graceful: the server shuts its kernels down; then make sure the whole group is gone.
        with contextlib.suppress(Exception):
            req = urllib.request.Request(
                f"{base}/api/shutdown", method="POST", headers={"Authorization": f"token {token}"}
            )
            urllib.request.urlopen(req, timeout=5).close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # stragglers in the group (kernels)
        log.close()


@pytest.mark.timeout(240)
def test_dashboard_image_and_audio_in_chromium(jupyter_lab, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    base, token = jupyter_lab["base"], jupyter_lab["token"]

    def shot(page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)

    with sync_playwright() as pw:
        browser = _launch(pw)
        try:
            page = _new_page(browser)
            console: list[str] = []
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            report: dict = {}
            try:
                _drive(page, base, token, shot, expect, report)
            except BaseException:
                with contextlib.suppress(Exception):
                    shot(page, "failure")
                (ARTIFACTS / "console.log").write_text("\n".join(console))
                with contextlib.suppress(Exception):
                    shutil.copy(jupyter_lab["log"], ARTIFACTS / "jupyter-lab.log")
                raise
            (ARTIFACTS / "console.log").write_text("\n".join(console))
            (ARTIFACTS / "report.json").write_text(json.dumps(report, indent=2))
        finally:
            browser.close()


def _launch(pw):
    """Debian's Chromium, headless (Playwright adds a fresh temporary --user-data-dir itself)."""
    return pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def _new_page(browser):
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(30_000)
    return page


def _open_notebook(page, base: str, token: str, name: str) -> None:
    """Open ``name`` in JupyterLab and wait until its kernel is idle."""
    page.goto(f"{base}/lab/tree/{name}?token={token}", wait_until="domcontentloaded")
    page.locator(".jp-NotebookPanel .jp-Notebook").first.wait_for(timeout=60_000)
    # JupyterLab may ask which kernel to use even though the notebook names one: accept it.
    accept = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
    with contextlib.suppress(Exception):
        accept.wait_for(state="visible", timeout=2_000)
        accept.click()
    idle = page.locator(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']")
    idle.first.wait_for(timeout=60_000)


def _run_all_cells(page) -> None:
    """Run > Run All Cells (returns at once; the cells run on)."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def _drive(page, base: str, token: str, shot, expect, report: dict) -> None:
    _open_notebook(page, base, token, "dashboard.ipynb")
    shot(page, "01-notebook-open")
    _run_all_cells(page)
    dash = page.locator(".or-magic-dashboard.or-magic-ready")
    dash.wait_for(timeout=60_000)
    expect(page.locator(".or-magic-offline-badge")).to_contain_text("offline")
    shot(page, "02-dashboard")

    # ---- Image tab: pick a model, prompt, Run, wait for a decoded picture ------------------------
    page.locator(".or-magic-tabs .lm-TabBar-tab", has_text="Image").first.click()
    tab = page.locator(".or-magic-tab-image")
    tab.wait_for(state="visible")
    select = tab.locator(".or-magic-model select")
    values = [
        v
        for v in select.locator("option").evaluate_all("opts => opts.map(o => o.textContent)")
        if v and "loading" not in v
    ]
    assert values, "the image tab lists image models"
    pick = next((v for v in values if "gemini" in v), values[0])
    select.select_option(label=pick)
    tab.locator(".or-magic-prompt textarea").fill("A lighthouse at dusk, watercolor")
    tab.locator(".or-magic-run").click()
    img = tab.locator(".or-magic-gallery img").first
    img.wait_for(state="visible", timeout=60_000)
    page.wait_for_function(
        """el => el.complete && el.naturalWidth > 0
                 && (el.src.startsWith('blob:') || el.src.startsWith('data:'))""",
        arg=img.element_handle(),
        timeout=30_000,
    )
    size = img.evaluate("el => [el.naturalWidth, el.naturalHeight, el.src.slice(0, 5)]")
    assert size[0] > 0 and size[1] > 0, size
    report["image"] = {"model": pick, "natural_size": size[:2], "src_scheme": size[2]}
    tab.locator(".or-magic-model").scroll_into_view_if_needed()
    shot(page, "03-image-generated")

    # ---- Audio tab: speech, then play it ----------------------------------------------------------
    page.locator(".or-magic-tabs .lm-TabBar-tab", has_text="Audio").first.click()
    tab = page.locator(".or-magic-tab-audio")
    tab.wait_for(state="visible")
    tab.locator(".or-magic-prompt textarea").fill("Hello from the or_magic browser test.")
    tab.locator(".or-magic-run").click()
    audio = tab.locator(".or-magic-gallery audio").first
    audio.wait_for(state="attached", timeout=60_000)
    page.wait_for_function(
        "el => el.readyState >= 1 && el.duration > 0", arg=audio.element_handle(), timeout=30_000
    )
    before = audio.evaluate("el => ({paused: el.paused, autoplay: el.autoplay, t: el.currentTime})")
    assert before["paused"] and not before["autoplay"], f"audio must not autoplay: {before}"
    played = audio.evaluate(
        """async el => {
            await el.play();
            const t0 = el.currentTime;
            await new Promise(r => setTimeout(r, 700));
            return {paused: el.paused, t0, t1: el.currentTime, duration: el.duration};
        }"""
    )
    report["audio"] = {"before": before, "after_play": played}
    assert played["t1"] > played["t0"] or not played["paused"], played
    tab.locator(".or-magic-model").scroll_into_view_if_needed()
    shot(page, "04-audio-played")


@pytest.mark.timeout(240)
def test_quickstart_magics_render_in_jupyterlab(jupyter_lab) -> None:
    """Every magic of the quickstart in real JupyterLab: the outputs are players and pictures."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base, token = jupyter_lab["base"], jupyter_lab["token"]
    with sync_playwright() as pw:
        browser = _launch(pw)
        try:
            page = _new_page(browser)
            _open_notebook(page, base, token, "quickstart.ipynb")
            _run_all_cells(page)
            # Done when every code cell shows an execution count (none still "[*]").
            page.wait_for_function(
                """() => {
                    const ps = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
                    return ps.length > 0 && ps.every(p => /\\[\\d+\\]/.test(p.textContent));
                }""",
                timeout=180_000,
            )
            out = page.locator(".jp-OutputArea-output")
            errors = page.locator(
                ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']"
            )
            assert errors.count() == 0, errors.first.inner_text()
            images = out.locator("img")
            assert images.count() >= 2
            sizes = images.evaluate_all("els => els.map(e => [e.complete, e.naturalWidth])")
            assert all(done and width > 0 for done, width in sizes), sizes
            audio = out.locator("audio").first
            video = out.locator("video").first
            assert audio.evaluate("el => el.controls && !el.autoplay && !el.loop")
            assert video.evaluate("el => el.controls && !el.autoplay && !el.loop")
            footers = page.locator(".jp-OutputArea-output[data-mime-type='text/markdown']")
            assert any("offline" in t for t in footers.all_inner_texts()), "offline badge shown"
            page.screenshot(path=str(ARTIFACTS / "05-quickstart-magics.png"), full_page=False)
        finally:
            browser.close()
