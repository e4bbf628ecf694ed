"""Turn a SOURCE word of ``%%openrouter analyze`` (or ``--ref``/``--first-frame``) into a string
the tools accept: a path, an http(s) URL, or a ``data:`` URL built from a notebook object.

A word that names a notebook variable (``img``, ``figs[0]``, ``data['photo']``) is looked up; its
value may be a path/URL string or an object (PIL image, numpy array, matplotlib figure, bytes,
IPython Image/Audio/Video, pathlib.Path), converted by ``or_magic.media.objects``. Validation,
size caps, sandboxing and the SSRF guard stay in the tool core; this module only converts.
"""

from __future__ import annotations

import mimetypes
import os
from dataclasses import dataclass
from typing import Any

from ._interp import is_missing, resolve

_AUDIO_EXT = (".opus", ".m4a", ".flac", ".aac", ".oga", ".ogg", ".wav", ".mp3", ".aiff", ".aif")
_VIDEO_EXT = (".webm", ".mkv", ".mov", ".mp4", ".mpeg", ".mpg", ".m4v", ".avi")


@dataclass
class Source:
    label: str  # what the user wrote (variable name or path)
    value: str  # path, URL or data URL
    kind: str  # image | audio | video
    mime: str | None = None
    from_object: bool = False


def _kind_of_mime(mime: str | None) -> str | None:
    if not mime:
        return None
    from ..media.sniff import kind_of_mime

    return kind_of_mime(mime)


def kind_of_string(value: str, default: str = "image") -> tuple[str, str | None]:
    """Media kind of a path / URL / data URL, from its declared type, extension or bytes."""
    v = value.strip()
    if v[:5].lower() == "data:":
        mime = v[5:].split(";", 1)[0].split(",", 1)[0].strip() or None
        return _kind_of_mime(mime) or default, mime
    path = v.split("?", 1)[0].split("#", 1)[0]
    low = path.lower()
    if low.endswith(_AUDIO_EXT):
        return "audio", mimetypes.guess_type(path)[0]
    if low.endswith(_VIDEO_EXT):
        return "video", mimetypes.guess_type(path)[0]
    mime, _ = mimetypes.guess_type(path)
    kind = _kind_of_mime(mime)
    if kind is None and v and "://" not in v:
        # Sniffed through the input sandbox (the tool reads the same file the same way): a path
        # outside the root is not even peeked at here.
        try:
            from ..config import get_settings
            from ..errors import ToolError
            from ..media.sniff import sniff
            from ..safety.paths import open_input

            f = open_input(v, get_settings())
        except (ToolError, OSError, ValueError):
            f = None
        if f is not None:
            try:
                s = sniff(os.pread(f.fd, 8192, 0) if hasattr(os, "pread") else os.read(f.fd, 8192))
            except OSError:
                s = None
            finally:
                f.close()
            if s is not None:
                kind, mime = s.kind, s.mime
    return kind or default, mime


def to_source(word: str, ns: Any, *, default_kind: str = "image") -> Source:
    """Resolve ``word``: a variable of the notebook or else a literal path/URL/data URL."""
    value = resolve(word, ns) if ns is not None else None
    if ns is None or is_missing(value):
        kind, mime = kind_of_string(word, default_kind)
        return Source(label=word, value=word, kind=kind, mime=mime)
    if isinstance(value, str):
        kind, mime = kind_of_string(value, default_kind)
        return Source(label=word, value=value, kind=kind, mime=mime)
    from ..media.objects import ObjectRef
    from ..media.sources import register_object

    hint = default_kind if default_kind in ("audio", "video") else None
    handle = register_object(value, kind_hint=hint)  # an object:// handle every tool accepts
    kind, mime = default_kind, None
    try:
        from ..media.sources import peek

        held = peek(handle)
        if isinstance(held, ObjectRef):
            kind, mime = kind_of_string(held.value, held.media_kind or default_kind)
            kind = held.media_kind or kind
        else:
            mime = held.mime
            kind = _kind_of_mime(mime) or default_kind
    except Exception:  # pragma: no cover - an expired handle: trust the hint
        pass
    return Source(label=word, value=handle, kind=kind, mime=mime, from_object=True)
