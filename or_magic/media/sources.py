"""Where media inputs come from: one loader for every tool that takes an image, audio or video.

``load_source(source, kind=..., settings=...)`` accepts

1. a local path (``str`` or ``os.PathLike``): input sandbox (``UNSAFE_PATH``), opened once and
   race-free (``paths.open_input``), size cap from ``fstat`` before a byte is read
   (``RESOURCE_TOO_LARGE``), and a *descriptor-backed* ``Blob`` (every later read goes through
   that descriptor): a 100 MB video is never read into memory here;
2. an ``http(s)://`` URL: the SSRF-guarded downloader (``UPSTREAM_REFUSED`` for blocked hosts,
   with the allowlist suggestion), optionally streamed into a temp file (``to_file=True``);
3. a ``data:`` URL: strict base64, declared type, size cap checked before decoding;
4. an ``object://<token>`` handle from ``register_object`` (notebook objects travelling through
   string-typed tool arguments), or a notebook object itself (PIL image, numpy array, matplotlib
   figure, bytes/BytesIO, ``pathlib.Path``, IPython ``Image``/``Audio``/``Video``; a
   ``(samples, rate)`` tuple for 1-D numpy audio). Objects that *refer* to a path or URL
   (``Path``, ``IPython.display.Video(filename=...)``) go through the sandbox / SSRF guard too.

Whatever the origin, the head is sniffed and the family required, so the returned ``Blob``'s
``mime`` is the type detected from the bytes (never the extension or a Content-Type). ISO-BMFF
files (MP4/MOV/M4A) are also walked box by box (headers only) so a truncated file is
``UNSUPPORTED_FORMAT`` here rather than a confusing provider error later.

Every error is a ``ToolError`` whose message is prefixed with ``label`` (``input_images[2]: ...``).
All of this happens before any request to OpenRouter.

The object registry (``register_object`` / ``release`` / ``is_object_handle``) is in-process only:
handles are unguessable ``secrets.token_urlsafe(16)`` tokens, converted to a ``Blob`` at
registration (a snapshot: changing the figure afterwards changes nothing), kept in an LRU capped at
``MAX_OBJECTS`` entries. MCP clients only send JSON, so they cannot create one.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ErrorCode, ToolError
from .blob import Blob
from .sniff import HEAD_BYTES, Kind, Sniffed, require
from .video import check_isobmff

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Settings
    from .objects import ObjectRef

SourceType = Literal["path", "url", "data_url", "object"]
KindArg = Kind | Iterable[Kind]

HANDLE_PREFIX = "object://"
MAX_OBJECTS = 64
_HANDLE_RE = re.compile(r"^object://[A-Za-z0-9_-]{16,64}$")
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
# When several families are acceptable, the fetch / stat check uses the most generous cap, and the
# family's own cap is checked once the bytes are sniffed.
_KIND_ORDER: tuple[Kind, ...] = ("video", "audio", "image")


# ---- the object registry -----------------------------------------------------------------------


@dataclass
class _Entry:
    value: Blob | ObjectRef
    kind_hint: Kind | None


_lock = threading.Lock()
_objects: OrderedDict[str, _Entry] = OrderedDict()


def is_object_handle(value: object) -> bool:
    """True for a string shaped like an ``object://<token>`` handle (registered or not)."""
    return isinstance(value, str) and bool(_HANDLE_RE.match(value.strip()))


def split_rate_tuple(obj: Any) -> tuple[Any, int | None]:
    """``(samples, rate)`` / ``(rate, samples)`` tuples (numpy audio) -> (samples, rate)."""
    if isinstance(obj, tuple) and len(obj) == 2:
        a, b = obj
        if _is_rate(b) and not _is_rate(a) and not isinstance(a, (str, bytes)):
            return a, int(b)
        if _is_rate(a) and not _is_rate(b) and not isinstance(b, (str, bytes)):
            return b, int(a)
    return obj, None


def _is_rate(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    try:
        import numbers

        return isinstance(v, numbers.Integral) and 1 <= int(v) <= 768_000
    except Exception:  # pragma: no cover
        return False


def _convert_object(
    obj: Any, kind_hint: Kind | None, max_dimension: int | None
) -> Blob | ObjectRef:
    from .objects import blob_from_object

    inner, rate = split_rate_tuple(obj)
    if isinstance(inner, tuple):
        raise ToolError(
            ErrorCode.INVALID_INPUT,
            "a tuple is not media; for audio samples pass (array, sample_rate)",
        )
    if rate is not None and kind_hint is None:
        kind_hint = "audio"
    out = blob_from_object(inner, kind_hint=kind_hint, rate=rate, max_dimension=max_dimension)
    if out is None:  # a plain str: the caller should have passed it as a string argument
        raise ToolError(ErrorCode.INVALID_INPUT, "a string is not an object; pass it directly")
    return out


def _default_max_dimension() -> int | None:
    try:
        from ..config import get_settings

        return get_settings().image_max_dimension
    except Exception:  # settings broken: the image pipeline shrinks later anyway
        return None


def register_object(obj: Any, *, kind_hint: Kind | None = None) -> str:
    """Convert a notebook object now and return an ``object://<token>`` handle for it.

    The handle can be passed wherever a tool takes a media path/URL string (in this process).
    ``obj`` may be anything ``blob_from_object`` accepts, or ``(samples, rate)`` for numpy
    audio (``(rate, samples)`` too). Raises ``ToolError`` (``INVALID_INPUT`` /
    ``UNSUPPORTED_FORMAT``) when it cannot be media. The newest ``MAX_OBJECTS`` handles are kept;
    ``release(handle)`` drops one sooner.
    """
    value = _convert_object(obj, kind_hint, _default_max_dimension())
    handle = HANDLE_PREFIX + secrets.token_urlsafe(16)
    with _lock:
        _objects[handle] = _Entry(value, kind_hint)
        while len(_objects) > MAX_OBJECTS:
            _, old = _objects.popitem(last=False)
            _close_entry(old)
    return handle


def _close_entry(entry: _Entry) -> None:
    if isinstance(entry.value, Blob):
        entry.value.close()


def release(handle: str) -> bool:
    """Forget a handle (and free its bytes); True when it was registered."""
    with _lock:
        entry = _objects.pop(handle.strip(), None) if isinstance(handle, str) else None
    if entry is None:
        return False
    _close_entry(entry)
    return True


def peek(handle: str) -> Any:
    """What a handle holds (a ``Blob`` or an ``ObjectRef``), without consuming it.

    Front-ends use it to label inputs (kind, mime) before the tool runs.
    """
    return _lookup(handle).value


def registered_count() -> int:
    with _lock:
        return len(_objects)


def _lookup(handle: str) -> _Entry:
    with _lock:
        entry = _objects.get(handle)
        if entry is not None:
            _objects.move_to_end(handle)
    if entry is None:
        raise ToolError(
            ErrorCode.INVALID_INPUT,
            "unknown or expired object handle (handles live only in the Python process that "
            f"created them, and only the newest {MAX_OBJECTS} are kept)",
            details={"reason": "unknown_handle"},
            suggestions=["Pass the object again (or register it again with register_object)"],
        )
    return entry


# ---- classification ------------------------------------------------------------------------------


def _is_http_url(s: str) -> bool:
    low = s[:8].lower()
    return low.startswith("http://") or low.startswith("https://")


def source_type(source: object) -> SourceType:
    """Which kind of source this is, without any I/O: ``path``/``url``/``data_url``/``object``."""
    if isinstance(source, str):
        s = source.strip()
        if s[:5].lower() == "data:":
            return "data_url"
        if _is_http_url(s):
            return "url"
        if is_object_handle(s):
            return "object"
        return "path"
    if isinstance(source, os.PathLike):
        return "path"
    return "object"


def _kinds(kind: KindArg) -> tuple[Kind, ...]:
    ks = (kind,) if isinstance(kind, str) else tuple(kind)
    for k in ks:
        if k not in ("image", "audio", "video"):
            raise ValueError(f"kind must be image, audio or video, got {k!r}")
    if not ks:
        raise ValueError("at least one kind is needed")
    return tuple(k for k in _KIND_ORDER if k in ks)


def _biggest(kinds: tuple[Kind, ...], settings: Settings) -> Kind:
    """The family with the most generous download cap (used until the bytes are sniffed)."""
    return max(kinds, key=lambda k: _cap(settings, k, "download"))


def _cap(settings: Settings, kind: Kind, what: str) -> int:
    return int(getattr(settings, f"{kind}_max_{what}_bytes"))


def _cap_var(kind: Kind, what: str) -> str:
    return f"OPENROUTER_{kind.upper()}_MAX_{what.upper()}_BYTES"


def _too_large(kind: Kind, size: int, cap: int, variable: str, what: str) -> ToolError:
    return ToolError(
        ErrorCode.RESOURCE_TOO_LARGE,
        f"{what} is {size} bytes, over the {kind} cap of {cap} bytes ({variable})",
        details={"size_bytes": size, "limit_bytes": cap},
        suggestions=[f"Use a smaller file or raise {variable}"],
    )


# ---- loading -------------------------------------------------------------------------------------


async def load_source(
    source: str | os.PathLike[str] | object,
    *,
    kind: KindArg,
    settings: Settings,
    to_file: bool = False,
    label: str = "source",
) -> Blob:
    """Load one media input as a ``Blob`` whose ``mime`` is the sniffed type (see module doc).

    ``kind`` is one family or several (``("image", "audio", "video")`` for a mixed list); the
    per-family caps are ``*_max_download_bytes`` (paths, URLs, objects) and
    ``*_max_data_url_bytes`` (data URLs). ``to_file`` streams URL downloads into a temp file.
    The caller owns the returned blob and should ``close()`` it (deletes temp files; harmless for
    the rest).
    """
    kinds = _kinds(kind)
    try:
        blob = await _load(source, kinds, settings, to_file)
        try:
            _check_blob(blob, kinds, settings, source_type(source))
        except BaseException:
            blob.close()
            raise
        return blob
    except ToolError as err:
        if label:
            err.with_prefix(label)
        raise


async def _load(source: Any, kinds: tuple[Kind, ...], settings: Settings, to_file: bool) -> Blob:
    if source is None:
        raise ToolError(ErrorCode.INVALID_INPUT, "no media given")
    if isinstance(source, str):
        s = source.strip()
        if not s:
            raise ToolError(ErrorCode.INVALID_INPUT, "is empty", details={"reason": "empty"})
        if s[:5].lower() == "data:":
            return _from_data_url(s, kinds, settings)
        if _is_http_url(s):
            return await _from_url(s, kinds, settings, to_file)
        if s.lower().startswith(HANDLE_PREFIX):
            if not is_object_handle(s):
                raise ToolError(ErrorCode.INVALID_INPUT, "malformed object handle")
            entry = _lookup(s)
            return await _from_converted(entry.value, kinds, settings, to_file)
        m = _SCHEME_RE.match(s)
        if m and len(m.group(1)) > 1 and s[len(m.group(0)) :].startswith("//"):
            raise ToolError(
                ErrorCode.INVALID_INPUT,
                f"only http(s) URLs, data: URLs and local paths are accepted, got {m.group(1)}:",
                details={"reason": "scheme", "scheme": m.group(1).lower()},
            )
        return _from_path(s, kinds, settings)
    if isinstance(source, os.PathLike):
        return _from_path(source, kinds, settings)
    hint = kinds[0] if len(kinds) == 1 else None
    max_dim = settings.image_max_dimension if "image" in kinds else None
    converted = _convert_object(source, hint, max_dim)
    return await _from_converted(converted, kinds, settings, to_file)


async def _from_converted(
    value: Blob | ObjectRef, kinds: tuple[Kind, ...], settings: Settings, to_file: bool
) -> Blob:
    if isinstance(value, Blob):
        # A view of the registered bytes: closing it never frees the registry's copy.
        if value.data is not None:
            return Blob(value.mime, data=value.data, name=value.name)
        return Blob(value.mime, path=value.path, size=value.size, name=value.name)
    want = kinds
    if value.media_kind is not None:
        if value.media_kind not in kinds:
            raise ToolError(
                ErrorCode.UNSUPPORTED_FORMAT,
                f"the object holds {value.media_kind}, not {' or '.join(kinds)}",
                details={"reason": "wrong_kind", "detected": value.media_kind},
            )
        want = (value.media_kind,)
    if value.kind == "url":
        if not _is_http_url(value.value.strip()):
            raise ToolError(ErrorCode.INVALID_INPUT, "the object's url is not an http(s) URL")
        return await _from_url(value.value.strip(), want, settings, to_file)
    return _from_path(value.value, want, settings)


def _from_data_url(url: str, kinds: tuple[Kind, ...], settings: Settings) -> Blob:
    from .dataurl import parse_data_url

    cap = max(_cap(settings, k, "data_url") for k in kinds)
    return parse_data_url(url, max_bytes=cap, kind=kinds)


async def _from_url(url: str, kinds: tuple[Kind, ...], settings: Settings, to_file: bool) -> Blob:
    from ..safety.fetch import fetch_url

    # The most generous family's caps and timeout; the sniffed family's cap is checked after.
    fetched = await fetch_url(
        url, kind=_biggest(kinds, settings), settings=settings, to_file=to_file
    )
    return fetched.blob


def _from_path(path: str | os.PathLike[str], kinds: tuple[Kind, ...], settings: Settings) -> Blob:
    """A descriptor-backed ``Blob`` for a local file: opened once inside the sandbox
    (``paths.open_input``: no symlink followed after the check, regular files only), sized from
    ``fstat`` and read through that descriptor only, so a file swapped after the check is never
    what gets sent."""
    from ..safety.paths import open_input

    f = open_input(path, settings, label="path")
    try:
        size, name = f.size, f.path.name
        # Checked from fstat alone: an over-cap file is refused without reading a byte of it.
        biggest = _biggest(kinds, settings)
        cap = _cap(settings, biggest, "download")
        if size > cap:
            err = _too_large(biggest, size, cap, _cap_var(biggest, "download"), name)
            if len(kinds) > 1:
                err.message = (
                    f"{name} is {size} bytes, over the cap of every accepted kind "
                    f"(largest: {biggest}, {cap} bytes, {_cap_var(biggest, 'download')})"
                )
            raise err
        if size == 0:
            raise ToolError(
                ErrorCode.INVALID_INPUT,
                f"{name} is empty (0 bytes)",
                details={"reason": "empty"},
            )
        return Blob("application/octet-stream", fd=f.fd, size=size, name=name)
    except BaseException:
        f.close()
        raise


def _check_blob(
    blob: Blob, kinds: tuple[Kind, ...], settings: Settings, origin: SourceType
) -> None:
    """Sniff, require the family, apply that family's cap, and set ``blob.mime``."""
    head = blob.head(HEAD_BYTES)
    s = _require_kind(head, kinds)
    blob.mime = _declared_twin(blob.mime, s, kinds)
    fam: Kind = blob.kind  # type: ignore[assignment]
    what = "data_url" if origin == "data_url" else "download"
    cap = _cap(settings, fam, what)
    if blob.size > cap:
        raise _too_large(fam, blob.size, cap, _cap_var(fam, what), blob.name or "the input")
    if s.fmt in ("mp4", "mov", "m4a"):
        check_isobmff(blob)


# Containers that may hold only audio although their head says video (an MP4 whose ``moov``
# follows ``mdat`` cannot be told apart from the head): acceptable where audio is wanted.
_DUAL_AUDIO = {"video/mp4": "audio/mp4", "video/webm": "audio/webm", "video/ogg": "audio/ogg"}


def _require_kind(head: bytes, kinds: tuple[Kind, ...]) -> Sniffed:
    """``require`` that lets a dual audio/video container count as audio when video is not wanted."""
    from .sniff import sniff

    s = sniff(head) if head else None
    if s is not None and s.kind not in kinds and "audio" in kinds and s.base_mime in _DUAL_AUDIO:
        return s
    return require(head, kinds)


def _declared_twin(current: str, s: Sniffed, kinds: tuple[Kind, ...]) -> str:
    """The sniffed MIME type, moved to the wanted family for dual containers."""
    from .dataurl import _DUAL, _DUAL_REV

    cur_base = current.split(";", 1)[0].strip().lower()
    if s.kind in kinds:
        # A data URL that declared the other family of a dual container keeps its declaration.
        twin = _DUAL.get(s.base_mime) == cur_base or _DUAL_REV.get(s.mime) == cur_base
        if twin and cur_base.split("/", 1)[0] in kinds:
            return current
        return s.mime
    return _DUAL_AUDIO[s.base_mime]  # only reachable through _require_kind's exception


__all__ = [
    "HANDLE_PREFIX",
    "MAX_OBJECTS",
    "SourceType",
    "check_isobmff",
    "is_object_handle",
    "load_source",
    "register_object",
    "registered_count",
    "release",
    "source_type",
]
