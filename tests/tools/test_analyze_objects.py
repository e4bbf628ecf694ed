"""Notebook objects as analyze inputs through the Python API (``call_tool`` turns them into
``object://`` handles; the media loader resolves them in-process)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest

from or_magic.media import sources
from or_magic.tools.api import call_tool, call_tool_sync
from tests.tools._helpers import inproc_double_fixture, sent_media

from . import test_analyze_sources as _shared

pytestmark = pytest.mark.anyio


double = inproc_double_fixture()


media = _shared.media
media_server = _shared.media_server
allow_loopback = _shared.allow_loopback


@pytest.fixture(autouse=True)
def _agg():
    import matplotlib

    matplotlib.use("Agg")


def sent_image(double, index: int = 0):
    from PIL import Image

    parts = [
        p for p in double.requests[-1].json["messages"][0]["content"] if p["type"] == "image_url"
    ]
    raw = base64.b64decode(parts[index]["image_url"]["url"].split(",", 1)[1])
    im = Image.open(io.BytesIO(raw))
    im.load()
    return im


def image_objects(media: Path) -> dict[str, object]:
    import matplotlib.pyplot as plt
    import numpy as np
    from IPython.display import Image as IPyImage
    from PIL import Image

    fig, ax = plt.subplots(figsize=(12, 9), dpi=100)  # 1200x900 before tight bbox
    ax.plot([0, 1, 2], [2, 0, 1])
    rgba = Image.new("RGBA", (1600, 400), (255, 0, 0, 0))
    return {
        "pil": rgba,
        "numpy_rgb": np.random.default_rng(0).integers(0, 255, (1000, 500, 3), dtype=np.uint8),
        "numpy_gray_float": np.linspace(0, 1, 300 * 200, dtype=np.float32).reshape(300, 200),
        "matplotlib_figure": fig,
        "matplotlib_axes": ax,
        "bytes": (media / "photo.webp").read_bytes(),
        "bytearray": bytearray((media / "diagram.png").read_bytes()),
        "bytesio": io.BytesIO((media / "photo.jpg").read_bytes()),
        "path": media / "photo.jpg",
        "ipython_image_data": IPyImage(data=(media / "diagram.png").read_bytes()),
        "ipython_image_file": IPyImage(filename=str(media / "photo.jpg")),
    }


@pytest.mark.parametrize(
    "which",
    [
        "pil",
        "numpy_rgb",
        "numpy_gray_float",
        "matplotlib_figure",
        "matplotlib_axes",
        "bytes",
        "bytearray",
        "bytesio",
        "path",
        "ipython_image_data",
        "ipython_image_file",
    ],
)
async def test_analyze_image_from_notebook_objects(which, double, media):
    obj = image_objects(media)[which]
    before = sources.registered_count()
    r = await call_tool("analyze_image", {"image_path": obj, "question": "What is it?"})
    assert r.ok, r.text
    (m,) = double.requests[-1].media
    assert m["type"] == "image_url" and m["mime"] == "image/jpeg"
    im = sent_image(double)
    assert im.format == "JPEG" and max(im.size) <= 800 and im.mode in ("RGB", "L")
    want = {"path": "path", "ipython_image_file": "object"}.get(which, "object")
    assert r.meta["inputs"][0]["source"] == want
    assert sources.registered_count() == before  # call_tool's handles are released


async def test_transparent_pil_image_is_flattened_on_white(double, media):
    from PIL import Image

    img = Image.new("RGBA", (100, 50), (0, 0, 0, 0))
    r = await call_tool("analyze_image", {"image_path": img})
    assert r.ok, r.text
    px = sent_image(double).convert("RGB").getpixel((50, 25))
    assert min(px) > 240


async def test_image_paths_list_mixes_objects_and_strings(double, media):
    import numpy as np
    from PIL import Image

    r = await call_tool(
        "analyze_image",
        {
            "image_path": Image.new("RGB", (64, 64), "blue"),
            "image_paths": ["media/photo.jpg", np.zeros((32, 48), dtype=np.uint8)],
        },
    )
    assert r.ok, r.text
    assert [i["source"] for i in r.meta["inputs"]] == ["object", "path", "object"]
    assert sent_image(double, 2).size == (48, 32)


# ---- audio ----------------------------------------------------------------------------------------


def _tone(seconds: float = 0.5, rate: int = 16000):
    import numpy as np

    t = np.arange(int(seconds * rate), dtype=np.float32) / rate
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


@pytest.mark.parametrize("tool", ["analyze_audio", "speech_to_text"])
@pytest.mark.parametrize(
    "which", ["numpy_rate", "rate_numpy", "stereo", "ipython_audio", "bytesio", "ipython_file"]
)
async def test_audio_tools_from_notebook_objects(tool, which, double, media):
    import numpy as np
    from IPython.display import Audio

    tone = _tone()
    obj = {
        "numpy_rate": (tone, 16000),
        "rate_numpy": (16000, tone),
        "stereo": (np.stack([tone, tone], axis=1), 16000),
        "ipython_audio": Audio(tone, rate=16000),
        "bytesio": io.BytesIO((media / "speech.mp3").read_bytes()),
        "ipython_file": Audio(filename=str(media / "speech.flac")),
    }[which]
    r = await call_tool(tool, {"audio_path": obj})
    assert r.ok, r.text
    (m,) = double.requests[-1].media
    fmt = {"bytesio": "mp3", "ipython_file": "flac"}.get(which, "wav")
    assert m["type"] == "input_audio" and m["format"] == fmt
    if fmt == "wav":
        assert m["sniffed"] == "audio/wav"
        assert m["size"] >= 44 + 2 * len(tone)  # 16-bit PCM (x2 channels for stereo)


async def test_numpy_audio_without_rate_is_invalid_input(double):
    r = await call_tool("analyze_audio", {"audio_path": _tone()})
    assert r.code == "INVALID_INPUT" and "rate" in r.text
    assert r.text.startswith("audio_path:")
    assert double.requests == []


# ---- video ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["ipython_video_data", "ipython_video_file", "bytes", "path"])
async def test_analyze_video_from_notebook_objects(which, double, media):
    from IPython.display import Video

    clip = (media / "clip.mp4").read_bytes()
    obj = {
        "ipython_video_data": Video(clip, embed=True, mimetype="video/mp4"),
        "ipython_video_file": Video(str(media / "clip.mp4")),
        "bytes": clip,
        "path": media / "clip.mp4",
    }[which]
    r = await call_tool("analyze_video", {"video_path": obj})
    assert r.ok, r.text
    (m,) = double.requests[-1].media
    assert m["type"] == "video_url" and m["mime"] == "video/mp4" and m["size"] == len(clip)


async def test_ipython_objects_referring_to_paths_and_urls_go_through_the_guards(
    double, media, tmp_path
):
    from IPython.display import Image, Video

    outside = tmp_path / "outside.mp4"
    outside.write_bytes((media / "clip.mp4").read_bytes())
    r = await call_tool("analyze_video", {"video_path": Video(str(outside))})
    assert r.code == "UNSAFE_PATH"
    r = await call_tool("analyze_image", {"image_path": Image(url="http://169.254.169.254/x.png")})
    assert r.code == "UPSTREAM_REFUSED" and r.details["reason"] == "blocked_host"
    r = await call_tool("analyze_video", {"video_path": Image(filename=str(media / "photo.jpg"))})
    assert r.code == "UNSUPPORTED_FORMAT"
    assert double.requests == []


async def test_ipython_url_object_through_allowlisted_server(double, media_server, allow_loopback):
    from IPython.display import Image

    r = await call_tool("analyze_image", {"image_path": Image(url=f"{media_server}/photo.jpg")})
    assert r.ok, r.text
    assert double.requests[-1].media[0]["mime"] == "image/jpeg"


# ---- analyze_media, handles, odd values ------------------------------------------------------


async def test_analyze_media_with_objects(double, media):
    import matplotlib.pyplot as plt

    fig = plt.figure()
    plt.plot([1, 2, 3])
    r = await call_tool(
        "analyze_media",
        {"sources": [fig, (_tone(), 16000), media / "clip.webm", "media/speech.ogg"]},
    )
    assert r.ok, r.text
    assert sent_media(double) == [
        ("image_url", "image/jpeg"),
        ("input_audio", "wav"),
        ("video_url", "video/webm"),
        ("input_audio", "ogg"),
    ]
    assert [i["source"] for i in r.meta["inputs"]] == ["object", "object", "path", "path"]


async def test_explicit_handles_survive_calls_until_released(double, media):
    from PIL import Image

    img = Image.new("RGB", (40, 30), "green")
    h = sources.register_object(img)
    assert h.startswith("object://") and sources.is_object_handle(h)
    img.paste((255, 0, 0), (0, 0, 40, 30))  # a snapshot was taken at registration
    for _ in range(2):
        r = await call_tool("analyze_image", {"image_path": h})
        assert r.ok, r.text
        assert sent_image(double).convert("RGB").getpixel((20, 15))[1] > 100  # still green
    assert sources.release(h) is True
    r = await call_tool("analyze_image", {"image_path": h})
    assert r.code == "INVALID_INPUT" and "unknown or expired" in r.text
    assert len(double.requests) == 2


async def test_unusable_objects_are_errors_with_the_argument_name(double):
    r = await call_tool("analyze_image", {"image_path": object()})
    assert r.code == "INVALID_INPUT" and r.text.startswith("image_path")
    r = await call_tool("analyze_image", {"image_path": b"not an image at all"})
    assert r.code == "UNSUPPORTED_FORMAT" and r.text.startswith("image_path")
    r = await call_tool("analyze_media", {"sources": ["media/x.png", b""]})
    assert r.code == "INVALID_INPUT" and r.text.startswith("sources[1]")
    assert double.requests == []


async def test_numpy_scalars_are_plain_arguments(double, media):
    import numpy as np

    r = await call_tool(
        "analyze_image",
        {
            "image_path": "media/photo.jpg",
            "max_tokens": np.int64(64),
            "temperature": np.float32(0.5),
        },
    )
    assert r.ok, r.text
    assert double.requests[-1].json["max_tokens"] == 64


def test_sync_call_with_a_figure(double, media):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [3, 5])
    r = call_tool_sync("analyze_image", {"image_path": fig, "question": "Which bar is taller?"})
    assert r.ok, r.text
    assert "Which bar is taller?" in double.requests[-1].json["messages"][0]["content"][0]["text"]
