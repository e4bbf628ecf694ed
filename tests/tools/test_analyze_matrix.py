"""Format matrix over tests/fixtures, malformed inputs, sandbox, SSRF and size caps.

Every failure case asserts that the double received nothing: all checks run before any upstream
call.
"""

from __future__ import annotations

import base64
import builtins
import os
import shutil
from pathlib import Path

import pytest

from or_magic.errors import SUGGEST_ALLOWLIST
from or_magic.tools.api import call_tool

from . import test_analyze_sources as _shared

# Fixtures shared with test_analyze_sources (the fixtures copied into the sandbox, the loopback
# media server and the allowlist that makes it reachable).
media = _shared.media
media_server = _shared.media_server
allow_loopback = _shared.allow_loopback

pytestmark = pytest.mark.anyio


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


# ---- the good formats -------------------------------------------------------------------------

AUDIO_MATRIX = [
    # file, analyze_audio input_audio.format, speech_to_text format (None = refused)
    ("speech.wav", "wav", "wav"),
    ("speech.mp3", "mp3", "mp3"),
    ("speech.flac", "flac", "flac"),
    ("speech.ogg", "ogg", "ogg"),
    ("speech.opus", "ogg", "opus"),
    ("speech.m4a", "m4a", "mp4"),
    ("speech.aiff", "aiff", None),
]


@pytest.mark.parametrize(("name", "fmt", "_stt"), AUDIO_MATRIX)
async def test_analyze_audio_format_matrix(name, fmt, _stt, double, media):
    r = await call_tool("analyze_audio", {"audio_path": f"media/{name}"})
    assert r.ok, r.text
    (m,) = double.requests[-1].media
    assert m["type"] == "input_audio" and m["format"] == fmt
    assert m["size"] == (media / name).stat().st_size
    assert r.meta["inputs"][0]["format"] == fmt


@pytest.mark.parametrize(("name", "_fmt", "stt"), AUDIO_MATRIX)
async def test_speech_to_text_format_matrix(name, _fmt, stt, double, media):
    r = await call_tool("speech_to_text", {"audio_path": f"media/{name}"})
    if stt is None:
        assert r.code == "UNSUPPORTED_FORMAT", r.text
        assert double.requests == []
        return
    assert r.ok, r.text
    assert double.requests[-1].json["input_audio"]["format"] == stt
    assert f"{stt} audio" in r.text  # the double names the format it was told


@pytest.mark.parametrize(
    ("name", "mime"),
    [
        ("clip.mp4", "video/mp4"),
        ("clip.mov", "video/quicktime"),
        ("clip.webm", "video/webm"),
        ("clip.mpeg", "video/mpeg"),
    ],
)
async def test_video_format_matrix(name, mime, double, media):
    r = await call_tool("analyze_video", {"video_path": f"media/{name}"})
    assert r.ok, r.text
    (m,) = double.requests[-1].media
    assert m["type"] == "video_url" and m["mime"] == mime
    assert m["size"] == (media / name).stat().st_size
    url = double.requests[-1].json["messages"][0]["content"][1]["video_url"]["url"]
    assert url.startswith(f"data:{mime};base64,")


@pytest.mark.parametrize(
    "name", ["photo.jpg", "photo.webp", "diagram.png", "animated.gif", "photo-exif-rotated.jpg"]
)
async def test_image_format_matrix(name, double, media):
    r = await call_tool("analyze_image", {"image_path": f"media/{name}"})
    assert r.ok, r.text
    (m,) = double.requests[-1].media
    assert m["mime"] == "image/jpeg" and m["sniffed"] == "image/jpeg"


async def test_exif_rotation_is_applied(double, media):
    import io

    from PIL import Image

    with Image.open(media / "photo-exif-rotated.jpg") as im:
        w, h = im.size
        orientation = im.getexif().get(0x0112, 1)
    await call_tool("analyze_image", {"image_path": "media/photo-exif-rotated.jpg"})
    url = double.requests[-1].json["messages"][0]["content"][1]["image_url"]["url"]
    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as sent:
        sw, sh = sent.size
    if orientation in (5, 6, 7, 8):
        assert (sw > sh) == (h > w)  # width and height swapped
    assert max(sw, sh) <= 800


# ---- malformed inputs -------------------------------------------------------------------------

BAD = [
    # tool, file, code
    ("analyze_image", "truncated.jpg", "UNSUPPORTED_FORMAT"),
    ("analyze_image", "not-really.png", "UNSUPPORTED_FORMAT"),
    ("analyze_image", "page-as-image.jpg", "UNSUPPORTED_FORMAT"),
    ("analyze_image", "bomb.png", "RESOURCE_TOO_LARGE"),
    ("analyze_image", "empty.wav", "INVALID_INPUT"),
    ("analyze_image", "speech.mp3", "UNSUPPORTED_FORMAT"),
    ("analyze_audio", "empty.wav", "INVALID_INPUT"),
    ("analyze_audio", "random-ff.mp3", "UNSUPPORTED_FORMAT"),
    ("analyze_audio", "not-really.png", "UNSUPPORTED_FORMAT"),
    ("analyze_audio", "speech-24k-mono.pcm16", "UNSUPPORTED_FORMAT"),
    ("analyze_audio", "photo.jpg", "UNSUPPORTED_FORMAT"),
    ("speech_to_text", "random-ff.mp3", "UNSUPPORTED_FORMAT"),
    ("speech_to_text", "empty.wav", "INVALID_INPUT"),
    ("analyze_video", "truncated.mp4", "UNSUPPORTED_FORMAT"),
    ("analyze_video", "page-as-image.jpg", "UNSUPPORTED_FORMAT"),
    ("analyze_video", "speech.mp3", "UNSUPPORTED_FORMAT"),
    ("analyze_video", "photo.jpg", "UNSUPPORTED_FORMAT"),
    ("analyze_media", "truncated.mp4", "UNSUPPORTED_FORMAT"),
    ("analyze_media", "random-ff.mp3", "UNSUPPORTED_FORMAT"),
    ("analyze_media", "bomb.png", "RESOURCE_TOO_LARGE"),
]
ARG = {
    "analyze_image": "image_path",
    "analyze_audio": "audio_path",
    "speech_to_text": "audio_path",
    "analyze_video": "video_path",
}


def _args(tool: str, src: str) -> dict:
    if tool == "analyze_media":
        return {"sources": [src]}
    return {ARG[tool]: src}


@pytest.mark.parametrize(("tool", "name", "code"), BAD)
async def test_malformed_files_are_refused_before_upstream(tool, name, code, double, media):
    r = await call_tool(tool, _args(tool, f"media/{name}"))
    assert r.code == code, r.text
    assert double.requests == []
    label = "sources[0]" if tool == "analyze_media" else ARG[tool]
    assert r.text.startswith(label + ":")


@pytest.mark.parametrize(
    ("tool", "name", "code"),
    [b for b in BAD if b[1] not in ("empty.wav",)],
)
async def test_malformed_data_urls_are_refused_before_upstream(tool, name, code, double, media):
    declared = {
        "analyze_image": "image/jpeg",
        "analyze_audio": "audio/mpeg",
        "speech_to_text": "audio/mpeg",
        "analyze_video": "video/mp4",
        "analyze_media": "application/octet-stream",
    }[tool]
    src = f"data:{declared};base64,{b64(media / name)}"
    r = await call_tool(tool, _args(tool, src))
    assert r.code == code, r.text
    assert double.requests == []


@pytest.mark.parametrize(
    ("src", "code"),
    [
        ("data:image/png;base64,", "INVALID_INPUT"),
        ("data:image/png;base64,iVBO-_xx", "INVALID_INPUT"),  # base64url
        ("data:image/png,plain-text", "INVALID_INPUT"),  # not base64
        ("data:image/png;base64,iVBORw0KGgo=AAAA", "INVALID_INPUT"),  # padding in the middle
        (
            "data:image/png;base64," + base64.b64encode(b"hello world").decode(),
            "UNSUPPORTED_FORMAT",
        ),
        ("   ", "INVALID_INPUT"),
        ("", "INVALID_INPUT"),
        ("ftp://example.com/a.png", "INVALID_INPUT"),
        ("file:///etc/passwd", "INVALID_INPUT"),
        ("https://user:secret@example.com/a.png", "INVALID_INPUT"),
        ("object://not-a-registered-handle-xyz", "INVALID_INPUT"),
    ],
)
async def test_malformed_sources(src, code, double, media):
    r = await call_tool("analyze_image", {"image_path": src})
    assert r.code == code, r.text
    assert double.requests == []
    assert "secret" not in r.text


async def test_data_url_declared_type_must_match(double, media):
    src = f"data:image/png;base64,{b64(media / 'speech.mp3')}"
    r = await call_tool("analyze_audio", {"audio_path": src})
    assert r.code == "UNSUPPORTED_FORMAT" and "declared image/png" in r.text
    assert double.requests == []


# ---- size caps ---------------------------------------------------------------------------------------


async def test_over_cap_local_files_are_refused_without_reading(double, media, monkeypatch):
    monkeypatch.setenv("OPENROUTER_VIDEO_MAX_DOWNLOAD_BYTES", "4096")
    monkeypatch.setenv("OPENROUTER_AUDIO_MAX_DOWNLOAD_BYTES", "1000")
    monkeypatch.setenv("OPENROUTER_IMAGE_MAX_DOWNLOAD_BYTES", "2048")
    huge = media / "huge.mp4"
    with open(huge, "wb") as f:  # sparse: 64 GiB that reading would never finish
        f.truncate(64 << 30)
    # The sandbox opens the file once (to fstat the descriptor it checked); nothing may read it.
    opened: list[str] = []
    real_open, real_read, real_pread = builtins.open, os.read, os.pread

    def spy_open(file, *a, **kw):
        opened.append(os.fspath(file) if isinstance(file, (str, os.PathLike)) else repr(file))
        return real_open(file, *a, **kw)

    def spy_read(fd, *a, **kw):
        opened.append(f"media: read fd {fd}")
        return real_read(fd, *a, **kw)

    def spy_pread(fd, *a, **kw):
        opened.append(f"media: pread fd {fd}")
        return real_pread(fd, *a, **kw)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(os, "read", spy_read)
    monkeypatch.setattr(os, "pread", spy_pread)
    cases = [
        ("analyze_video", {"video_path": "media/clip.mp4"}, "OPENROUTER_VIDEO_MAX_DOWNLOAD_BYTES"),
        ("analyze_video", {"video_path": "media/huge.mp4"}, "OPENROUTER_VIDEO_MAX_DOWNLOAD_BYTES"),
        (
            "analyze_audio",
            {"audio_path": "media/speech.mp3"},
            "OPENROUTER_AUDIO_MAX_DOWNLOAD_BYTES",
        ),
        (
            "speech_to_text",
            {"audio_path": "media/speech.wav"},
            "OPENROUTER_AUDIO_MAX_DOWNLOAD_BYTES",
        ),
        ("analyze_image", {"image_path": "media/photo.jpg"}, "OPENROUTER_IMAGE_MAX_DOWNLOAD_BYTES"),
    ]
    for tool, args, var in cases:
        r = await call_tool(tool, args)
        assert r.code == "RESOURCE_TOO_LARGE", r.text
        assert var in r.text and r.details["limit_bytes"] > 0
    monkeypatch.setattr(builtins, "open", real_open)
    monkeypatch.setattr(os, "read", real_read)
    monkeypatch.setattr(os, "pread", real_pread)
    assert not [p for p in opened if "media" in p], opened
    assert double.requests == []


async def test_analyze_media_applies_each_kinds_own_cap(double, media, monkeypatch):
    monkeypatch.setenv("OPENROUTER_IMAGE_MAX_DOWNLOAD_BYTES", "2048")
    r = await call_tool("analyze_media", {"sources": ["media/clip.mp4", "media/photo.jpg"]})
    assert r.code == "RESOURCE_TOO_LARGE" and r.text.startswith("sources[1]:")
    assert double.requests == []


async def test_data_url_cap_is_checked_before_decoding(double, media, monkeypatch):
    monkeypatch.setenv("OPENROUTER_IMAGE_MAX_DATA_URL_BYTES", "2048")
    r = await call_tool(
        "analyze_image", {"image_path": f"data:image/png;base64,{b64(media / 'diagram.png')}"}
    )
    assert r.code == "RESOURCE_TOO_LARGE"
    monkeypatch.setenv("OPENROUTER_AUDIO_MAX_DATA_URL_BYTES", "4096")
    r = await call_tool(
        "analyze_audio", {"audio_path": f"data:audio/mpeg;base64,{b64(media / 'speech.mp3')}"}
    )
    assert r.code == "RESOURCE_TOO_LARGE" and "DATA_URL" in " ".join(r.suggestions)
    assert double.requests == []


async def test_url_over_cap_html_and_404(double, media_server, allow_loopback, monkeypatch):
    r = await call_tool("analyze_image", {"image_path": f"{media_server}/page-as-image.jpg"})
    assert r.code == "UNSUPPORTED_FORMAT"
    r = await call_tool("analyze_video", {"video_path": f"{media_server}/missing.mp4"})
    assert r.code == "UPSTREAM_HTTP" and r.details["status"] == 404
    r = await call_tool("speech_to_text", {"audio_path": f"{media_server}/random-ff.mp3"})
    assert r.code == "UNSUPPORTED_FORMAT"
    monkeypatch.setenv("OPENROUTER_IMAGE_MAX_DOWNLOAD_BYTES", "2048")
    r = await call_tool("analyze_image", {"image_path": f"{media_server}/photo.jpg"})
    assert r.code == "RESOURCE_TOO_LARGE"
    assert double.requests == []


# ---- sandbox ------------------------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path, fixtures_dir: Path) -> Path:
    d = tmp_path / "outside"
    d.mkdir()
    shutil.copy(fixtures_dir / "photo.jpg", d / "photo.jpg")
    shutil.copy(fixtures_dir / "speech.mp3", d / "speech.mp3")
    shutil.copy(fixtures_dir / "clip.mp4", d / "clip.mp4")
    return d


@pytest.mark.parametrize(
    "tool", ["analyze_image", "analyze_audio", "speech_to_text", "analyze_video", "analyze_media"]
)
async def test_sandbox_refusals_send_nothing(tool, double, media, outside):
    name = {"analyze_image": "photo.jpg", "analyze_video": "clip.mp4"}.get(tool, "speech.mp3")
    if tool == "analyze_media":
        name = "clip.mp4"
    link = media / f"link-{name}"
    link.symlink_to(outside / name)
    (media / "dir.mp4").mkdir()
    cases = [
        (f"../../outside/{name}", "UNSAFE_PATH"),
        (str(outside / name), "UNSAFE_PATH"),
        (f"media/link-{name}", "UNSAFE_PATH"),
        ("media/nope.bin", "INVALID_INPUT"),
        ("media/dir.mp4", "INVALID_INPUT"),
        ("media/a\x00b", "UNSAFE_PATH"),
    ]
    for src, code in cases:
        r = await call_tool(tool, _args(tool, src))
        assert r.code == code, (src, r.text)
    assert double.requests == []


async def test_input_dir_and_unsafe_bypass(double, media, outside, monkeypatch):
    monkeypatch.setenv("OPENROUTER_INPUT_DIR", str(outside))
    r = await call_tool("analyze_image", {"image_path": "photo.jpg"})  # relative to the root
    assert r.ok, r.text
    r = await call_tool("analyze_image", {"image_path": str(media / "photo.jpg")})
    assert r.code == "UNSAFE_PATH" and "OPENROUTER_INPUT_DIR" in r.text
    monkeypatch.setenv("OPENROUTER_ALLOW_UNSAFE_PATHS", "1")
    r = await call_tool("analyze_image", {"image_path": str(media / "photo.jpg")})
    assert r.ok, r.text


# ---- SSRF ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/a.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/a.png",
        "http://10.1.2.3/a.png",
        "http://0x7f000001/a.png",
        "http://localhost:9/a.png",
    ],
)
@pytest.mark.parametrize(
    "tool", ["analyze_image", "analyze_audio", "analyze_video", "speech_to_text", "analyze_media"]
)
async def test_blocked_hosts_are_upstream_refused_with_allowlist_hint(tool, url, double):
    r = await call_tool(tool, _args(tool, url))
    assert r.code == "UPSTREAM_REFUSED", r.text
    assert SUGGEST_ALLOWLIST in r.suggestions
    assert any("OPENROUTER_URL_ALLOWLIST" in s for s in r.suggestions)
    assert r.details["reason"] == "blocked_host"
    assert double.requests == []


async def test_cache_ttl_is_checked_before_any_io(double, media, monkeypatch):
    r = await call_tool(
        "analyze_video", {"video_path": "http://169.254.169.254/x", "cache_ttl": "2d"}
    )
    assert r.code == "INVALID_INPUT" and "cache_ttl" in r.text
    r = await call_tool("analyze_image", {"image_path": "../../etc/passwd", "cache_ttl": "soon"})
    assert r.code == "INVALID_INPUT" and "cache_ttl" in r.text
    r = await call_tool("analyze_audio", {"audio_path": "media/speech.mp3", "question": 42})
    assert r.code == "INVALID_INPUT"
    r = await call_tool("analyze_audio", {"audio_path": "media/speech.mp3", "promt": "x"})
    assert r.code == "INVALID_INPUT" and "unknown argument" in r.text
    assert double.requests == []
