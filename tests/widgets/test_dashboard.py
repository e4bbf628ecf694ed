"""The ipywidgets dashboard, headless (comm.DummyComm; no kernel): tabs, pickers, runs, key, save."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from or_magic.double import Fault
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.anyio

W = pytest.importorskip("ipywidgets")

from or_magic.widgets import _env  # noqa: E402
from or_magic.widgets.dashboard import FALLBACK_LINE, Dashboard  # noqa: E402

# The tool surface's fourteen ratios, in its order (the extended four: gemini-3.1 only).
ASPECT_RATIOS = ["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"]
ASPECT_RATIOS += ["1:4", "4:1", "1:8", "8:1"]


def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (16, 12), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


def _values(dropdown) -> list:
    return [v for _, v in dropdown.options]


def _labels(dropdown) -> list[str]:
    return [label for label, _ in dropdown.options]


def _state_dump(dash: Dashboard) -> str:
    return "\n".join(
        json.dumps(
            w.get_state(),
            default=lambda o: repr(bytes(o)[:0]) if isinstance(o, memoryview) else repr(o),
        )
        for w in dash.all_widgets()
    )


@pytest.fixture
async def dash(double, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENROUTER_OUTPUT_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("OPENROUTER_VIDEO_POLL_INTERVAL_MS", "50")
    d = Dashboard(namespace={})
    await d.ready()
    yield d
    d.close()


# ---- structure, import cost, terminal fallback --------------------------------------------------


def test_import_or_magic_does_not_import_ipywidgets():
    code = (
        "import sys, or_magic; assert 'ipywidgets' not in sys.modules, 'eager'; "
        "D = or_magic.Dashboard; assert 'ipywidgets' in sys.modules; print(D.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "or_magic.widgets.dashboard"


def test_tabs_titles_and_css_classes():
    d = Dashboard(namespace={})
    assert d.tabs.titles == (
        "Chat",
        "Analyze",
        "Image",
        "Audio",
        "Video",
        "Models",
        "Jobs",
        "Usage",
    )
    assert list(d.panels) == [
        "chat",
        "analyze",
        "image",
        "audio",
        "video",
        "models",
        "jobs",
        "usage",
    ]
    assert "or-magic-dashboard" in d.widget._dom_classes
    for name, panel in d.panels.items():
        assert f"or-magic-tab-{name}" in panel.box._dom_classes
    for p in (d.chat, d.analyze, d.image, d.audio, d.video):
        assert "or-magic-run" in p.run_button._dom_classes
        assert "or-magic-stop" in p.stop_button._dom_classes
        assert "or-magic-model" in p.model._dom_classes
        assert "or-magic-gallery" in p.gallery.box._dom_classes
    for p in (d.chat, d.image, d.audio, d.video, d.analyze):
        prompt = p.question if p is d.analyze else p.prompt
        assert "or-magic-prompt" in prompt._dom_classes
    assert "or-magic-key" in d.key_input._dom_classes
    assert isinstance(d.key_input, W.Password)
    d.close()


def test_terminal_fallback_prints_one_line(capsys):
    assert not _env.widget_frontend()  # pytest: no kernel
    d = Dashboard(namespace={})
    d._ipython_display_()
    assert capsys.readouterr().out == FALLBACK_LINE + "\n"
    assert repr(d) == FALLBACK_LINE
    assert "\n" not in FALLBACK_LINE
    d.close()


def test_widget_frontend_displays_the_widget(monkeypatch):
    shown = []
    import IPython.display

    monkeypatch.setattr(_env, "widget_frontend", lambda: True)
    monkeypatch.setattr("or_magic.widgets.dashboard.widget_frontend", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    d = Dashboard(namespace={})
    d._ipython_display_()
    assert shown == [d.widget]
    d.close()


def test_frontend_detection_needs_a_kernel(monkeypatch):
    import IPython

    class Shell:
        kernel = object()

    monkeypatch.setitem(
        sys.modules, "ipykernel.zmqshell", sys.modules.get("ipykernel.zmqshell", object())
    )
    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell())
    assert _env.widget_frontend()
    Shell.kernel = None
    assert not _env.widget_frontend()
    monkeypatch.delitem(sys.modules, "ipykernel.zmqshell")
    Shell.kernel = object()
    assert not _env.widget_frontend()


# ---- API key and offline badge ------------------------------------------------------------------


def test_key_is_never_in_widget_state_and_badge_toggles():
    from or_magic.config import get_settings

    d = Dashboard(namespace={})  # no loop: nothing is fetched when the backend changes
    assert get_settings().offline
    assert d.offline_badge.layout.display != "none"
    assert "or-magic-offline-badge" in d.offline_badge._dom_classes

    # the frontend commits the password field (Enter / blur): taken and cleared at once
    d.key_input.value = TEST_KEY
    assert d.key_input.value == ""
    assert get_settings().api_key.get() == TEST_KEY
    assert not get_settings().offline
    assert d.offline_badge.layout.display == "none"
    assert "key set for this kernel" in d.key_status.value
    assert TEST_KEY not in _state_dump(d)
    assert TEST_KEY[-12:] not in _state_dump(d)

    # the Set button path as well
    d.forget_key()
    assert get_settings().offline
    assert d.offline_badge.layout.display != "none"
    d.set_key(TEST_KEY)
    assert d.key_input.value == ""
    assert not get_settings().offline
    assert TEST_KEY not in _state_dump(d)
    d.close()


# ---- model pickers and allowed values -----------------------------------------------------------


async def test_model_pickers_filtered_per_tab(dash):
    from or_magic.tools.catalog import is_free, modalities

    by_id = {m["id"]: m for m in dash.models}
    assert by_id

    def check(panel, pred):
        ids = [v for v in _values(panel.model) if v]
        assert ids, panel.name
        for mid in ids:
            assert pred(*modalities(by_id[mid])), (panel.name, mid)
        for label, mid in panel.model.options:
            assert label.endswith(" (free)") == is_free(by_id[mid]), label
        return ids

    chat = check(dash.chat, lambda i, o: "text" in i and "text" in o)
    assert "google/gemma-4-26b-a4b-it:free" in chat
    assert "openai/whisper-1" not in chat
    assert "(free)" in " ".join(_labels(dash.chat.model))
    assert dash.chat.model.value == "google/gemma-4-26b-a4b-it:free"  # the default chat model

    check(dash.analyze, lambda i, o: "image" in i and "text" in o)
    dash.analyze.kind.value = "audio"
    audio_in = check(dash.analyze, lambda i, o: "audio" in i and "text" in o)
    assert "openai/gpt-4o" not in audio_in
    dash.analyze.kind.value = "video"
    check(dash.analyze, lambda i, o: "video" in i and "text" in o)

    images = check(dash.image, lambda i, o: "image" in o)
    assert dash.image.model.value == "google/gemini-2.5-flash-image"
    assert "openai/gpt-4o" not in images

    check(dash.audio, lambda i, o: "speech" in o)
    dash.audio.mode.value = "generate_audio"
    check(dash.audio, lambda i, o: "audio" in o)

    videos = [v for v in _values(dash.video.model) if v]
    assert set(videos) >= {"google/veo-3.1", "openai/sora-2-pro"}
    assert all(
        not label.endswith("(free)") for label in _labels(dash.video.model)
    )  # priced per second


async def test_offline_mode_pickers_without_key(monkeypatch):
    """No key at all: the offline double answers the catalog too."""
    from or_magic.tools import catalog

    catalog.reset()
    d = Dashboard(namespace={})
    await d.ready()
    assert d.refresh_badge() is True
    assert "google/gemini-2.5-flash-image" in _values(d.image.model)
    assert "or-magic-ready" in d.widget._dom_classes
    d.close()
    catalog.reset()


async def test_allowed_value_controls(dash):
    assert _values(dash.image.aspect_ratio) == [None, *ASPECT_RATIOS]
    assert _values(dash.image.image_size) == [None, "0.5K", "1K", "2K", "4K"]
    efforts = ["max", "xhigh", "high", "medium", "low", "minimal", "none"]
    assert _values(dash.chat.reasoning) == [None, *efforts]

    # audio: formats of the selected tool, voices of the selected model
    assert _values(dash.audio.format) == [None, "mp3", "opus", "aac", "flac", "wav", "pcm"]
    dash.audio.model.value = "deepgram/flux-tts:free"
    assert "flux-alexis-en" in _values(dash.audio.voice)
    assert "alloy" not in _values(dash.audio.voice)
    dash.audio.mode.value = "generate_audio"
    assert _values(dash.audio.format) == [None, "wav", "mp3", "flac", "opus", "pcm16"]
    assert "alloy" in _values(dash.audio.voice)

    # video: the chosen model's capabilities
    dash.video.model.value = "google/veo-3.1"
    assert _values(dash.video.duration) == [None, 4, 6, 8]
    assert _values(dash.video.resolution) == [None, "720p", "1080p"]
    assert _values(dash.video.aspect_ratio) == [None, "16:9", "9:16"]
    assert not dash.video.generate_audio.disabled
    dash.video.duration.value = 6
    dash.video.model.value = "bytedance/seedance-2.0-fast"
    assert _values(dash.video.duration) == [None, *range(4, 16)]
    assert dash.video.duration.value == 6  # kept when still allowed
    assert "21:9" in _values(dash.video.aspect_ratio)
    dash.video.model.value = "alibaba/wan-2.7"
    assert _values(dash.video.duration) == [None, 5, 10]
    assert dash.video.duration.value is None
    assert dash.video.generate_audio.disabled


# ---- runs end to end ----------------------------------------------------------------------------


async def test_elapsed_time_stays_on_one_line(dash):
    """The label neither shrinks beside a long status (which wrapped "0.0" / "s") nor breaks
    between the number and its unit."""
    import re

    dash.chat.prompt.value = "Say hello"
    result = await dash.chat.run()
    assert result.ok
    assert re.fullmatch(r"\d+\.\d\u00a0s", dash.chat.elapsed.value), dash.chat.elapsed.value
    for panel in dash.panels.values():
        if hasattr(panel, "elapsed"):
            actions = panel.actions()
            assert panel.elapsed in actions.children
            assert panel.elapsed.layout.flex == "0 0 auto" and panel.elapsed.layout.min_width
            assert panel.status.layout.flex == "1 1 auto"  # the status takes the slack


async def test_chat_run_streams_and_reports(dash, double):
    dash.chat.prompt.value = "Say hello"
    dash.chat.run_button.click()
    task = dash.chat.task
    assert task is not None and not task.done()
    assert dash.chat.run_button.disabled and not dash.chat.stop_button.disabled
    result = await task
    assert result.ok
    assert "Say hello" in dash.chat.output.value
    assert dash.chat.progress.bar_style == "success"
    assert "google/gemma-4-26b-a4b-it:free" in dash.chat.status.value
    assert not dash.chat.run_button.disabled and dash.chat.stop_button.disabled
    body = double.requests_to("/chat/completions")[-1].json
    assert body["stream"] is True  # streamed into the output widget
    assert "google/gemma-4-26b-a4b-it:free" in dash.usage.table.value


async def test_image_run_fills_gallery_with_png(dash, double):
    dash.image.prompt.value = "a red square"
    dash.image.aspect_ratio.value = "16:9"
    result = await dash.image.run()
    assert result.ok, result
    players = dash.image.gallery.widgets()
    assert len(players) == 1
    img = players[0]
    assert isinstance(img, W.Image)
    assert bytes(img.value)[:8] == b"\x89PNG\r\n\x1a\n"
    assert img.format == "png"
    assert "or-magic-image" in img._dom_classes
    body = double.requests_to("/chat/completions")[-1].json
    assert body["image_config"]["aspect_ratio"] == "16:9"
    caption = dash.image.gallery.items[0].caption.value
    assert "cost $" in caption


async def test_audio_run_player_never_autoplays(dash):
    dash.audio.prompt.value = "Hello from the dashboard"
    result = await dash.audio.run()
    assert result.ok, result
    (player,) = dash.audio.gallery.widgets()
    assert isinstance(player, W.Audio)
    assert player.autoplay is False and player.loop is False and player.controls is True
    assert len(bytes(player.value)) > 100

    dash.audio.mode.value = "generate_audio"
    dash.audio.voice.value = "alloy"
    result = await dash.audio.run()
    assert result.ok, result
    newest = dash.audio.gallery.widgets()[0]
    assert isinstance(newest, W.Audio) and not newest.autoplay and not newest.loop


async def test_video_run_and_jobs_resume(dash, double):
    dash.video.model.value = "google/veo-3.1"
    dash.video.duration.value = 4
    dash.video.prompt.value = "waves at dusk"
    bar = []  # what the panel showed after each progress event, while the job ran
    shown = dash.video._on_progress

    def watch(p):
        shown(p)
        bar.append((dash.video.progress.value, dash.video.status.value))

    dash.video._on_progress = watch
    result = await dash.video.run()
    values = [v for v, _ in bar]
    assert any(0.0 < v < 100.0 for v in values), bar  # the bar moved before the end
    assert values == sorted(values), bar  # and never went back
    assert any("in_progress" in status for _, status in bar), bar  # upstream's status shown
    assert dash.video.progress.value == 100.0
    assert result.ok, result
    (player,) = dash.video.gallery.widgets()
    assert isinstance(player, W.Video)
    assert player.autoplay is False and player.loop is False
    assert double.requests_to("/videos")[0].json["duration"] == 4

    jobs = dash.jobs.refresh()
    assert jobs and jobs[0].kind == "video"
    btn = dash.jobs.resume_buttons[jobs[0].id]
    assert "or-magic-resume" in btn._dom_classes
    btn.click()
    res = await dash.jobs.task
    assert res.tool == "get_video_status" and res.ok, res


async def test_chat_job_listed_and_resumed(dash):
    from or_magic.tools.api import call_tool

    started = await call_tool("start_chat_completion", prompt="background hello")
    job_id = started.meta["job_id"]
    jobs = dash.jobs.refresh()
    assert job_id in [j.id for j in jobs]
    dash.jobs.resume_buttons[job_id].click()
    res = await dash.jobs.task
    assert res.tool == "get_chat_completion_status"
    assert res.ok and "background hello" in dash.jobs.output.value


async def test_analyze_from_upload_variable_path_and_url(dash, double, tmp_path):
    from or_magic.media.sources import registered_count

    png = _png()
    dash.analyze.source.upload.value = (
        {
            "name": "red.png",
            "type": "image/png",
            "size": len(png),
            "content": memoryview(png),
            "last_modified": dt.datetime.now(dt.timezone.utc),
        },
    )
    assert dash.analyze.source.mode.value == "upload"
    assert dash.analyze.source.upload.value == ()  # bytes kept in Python, not in widget state
    assert "red.png" in dash.analyze.source.upload_info.value
    before = registered_count()
    res = await dash.analyze.run()
    assert res.ok, res
    assert res.tool == "analyze_image"
    assert registered_count() == before  # the handle is released after the call
    sent = double.requests_to("/chat/completions")[-1].json["messages"][0]["content"]
    assert any(p.get("type") == "image_url" for p in sent)

    from PIL import Image

    ns = {"photo": Image.new("RGB", (20, 20), "blue"), "n": 3, "blob": png, "_hidden": png}
    dash._namespace = ns
    dash.analyze.source.mode.value = "variable"
    assert _values(dash.analyze.source.variable) == ["blob", "photo"]
    dash.analyze.source.variable.value = "photo"
    res = await dash.analyze.run()
    assert res.ok, res

    (tmp_path / "out").mkdir(exist_ok=True)  # the input root (OPENROUTER_OUTPUT_DIR here)
    (tmp_path / "out" / "red.png").write_bytes(png)
    dash.analyze.source.path.value = "red.png"
    assert dash.analyze.source.mode.value == "path"
    res = await dash.analyze.run()
    assert res.ok, res
    dash.analyze.source.path.value = "missing.png"  # typed as is: the core's sandbox decides
    res = await dash.analyze.run()
    assert res.is_error and res.code == "INVALID_INPUT"
    assert "INVALID_INPUT" in dash.analyze.error.value

    dash.analyze.source.url.value = "http://127.0.0.1/x.png"
    assert dash.analyze.source.mode.value == "url"
    res = await dash.analyze.run()
    assert res.code == "UPSTREAM_REFUSED"  # SSRF guard, before anything is sent


async def test_error_result_shows_code_message_suggestions(dash, double):
    double.inject(Fault(status=402, times=None))
    dash.chat.prompt.value = "hi"
    res = await dash.chat.run()
    assert res.is_error
    box = dash.chat.error.value
    assert res.code in box and "or-magic-error-box" in box
    assert res.suggestions
    for suggestion in res.suggestions:
        assert html.escape(suggestion) in box
    assert dash.chat.progress.bar_style == "danger"

    # the core validates, not the dashboard: a blank prompt is the core's INVALID_INPUT
    double.reset()
    dash.chat.prompt.value = "   "
    res = await dash.chat.run()
    assert res.code == "INVALID_INPUT" and "INVALID_INPUT" in dash.chat.error.value
    assert not double.requests_to("/chat/completions")


async def test_upload_missing_shows_error_without_running(dash):
    dash.analyze.source.mode.value = "upload"
    assert dash.analyze.run() is None
    assert "INVALID_INPUT" in dash.analyze.error.value


async def test_stop_cancels_a_slow_job(dash, double):
    double.inject(Fault(delay_s=5))
    dash.chat.prompt.value = "slow"
    task = dash.chat.run()
    await asyncio.sleep(0.3)
    assert not task.done()
    dash.chat.stop_button.click()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert dash.chat.status.value == "Stopped."
    assert not dash.chat.run_button.disabled and dash.chat.stop_button.disabled


# ---- gallery save -------------------------------------------------------------------------------


async def test_save_writes_under_output_dir_and_refuses_traversal(dash, tmp_path):
    dash.image.prompt.value = "save me"
    res = await dash.image.run()
    assert res.ok
    item = dash.image.gallery.items[0]
    assert "or-magic-save" in item.save_button._dom_classes
    item.save_name.value = "pics/cat"
    item.save_button.click()
    out = tmp_path / "out"
    saved = out / "pics" / "cat.png"
    assert saved.read_bytes() == res.media[0].read_bytes()
    assert item.saved_path == saved.resolve() or item.saved_path == saved
    assert str(saved.name) in item.save_status.value

    assert item.save("../x.png") is None
    assert "UNSAFE_PATH" in item.save_status.value
    assert not (tmp_path / "x.png").exists()


# ---- usage and models tabs ----------------------------------------------------------------------


async def test_usage_tab_totals(dash):
    from or_magic import usage

    usage.reset()
    dash.usage.refresh()
    assert "No calls yet" in dash.usage.table.value
    dash.chat.prompt.value = "count me"
    await dash.chat.run()
    dash.image.prompt.value = "and me"
    await dash.image.run()
    dash.usage.refresh_button.click()
    table = dash.usage.table.value
    assert "google/gemma-4-26b-a4b-it:free" in table
    assert "google/gemini-2.5-flash-image" in table
    assert "<th>total</th>" in table
    usage.reset()


async def test_models_tab_search(dash):
    p = dash.models_panel
    p.query.value = "gemini"
    p.output_mod.value = "image"
    res = await p.run()
    assert res.ok and res.tool == "search_models"
    assert "google/gemini-2.5-flash-image" in p.table.value
    assert "openai/gpt-4o" not in p.table.value


# ---- notebook variables -------------------------------------------------------------------------


def test_suitable_variables_per_kind():
    import numpy as np
    from IPython.display import Audio
    from PIL import Image

    from or_magic.double import _media
    from or_magic.widgets._sources import suitable_variables

    mp3 = (Path(_media.__file__).parent / "assets" / "speech.mp3").read_bytes()
    ns = {
        "img": Image.new("RGB", (4, 4)),
        "arr": np.zeros((8, 8, 3), dtype=np.uint8),
        "png": _png(),
        "mp3": mp3,
        "pcm": (np.zeros(800, dtype=np.float32), 8000),
        "aud": Audio(data=mp3),
        "buf": io.BytesIO(_png()),
        "text": "hello",
        "np": np,
        "f": print,
        "_private": _png(),
    }
    images = [n for _, n in suitable_variables(ns, "image")]
    audio = [n for _, n in suitable_variables(ns, "audio")]
    assert sorted(images) == ["arr", "buf", "img", "png"]
    assert sorted(audio) == ["aud", "mp3", "pcm"]
    assert suitable_variables(ns, "video") == []


async def test_catalog_failure_is_shown_not_raised(double, monkeypatch):
    from or_magic.tools import catalog

    catalog.reset()
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-" + "0" * 64)  # not accepted by the double
    d = Dashboard(namespace={})
    await d.ready()
    assert "Could not load the model catalog" in d.load_status.value
    assert _values(d.image.model) == [None]  # the tool default is used
    d.close()


def test_run_without_a_loop_uses_a_background_loop(double):
    """A callback fired from plain synchronous code still runs (on a daemon loop thread)."""
    d = Dashboard(namespace={})
    d.load()
    assert "google/gemini-2.5-flash-image" in _values(d.image.model)
    d.chat.prompt.value = "from a thread"
    fut = d.chat.run()
    result = fut.result(timeout=30)
    assert result.ok and "from a thread" in d.chat.output.value
    d.close()


def _schema_enum(tool: str, field: str) -> list:
    from or_magic.tools import get_tool

    prop = get_tool(tool).input_model.model_json_schema()["properties"][field]
    return next(b["enum"] for b in [prop, *prop.get("anyOf", [])] if "enum" in b)


def test_allowed_values_come_from_the_tool_models():
    """The front door's allowed values are what each tool's schema accepts (MCP sees the same)."""
    from or_magic.tools import allowed_values, analyze, field_default

    for tool, field in [
        ("generate_image", "aspect_ratio"),
        ("generate_image", "image_size"),
        ("generate_image_dedicated", "resolution"),
        ("generate_audio", "format"),
        ("text_to_speech", "response_format"),
        ("speech_to_text", "response_format"),
        ("chat_completion", "reasoning_effort"),
        ("analyze_image", "detail"),
    ]:
        assert list(allowed_values(tool, field)) == _schema_enum(tool, field), (tool, field)
    assert allowed_values("generate_video", "resolution") == ()  # free text: the model decides
    assert allowed_values("generate_image", "no_such_field") == ()
    assert allowed_values("no_such_tool", "x") == ()
    assert field_default("analyze_audio", "question") == analyze.DEFAULT_AUDIO_QUESTION
    assert field_default("text_to_speech", "response_format") == "mp3"
    assert field_default("generate_image", "aspect_ratio", "tool decides") == "tool decides"
