"""Notebook objects -> Blob / ObjectRef."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from or_magic.errors import ErrorCode, ToolError
from or_magic.media.audio import wav_info
from or_magic.media.objects import ObjectRef, blob_from_object

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def png_image(b) -> Image.Image:
    assert b.mime == "image/png"
    im = Image.open(io.BytesIO(b.read_bytes()))
    im.load()
    return im


def test_pil_image_keeps_alpha() -> None:
    im = Image.new("RGBA", (30, 20), (255, 0, 0, 0))
    out = png_image(blob_from_object(im))
    assert out.size == (30, 20) and out.mode == "RGBA" and out.getpixel((0, 0))[3] == 0


def test_pil_image_exif_orientation_applied() -> None:
    im = Image.open(FIX / "photo-exif-rotated.jpg")
    assert png_image(blob_from_object(im)).size == (512, 600)


def test_pil_cmyk_and_max_dimension() -> None:
    im = Image.new("CMYK", (2000, 1000))
    out = png_image(blob_from_object(im, max_dimension=500))
    assert out.size == (500, 250) and out.mode == "RGB"


def test_numpy_image_uint8_and_float() -> None:
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[..., 0] = 255
    out = png_image(blob_from_object(rgb))
    assert out.size == (30, 20) and out.getpixel((5, 5)) == (255, 0, 0)
    gray = np.full((10, 12), 0.5, np.float32)
    out = png_image(blob_from_object(gray))
    assert out.mode == "L" and out.getpixel((0, 0)) == 128
    rgba = np.ones((8, 8, 4), np.float64)
    assert png_image(blob_from_object(rgba)).mode == "RGBA"
    chw = np.zeros((3, 16, 24), np.uint8)
    assert png_image(blob_from_object(chw)).size == (24, 16)
    assert png_image(blob_from_object(np.zeros((5, 6), bool))).size == (6, 5)


def test_numpy_audio_with_rate() -> None:
    b = blob_from_object(np.zeros(16000, np.float32), rate=16000)
    assert b.mime == "audio/wav"  # type: ignore[union-attr]
    assert wav_info(b.read_bytes()) == (16000, 1, 16, 16000)  # type: ignore[union-attr]
    stereo = blob_from_object(np.zeros((100, 2)), rate=8000)
    assert wav_info(stereo.read_bytes()).channels == 2  # type: ignore[union-attr]


def test_numpy_1d_without_rate() -> None:
    with pytest.raises(ToolError) as ei:
        blob_from_object(np.zeros(100))
    assert ei.value.code == ErrorCode.INVALID_INPUT
    assert "sample rate" in ei.value.message


@pytest.mark.parametrize("arr", [np.zeros((5, 6, 7)), np.zeros((2, 2, 2, 2)), np.zeros((0, 3))])
def test_numpy_bad_shapes(arr: np.ndarray) -> None:
    with pytest.raises(ToolError) as ei:
        blob_from_object(arr)
    assert ei.value.code == ErrorCode.INVALID_INPUT


def test_matplotlib_figure_and_axes() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1, 2], [1, 3, 2])
    try:
        out = png_image(blob_from_object(fig))
        assert 200 < out.size[0] <= 400 and 150 < out.size[1] <= 300  # dpi 100, tight bbox
        assert png_image(blob_from_object(ax)).size == out.size
        assert max(png_image(blob_from_object(fig, max_dimension=100)).size) == 100
        with pytest.raises(ToolError) as ei:
            blob_from_object(fig, kind_hint="audio")
        assert ei.value.code == ErrorCode.UNSUPPORTED_FORMAT
    finally:
        plt.close(fig)


def test_bytes_like_and_file_objects() -> None:
    data = (FIX / "speech.flac").read_bytes()
    for obj in (data, bytearray(data), memoryview(data), io.BytesIO(data)):
        b = blob_from_object(obj)
        assert b.mime == "audio/flac" and b.read_bytes() == data  # type: ignore[union-attr]
    with open(FIX / "clip.webm", "rb") as f:
        b = blob_from_object(f)
    assert b.mime == "video/webm" and b.name == "clip.webm"  # type: ignore[union-attr]
    with open(FIX / "clip.webm", encoding="latin-1") as f, pytest.raises(ToolError) as ei:
        blob_from_object(f)
    assert "binary mode" in ei.value.message


def test_bytes_errors_and_kind_hint() -> None:
    with pytest.raises(ToolError) as ei:
        blob_from_object(b"")
    assert ei.value.code == ErrorCode.INVALID_INPUT
    with pytest.raises(ToolError) as ei:
        blob_from_object(b"just some text")
    assert ei.value.code == ErrorCode.UNSUPPORTED_FORMAT
    with pytest.raises(ToolError) as ei:
        blob_from_object((FIX / "speech.mp3").read_bytes(), kind_hint="image")
    assert ei.value.code == ErrorCode.UNSUPPORTED_FORMAT


def test_path_and_str() -> None:
    ref = blob_from_object(FIX / "photo.jpg", kind_hint="image")
    assert ref == ObjectRef("path", str(FIX / "photo.jpg"), "image")
    assert blob_from_object("photo.jpg") is None  # strings are parsed by the caller


def test_ipython_image() -> None:
    from IPython.display import Image as IImage

    data = (FIX / "photo.jpg").read_bytes()
    b = blob_from_object(IImage(data=data))
    assert b.mime == "image/jpeg" and b.read_bytes() == data  # type: ignore[union-attr]
    ref = blob_from_object(IImage(filename=str(FIX / "photo.jpg")))
    assert ref == ObjectRef("path", str(FIX / "photo.jpg"), "image")
    ref = blob_from_object(IImage(url="https://example.com/cat.png", embed=False))
    assert ref == ObjectRef("url", "https://example.com/cat.png", "image")


def test_ipython_audio() -> None:
    from IPython.display import Audio

    b = blob_from_object(Audio(data=np.sin(np.arange(800) / 5.0), rate=8000))
    assert b.mime == "audio/wav" and wav_info(b.read_bytes()).rate == 8000  # type: ignore[union-attr]
    wav = (FIX / "speech.wav").read_bytes()
    assert blob_from_object(Audio(data=wav)).read_bytes() == wav  # type: ignore[union-attr]
    assert blob_from_object(Audio(filename=str(FIX / "speech.mp3"))) == ObjectRef(
        "path", str(FIX / "speech.mp3"), "audio"
    )
    assert blob_from_object(Audio(url="https://example.com/a.mp3")) == ObjectRef(
        "url", "https://example.com/a.mp3", "audio"
    )
    with pytest.raises(ToolError):
        blob_from_object(Audio(data=wav), kind_hint="video")


def test_ipython_video() -> None:
    from IPython.display import Video

    data = (FIX / "clip.mp4").read_bytes()
    b = blob_from_object(Video(data, embed=True, mimetype="video/mp4"))
    assert b.mime == "video/mp4" and b.read_bytes() == data  # type: ignore[union-attr]
    import base64

    b = blob_from_object(Video(base64.b64encode(data).decode(), embed=True, mimetype="video/mp4"))
    assert b.read_bytes() == data  # type: ignore[union-attr]
    assert blob_from_object(Video(str(FIX / "clip.mp4"))) == ObjectRef(
        "path", str(FIX / "clip.mp4"), "video"
    )
    assert blob_from_object(Video("https://example.com/v.mp4")) == ObjectRef(
        "url", "https://example.com/v.mp4", "video"
    )


@pytest.mark.parametrize("obj", [object(), 42, {"a": 1}, [1, 2], None])
def test_unsupported_objects(obj: object) -> None:
    with pytest.raises(ToolError) as ei:
        blob_from_object(obj)
    assert ei.value.code == ErrorCode.INVALID_INPUT
    assert "Supported" in " ".join(ei.value.suggestions)


def test_importing_media_is_light() -> None:
    code = (
        "import sys, or_magic.media as m\n"
        "m.blob_from_object(b'\\x89PNG\\r\\n\\x1a\\n' + bytes(30))\n"
        "m.sniff(b'ID3\\x04')\n"
        "bad = [x for x in ('PIL', 'numpy', 'matplotlib', 'IPython') if x in sys.modules]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
