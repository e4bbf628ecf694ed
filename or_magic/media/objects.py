"""Notebook objects -> ``Blob`` (or an ``ObjectRef`` the caller routes through its guards).

Supported: PIL images, numpy arrays (images; 1-D/2-D audio with a sample rate), matplotlib figures
and axes, ``bytes``/``bytearray``/``memoryview``, ``io.BytesIO`` and binary file objects,
``pathlib.Path`` and IPython ``Image``/``Audio``/``Video`` display objects.

Nothing here reads a path or fetches a URL: objects that *refer* to one (``Path``, a display
object built with ``filename=`` or ``url=``) come back as ``ObjectRef`` so the caller sends them
through the input sandbox or the SSRF-guarded fetcher like any other path or URL argument.

numpy, PIL, matplotlib and IPython are imported only when the object's own type comes from them
(``type(obj).__module__``), so passing ``bytes`` never imports any of them.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import ErrorCode, ToolError
from .blob import Blob
from .sniff import _NOUN, HEAD_BYTES, Kind, describe, require, sniff

SUPPORTED = (
    "PIL.Image.Image, numpy arrays (HxW, HxWx3/4 images; 1-D/2-D audio with rate=), matplotlib "
    "Figure/Axes, bytes/bytearray/memoryview, io.BytesIO or a binary file object, pathlib.Path, "
    "IPython.display Image/Audio/Video, or a path / URL / data URL string"
)


@dataclass(frozen=True)
class ObjectRef:
    """A reference the caller must resolve itself: ``kind`` is ``path`` or ``url``."""

    kind: Literal["path", "url"]
    value: str
    media_kind: Kind | None = None


def _module(obj: Any) -> str:
    return type(obj).__module__ or ""


def _mro_modules(obj: Any) -> list[str]:
    return [c.__module__ or "" for c in type(obj).__mro__]


def _invalid(msg: str) -> ToolError:
    return ToolError(ErrorCode.INVALID_INPUT, msg, suggestions=[f"Supported: {SUPPORTED}"])


def blob_from_object(
    obj: Any,
    *,
    kind_hint: Kind | None = None,
    rate: int | None = None,
    max_dimension: int | None = None,
    name: str | None = None,
) -> Blob | ObjectRef | None:
    """Turn a notebook object into a ``Blob`` (or ``ObjectRef``; ``None`` for a plain ``str``).

    ``kind_hint`` checks the result's family (and resolves numpy ambiguity); ``rate`` is the
    sample rate for numpy audio. ``max_dimension`` lets PIL/numpy/matplotlib images be shrunk
    before the intermediate PNG is encoded (the image pipeline would shrink them anyway).
    Strings are not objects: the caller parses them as a path, URL or data URL.
    """
    if obj is None:
        raise _invalid("no media given (got None)")
    if isinstance(obj, str):
        return None
    if isinstance(obj, os.PathLike):
        return ObjectRef("path", os.fspath(obj), kind_hint)  # type: ignore[arg-type]
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return _from_bytes(bytes(obj), kind_hint, name)
    if isinstance(obj, io.BytesIO):
        return _from_bytes(obj.getvalue(), kind_hint, name)
    mods = _mro_modules(obj)
    mod = _module(obj)
    if any(m.startswith("PIL.") or m == "PIL" for m in mods):
        return _from_pil(obj, kind_hint, max_dimension, name)
    if mod.startswith("numpy"):
        return _from_numpy(obj, kind_hint, rate, max_dimension, name)
    if any(m.startswith("matplotlib") for m in mods):
        return _from_matplotlib(obj, kind_hint, max_dimension, name)
    if mod.startswith("IPython"):
        ref = _from_ipython(obj, kind_hint, name)
        if ref is not None:
            return ref
    if isinstance(obj, io.TextIOBase):
        raise _invalid("a text file object cannot be media; open the file in binary mode ('rb')")
    if hasattr(obj, "read") and callable(obj.read):
        data = obj.read()
        if isinstance(data, str):
            raise _invalid(
                "a text file object cannot be media; open the file in binary mode ('rb')"
            )
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise _invalid(f"{type(obj).__name__}.read() returned {type(data).__name__}, not bytes")
        fname = getattr(obj, "name", None)
        return _from_bytes(
            bytes(data),
            kind_hint,
            name or (os.path.basename(fname) if isinstance(fname, str) else None),
        )
    raise _invalid(f"cannot use {mod + '.' if mod else ''}{type(obj).__name__} as media")


# ---- bytes --------------------------------------------------------------------------------------


def _from_bytes(data: bytes, kind_hint: Kind | None, name: str | None) -> Blob:
    head = data[:HEAD_BYTES]
    if kind_hint is not None:
        s = require(head, kind_hint, name=name)
    else:
        if not data:
            raise ToolError(ErrorCode.INVALID_INPUT, f"{name + ': ' if name else ''}empty input")
        s = sniff(head)
        if s is None:
            raise ToolError(
                ErrorCode.UNSUPPORTED_FORMAT,
                f"{name + ': ' if name else ''}{describe(head)}, not a known image, audio or video format",
                details={"reason": "unknown_format"},
            )
    return Blob(s.mime, data=data, name=name)


def _check_kind(got: Kind, kind_hint: Kind | None, what: str) -> None:
    if kind_hint is not None and kind_hint != got:
        raise ToolError(
            ErrorCode.UNSUPPORTED_FORMAT,
            f"{what} is {_NOUN[got]}, not {_NOUN[kind_hint]}",
            details={"reason": "wrong_kind", "detected": got, "expected": [kind_hint]},
        )


# ---- images ---------------------------------------------------------------------------------------


def _png_blob(im: Any, max_dimension: int | None, name: str | None) -> Blob:
    """Encode a PIL image as PNG (fast compression: it is an intermediate, not an output)."""
    from PIL import Image, ImageOps

    im = ImageOps.exif_transpose(im)  # the orientation would be lost in the PNG otherwise
    if im.mode not in ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"):
        has_alpha = im.mode.endswith(("A", "a")) or "transparency" in im.info
        im = im.convert("RGBA" if has_alpha else "RGB")
    if max_dimension and max(im.size) > max_dimension:
        im = im.copy()
        im.thumbnail((max_dimension, max_dimension), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    im.save(buf, "PNG", compress_level=1)
    return Blob("image/png", data=buf.getvalue(), name=name or "image.png")


def _from_pil(
    obj: Any, kind_hint: Kind | None, max_dimension: int | None, name: str | None
) -> Blob:
    from PIL import Image

    if not isinstance(obj, Image.Image):
        raise _invalid(f"cannot use {_module(obj)}.{type(obj).__name__} as media")
    _check_kind("image", kind_hint, "a PIL image")
    return _png_blob(obj, max_dimension, name)


def _array_to_uint8(a: Any) -> Any:
    import numpy as np

    k = a.dtype.kind
    if k == "b":
        return a.astype(np.uint8) * 255
    if k == "f":
        a = np.nan_to_num(a.astype(np.float32, copy=False), nan=0.0, posinf=1.0, neginf=0.0)
        hi = float(a.max()) if a.size else 0.0
        scale = 1.0 if hi > 1.0 + 1e-6 else 255.0  # [0,1] floats, or 0..255 floats
        return np.clip(np.rint(a * scale), 0, 255).astype(np.uint8)
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.uint16:
        return (a >> 8).astype(np.uint8)
    if k in "iu":
        return np.clip(a, 0, 255).astype(np.uint8)
    raise _invalid(f"cannot use a {a.dtype} array as an image")


def _from_numpy(
    obj: Any, kind_hint: Kind | None, rate: int | None, max_dimension: int | None, name: str | None
) -> Blob:
    import numpy as np

    if not isinstance(obj, np.ndarray):
        raise _invalid(f"cannot use numpy {type(obj).__name__} as media")
    a = obj
    if a.size == 0:
        raise ToolError(ErrorCode.INVALID_INPUT, f"empty array (shape {a.shape})")
    audio = kind_hint == "audio" or a.ndim == 1 or (rate is not None and kind_hint != "image")
    if kind_hint == "video":
        raise _invalid("numpy arrays cannot be used as video; save the frames to a video file")
    if audio:
        if a.ndim > 2:
            raise _invalid(
                f"an audio array must be 1-D or (samples, channels); got shape {a.shape}"
            )
        if rate is None:
            raise ToolError(
                ErrorCode.INVALID_INPUT,
                f"a {a.ndim}-D numpy array looks like audio samples; pass the sample rate "
                "(e.g. rate=24000), or pass an HxW / HxWx3 array for an image",
                details={"reason": "missing_rate", "shape": list(a.shape)},
            )
        from .audio import numpy_to_wav

        return Blob("audio/wav", data=numpy_to_wav(a, rate), name=name or "audio.wav")
    from PIL import Image

    if a.ndim == 3 and a.shape[-1] not in (1, 2, 3, 4) and a.shape[0] in (1, 3, 4):
        a = np.moveaxis(a, 0, -1)  # channels-first (C, H, W)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] in (2, 3, 4))):
        raise _invalid(
            f"cannot use an array of shape {obj.shape} as an image (need HxW, HxWx3 or HxWx4)"
        )
    a = np.ascontiguousarray(_array_to_uint8(a))
    return _png_blob(Image.fromarray(a), max_dimension, name)  # L, LA, RGB or RGBA


# ---- matplotlib ---------------------------------------------------------------------------------


def _from_matplotlib(
    obj: Any, kind_hint: Kind | None, max_dimension: int | None, name: str | None
) -> Blob:
    fig = obj if hasattr(obj, "savefig") else getattr(obj, "figure", None)
    if fig is None or not hasattr(fig, "savefig"):
        raise _invalid(
            f"cannot use matplotlib {type(obj).__name__} as media (pass a Figure or Axes)"
        )
    _check_kind("image", kind_hint, "a matplotlib figure")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    blob = Blob("image/png", data=buf.getvalue(), name=name or "figure.png")
    if max_dimension:
        from PIL import Image

        with Image.open(io.BytesIO(blob.data)) as im:  # type: ignore[arg-type]
            if max(im.size) > max_dimension:
                return _png_blob(im, max_dimension, blob.name)
    return blob


# ---- IPython display objects ----------------------------------------------------------------


def _ipython_kind(obj: Any) -> Kind | None:
    for cls in type(obj).__mro__:
        n = cls.__name__
        if n in ("Image", "Audio", "Video"):
            return n.lower()  # type: ignore[return-value]
    return None


def _from_ipython(obj: Any, kind_hint: Kind | None, name: str | None) -> Blob | ObjectRef | None:
    kind = _ipython_kind(obj)
    if kind is None:
        return None
    _check_kind(kind, kind_hint, f"an IPython {kind.capitalize()}")
    filename = getattr(obj, "filename", None)
    url = getattr(obj, "url", None)
    # A reference wins over data IPython may have read/fetched itself: the caller's sandbox and
    # SSRF guard must see it.
    if isinstance(filename, str) and filename:
        return ObjectRef("path", filename, kind)
    if isinstance(url, str) and url:
        return ObjectRef("url", url, kind)
    data = getattr(obj, "data", None)
    if isinstance(data, str):
        if kind == "video":  # IPython keeps embedded video given as str as base64 text
            try:
                data = base64.b64decode(data, validate=False)
            except (binascii.Error, ValueError):
                raise _invalid("IPython Video data is a string but not base64") from None
        else:
            raise _invalid(f"IPython {kind.capitalize()} holds text, not {kind} bytes")
    if not isinstance(data, (bytes, bytearray, memoryview)) or not data:
        raise ToolError(
            ErrorCode.INVALID_INPUT, f"the IPython {kind.capitalize()} object holds no data"
        )
    return _from_bytes(bytes(data), kind, name)
