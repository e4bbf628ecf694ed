"""Image pipeline: orientation, alpha, sizing, animation, bombs, corrupt input, quality."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from or_magic.config import Settings
from or_magic.errors import ErrorCode, ToolError
from or_magic.media.blob import Blob
from or_magic.media.image import image_size, png_dimensions, prepare_image

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def blob(name: str) -> Blob:
    return Blob.from_path(FIX / name)


def decode(b: Blob) -> Image.Image:
    assert b.mime == "image/jpeg"
    im = Image.open(io.BytesIO(b.read_bytes()))
    assert im.format == "JPEG"
    im.load()
    return im


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    import numpy as np

    assert a.size == b.size
    return float(np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)).mean())


def test_exif_rotated_photo_comes_out_upright() -> None:
    upright = decode(prepare_image(blob("photo.jpg"), max_dimension=300))
    rotated = decode(prepare_image(blob("photo-exif-rotated.jpg"), max_dimension=300))
    assert image_size(blob("photo-exif-rotated.jpg")) == (600, 512)  # stored sideways
    assert upright.size == rotated.size == (256, 300)
    assert mean_abs_diff(upright, rotated) < 6.0
    # Sanity: without rotation the images would differ a lot.
    assert mean_abs_diff(upright, rotated.transpose(Image.Transpose.FLIP_TOP_BOTTOM)) > 20


def test_alpha_flattened_onto_white() -> None:
    src = Image.open(FIX / "diagram.png")
    assert src.mode == "RGBA"
    alpha = src.getchannel("A")
    # Find a fully transparent pixel and check it is white in the output (same size: no resize).
    xy = next(
        (x, y) for y in range(0, 400, 7) for x in range(0, 640, 7) if alpha.getpixel((x, y)) == 0
    )
    out = decode(prepare_image(blob("diagram.png"), max_dimension=800))
    assert out.size == (640, 400) and out.mode == "RGB"
    assert all(c >= 245 for c in out.getpixel(xy))  # type: ignore[union-attr]


def test_palette_transparency_flattened() -> None:
    im = Image.new("P", (40, 40), 0)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    im.paste(1, (0, 0, 20, 40))
    buf = io.BytesIO()
    im.save(buf, "PNG", transparency=0)
    out = decode(prepare_image(Blob("image/png", data=buf.getvalue())))
    assert all(c >= 245 for c in out.getpixel((35, 20)))  # type: ignore[union-attr]
    r, g, b = out.getpixel((5, 20))  # type: ignore[misc]
    assert r > 200 and g < 60 and b < 60


def test_large_input_fits_max_dimension() -> None:
    src = Image.open(FIX / "photo.jpg").convert("RGB").resize((3000, 2000))
    buf = io.BytesIO()
    src.save(buf, "JPEG", quality=90)
    out = decode(prepare_image(Blob("image/jpeg", data=buf.getvalue()), max_dimension=800))
    assert out.size == (800, 533)
    portrait = src.transpose(Image.Transpose.ROTATE_90)
    buf = io.BytesIO()
    portrait.save(buf, "PNG")
    out = decode(prepare_image(Blob("image/png", data=buf.getvalue()), max_dimension=640))
    assert out.size == (427, 640)


def test_no_upscale_for_small_input() -> None:
    out = decode(prepare_image(blob("photo.jpg"), max_dimension=2000))
    assert out.size == (512, 600)
    assert decode(prepare_image(blob("animated.gif"))).size == (120, 80)


def test_settings_supply_defaults() -> None:
    out = decode(prepare_image(blob("photo.jpg"), Settings(image_max_dimension=100)))
    assert max(out.size) == 100
    assert max(decode(prepare_image(blob("photo.jpg"))).size) == 600  # 800 default, no upscale


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (64, 48), c) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def test_animated_gif_first_frame() -> None:
    data = _animated_gif()
    assert Image.open(io.BytesIO(data)).n_frames == 3
    out = decode(prepare_image(Blob("image/gif", data=data)))
    r, g, b = out.getpixel((32, 24))  # type: ignore[misc]
    assert r > 230 and g < 30 and b < 30
    # The fixture (4 frames, a 2-entry all-black palette) goes through without trouble too.
    assert decode(prepare_image(blob("animated.gif"))).size == (120, 80)


def test_animated_webp_first_frame() -> None:
    frames = [Image.new("RGB", (64, 48), c) for c in ((0, 0, 255), (255, 0, 0))]
    buf = io.BytesIO()
    frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    out = decode(prepare_image(Blob("image/webp", data=buf.getvalue())))
    r, _g, b = out.getpixel((32, 24))  # type: ignore[misc]
    assert b > 230 and r < 30


def test_webp_input() -> None:
    assert decode(prepare_image(blob("photo.webp"), max_dimension=300)).size == (256, 300)


def test_bomb_rejected_fast_without_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import ImageFile

    def no_decoding(self, *a, **k):  # 400 Mpx would take seconds and gigabytes
        raise AssertionError("the bomb's pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ToolError) as ei:
        prepare_image(blob("bomb.png"))
    assert ei.value.code == ErrorCode.RESOURCE_TOO_LARGE
    assert "20000x20000" in ei.value.message


def test_bomb_guard_does_not_depend_on_pillow_global(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with pytest.raises(ToolError) as ei:
        prepare_image(blob("bomb.png"))
    assert ei.value.code == ErrorCode.RESOURCE_TOO_LARGE
    with pytest.raises(ToolError) as ei:
        prepare_image(blob("photo.jpg"), max_pixels=1000)
    assert ei.value.code == ErrorCode.RESOURCE_TOO_LARGE


def test_truncated_jpeg_is_unsupported_format() -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    with pytest.raises(ToolError) as ei:
        prepare_image(blob("truncated.jpg"))
    assert ei.value.code == ErrorCode.UNSUPPORTED_FORMAT
    assert "truncated or corrupt image" in ei.value.message
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_corrupt_png_is_unsupported_format() -> None:
    data = (FIX / "diagram.png").read_bytes()
    with pytest.raises(ToolError) as ei:
        prepare_image(Blob("image/png", data=data[:2000], name="cut.png"))
    assert ei.value.code == ErrorCode.UNSUPPORTED_FORMAT
    bad_header = data[:16] + b"\xff" * 8 + data[24:]  # IHDR claims 4-gigapixel-wide image
    with pytest.raises(ToolError) as ei:
        prepare_image(Blob("image/png", data=bad_header, name="bad.png"))
    assert ei.value.code in (ErrorCode.RESOURCE_TOO_LARGE, ErrorCode.UNSUPPORTED_FORMAT)


@pytest.mark.parametrize(
    "name,code",
    [
        ("not-really.png", ErrorCode.UNSUPPORTED_FORMAT),
        ("page-as-image.jpg", ErrorCode.UNSUPPORTED_FORMAT),
        ("speech.wav", ErrorCode.UNSUPPORTED_FORMAT),
        ("empty.wav", ErrorCode.INVALID_INPUT),
    ],
)
def test_non_images(name: str, code: ErrorCode) -> None:
    with pytest.raises(ToolError) as ei:
        prepare_image(blob(name))
    assert ei.value.code == code
    assert ei.value.message.startswith(name)


def test_svg_not_decodable() -> None:
    with pytest.raises(ToolError) as ei:
        prepare_image(Blob("image/svg+xml", data=b"<svg xmlns='http://www.w3.org/2000/svg'/>"))
    assert ei.value.code == ErrorCode.UNSUPPORTED_FORMAT and "SVG" in ei.value.message


def test_quality_parameter_respected() -> None:
    hi = prepare_image(blob("photo.jpg"), quality=95)
    lo = prepare_image(blob("photo.jpg"), quality=30)
    assert lo.size < hi.size * 0.7


def test_other_modes() -> None:
    cases = {
        "L": Image.new("L", (50, 30), 128),
        "LA": Image.new("LA", (50, 30), (0, 0)),
        "CMYK": Image.new("CMYK", (50, 30), (0, 0, 0, 0)),
        "I;16": Image.new("I;16", (50, 30), 40000),
        "1": Image.new("1", (50, 30), 1),
    }
    for mode, im in cases.items():
        buf = io.BytesIO()
        im.save(buf, "TIFF")
        out = decode(prepare_image(Blob("image/tiff", data=buf.getvalue())))
        assert out.size == (50, 30), mode
        assert out.mode in ("L", "RGB"), mode
    la = decode(prepare_image(_png(cases["LA"])))
    assert la.getpixel((10, 10)) >= 245  # transparent grey -> white


def _png(im: Image.Image) -> Blob:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return Blob("image/png", data=buf.getvalue())


def test_output_has_no_exif() -> None:
    out = decode(prepare_image(blob("photo-exif-rotated.jpg")))
    assert not out.getexif()


def test_image_size_and_png_dimensions() -> None:
    assert image_size(blob("bomb.png")) == (20000, 20000)
    assert image_size(blob("photo.jpg")) == (512, 600)
    assert image_size(blob("photo.webp")) == (512, 600)
    assert image_size(blob("animated.gif")) == (120, 80)
    assert png_dimensions((FIX / "diagram.png").read_bytes()[:64]) == (640, 400)
    assert png_dimensions(b"GIF89a") is None


def test_in_memory_and_file_backed_agree() -> None:
    data = (FIX / "photo.jpg").read_bytes()
    a = prepare_image(Blob("image/jpeg", data=data), max_dimension=200)
    b = prepare_image(blob("photo.jpg"), max_dimension=200)
    assert a.read_bytes() == b.read_bytes()
    assert b.name == "photo.jpg"
