"""Every sub-mode and line command in an in-process InteractiveShell, against the offline double."""

from __future__ import annotations

import base64
import json
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError

from or_magic.double import Fault, get_offline_double
from or_magic.magics import get_magics
from tests.magics._helpers import offline_magics_shell, run_cell

MEDIA = Path(__file__).resolve().parents[2] / "or_magic" / "double" / "assets"


@pytest.fixture
def ip(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPENROUTER_VIDEO_POLL_INTERVAL_MS", "50")
    with offline_magics_shell() as (shell, m):
        m.chats.clear()
        yield shell


run = run_cell


def final_outputs(cap: Any) -> list[dict[str, Any]]:
    """What a notebook would keep: each display, with display-id updates applied."""
    kept: list[dict[str, Any]] = []
    by_id: dict[str, int] = {}
    for o in cap.outputs:
        did = (o.transient or {}).get("display_id") if hasattr(o, "transient") else None
        rec = {"data": o.data, "metadata": o.metadata or {}}
        if getattr(o, "update", False) and did in by_id:
            kept[by_id[did]] = rec
            continue
        if did:
            by_id[did] = len(kept)
        kept.append(rec)
    return kept


def chat_requests() -> list[Any]:
    return [r for r in get_offline_double().requests if r.path.endswith("/chat/completions")]


# ---- loading ---------------------------------------------------------------------------------------


def test_load_ext_is_idempotent_and_unloadable(ip):
    m = get_magics(ip)
    ip.run_line_magic("load_ext", "or_magic")
    import or_magic

    or_magic.load_ipython_extension(ip)
    assert get_magics(ip) is m
    from or_magic.magics._core import OpenRouterMagics

    assert sum(isinstance(c, OpenRouterMagics) for c in ip.configurables) == 1
    ip.run_line_magic("unload_ext", "or_magic")
    assert "openrouter" not in ip.magics_manager.magics["line"]
    ip.run_line_magic("load_ext", "or_magic")
    assert "openrouter" in ip.magics_manager.magics["cell"]


def test_config_traits(ip):
    ip.run_line_magic("config", "OpenRouterMagics.default_model = 'acme/x'")
    assert get_magics(ip).default_model == "acme/x"
    cap, _ = run(ip, "%openrouter config")
    assert "OpenRouterMagics.default_model" in cap.outputs[0].data["text/plain"]
    assert "offline double" in cap.outputs[0].data["text/plain"]


# ---- chat ------------------------------------------------------------------------------------------


def test_chat_streams_into_one_handle_then_durable_markdown(ip):
    get_magics(ip).stream_throttle_ms = 0
    cap, res = run(ip, "%%openrouter -o t_r\nTell me a story")
    assert res.error_in_exec is None
    first = cap.outputs[0]
    did = first.transient["display_id"]
    updates = [o for o in cap.outputs if o.update]
    assert len(updates) >= 2 and all(o.transient["display_id"] == did for o in updates)
    assert "▌" in updates[0].data["text/markdown"]  # live cursor while streaming
    [final] = final_outputs(cap)
    md = final["data"]["text/markdown"]
    assert "▌" not in md and "**`offline`**" in md and "tokens" in md
    assert final["metadata"]["or_magic"]["tool"] == "chat_completion"
    r = ip.user_ns["t_r"]
    assert r.text and r.text in md and r.offline and r.usage["total_tokens"] > 0
    assert chat_requests()[-1].json["stream"] is True


def test_chat_options_and_memory(ip):
    _, res = run(
        ip,
        "%%openrouter -m openai/gpt-4o-mini -t 0.2 --max-tokens 50 -s 'Be brief'\nfirst question",
    )
    assert res.error_in_exec is None, res.error_in_exec
    body = chat_requests()[-1].json
    assert body["model"] == "openai/gpt-4o-mini" and body["temperature"] == 0.2
    assert body["max_tokens"] == 50
    assert body["messages"][0] == {"role": "system", "content": "Be brief"}
    run(ip, "%%openrouter\nsecond question")
    msgs = chat_requests()[-1].json["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert msgs[0]["content"] == "first question"
    run(ip, "%%openrouter --no-history\nthird")
    assert len(chat_requests()[-1].json["messages"]) == 1
    run(ip, "%%openrouter --chat other\nelsewhere")
    assert len(chat_requests()[-1].json["messages"]) == 1
    cap, _ = run(ip, "%openrouter history")
    assert "second question" in cap.outputs[0].data["text/markdown"]
    run(ip, "%openrouter reset")
    run(ip, "%%openrouter\nafter reset")
    assert len(chat_requests()[-1].json["messages"]) == 1
    assert "other" in get_magics(ip).chats
    get_magics(ip).history_length = 0
    run(ip, "%%openrouter --chat other\nno memory")
    assert len(chat_requests()[-1].json["messages"]) == 1


def test_interpolation_is_explicit_and_never_breaks_code(ip):
    ip.user_ns["t_name"] = "World"
    ip.user_ns["t_d"] = {"k": [1, "{x}"]}
    cell = (
        "Hello {{t_name}} {{ t_d['k'][1] }} {{missing}} {{t_name.upper}}\n"
        "def f(): return {'a': {1, 2}}  # {x} {0} {}\n"
    )
    run(ip, "%%openrouter --no-history\n" + cell)
    sent = chat_requests()[-1].json["messages"][-1]["content"]
    assert sent.startswith("Hello World {x} {{missing}} {{t_name.upper}}")
    assert "def f(): return {'a': {1, 2}}  # {x} {0} {}" in sent
    run(ip, "%%openrouter --no-history --raw\nHello {{t_name}}")
    assert chat_requests()[-1].json["messages"][-1]["content"] == "Hello {{t_name}}"
    # the line itself is never var-expanded by IPython
    run(ip, "%%openrouter --no-history -s '{t_name} $t_name'\nhi")
    assert chat_requests()[-1].json["messages"][0]["content"] == "{t_name} $t_name"


def test_formats_json_schema_html_code_text(ip):
    ip.user_ns["t_schema"] = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    }
    cap, res = run(ip, "%%openrouter --schema t_schema -o t_j --no-history\nA city?")
    assert res.error_in_exec is None
    rf = chat_requests()[-1].json["response_format"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["schema"] == ip.user_ns["t_schema"]
    assert "application/json" in final_outputs(cap)[0]["data"]
    assert isinstance(ip.user_ns["t_j"].value, dict)
    cap, _ = run(ip, "%%openrouter -f json --no-history\nJSON please")
    assert chat_requests()[-1].json["response_format"] == {"type": "json_object"}
    cap, _ = run(ip, "%%openrouter -f html --no-history\nHTML please")
    assert "text/html" in final_outputs(cap)[-1]["data"]
    assert "HTML only" in chat_requests()[-1].json["messages"][0]["content"]
    cap, _ = run(ip, "%%openrouter -f code --no-history\ncode please")
    assert final_outputs(cap)[-1]["data"]["text/markdown"].startswith("```")
    cap, _ = run(ip, "%%openrouter -f text --no-history\ntext please")
    assert set(final_outputs(cap)[-1]["data"]) == {"text/plain"}


def test_schema_from_pydantic_model_parses(ip):
    ip.run_cell("from pydantic import BaseModel\nclass t_City(BaseModel):\n    name: str = 'x'\n")
    _, res = run(ip, "%%openrouter --schema t_City -o t_c -q --no-history\nA city")
    assert res.error_in_exec is None
    rf = chat_requests()[-1].json["response_format"]
    assert rf["json_schema"]["name"] == "t_City"
    assert ip.user_ns["t_c"].value is not None


def test_errors_are_one_concise_exception(ip):
    cap, res = run(ip, "%openrouter info nobody/nothing")
    err = res.error_in_exec
    assert type(err).__name__ == "OpenRouterCellError" and err.code == "MODEL_NOT_FOUND"
    assert "[MODEL_NOT_FOUND]" in cap.stdout and "Traceback" not in cap.stdout
    assert len(cap.stdout.strip().splitlines()) <= 4
    # the core validates, the magic does not: INVALID_INPUT from the tool
    cap, res = run(ip, "%%openrouter -t 9 --no-history\nhi")
    assert res.error_in_exec.code == "INVALID_INPUT" and "temperature" in str(res.error_in_exec)
    cap, res = run(ip, "%%openrouter analyze missing.png\nwhat?")
    assert res.error_in_exec.code == "INVALID_INPUT"
    assert not chat_requests()  # nothing was sent upstream
    # upstream failures too (no httpx traceback)
    get_offline_double().inject(Fault("/chat/completions", status=401, times=None))
    cap, res = run(ip, "%%openrouter --no-history\nhi")
    assert res.error_in_exec.code == "INVALID_CREDENTIALS"
    assert "httpx" not in cap.stdout and "Traceback" not in cap.stdout


def test_usage_errors(ip):
    for src in (
        "%%openrouter --bogus\nx",
        "%openrouter modls",
        "%openrouter image",
        "%%openrouter\n   ",
        "%%openrouter analyze\nq",
        "%openrouter key sk-not-here",
    ):
        _cap, res = run(ip, src)
        assert type(res.error_in_exec).__name__ == "UsageError", src
    _cap, res = run(ip, "%openrouter modls")
    assert "models" in str(res.error_in_exec)  # did-you-mean


# ---- analysis ---------------------------------------------------------------------------------------


def test_analyze_notebook_objects_and_files(ip):
    import numpy as np
    from PIL import Image

    shutil.copy(MEDIA / "speech.mp3", "speech.mp3")
    shutil.copy(MEDIA / "clip.mp4", "clip.mp4")
    ip.user_ns["t_arr"] = (np.random.default_rng(0).random((24, 32, 3)) * 255).astype("uint8")
    ip.user_ns["t_pil"] = Image.new("RGB", (20, 10), "red")
    ip.run_cell(
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "t_fig, t_ax = plt.subplots(figsize=(2, 2)); t_ax.plot([1, 2, 3])"
    )
    ip.user_ns["t_bytes"] = (MEDIA / "speech.mp3").read_bytes()
    ip.user_ns["t_list"] = ["clip.mp4"]

    cap, res = run(ip, "%%openrouter analyze t_arr -o t_a\nWhat is this?")
    assert res.error_in_exec is None, res.error_in_exec
    req = chat_requests()[-1]
    parts = req.json["messages"][-1]["content"]
    assert any(p.get("type") == "image_url" for p in parts)
    assert any(p.get("text") == "What is this?" for p in parts if p.get("type") == "text")
    assert (
        ip.user_ns["t_a"].text
        and "**`offline`**" in final_outputs(cap)[-1]["data"]["text/markdown"]
    )

    # several images in one message (analyze_image with image_paths)
    _, res = run(ip, "%%openrouter analyze t_pil t_fig t_ax\nCompare")
    assert res.error_in_exec is None, res.error_in_exec
    parts = chat_requests()[-1].json["messages"][-1]["content"]
    assert sum(p.get("type") == "image_url" for p in parts) == 3

    # audio bytes + a video path from a list variable: mixed → analyze_media, one call
    n = len(chat_requests())
    _, res = run(ip, "%%openrouter analyze t_bytes t_list[0]\nDescribe both")
    assert res.error_in_exec is None, res.error_in_exec
    assert len(chat_requests()) == n + 1
    kinds = {p.get("type") for p in chat_requests()[-1].json["messages"][-1]["content"]}
    assert {"input_audio", "video_url"} <= kinds

    _, res = run(ip, "%%openrouter analyze speech.mp3\nTranscribe")
    assert res.error_in_exec is None
    assert any(
        p.get("type") == "input_audio" for p in chat_requests()[-1].json["messages"][-1]["content"]
    )


# ---- generation -------------------------------------------------------------------------------------


def test_image_generation(ip):
    ip.user_ns["t_ref"] = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    )
    cap, res = run(ip, "%%openrouter image --aspect 16:9 --size 1K --ref t_ref -o t_img\nA cat")
    assert res.error_in_exec is None, res.error_in_exec
    outs = final_outputs(cap)
    assert any("image/png" in o["data"] or "image/jpeg" in o["data"] for o in outs)
    assert "**`offline`**" in outs[-1]["data"]["text/markdown"]
    body = chat_requests()[-1].json
    assert body["image_config"] == {"aspect_ratio": "16:9", "image_size": "1K"}
    img = ip.user_ns["t_img"]
    assert img.bytes and img.mime.startswith("image/") and img.image().size[0] > 0
    # --save writes the file and the result names it
    _, res = run(ip, "%%openrouter image --save pics/cat.png -o t_img2 -q\nA cat")
    assert res.error_in_exec is None
    assert Path(ip.user_ns["t_img2"].path).is_file()


def test_audio_speech_and_video(ip):
    cap, res = run(ip, "%%openrouter audio --voice alloy --format wav -o t_au\nSay hi")
    assert res.error_in_exec is None, res.error_in_exec
    html = [o["data"]["text/html"] for o in final_outputs(cap) if "text/html" in o["data"]]
    assert html and html[0].startswith("<audio controls") and "autoplay" not in html[0]
    assert ip.user_ns["t_au"].mime.startswith("audio/")

    cap, res = run(ip, "%%openrouter speech --format mp3 -o t_sp\nHello there")
    assert res.error_in_exec is None, res.error_in_exec
    assert any("<audio" in o["data"].get("text/html", "") for o in final_outputs(cap))
    assert get_offline_double().requests[-1].path.endswith("/audio/speech")

    cap, res = run(ip, "%%openrouter video --duration 4 --resolution 720p -o t_v\nWaves")
    assert res.error_in_exec is None, res.error_in_exec
    outs = final_outputs(cap)
    video = [o["data"]["text/html"] for o in outs if "<video" in o["data"].get("text/html", "")]
    assert (
        video and "controls" in video[0] and "autoplay" not in video[0] and "loop" not in video[0]
    )
    v = ip.user_ns["t_v"]
    assert v.paths and Path(v.paths[0]).is_file() and v.path.startswith(str(Path.cwd()))
    # the progress line became the first final output (the panel handle was replaced)
    assert "⏳" not in str(outs)


def test_big_media_by_path_not_base64(ip):
    get_magics(ip).inline_max_bytes = 100
    cap, res = run(ip, "%%openrouter video --duration 4 -o t_v\nWaves")
    assert res.error_in_exec is None
    html = next(o["data"]["text/html"] for o in final_outputs(cap) if "<video" in str(o["data"]))
    assert "base64" not in html and 'src="or_magic-output/' in html


def test_video_still_running_then_status_and_jobs(ip):
    get_offline_double().script_video(["pending"] * 6 + ["completed"])
    cap, res = run(ip, "%%openrouter video --max-wait 0.1 -o t_v\nSlow waves")
    assert res.error_in_exec is None, res.error_in_exec
    r = ip.user_ns["t_v"]
    assert r.raw.code == "JOB_STILL_RUNNING"
    vid = r.meta["video_id"]
    cap, _ = run(ip, "%openrouter jobs")
    assert vid in cap.outputs[0].data["text/plain"]
    cap, res = run(ip, f"%openrouter status {vid} --wait -o t_s")
    assert res.error_in_exec is None, res.error_in_exec
    assert ip.user_ns["t_s"].paths
    assert any("<video" in o["data"].get("text/html", "") for o in final_outputs(cap))


# ---- terminal fallbacks, widgets ----------------------------------------------------------------------


def test_text_mode_prints_and_saves_media(ip):
    get_magics(ip).display_mode = "text"
    cap, res = run(ip, "%%openrouter --no-history\nhello")
    assert res.error_in_exec is None
    assert "offline double" in cap.stdout.lower() and "OFFLINE" in cap.stdout
    assert not cap.outputs  # streamed to stdout, no rich outputs
    cap, res = run(ip, "%%openrouter image\nA cat")
    assert res.error_in_exec is None
    assert "saved: " in cap.stdout
    saved = cap.stdout.split("saved: ", 1)[1].split()[0]
    assert Path(saved).is_file()


def test_widget_panel_is_replaced_by_static_output(ip):
    get_magics(ip).widgets = "on"
    cap, res = run(ip, "%%openrouter image -o t_img\nA cat")
    assert res.error_in_exec is None
    assert "application/vnd.jupyter.widget-view+json" in cap.outputs[0].data
    outs = final_outputs(cap)
    assert all("application/vnd.jupyter.widget-view+json" not in o["data"] for o in outs)
    assert any("image/png" in o["data"] for o in outs)


def test_stop_button_cancels_a_blocking_job(ip):
    """The Stop click arrives from another thread (the kernel's subshell) while the cell blocks."""
    import ipywidgets

    get_magics(ip).widgets = "on"
    get_offline_double().inject(Fault("/chat/completions", delay_s=5))
    panels: list[Any] = []
    orig = ipywidgets.Button.__init__

    def spy(self, *a, **kw):
        orig(self, *a, **kw)
        panels.append(self)
        threading.Timer(0.3, self.click).start()

    ipywidgets.Button.__init__ = spy
    try:
        cap, res = run(ip, "%%openrouter image\nA slow cat")
    finally:
        ipywidgets.Button.__init__ = orig
    assert type(res.error_in_exec).__name__ == "OpenRouterCancelled"
    assert res.error_in_exec.code == "CANCELLED"
    outs = final_outputs(cap)
    assert "stopped" in outs[0]["data"]["text/plain"]


def test_a_stop_click_before_the_request_starts_still_stops_it(ip, monkeypatch):
    """On a busy machine the click can come before the task exists: it must not be lost."""
    from or_magic.magics import _live

    get_magics(ip).widgets = "on"
    get_offline_double().inject(Fault("/chat/completions", delay_s=30))
    start = _live.CellPanel.start

    def start_then_click(self):
        start(self)
        self._stop_clicked()  # the task that run_sync will create does not exist yet

    monkeypatch.setattr(_live.CellPanel, "start", start_then_click)
    _, res = run(ip, "%%openrouter image\nA slow cat")
    assert type(res.error_in_exec).__name__ == "OpenRouterCancelled"
    assert not get_offline_double().requests_to("/chat/completions")  # nothing was sent


def test_keyboard_interrupt_cancels_and_reraises(ip, monkeypatch):
    import or_magic.tools.api as api

    async def boom(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "call_tool", boom)
    cap, res = run(ip, "%%openrouter video\nx")
    assert isinstance(res.error_in_exec, KeyboardInterrupt)
    lines = [ln for ln in (cap.stdout + cap.stderr).splitlines() if "%openrouter" in ln]
    assert len(lines) == 1 and "generate_video interrupted" in lines[0], lines


def test_real_ctrl_c_during_a_video_is_one_line_with_the_resume_command(ip, monkeypatch):
    """A real SIGINT while ``%%openrouter video`` polls: one line naming the job to resume, no
    asyncio traceback, the hint not repeated; the job is resumable afterwards."""
    import os
    import re
    import signal
    import time

    monkeypatch.setenv("OPENROUTER_VIDEO_POLL_INTERVAL_MS", "60000")  # blocks until interrupted
    armed = threading.Event()

    def on_sigint(signum: int, frame: Any) -> None:
        if armed.is_set():  # only inside the cell: a late signal must not abort the session
            armed.clear()
            raise KeyboardInterrupt

    from or_magic.config import get_settings
    from or_magic.jobs import get_job_store

    store = get_job_store(get_settings())

    def interrupt_once_submitted() -> None:  # once the job is registered, i.e. resumable
        deadline = time.monotonic() + 60
        while not store.list(kind="video") and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        armed.set()
        threading.Thread(target=interrupt_once_submitted, daemon=True).start()
        cap, res = run(ip, "%%openrouter video\nwaves at dusk")
    finally:
        armed.clear()
        signal.signal(signal.SIGINT, previous)
    assert isinstance(res.error_in_exec, KeyboardInterrupt)
    text = cap.stdout + cap.stderr
    assert "Traceback" not in text and "asyncio" not in text and "base_events" not in text, text
    hints = [ln for ln in text.splitlines() if "resume with %openrouter status" in ln]
    assert len(hints) == 1, text
    m = re.search(r"%openrouter status (\S+)", hints[0])
    assert m and m.group(1).startswith("job_"), hints[0]
    monkeypatch.setenv("OPENROUTER_VIDEO_POLL_INTERVAL_MS", "50")
    cap, res = run(ip, f"%openrouter status {m.group(1)} --wait")
    assert res.error_in_exec is None, cap.stdout


# ---- background jobs --------------------------------------------------------------------------------


def test_background_job_wait_await_and_list(ip):
    cap, res = run(ip, "%%openrouter video --background -o t_job\nWaves")
    assert res.error_in_exec is None
    job = ip.user_ns["t_job"]
    assert "wait" in cap.outputs[-1].data["text/markdown"]
    result = job.wait(timeout=30)
    assert result.paths and job.status == "completed" and job.result.paths == result.paths
    cap, _ = run(ip, "%openrouter jobs")
    assert job.id in cap.outputs[0].data["text/plain"]
    cap, res = run(ip, f"%openrouter wait {job.id} -o t_w")
    assert res.error_in_exec is None and ip.user_ns["t_w"].paths
    assert any("<video" in o.data.get("text/html", "") for o in cap.outputs)

    import asyncio

    run(ip, "%%openrouter --background -o t_job2\nhello")

    async def waiter():
        return await ip.user_ns["t_job2"]

    assert asyncio.run(waiter()).text


def test_background_job_cancel_and_failure(ip):
    get_offline_double().inject(Fault("/chat/completions", delay_s=3))
    run(ip, "%%openrouter --background -o t_job\nslow")
    job = ip.user_ns["t_job"]
    assert job.cancel()
    from or_magic.magics import OpenRouterCancelled, OpenRouterCellError

    with pytest.raises(OpenRouterCancelled):
        job.wait(timeout=60)
    get_offline_double().reset()
    get_offline_double().inject(Fault("/chat/completions", status=401, times=None))
    run(ip, "%%openrouter --background -o t_job3\nbad key")
    with pytest.raises(OpenRouterCellError) as exc:
        ip.user_ns["t_job3"].wait(timeout=60)
    assert exc.value.code == "INVALID_CREDENTIALS"


# ---- line commands ---------------------------------------------------------------------------------


def test_an_unknown_model_is_answered_with_magic_commands_not_mcp_tools(ip):
    from or_magic.errors import SUGGEST_SEARCH_MODELS

    cap, res = run(ip, "%%openrouter -m acme/no-such-model\nhi")
    err = res.error_in_exec
    assert err.code == "MODEL_NOT_FOUND"
    said = " ".join(err.suggestions)
    assert "%openrouter models" in said and "%openrouter info" in said
    assert "search_models" not in said and "validate_model" not in said
    assert SUGGEST_SEARCH_MODELS in err.result.suggestions  # the core keeps the MCP wording
    assert "search_models" not in cap.stdout + cap.stderr
    _, res = run(ip, "%openrouter info acme/no-such-model")
    assert "%openrouter models" in " ".join(res.error_in_exec.suggestions)


def test_line_commands(ip):
    cap, res = run(ip, "%openrouter models --vision -n 5 -o t_m")
    assert res.error_in_exec is None
    md = cap.outputs[0].data["text/markdown"]
    assert md.startswith("| model |") and "**`offline`**" in md
    assert ip.user_ns["t_m"].data["results"]
    cap, _ = run(ip, "%openrouter models gpt --video-out")
    assert "model" in cap.outputs[0].data["text/plain"]
    mid = ip.user_ns["t_m"].data["results"][0]["id"]
    cap, res = run(ip, f"%openrouter info {mid}")
    assert res.error_in_exec is None and mid in cap.outputs[0].data["text/markdown"]
    cap, _ = run(ip, "%openrouter health")
    assert "offline" in cap.outputs[0].data["text/markdown"]
    run(ip, "%%openrouter --no-history\nhi")
    cap, _ = run(ip, "%openrouter usage")
    assert "total" in cap.outputs[0].data["text/markdown"]
    cap, _ = run(ip, "%openrouter help")
    assert "%%openrouter analyze" in cap.outputs[0].data["text/markdown"]
    cap, _ = run(ip, "%openrouter")
    assert "cheat sheet" in cap.outputs[0].data["text/markdown"]
    cap, _ = run(ip, "%openrouter reset --all")
    assert "cleared" in cap.stdout
    cap, res = run(ip, "%%openrouter image --help\nx")
    assert res.error_in_exec is None and "--aspect" in cap.stdout


def test_key_is_hidden_and_never_shown(ip, monkeypatch):
    import or_magic.config as config
    from tests.conftest import TEST_KEY

    monkeypatch.setattr("getpass.getpass", lambda prompt="": TEST_KEY)
    cap, res = run(ip, "%openrouter key")
    assert res.error_in_exec is None
    assert config.get_settings().api_key.get() == TEST_KEY
    cap2, _ = run(ip, "%openrouter config")
    everything = cap.stdout + cap.stderr + cap2.stdout + str([o.data for o in cap2.outputs])
    assert TEST_KEY not in everything and TEST_KEY[:12] not in everything
    assert "API key" in cap2.outputs[0].data["text/plain"]
    run(ip, "%openrouter key --clear")
    assert config.get_settings().api_key is None


def test_mcp_start_status_stop(ip):
    cap, res = run(ip, "%openrouter mcp start --port 0")
    assert res.error_in_exec is None, res.error_in_exec
    md = cap.outputs[0].data["text/markdown"]
    assert "http://127.0.0.1:" in md and "mcpServers" in md and "Bearer" in md
    cap, _ = run(ip, "%openrouter mcp status")
    assert "running" in cap.stdout
    cap, _ = run(ip, "%openrouter mcp stop")
    assert "stopped" in cap.stdout
    cap, _ = run(ip, "%openrouter mcp status")
    assert "not running" in cap.stdout


def test_mcp_start_never_prints_a_persistent_token(ip, monkeypatch):
    secret = "persistent-token-" + "x" * 24
    monkeypatch.setenv("OR_MAGIC_MCP_TOKEN", secret)
    cap, res = run(ip, "%openrouter mcp start --port 0")
    try:
        assert res.error_in_exec is None, res.error_in_exec
        shown = json.dumps([o.data for o in cap.outputs]) + cap.stdout + cap.stderr
        assert secret not in shown and "$OR_MAGIC_MCP_TOKEN" in shown
    finally:
        run(ip, "%openrouter mcp stop")


# ---- batch ------------------------------------------------------------------------------------------


def test_each_magic_runs_a_batch(ip):
    ip.user_ns["t_items"] = ["apples", "pears", "plums"]
    cap, res = run(ip, "%%openrouter --each t_items -o t_b\nOne fact about {{item}}")
    assert res.error_in_exec is None, res.error_in_exec
    b = ip.user_ns["t_b"]
    assert len(b) == 3 and b.all_ok and len(b.ok) == 3
    sent = sorted(r.json["messages"][-1]["content"] for r in chat_requests())
    assert sent == [f"One fact about {x}" for x in ("apples", "pears", "plums")]
    assert "| # | input | result |" in final_outputs(cap)[-1]["data"]["text/markdown"]


def _schema_enum(tool: str, field: str) -> list[Any]:
    """The field's allowed values as the tool's JSON schema states them (what MCP clients see),
    read independently of the helper the parser uses."""
    from or_magic.tools import get_tool

    prop = get_tool(tool).input_model.model_json_schema()["properties"][field]
    for branch in [prop, *prop.get("anyOf", [])]:
        if "enum" in branch:
            return list(branch["enum"])
    raise AssertionError(f"{tool}.{field} has no enum in its schema")


def _choice_actions() -> list[tuple[str, str, list[Any]]]:
    from or_magic.magics import _parsing as P

    return [
        (name, a.dest, list(a.choices))
        for name, build in P.PARSERS.items()
        for a in build()._actions
        if a.choices is not None
    ]


def test_every_magic_choice_list_is_the_tool_models():
    """Drift guard: each option with choices either is the magic's own, or lists exactly the
    allowed values of the tool argument it feeds (so a hard-coded copy fails here)."""
    from or_magic.magics import _parsing as P

    actions = _choice_actions()
    assert {(n, d) for n, d, _ in actions} == set(P.TOOL_CHOICES) | P.MAGIC_CHOICES
    for name, dest, choices in actions:
        if (name, dest) in P.MAGIC_CHOICES:
            continue
        tool, field = P.TOOL_CHOICES[(name, dest)]
        assert choices == _schema_enum(tool, field), (name, dest)


def test_every_model_allowed_value_parses():
    from or_magic.magics import _parsing as P

    opts = P.parse(P.chat_parser(), ["--reasoning", "max"])
    assert opts.reasoning == "max"
    for (name, dest), (tool, field) in P.TOOL_CHOICES.items():
        parser = P.PARSERS[name]()
        flag = next(a.option_strings[-1] for a in parser._actions if a.dest == dest)
        for value in _schema_enum(tool, field):
            assert getattr(P.parse(parser, [flag, str(value)]), dest) == value, (flag, value)
        with pytest.raises(UsageError, match="invalid choice"):
            P.parse(parser, [flag, "no-such-value"])


def test_reasoning_max_reaches_the_request(ip):
    _, res = run(ip, "%%openrouter --reasoning max -q\nThink hard")
    assert res.error_in_exec is None, res.error_in_exec
    assert chat_requests()[-1].json["reasoning"]["effort"] == "max"


def test_parsers_are_not_built_at_load_ext():
    """The choices are read from the tool models, so no parser may be built at extension load."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance(); ip.run_line_magic('load_ext', 'or_magic')\n"
        "heavy = [m for m in ('pydantic', 'or_magic.tools.registry', 'or_magic.tools.choices')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "from or_magic.magics import _parsing as P\n"
        "P.chat_parser(); assert 'pydantic' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_dashboard_line_magic_returns_the_dashboard(ip):
    from or_magic.widgets.dashboard import Dashboard

    d = ip.run_line_magic("openrouter", "dashboard")
    assert isinstance(d, Dashboard)


def test_line_commands_interpolate_double_braces(ip):
    ip.user_ns["t_model"] = "openai/gpt-4o"
    cap, res = run(ip, "%openrouter info {{t_model}}")
    assert res.error_in_exec is None, res.error_in_exec
    assert "openai/gpt-4o" in json.dumps([o.data for o in cap.outputs])
