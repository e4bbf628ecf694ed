"""A real kernel: the test notebook run by nbclient, and Stop / interrupt through jupyter_client.

The kernel is the venv's own ``python3`` (jupyter_client replaces ``python`` in the kernelspec with
``sys.executable``; ipykernel provides the spec even when none is installed), pointed at an
``OpenRouterDouble`` on loopback with recognisable fake keys that must never reach the notebook.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from or_magic.double import Fault, OpenRouterDouble
from tests.conftest import clean_environ, import_jupyter_stack

nbformat: Any = None
nbclient: Any = None

pytestmark = [pytest.mark.notebook, pytest.mark.slow]


@pytest.fixture(autouse=True, scope="module")
def _jupyter_stack() -> None:
    global nbformat, nbclient
    nbformat, nbclient = import_jupyter_stack()


NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "magics_e2e.ipynb"
# Fake keys, shaped like real ones and easy to spot; built at run time so the tree holds no key.
ENV_KEY = "sk-or-v1-" + "e0" * 32
PROMPT_KEY = "sk-or-v1-" + "9b" * 32


@pytest.fixture
def double():
    d = OpenRouterDouble().start()
    yield d
    d.stop()


def kernel_env(double: OpenRouterDouble, tmp_path: Path) -> dict[str, str]:
    return clean_environ(
        OPENROUTER_BASE_URL=double.base_url,
        OPENROUTER_API_KEY=ENV_KEY,
        OR_MAGIC_NB_PROMPT_KEY=PROMPT_KEY,
        OR_MAGIC_STATE_DIR=str(tmp_path / "state"),
        OPENROUTER_VIDEO_POLL_INTERVAL_MS="50",
        PYTHONPATH=os.pathsep.join(
            [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")]
        ),
    )


def outputs_of(cell: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        o
        for o in cell.get("outputs", [])
        if o.get("output_type") in ("display_data", "execute_result")
    ]


def test_notebook_end_to_end(double: OpenRouterDouble, tmp_path: Path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    work = tmp_path / "nbwork"
    work.mkdir()
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(work)}}
    )
    with pytest.raises(nbclient.exceptions.CellExecutionError) as exc:
        client.execute(env=kernel_env(double, tmp_path))
    # the bad input stopped "Run All" with the right code, in one concise error
    assert exc.value.ename == "OpenRouterCellError"
    assert exc.value.evalue.startswith("[INVALID_INPUT]")
    cells = nb.cells
    bad = next(c for c in cells if "no-such-file.png" in c.source)
    [err] = [o for o in bad.outputs if o.output_type == "error"]
    assert len(err["traceback"]) <= 3
    assert not cells[-1].get("outputs")  # the cell after the failure never ran

    by_src = {c.source.split("\n", 1)[0]: c for c in cells if c.cell_type == "code"}
    # the venv's interpreter ran the kernel
    first = cells[1].outputs[0]["text"].strip()
    assert Path(first).resolve() == Path(sys.executable).resolve()

    # chat: streamed handle ends as durable Markdown with the footer
    [chat] = outputs_of(by_src["%%openrouter -o answer"])
    md = chat["data"]["text/markdown"]
    assert "tokens" in md and "▌" not in md and "**`offline`**" not in md
    assert chat["metadata"]["or_magic"]["tool"] == "chat_completion"
    # image: an image/* bundle, and a text/markdown footer
    outs = outputs_of(by_src["%%openrouter image --aspect 16:9 -o picture"])
    assert any(k.startswith("image/") for o in outs for k in o["data"])
    assert "text/markdown" in outs[-1]["data"] and "<sub>" in outs[-1]["data"]["text/markdown"]
    assert all("application/vnd.jupyter.widget-view+json" not in o["data"] for o in outs)
    # audio and video players
    outs = outputs_of(by_src["%%openrouter audio -o sound"])
    assert any("<audio" in o["data"].get("text/html", "") for o in outs)
    outs = outputs_of(by_src["%%openrouter video --duration 4 -o clip"])
    html = [o["data"]["text/html"] for o in outs if "<video" in o["data"].get("text/html", "")]
    assert html and "controls" in html[0] and "autoplay" not in html[0]
    # -o variables existed (the assert cell printed)
    assert "VARS OK" in "".join(
        o.get("text", "")
        for o in by_src["assert 'notebook' in answer.prompt and answer.text"].outputs
    )
    # background job: the result arrived via wait, and the panel became the static video
    bg = outputs_of(by_src["%%openrouter video --background -o job"])
    assert all("application/vnd.jupyter.widget-view+json" not in o["data"] for o in bg)
    assert any("<video" in o["data"].get("text/html", "") for o in bg)
    assert "JOB j" in "".join(
        o.get("text", "") for o in by_src["result = job.wait(timeout=60)"].outputs
    )
    assert any(
        "<video" in o["data"].get("text/html", "") for o in outputs_of(by_src["%openrouter wait"])
    )
    assert "total" in outputs_of(by_src["%openrouter usage"])[0]["data"]["text/markdown"]
    # the core's JSON log lines go to a file, not into the notebook
    assert '"level": "audit"' not in json.dumps(nb.cells)
    assert (tmp_path / "state" / "or_magic.log").is_file()
    # the key came from the hidden prompt (the patched getpass), not the environment
    auths = {r.auth for r in double.requests if r.auth}
    assert auths == {PROMPT_KEY}
    # no live widget was left behind in the saved notebook
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    assert not any(
        m.get("model_name") in ("ButtonModel", "FloatProgressModel")
        for m in state.get("state", {}).values()
    )

    saved = tmp_path / "executed.ipynb"
    nbformat.write(nb, saved)
    text = saved.read_text()
    for key in (ENV_KEY, PROMPT_KEY):
        assert key not in text and key[9:30] not in text
    assert "sk-or-" not in text


def _start_kernel(env: dict[str, str], cwd: Path) -> tuple[Any, Any]:
    from jupyter_client import KernelManager

    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=env, cwd=str(cwd))
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc


def _run_until_idle(kc: Any, msg_id: str, on_msg: Any, timeout: float = 30) -> dict[str, Any]:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            msg = kc.get_iopub_msg(timeout=0.2)
        except queue.Empty:
            on_msg(None)
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        on_msg(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    return kc.get_shell_msg(timeout=10)["content"]


def test_stop_button_and_interrupt_in_a_real_kernel(double: OpenRouterDouble, tmp_path: Path):
    """A blocking cell: the in-kernel MCP server keeps serving, the Stop button (routed to a
    subshell) cancels, and so does a kernel interrupt."""
    env = kernel_env(double, tmp_path)
    env.pop("OPENROUTER_API_KEY")
    env["OPENROUTER_API_KEY"] = ENV_KEY
    km, kc = _start_kernel(env, tmp_path)
    try:
        info: dict[str, str] = {}

        def grab(m: Any) -> None:
            text = m["content"].get("text", "") if m["msg_type"] == "stream" else ""
            if text.startswith("MCP "):
                info.update(zip(("url", "token"), text.split()[1:3], strict=True))

        kc.execute_interactive(
            "%load_ext or_magic\n%openrouter mcp start\nimport or_magic.mcp as _m\n"
            "print('MCP', _m.current().url, _m.current().token)",
            timeout=60,
            output_hook=grab,
        )
        double.inject(Fault("/chat/completions", delay_s=20, times=2))
        msg_id = kc.execute("%%openrouter image\nA very slow cat")
        state: dict[str, Any] = {"button": None, "clicked": None, "outputs": [], "mcp": None}

        def on_msg(msg: Any) -> None:
            if msg is not None:
                c = msg["content"]
                if msg["msg_type"] == "comm_open":
                    if c.get("data", {}).get("state", {}).get("_model_name") == "ButtonModel":
                        state["button"] = c["comm_id"]
                elif msg["msg_type"] in ("display_data", "update_display_data", "stream"):
                    state["outputs"].append(msg)
            if state["button"] and state["clicked"] is None:
                time.sleep(0.5)
                # the in-kernel MCP server keeps serving while the cell blocks
                import httpx

                init = {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "initialize",
                    "params": {
                        "protocolVersion": "2025-06-18",
                        "capabilities": {},
                        "clientInfo": {"name": "test", "version": "1"},
                    },
                }
                state["mcp"] = httpx.post(
                    info["url"],
                    json=init,
                    headers={
                        "Authorization": f"Bearer {info['token']}",
                        "Accept": "application/json, text/event-stream",
                    },
                    timeout=5,
                ).status_code
                click = {"method": "custom", "content": {"event": "click"}}
                kc.shell_channel.send(
                    kc.session.msg("comm_msg", {"comm_id": state["button"], "data": click})
                )
                state["clicked"] = time.monotonic()

        reply = _run_until_idle(kc, msg_id, on_msg)
        assert reply["status"] == "error" and reply["ename"] == "OpenRouterCancelled"
        assert state["mcp"] == 200
        assert time.monotonic() - state["clicked"] < 15  # not the 20 s the request would take
        updates = [m for m in state["outputs"] if m["msg_type"] == "update_display_data"]
        assert any("stopped" in m["content"]["data"].get("text/plain", "") for m in updates)

        # Kernel interrupt (the toolbar's ■): KeyboardInterrupt, cleanly, with a hint
        msg_id = kc.execute("%%openrouter image\nAnother slow cat")
        seen: dict[str, Any] = {"t": time.monotonic(), "sent": False, "stderr": ""}

        def on_msg2(msg: Any) -> None:
            if msg is not None and msg["msg_type"] == "stream":
                seen["stderr"] += msg["content"]["text"]
            if not seen["sent"] and time.monotonic() - seen["t"] > 1.5:
                km.interrupt_kernel()
                seen["sent"] = True

        reply = _run_until_idle(kc, msg_id, on_msg2)
        assert reply["status"] == "error" and reply["ename"] == "OpenRouterInterrupted"
        # one line, not the asyncio traceback of wherever the signal landed
        assert len(reply["traceback"]) == 1, reply["traceback"]
        assert "generate_image interrupted" in reply["traceback"][0]
        assert "Traceback" not in seen["stderr"]
        # the kernel is healthy afterwards
        out: list[str] = []
        kc.execute_interactive(
            "print(1 + 1)",
            timeout=20,
            output_hook=lambda m: (
                out.append(m["content"].get("text", "")) if m["msg_type"] == "stream" else None
            ),
        )
        assert "2" in "".join(out)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_notebook_fixture_has_no_outputs_or_secrets():
    data = json.loads(NOTEBOOK.read_text())
    assert all(not c.get("outputs") for c in data["cells"] if c["cell_type"] == "code")
    assert "sk-or-" not in NOTEBOOK.read_text()
