"""Image preparation for vision models: one JPEG, upright, no alpha, longest edge capped.

Pipeline (``prepare_image``): sniff -> header-only size check (bomb guard) -> JPEG ``draft``
(libjpeg scaled IDCT to the smallest 1/2, 1/4, 1/8 scale still >= the target) -> load -> mode
normalisation -> ``resize`` (Hamming for the < 2x left after draft; for big non-JPEG inputs an
integer box ``reduce`` first, then bicubic) -> flatten alpha onto white -> EXIF orientation applied to the small
image (cheaper than rotating the big one) -> JPEG encode. EXIF and other metadata are not copied
to the output (no GPS leaks to the provider).

Pillow is imported inside functions only; no global Pillow state is changed (``MAX_IMAGE_PIXELS``
and ``LOAD_TRUNCATED_IMAGES`` are left alone; our own pixel cap is checked per call).
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ErrorCode, ToolError
from .blob import Blob
from .sniff import HEAD_BYTES, require

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

    from ..config import Settings

# Largest image (in pixels) we decode. A decoded RGBA pixel costs 4 bytes, so this is ~400 MB of
# memory at worst. JPEGs are checked *after* draft scaling (a 200 MP JPEG decodes at 1/8 scale to
# ~3 MP), with a hard ceiling on their declared size as well.
DEFAULT_MAX_PIXELS = 100_000_000
JPEG_MAX_DECLARED_PIXELS = 1_000_000_000

# Sniffed ``fmt`` -> Pillow plugin name; passing ``formats=`` to ``Image.open`` stops Pillow from
# trying every other decoder on hostile input.
_PIL_FORMATS = {
    "jpeg": "JPEG",
    "png": "PNG",
    "gif": "GIF",
    "webp": "WEBP",
    "bmp": "BMP",
    "tiff": "TIFF",
    "ico": "ICO",
    "avif": "AVIF",
}
WHITE = (255, 255, 255)


# ---- header-only size -----------------------------------------------------------------------


def png_dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk, or None if ``data`` is not a PNG header."""
    if len(data) >= 24 and data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        w, h = struct.unpack(">II", data[16:24])
        return w, h
    return None


def _quick_dimensions(head: bytes) -> tuple[int, int] | None:
    """Dimensions straight from the first bytes for formats whose size sits at a fixed offset."""
    d = png_dimensions(head)
    if d:
        return d
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        return struct.unpack("<HH", head[6:10])
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and len(head) >= 30:
        chunk = head[12:16]
        if chunk == b"VP8X":
            w = int.from_bytes(head[24:27], "little") + 1
            h = int.from_bytes(head[27:30], "little") + 1
            return w, h
        if chunk == b"VP8L" and head[20] == 0x2F:
            bits = int.from_bytes(head[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
            w, h = struct.unpack("<HH", head[26:30])
            return w & 0x3FFF, h & 0x3FFF
    if head[:2] == b"BM" and len(head) >= 26 and int.from_bytes(head[14:18], "little") >= 40:
        w, h = struct.unpack("<ii", head[18:26])
        return abs(w), abs(h)
    return None


def _open_source(blob: Blob) -> Any:
    return str(blob.path) if blob.path is not None else io.BytesIO(blob.read_bytes())


def image_size(blob: Blob) -> tuple[int, int]:
    """Stored (width, height) from the header only (no pixel decoding; EXIF rotation ignored)."""
    head = blob.head(HEAD_BYTES)
    s = require(head, "image", name=blob.name)
    quick = _quick_dimensions(head)
    if quick:
        return quick
    from PIL import Image

    try:
        with Image.open(_open_source(blob), formats=_formats_for(s.fmt)) as im:
            return im.size
    except Image.DecompressionBombError as exc:
        raise _bomb(blob.name, None, DEFAULT_MAX_PIXELS, str(exc)) from None
    except Exception as exc:
        raise _corrupt(blob.name, exc) from None


# ---- full decode checks -----------------------------------------------------------------------

_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_INFLATE_STEP = 1 << 20  # discard inflated pixel rows in bounded steps (no bomb)


def png_integrity_error(chunks: Iterable[bytes]) -> str | None:
    """Why this PNG's bytes are corrupt (``None`` if every chunk and the pixel stream check out).

    Pillow's lazy decoder skips IDAT CRCs and stops inflating once it has the rows it wants, so
    flipped bytes in the pixel data decode "fine" and get re-encoded and sent. Here every chunk
    CRC is checked, and the IDAT zlib stream must inflate to its end (its Adler-32 included).
    """
    buf = bytearray()
    it = iter(chunks)
    inflater = zlib.decompressobj()
    seen_sig = seen_idat = ended = False

    def need(n: int) -> bool:
        while len(buf) < n:
            piece = next(it, None)
            if piece is None:
                return False
            buf.extend(piece)
        return True

    if not need(8) or bytes(buf[:8]) != _PNG_SIG:
        return "not a PNG signature"
    del buf[:8]
    seen_sig = True
    while seen_sig:
        if not need(8):
            return "the file ends before the IEND chunk"
        length = struct.unpack(">I", buf[:4])[0]
        ctype = bytes(buf[4:8])
        if length > 0x7FFFFFFF:
            return "a chunk length is out of range"
        if not need(12 + length):
            return f"the file ends inside a {ctype.decode('latin-1')!r} chunk"
        body = bytes(buf[8 : 8 + length])
        crc = struct.unpack(">I", buf[8 + length : 12 + length])[0]
        del buf[: 12 + length]
        if zlib.crc32(ctype + body) & 0xFFFFFFFF != crc:
            return f"CRC mismatch in a {ctype.decode('latin-1')!r} chunk"
        if ctype == b"IDAT":
            seen_idat = True
            data = body
            try:
                while data and not inflater.eof:
                    inflater.decompress(data, _INFLATE_STEP)
                    data = inflater.unconsumed_tail
            except zlib.error as exc:
                return f"corrupt pixel data ({exc})"
        elif ctype == b"IEND":
            ended = True
            break
    if not seen_idat:
        return "no pixel data (IDAT)"
    if ended and not inflater.eof:
        try:  # the stream may still be draining rows held back by the step size
            while not inflater.eof:
                out = inflater.decompress(inflater.unconsumed_tail, _INFLATE_STEP)
                if not out and not inflater.unconsumed_tail:
                    break
        except zlib.error as exc:
            return f"corrupt pixel data ({exc})"
    if not inflater.eof:
        return "the pixel data stream is incomplete"
    return None


def verify_image(blob: Blob, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    """Decode ``blob`` fully, or raise ``UNSUPPORTED_FORMAT`` / ``RESOURCE_TOO_LARGE``.

    For images sent as they are (reference and frame images): a corrupt file is refused here,
    before a paid request, instead of by the provider after it. JPEGs decode at 1/8 scale
    (every entropy-coded byte is still read), so this costs a fraction of a full decode.
    """
    head = blob.head(HEAD_BYTES)
    s = require(head, "image", name=blob.name)
    if s.fmt not in _PIL_FORMATS:
        return  # no decoder here to check it with (the provider may still take it)
    formats = _formats_for(s.fmt)
    quick = _quick_dimensions(head)
    if quick and quick[0] * quick[1] > max_pixels:
        raise _bomb(blob.name, quick, max_pixels)
    if s.fmt == "png":
        why = png_integrity_error(blob.iter_chunks())
        if why is not None:
            raise _corrupt_png(blob.name, why)
    from PIL import Image

    try:
        with Image.open(_open_source(blob), formats=formats) as im:
            if s.fmt == "jpeg":
                if im.size[0] * im.size[1] > JPEG_MAX_DECLARED_PIXELS:
                    raise _bomb(blob.name, im.size, JPEG_MAX_DECLARED_PIXELS)
                im.draft("RGB", (max(1, im.size[0] // 8), max(1, im.size[1] // 8)))
            if im.size[0] * im.size[1] > max_pixels:
                raise _bomb(blob.name, im.size, max_pixels)
            im.load()
    except ToolError:
        raise
    except (Image.DecompressionBombError, MemoryError) as exc:
        raise _bomb(blob.name, quick, max_pixels, str(exc)) from None
    except Exception as exc:
        raise _corrupt(blob.name, exc) from None


# ---- errors -------------------------------------------------------------------------------------


def _label(name: str | None) -> str:
    return f"{name}: " if name else ""


def _bomb(name: str | None, size: tuple[int, int] | None, cap: int, extra: str = "") -> ToolError:
    dims = f"{size[0]}x{size[1]} ({size[0] * size[1] / 1e6:.0f} megapixels)" if size else "image"
    return ToolError(
        ErrorCode.RESOURCE_TOO_LARGE,
        f"{_label(name)}{dims} is over the {cap / 1e6:.0f}-megapixel decode limit "
        "(possible decompression bomb)",
        details={
            "width": size[0] if size else None,
            "height": size[1] if size else None,
            "limit_pixels": cap,
            **({"reason": extra[:200]} if extra else {}),
        },
        suggestions=["Downscale the image before sending it"],
    )


def _corrupt(name: str | None, exc: BaseException) -> ToolError:
    return ToolError(
        ErrorCode.UNSUPPORTED_FORMAT,
        f"{_label(name)}truncated or corrupt image ({type(exc).__name__}: {str(exc)[:160]})",
        details={"reason": "corrupt"},
    )


def _corrupt_png(name: str | None, why: str) -> ToolError:
    return ToolError(
        ErrorCode.UNSUPPORTED_FORMAT,
        f"{_label(name)}corrupt PNG: {why}",
        details={"reason": "corrupt"},
        suggestions=["Re-export or re-download the image"],
    )


def _formats_for(fmt: str) -> list[str]:
    pil = _PIL_FORMATS.get(fmt)
    if pil is None:
        raise ToolError(
            ErrorCode.UNSUPPORTED_FORMAT,
            f"{fmt.upper()} images cannot be decoded here; convert to PNG or JPEG",
            details={"reason": "no_decoder", "format": fmt},
        )
    return [pil]


# ---- pipeline -----------------------------------------------------------------------------------


def _target(size: tuple[int, int], max_dimension: int) -> tuple[int, int]:
    w, h = size
    longest = max(w, h)
    if longest <= max_dimension:
        return w, h
    r = max_dimension / longest
    if w >= h:
        return max_dimension, max(1, round(h * r))
    return max(1, round(w * r)), max_dimension


def _normalise_mode(im: PILImage) -> PILImage:
    """One of L, LA, RGB, RGBA (palette transparency and 16-bit/float data handled)."""
    mode = im.mode
    if mode in ("L", "LA", "RGB", "RGBA"):
        return im
    if mode == "P":
        return im.convert("RGBA" if "transparency" in im.info else "RGB")
    if mode == "PA":
        return im.convert("RGBA")
    if mode == "1":
        return im.convert("L")
    if mode in ("La",):
        return im.convert("LA")
    if mode in ("RGBa", "RGBX"):
        return im.convert("RGBA" if mode == "RGBa" else "RGB")
    if mode.startswith("I") or mode == "F":
        # 16/32-bit or float greyscale: stretch the actual range onto 0..255 (convert("L") clips).
        if mode != "F":
            im = im.convert("I")
        lo, hi = im.getextrema()
        if hi > 255 or lo < 0 or mode == "F":
            span = float(hi - lo) or 1.0
            im = im.point(lambda v: (v - lo) * (255.0 / span))
        return im.convert("L")
    if "transparency" in im.info or mode.endswith("A"):
        return im.convert("RGBA")
    return im.convert("RGB")  # CMYK, YCbCr, LAB, HSV, ...


_TRANSPOSE = {2: 0, 3: 3, 4: 1, 5: 5, 6: 4, 7: 6, 8: 2}  # EXIF orientation -> Image.Transpose value


def _orientation(im: PILImage) -> int:
    try:
        o = im.getexif().get(0x0112, 1)
    except Exception:  # malformed EXIF must not sink the image
        return 1
    return o if isinstance(o, int) and o in _TRANSPOSE else 1


def prepare_image(
    blob: Blob,
    settings: Settings | None = None,
    *,
    max_dimension: int | None = None,
    quality: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Blob:
    """Re-encode any Pillow-readable image as an upright JPEG with longest edge <= max_dimension.

    ``max_dimension``/``quality`` default to ``settings`` (``OPENROUTER_IMAGE_MAX_DIMENSION`` /
    ``OPENROUTER_IMAGE_JPEG_QUALITY``), then to 800 / 80. Never upscales. Errors:
    ``UNSUPPORTED_FORMAT`` (not an image, undecodable, truncated), ``RESOURCE_TOO_LARGE`` (pixel
    bomb), ``INVALID_INPUT`` (empty).
    """
    if max_dimension is None:
        max_dimension = settings.image_max_dimension if settings is not None else 800
    if quality is None:
        quality = settings.image_jpeg_quality if settings is not None else 80
    quality = max(1, min(int(quality), 100))
    name = blob.name
    head = blob.head(HEAD_BYTES)
    s = require(head, "image", name=name)
    formats = _formats_for(s.fmt)

    quick = _quick_dimensions(head)
    if quick and quick[0] * quick[1] > max_pixels:
        raise _bomb(name, quick, max_pixels)
    if s.fmt == "png":  # Pillow's decoder would re-encode corrupt pixel data without a word
        why = png_integrity_error(blob.iter_chunks())
        if why is not None:
            raise _corrupt_png(name, why)

    from PIL import Image

    try:
        im = Image.open(_open_source(blob), formats=formats)
    except Image.DecompressionBombError as exc:
        raise _bomb(name, quick, max_pixels, str(exc)) from None
    except Exception as exc:
        raise _corrupt(name, exc) from None
    try:
        return _prepare_opened(im, s.fmt, name, max_dimension, quality, max_pixels)
    except ToolError:
        raise
    except MemoryError:
        raise _bomb(name, im.size, max_pixels, "out of memory") from None
    except Image.DecompressionBombError as exc:
        raise _bomb(name, im.size, max_pixels, str(exc)) from None
    except Exception as exc:
        if "too large" in str(exc).lower():  # e.g. PNG text chunk / ICC over Pillow's limits
            raise _bomb(name, im.size, max_pixels, str(exc)) from None
        raise _corrupt(name, exc) from None
    finally:
        im.close()


def _prepare_opened(
    im: PILImage, fmt: str, name: str | None, max_dimension: int, quality: int, max_pixels: int
) -> Blob:
    from PIL import Image

    size = im.size
    target = _target(size, max_dimension)
    if fmt == "jpeg":
        if size[0] * size[1] > JPEG_MAX_DECLARED_PIXELS:
            raise _bomb(name, size, JPEG_MAX_DECLARED_PIXELS)
        if target != size:
            im.draft("RGB", target)  # size >= target; DCT-domain downscale
    if im.size[0] * im.size[1] > max_pixels:
        raise _bomb(name, size, max_pixels)
    orientation = _orientation(im)
    # Animated GIF/WebP/APNG: a freshly opened image is positioned on frame 0, which is the one
    # we keep; load() decodes just that frame.
    im.load()
    out = _normalise_mode(im)
    if out.size != target:
        if max(out.size) < 2 * max(target):
            # Mild ratio (always the case after draft): a support-1 windowed sinc is enough
            # and costs ~40% less than bicubic (PSNR vs a Lanczos reference > 40 dB).
            out = out.resize(target, Image.Resampling.HAMMING)
        else:
            # Big ratio: integer box ``reduce`` to >= 3x the target (fast), then bicubic.
            out = out.resize(target, Image.Resampling.BICUBIC, reducing_gap=3.0)
    if out.mode in ("RGBA", "LA"):
        base = Image.new(out.mode[:-1], out.size, WHITE if out.mode == "RGBA" else 255)
        base.paste(out, mask=out.getchannel("A"))
        out = base
    if orientation != 1:
        out = out.transpose(Image.Transpose(_TRANSPOSE[orientation]))
    buf = io.BytesIO()
    # optimize=True (Huffman tables per image) saves ~1% here for +150% encode time: not worth it.
    out.save(buf, "JPEG", quality=quality)
    stem = Path(name).stem if name else "image"
    return Blob("image/jpeg", data=buf.getvalue(), name=f"{stem}.jpg")
