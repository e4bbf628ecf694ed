"""Every analyze tool from every kind of source (path, URL, data URL, object handle), against the
double over a real socket; what the double received is checked part by part.

URL sources come from a loopback media server that is reachable only because the test puts
127.0.0.1 in OPENROUTER_URL_ALLOWLIST (the SSRF guard has no test-only bypass).
"""

from __future__ import annotations

import base64
import http.server
import io
import shutil
import threading
from pathlib import Path

import pytest

from or_magic.double import Fault
from or_magic.tools.api import call_tool, call_tool_sync
from tests.tools._helpers import sent_media

pytestmark = pytest.mark.anyio

AUDIO_TOOLS = ("analyze_audio", "speech_to_text")


# ---- helpers -------------------------------------------------------------------------------------


@pytest.fixture
def media(fixtures_dir: Path) -> Path:
    """The fixtures copied into the per-test working directory (the input sandbox)."""
    dst = Path.cwd() / "media"
    shutil.copytree(fixtures_dir, dst)
    for p in dst.iterdir():
        p.chmod(0o644)
    return dst


class _Handler(http.server.BaseHTTPRequestHandler):
    root: Path
    types = {
        ".jpg": "image/jpeg",
        ".png": "image/png",
        ".mp3": "audio/mpeg",
        ".wav": "audio/wav",
        ".mp4": "video/mp4",
        ".webm": "video/webm",
    }

    def do_GET(self) -> None:
        path = self.root / self.path.lstrip("/").split("?")[0]
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", self.types.get(path.suffix, "application/octet-stream"))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a: object) -> None:
        pass


@pytest.fixture(scope="module")
def media_server(tmp_path_factory: pytest.TempPathFactory):
    from tests.conftest import FIXTURES

    root = tmp_path_factory.mktemp("served")
    for p in FIXTURES.iterdir():
        shutil.copy(p, root / p.name)
    handler = type("H", (_Handler,), {"root": root})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_URL_ALLOWLIST", "127.0.0.1")


def data_url(path: Path, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()


@pytest.fixture
def source_as(media: Path, media_server: str):
    """``source_as(how, name, mime=...)``: the fixture ``name`` as a sandboxed ``path``, a loopback
    ``url`` or a ``data_url`` of type ``mime`` (of the fixture ``data_name`` when given)."""

    def make(how: str, name: str, *, mime: str, data_name: str | None = None) -> str:
        if how == "path":
            return f"media/{name}"
        if how == "url":
            return f"{media_server}/{name}"
        assert how == "data_url", how
        return data_url(media / (data_name or name), mime)

    return make


def last_media(double) -> list[dict]:
    assert double.requests, "the double received nothing"
    return double.requests[-1].media


def jpeg_size(double) -> tuple[int, int]:
    """Pixel size of the (only) image the double received."""
    from PIL import Image

    body = double.requests[-1].json
    parts = body["messages"][0]["content"]
    url = next(p["image_url"]["url"] for p in parts if p["type"] == "image_url")
    raw = base64.b64decode(url.split(",", 1)[1])
    with Image.open(io.BytesIO(raw)) as im:
        assert im.format == "JPEG"
        return im.size


# ---- analyze_image -----------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["path", "url", "data_url"])
async def test_analyze_image_from_each_source(how, double, source_as, allow_loopback):
    src = source_as(how, "photo.jpg", data_name="diagram.png", mime="image/png")
    r = await call_tool("analyze_image", {"image_path": src, "question": "What is shown?"})
    assert r.ok, r.text
    (m,) = last_media(double)
    assert m["type"] == "image_url" and m["mime"] == "image/jpeg" and m["sniffed"] == "image/jpeg"
    assert max(jpeg_size(double)) <= 800
    assert r.meta["content_is_untrusted"] is True
    (inp,) = r.meta["inputs"]
    assert inp["source"] == how and inp["kind"] == "image"
    assert inp["mime"] == ("image/png" if how == "data_url" else "image/jpeg")
    body = double.requests[-1].json
    assert body["messages"][0]["content"][0] == {"type": "text", "text": "What is shown?"}
    assert body["model"] == r.meta["model"] == "google/gemma-4-26b-a4b-it:free"


async def test_analyze_image_big_image_shrunk_exif_and_options(double, media, monkeypatch):
    monkeypatch.setenv("OPENROUTER_IMAGE_MAX_DIMENSION", "256")
    r = await call_tool(
        "analyze_image",
        {
            "image_path": "media/photo-exif-rotated.jpg",
            "image_paths": ["media/photo.webp", "media/animated.gif"],
            "detail": "high",
            "cache_input": True,
            "cache": True,
            "cache_ttl": "5m",
            "provider": {"sort": "price"},
            "max_tokens": 300,
            "temperature": 0.2,
            "model": "openai/gpt-4o-mini",
        },
    )
    assert r.ok, r.text
    media_parts = last_media(double)
    assert [m["mime"] for m in media_parts] == ["image/jpeg"] * 3
    assert all(m["detail"] == "high" for m in media_parts)
    req = double.requests[-1]
    content = req.json["messages"][0]["content"]
    # The breakpoint sits on a text part after the three images (spec: text parts only), and
    # the question comes last so another question reuses the cached media prefix.
    assert [p["type"] for p in content] == ["image_url"] * 3 + ["text", "text"]
    assert all("cache_control" not in p for p in content[:3])
    assert content[3]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in content[4]
    parts = content[:3]
    assert req.headers["x-openrouter-cache"] == "true"
    assert req.headers["x-openrouter-cache-ttl"] == "300"
    assert req.json["provider"] == {"sort": "price"}
    assert req.json["max_tokens"] == 300 and req.json["temperature"] == 0.2
    assert req.json["model"] == "openai/gpt-4o-mini"
    assert [i["mime"] for i in r.meta["inputs"]] == ["image/jpeg", "image/webp", "image/gif"]
    from PIL import Image

    for p in parts:
        raw = base64.b64decode(p["image_url"]["url"].split(",", 1)[1])
        with Image.open(io.BytesIO(raw)) as im:
            assert max(im.size) <= 256


async def test_streaming_analyze_image(double, media):
    deltas: list[str] = []
    r = await call_tool("analyze_image", {"image_path": "media/diagram.png"}, on_text=deltas.append)
    assert r.ok, r.text
    assert "".join(deltas) == r.text
    assert double.requests[-1].json["stream"] is True
    assert last_media(double)[0]["mime"] == "image/jpeg"


# ---- analyze_audio / speech_to_text --------------------------------------------------------------


@pytest.mark.parametrize("tool", AUDIO_TOOLS)
@pytest.mark.parametrize("how", ["path", "url", "data_url"])
async def test_audio_tools_from_each_source(tool, how, double, media, source_as, allow_loopback):
    src = source_as(how, "speech.wav", mime="audio/wav")
    r = await call_tool(tool, {"audio_path": src})
    assert r.ok, r.text
    (m,) = last_media(double)
    assert m["type"] == "input_audio" and m["format"] == "wav"
    assert m["size"] == (media / "speech.wav").stat().st_size
    assert m["sniffed"] == "audio/wav"
    assert r.meta["content_is_untrusted"] is True
    assert r.meta["inputs"][0]["source"] == how
    req = double.requests[-1]
    if tool == "analyze_audio":
        assert req.path.endswith("/chat/completions")
        data = req.json["messages"][0]["content"][1]["input_audio"]["data"]
        assert not str(data).startswith("data:")  # raw base64, no prefix
        assert r.meta["model"] == "google/gemini-2.5-flash"
    else:
        assert req.path.endswith("/audio/transcriptions")
        assert req.json["model"] == "openai/whisper-1"


async def test_speech_to_text_json_text_and_options(double, media):
    r = await call_tool(
        "speech_to_text",
        {"audio_path": "media/speech.mp3", "language": "DE", "temperature": 0.3, "cache": True},
    )
    assert r.ok, r.text
    assert r.text.startswith("Offline transcription")
    assert r.data["text"] == r.text
    assert r.meta["language"] == "de" and r.meta["duration_seconds"] > 0
    assert r.meta["cost_usd"] >= 0
    req = double.requests[-1]
    assert req.json["language"] == "de" and req.json["temperature"] == 0.3
    assert req.json["input_audio"]["format"] == "mp3"
    assert req.headers["x-openrouter-cache"] == "true"

    r = await call_tool(
        "speech_to_text", {"audio_path": "media/speech.mp3", "response_format": "text"}
    )
    assert r.ok, r.text
    assert r.text.startswith("Offline transcription") and r.data is None
    # text, srt and vtt are not in the spec: verbose_json is requested and rendered locally
    assert double.requests[-1].json["response_format"] == "verbose_json"

    r = await call_tool(
        "speech_to_text", {"audio_path": "media/speech.mp3", "response_format": "vtt"}
    )
    assert r.ok and r.text.startswith("WEBVTT")

    r = await call_tool(
        "speech_to_text", {"audio_path": "media/speech.mp3", "response_format": "verbose_json"}
    )
    assert r.ok and '"segments"' in r.text and r.data["segments"]


@pytest.mark.parametrize(
    "args",
    [
        {"language": "english"},
        {"language": "xx"},
        {"temperature": 1.5},
        {"response_format": "mp3"},
        {"cache_ttl": "forever"},
    ],
)
async def test_speech_to_text_bad_arguments_before_io(args, double, media):
    r = await call_tool("speech_to_text", {"audio_path": "media/missing.mp3", **args})
    assert r.code == "INVALID_INPUT"
    assert "not found" not in r.text  # arguments are checked before the file is looked at
    assert double.requests == []


# ---- analyze_video ----------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["path", "url", "data_url"])
async def test_analyze_video_from_each_source(how, double, media, source_as, allow_loopback):
    src = source_as(how, "clip.mp4", mime="video/mp4")
    r = await call_tool("analyze_video", {"video_path": src, "cache_input": True})
    assert r.ok, r.text
    (m,) = last_media(double)
    assert m["type"] == "video_url" and m["mime"] == "video/mp4" and m["sniffed"] == "video/mp4"
    assert m["size"] == (media / "clip.mp4").stat().st_size
    part, marker, _question = double.requests[-1].json["messages"][0]["content"]
    assert part["type"] == "video_url" and "cache_control" not in part
    assert marker["type"] == "text" and marker["cache_control"] == {"type": "ephemeral"}
    assert r.meta["inputs"][0]["source"] == how
    assert r.meta["model"] == "google/gemini-2.5-flash"


async def test_analyze_video_pass_url_sends_the_url_without_downloading(double):
    url = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    r = await call_tool("analyze_video", {"video_path": url, "pass_url": True})
    assert r.ok, r.text
    (m,) = last_media(double)
    assert m["type"] == "video_url" and m["url"] == url
    assert len(double.requests) == 1
    r = await call_tool(
        "analyze_video", {"video_path": "http://example.com/a.mp4", "pass_url": True}
    )
    assert r.code == "INVALID_INPUT" and "https" in r.text
    r = await call_tool(
        "analyze_video", {"video_path": "https://user:pw@example.com/a.mp4", "pass_url": True}
    )
    assert r.code == "INVALID_INPUT"
    assert len(double.requests) == 1


# ---- analyze_media ------------------------------------------------------------------------------


async def test_analyze_media_mixes_kinds_in_order(double, media, media_server, allow_loopback):
    r = await call_tool(
        "analyze_media",
        {
            "sources": [
                "media/diagram.png",
                f"{media_server}/speech.mp3",
                data_url(media / "clip.webm", "video/webm"),
                "media/speech.flac",
            ],
            "question": "Do these match?",
        },
    )
    assert r.ok, r.text
    assert sent_media(double) == [
        ("image_url", "image/jpeg"),
        ("input_audio", "mp3"),
        ("video_url", "video/webm"),
        ("input_audio", "flac"),
    ]
    assert [i["source"] for i in r.meta["inputs"]] == ["path", "url", "data_url", "path"]
    assert r.meta["model"] == "google/gemini-2.5-flash"  # video present: the video default


async def test_analyze_media_limits_and_model_choice(double, media, monkeypatch):
    r = await call_tool("analyze_media", {"sources": []})
    assert r.code == "INVALID_INPUT"
    r = await call_tool("analyze_media", {"sources": ["media/photo.jpg"] * 17})
    assert r.code == "INVALID_INPUT"
    assert double.requests == []
    monkeypatch.setenv("OPENROUTER_DEFAULT_VISION_MODEL", "openai/gpt-4o-mini")
    r = await call_tool("analyze_media", {"sources": ["media/photo.jpg", "media/diagram.png"]})
    assert r.ok and r.meta["model"] == "openai/gpt-4o-mini"


async def test_a_bad_source_in_the_middle_sends_nothing(double, media):
    r = await call_tool(
        "analyze_media", {"sources": ["media/photo.jpg", "media/not-really.png", "media/clip.mp4"]}
    )
    assert r.code == "UNSUPPORTED_FORMAT"
    assert r.text.startswith("sources[1]:")
    assert double.requests == []


# ---- models, meta, upstream errors ---------------------------------------------------------------


async def test_default_model_chain(double, media, monkeypatch):
    monkeypatch.setenv("OPENROUTER_DEFAULT_MODEL", "openai/gpt-4o-mini")
    r = await call_tool("analyze_audio", {"audio_path": "media/speech.mp3"})
    assert r.ok and double.requests[-1].json["model"] == "google/gemini-2.5-flash"
    r = await call_tool("analyze_video", {"video_path": "media/clip.mp4"})
    assert r.ok and double.requests[-1].json["model"] == "google/gemini-2.5-flash"
    # The user's chat default is a reasonable vision fallback (only when they set it).
    r = await call_tool("analyze_image", {"image_path": "media/photo.jpg"})
    assert r.ok and double.requests[-1].json["model"] == "openai/gpt-4o-mini"
    monkeypatch.setenv("OPENROUTER_DEFAULT_AUDIO_MODEL", "openai/gpt-4o-audio-preview")
    monkeypatch.setenv("OPENROUTER_DEFAULT_VIDEO_MODEL", "google/gemini-2.5-pro")
    monkeypatch.setenv("OPENROUTER_DEFAULT_VISION_MODEL", "anthropic/claude-sonnet-4.5")
    for tool, arg, want in [
        ("analyze_audio", {"audio_path": "media/speech.mp3"}, "openai/gpt-4o-audio-preview"),
        ("analyze_video", {"video_path": "media/clip.mp4"}, "google/gemini-2.5-pro"),
        ("analyze_image", {"image_path": "media/photo.jpg"}, "anthropic/claude-sonnet-4.5"),
    ]:
        await call_tool(tool, arg)
        assert double.requests[-1].json["model"] == want
    r = await call_tool(
        "analyze_audio", {"audio_path": "media/speech.mp3", "model": " openai/gpt-4o-mini "}
    )
    assert double.requests[-1].json["model"] == "openai/gpt-4o-mini"


async def test_upstream_errors_and_empty_answers_keep_their_codes(double, media):
    double.inject(Fault("/chat/completions", status=402))
    r = await call_tool("analyze_image", {"image_path": "media/photo.jpg"})
    assert r.code == "UPSTREAM_REFUSED"
    double.inject(Fault("/chat/completions", scenario="empty"))
    r = await call_tool("analyze_video", {"video_path": "media/clip.mp4"})
    assert r.code == "INTERNAL" and "analyze_video" in r.text
    double.inject(Fault("/chat/completions", scenario="reasoning_cutoff"))
    r = await call_tool("analyze_audio", {"audio_path": "media/speech.mp3"})
    assert r.code == "INVALID_INPUT" and "max_tokens" in r.text
    double.inject(Fault("/audio/transcriptions", status=400))
    r = await call_tool("speech_to_text", {"audio_path": "media/speech.mp3"})
    assert r.code == "INVALID_INPUT" and r.details["status"] == 400, r
    assert r.text.startswith("speech_to_text: ") and r.suggestions


async def test_big_bodies_are_streamed_with_exact_content_length(double, media):
    """A file-backed video goes out as a streamed body; the double parses it like any JSON."""
    big = media / "big.mp4"
    clip = (media / "clip.mp4").read_bytes()
    pad = 9 * 1024 * 1024
    with open(big, "wb") as f:
        f.write(clip)
        f.write((pad + 8).to_bytes(4, "big") + b"free")
        f.truncate(len(clip) + 8 + pad)
    r = await call_tool("analyze_video", {"video_path": "media/big.mp4"})
    assert r.ok, r.text
    (m,) = last_media(double)
    assert m["size"] == big.stat().st_size and m["sniffed"] == "video/mp4"
    req = double.requests[-1]
    assert int(req.headers["content-length"]) == req.body_size
    assert "transfer-encoding" not in req.headers


def test_sync_api_from_a_plain_script(double, media):
    r = call_tool_sync("analyze_image", {"image_path": Path("media/photo.jpg")})
    assert r.ok, r.text
    assert r.meta["inputs"][0]["source"] == "path"


async def test_streamed_bodies_are_resent_whole_on_retry(double, media):
    double.inject(Fault("/chat/completions", status=503, times=1))
    r = await call_tool("analyze_video", {"video_path": "media/clip.webm"})
    assert r.ok, r.text
    assert len(double.requests) == 2
    sizes = [req.media[0]["size"] for req in double.requests]
    assert sizes == [(media / "clip.webm").stat().st_size] * 2
    double.inject(Fault("/audio/transcriptions", status=429, retry_after="0", times=1))
    r = await call_tool("speech_to_text", {"audio_path": "media/speech.flac"})
    assert r.ok, r.text
    assert [q.media[0]["format"] for q in double.requests[2:]] == ["flac", "flac"]
