"""or_magic.media.sources: load_source and the object registry, without the double."""

from __future__ import annotations

import base64
import glob
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from or_magic.config import load_settings
from or_magic.errors import ToolError
from or_magic.media import sources
from or_magic.media.sources import (
    is_object_handle,
    load_source,
    register_object,
    release,
    source_type,
)
from tests.tools import test_analyze_sources as _shared

pytestmark = pytest.mark.anyio

media = _shared.media
media_server = _shared.media_server


@pytest.fixture
def settings():
    return load_settings({})


async def _err(src, kind, settings, **kw) -> ToolError:
    with pytest.raises(ToolError) as ei:
        await load_source(src, kind=kind, settings=settings, **kw)
    return ei.value


def test_source_type_needs_no_io():
    assert source_type("data:image/png;base64,AAAA") == "data_url"
    assert source_type(" HTTPS://example.com/a.png") == "url"
    assert source_type("object://" + "a" * 22) == "object"
    assert source_type("pics/a.png") == "path"
    assert source_type(Path("a.png")) == "path"
    assert source_type(b"\x89PNG") == "object"


async def test_local_files_are_file_backed_and_sniffed(media, settings):
    b = await load_source("media/clip.mov", kind="video", settings=settings)
    assert b.fd is not None and b.path is None and b.data is None  # the checked descriptor
    assert b.mime == "video/quicktime" and b.size == (media / "clip.mov").stat().st_size
    b.close()
    assert (media / "clip.mov").exists()  # closing never deletes the caller's file
    b = await load_source(media / "speech.opus", kind="audio", settings=settings)
    assert b.mime == "audio/ogg; codecs=opus"


async def test_labels_prefix_every_error(media, settings):
    e = await _err("media/not-really.png", "image", settings, label="input_images[2]")
    assert e.code.value == "UNSUPPORTED_FORMAT"
    assert e.message.startswith("input_images[2]: ")
    e = await _err("  ", "image", settings, label="image")
    assert e.code.value == "INVALID_INPUT" and e.message.startswith("image: ")


async def test_multi_kind_loading_and_dual_containers(media, settings):
    kinds = ("image", "audio", "video")
    got = []
    for name in ("photo.jpg", "speech.m4a", "clip.mp4", "clip.webm"):
        b = await load_source(f"media/{name}", kind=kinds, settings=settings)
        got.append(b.mime)
    assert got == ["image/jpeg", "audio/mp4", "video/mp4", "video/webm"]
    # Where only audio is wanted, an MP4/WebM container counts as audio (its soundtrack).
    b = await load_source("media/clip.mp4", kind="audio", settings=settings)
    assert b.mime == "audio/mp4"
    # A data URL that declares the audio twin of a video container keeps the declaration.
    raw = base64.b64encode((media / "clip.webm").read_bytes()).decode()
    b = await load_source(f"data:audio/webm;base64,{raw}", kind=kinds, settings=settings)
    assert b.mime == "audio/webm"


async def test_big_data_urls_are_spooled_to_a_temp_file(media, settings):
    clip = (media / "clip.mp4").read_bytes()
    pad = 9 << 20
    blob = clip + (pad + 8).to_bytes(4, "big") + b"free" + bytes(pad)
    url = "data:video/mp4;base64," + base64.b64encode(blob).decode()
    b = await load_source(url, kind="video", settings=settings)
    assert b.path is not None and b.cleanup and b.size == len(blob)
    p = b.path
    b.close()
    assert not p.exists()


async def test_url_downloads_to_temp_files_are_removed(media_server, monkeypatch, settings):
    s = settings.replace(url_allowlist=("127.0.0.1",))
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "or_magic-video-*")))
    b = await load_source(f"{media_server}/clip.mp4", kind="video", settings=s, to_file=True)
    assert b.path is not None and b.mime == "video/mp4"
    b.close()
    e = await _err(f"{media_server}/truncated.mp4", "video", s, to_file=True)
    assert e.code.value == "UNSUPPORTED_FORMAT"
    after = set(glob.glob(os.path.join(tempfile.gettempdir(), "or_magic-video-*")))
    assert after <= before  # nothing left behind, on success or on a refused file


async def test_registry_handles(settings, media):
    from PIL import Image

    h = register_object(Image.new("RGB", (8, 8)))
    assert is_object_handle(h) and len(h) > len("object://") + 20
    b = await load_source(h, kind="image", settings=settings)
    assert b.mime == "image/png"
    b.close()  # a view: the registered bytes stay
    assert (await load_source(h, kind="image", settings=settings)).size > 0
    assert release(h) and not release(h)
    e = await _err(h, "image", settings)
    assert e.code.value == "INVALID_INPUT"
    e = await _err("object://short", "image", settings)
    assert e.code.value == "INVALID_INPUT"


async def test_registry_is_an_lru_capped_at_max_objects(settings):
    first = register_object(b"\x89PNG\r\n\x1a\n" + bytes(64))
    handles = [
        register_object(b"\x89PNG\r\n\x1a\n" + bytes(64)) for _ in range(sources.MAX_OBJECTS)
    ]
    assert sources.registered_count() <= sources.MAX_OBJECTS
    e = await _err(first, "image", settings)
    assert "expired" in e.message
    for h in handles:
        release(h)


async def test_registry_rejects_non_media_and_path_objects_are_sandboxed(settings, tmp_path):
    import numpy as np

    with pytest.raises(ToolError) as ei:
        register_object(np.zeros(100))  # 1-D samples need a rate
    assert ei.value.code.value == "INVALID_INPUT"
    with pytest.raises(ToolError):
        register_object(("a", "b"))
    outside = tmp_path / "elsewhere.png"
    shutil.copy(Path(__file__).resolve().parents[1] / "fixtures" / "diagram.png", outside)
    h = register_object(outside)  # a reference, resolved (and sandboxed) when loaded
    e = await _err(h, "image", settings)
    assert e.code.value == "UNSAFE_PATH"
    release(h)


async def test_objects_over_the_kind_cap(settings):
    s = settings.replace(image_max_download_bytes=2048)
    from PIL import Image

    noisy = Image.frombytes("RGB", (200, 200), os.urandom(200 * 200 * 3))
    e = await _err(noisy, "image", s)
    assert e.code.value == "RESOURCE_TOO_LARGE"
