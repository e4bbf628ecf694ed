"""Strict ``data:`` URL parsing with the size cap enforced before any decoding.

Rules (chosen here, tested in ``tests/media/test_dataurl.py``):

* Shape ``data:<type>/<subtype>[;param=value...];base64,<payload>``; the *last* parameter must be
  ``base64`` (any case). A non-base64 (percent-encoded) data URL is ``INVALID_INPUT``.
* Payload alphabet: standard base64 only (``A-Z a-z 0-9 + /``, ``=`` padding at the very end).
  ASCII whitespace (space, tab, CR, LF) is tolerated and removed - line-wrapped base64 is common in
  pasted text. base64url (``-``/``_``), percent-escapes and anything else are ``INVALID_INPUT``.
  Missing ``=`` padding is accepted (it is unambiguous); a length of ``4n+1`` is not.
* Size: the decoded size is computed from the payload length, never by decoding. A payload more
  than 10% (+64 chars) over the encoded length of the cap is rejected from its raw length alone,
  instantly, whitespace or not; otherwise the exact decoded length is checked. Over the cap is
  ``RESOURCE_TOO_LARGE``.
* Type: the payload is sniffed. Unknown content, or content whose family differs from the declared
  type (an ``image/png`` data URL holding an MP3) is ``UNSUPPORTED_FORMAT`` - the URL is
  well-formed, its content is not what it claims. Containers that hold both audio and video
  (MP4, WebM, Matroska, Ogg) may be declared as either family. ``application/octet-stream`` or an
  empty type means "sniff it".
* Large payloads (over ``spool_bytes``) are decoded in chunks into a temp file (``Blob`` with
  ``cleanup=True``), so a 100 MB video is not also held as 75 MB of decoded bytes in memory.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

from ..errors import ErrorCode, ToolError
from .blob import Blob, base64_len
from .sniff import HEAD_BYTES, Kind, describe, kind_of_mime, require, sniff

_MIME_RE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
_WS_RE = re.compile(r"[ \t\r\n]")
_BAD_RE = re.compile(r"[^A-Za-z0-9+/=]")
_WS_TABLE = {ord(c): None for c in " \t\r\n"}
# Containers whose audio/video split cannot be judged from the head; declared family wins.
_DUAL = {
    "video/mp4": "audio/mp4",
    "video/webm": "audio/webm",
    "video/x-matroska": "audio/x-matroska",
    "video/ogg": "audio/ogg",
    "video/3gpp": "audio/3gpp",
}
_DUAL_REV = {v: k for k, v in _DUAL.items()}
_DUAL_REV["audio/ogg; codecs=opus"] = "video/ogg"
SPOOL_BYTES = 8 << 20
_CHUNK_CHARS = 4 * (1 << 20)  # multiple of 4: decoded independently


def is_data_url(value: object) -> bool:
    """Cheap check: a string that starts with ``data:`` (any case)."""
    return isinstance(value, str) and value[:5].lower() == "data:"


def split_data_url(url: str) -> tuple[str, list[str], int]:
    """(lower-cased MIME or "", parameters, index of the payload) of a base64 data URL.

    Raises ``INVALID_INPUT`` for anything but ``data:...;base64,``.
    """
    if not is_data_url(url):
        raise ToolError(ErrorCode.INVALID_INPUT, "not a data URL (must start with 'data:')")
    comma = url.find(",", 5, 5 + 1024)
    if comma < 0:
        raise ToolError(ErrorCode.INVALID_INPUT, "malformed data URL: no ',' after the media type")
    header = url[5:comma]
    parts = [p.strip() for p in header.split(";")]
    mime = parts[0].lower()
    params = parts[1:]
    if not params or params[-1].lower() != "base64":
        raise ToolError(
            ErrorCode.INVALID_INPUT,
            "data URL must be base64-encoded ('data:<type>;base64,<payload>')",
            details={"reason": "not_base64"},
        )
    if mime and not _MIME_RE.match(mime):
        raise ToolError(ErrorCode.INVALID_INPUT, f"malformed data URL media type {mime[:60]!r}")
    for p in params[:-1]:
        if "=" not in p:
            raise ToolError(ErrorCode.INVALID_INPUT, f"malformed data URL parameter {p[:60]!r}")
    return mime, params[:-1], comma + 1


def _decoded_len(chars: int, pad: int) -> int:
    """Decoded size of ``chars`` base64 characters ending in ``pad`` '=' (padding optional)."""
    full, rest = divmod(chars, 4)
    return full * 3 - pad if rest == 0 else full * 3 + rest - 1


def _bad_payload(msg: str) -> ToolError:
    return ToolError(
        ErrorCode.INVALID_INPUT,
        f"malformed data URL: {msg}",
        details={"reason": "bad_base64"},
        suggestions=["Encode the payload with standard base64 (A-Z a-z 0-9 + /, '=' padding)"],
    )


def _check_alphabet(src: str, off: int) -> None:
    m = _BAD_RE.search(src, off)
    if m is not None:
        ch = m.group(0)
        hint = " (base64url is not accepted)" if ch in "-_" else ""
        raise _bad_payload(f"invalid base64 character {ch!r} at offset {m.start() - off}{hint}")
    eq = src.find("=", off)
    if eq >= 0 and (eq < len(src) - 2 or src[eq:].strip("=")):
        raise _bad_payload("'=' padding in the middle of the payload")
    if (len(src) - off) % 4 == 1:
        raise _bad_payload("truncated payload (length 4n+1)")


def _decode(chunk: str) -> bytes:
    try:
        return base64.b64decode(chunk + "=" * (-len(chunk) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _bad_payload(str(exc)) from None


def parse_data_url(
    url: str,
    *,
    max_bytes: int,
    kind: Kind | Iterable[Kind] | None = None,
    name: str | None = None,
    spool_bytes: int = SPOOL_BYTES,
    spool_dir: str | os.PathLike[str] | None = None,
) -> Blob:
    """Decode a base64 data URL into a ``Blob`` whose ``mime`` is the sniffed type.

    ``kind`` (optional) additionally requires a family (``"image"``, ``("audio", "video")``).
    Errors: ``INVALID_INPUT`` (shape, alphabet, empty), ``RESOURCE_TOO_LARGE`` (over
    ``max_bytes``, decided before decoding), ``UNSUPPORTED_FORMAT`` (unknown or mismatched content).
    """
    declared, _params, off = split_data_url(url)
    label = name or "data URL"
    cap_chars = base64_len(max_bytes)
    raw_len = len(url) - off
    if raw_len > cap_chars + cap_chars // 10 + 64:
        raise _too_large(label, raw_len * 3 // 4, max_bytes, approx=True)
    src = url
    if _WS_RE.search(url, off):  # only then is a (whitespace-free) copy made
        src, off = url[off:].translate(_WS_TABLE), 0
    chars = len(src) - off
    if chars == 0:
        raise ToolError(
            ErrorCode.INVALID_INPUT, f"{label}: empty data URL payload", details={"reason": "empty"}
        )
    _check_alphabet(src, off)
    size = _decoded_len(chars, len(src) - len(src.rstrip("=")))
    if size > max_bytes:
        raise _too_large(label, size, max_bytes)

    head = _decode(src[off : off + 4 * (HEAD_BYTES // 3 + 1)])[:HEAD_BYTES]
    mime = _check_type(head, declared, kind, label)
    if size <= spool_bytes:
        return Blob(mime, data=_decode(src[off:]), name=name)
    return _spool(src, off, mime, name, spool_dir)


def _too_large(label: str, size: int, cap: int, approx: bool = False) -> ToolError:
    about = "about " if approx else ""
    return ToolError(
        ErrorCode.RESOURCE_TOO_LARGE,
        f"{label}: {about}{size} bytes decoded, over the {cap}-byte data URL cap",
        details={"size_bytes": size, "limit_bytes": cap, "approximate": approx},
        suggestions=[
            "Pass a file path or an http(s) URL instead of a data URL, or raise the "
            "OPENROUTER_*_MAX_DATA_URL_BYTES cap"
        ],
    )


def _check_type(head: bytes, declared: str, kind: Kind | Iterable[Kind] | None, label: str) -> str:
    """The MIME type to use: sniffed, or its declared-family twin for dual containers."""
    s = sniff(head)
    if s is None:
        raise ToolError(
            ErrorCode.UNSUPPORTED_FORMAT,
            f"{label}: declared {declared or 'no type'} but the payload is {describe(head)}",
            details={"reason": "unknown_format", "declared": declared or None},
        )
    mime = s.mime
    declared_kind = kind_of_mime(declared) if declared else None
    if declared and declared != "application/octet-stream" and declared_kind != s.kind:
        if declared_kind == "audio" and s.base_mime in _DUAL:
            mime = _DUAL[s.base_mime]
        elif declared_kind == "video" and s.mime in _DUAL_REV:
            mime = _DUAL_REV[s.mime]
        else:
            raise ToolError(
                ErrorCode.UNSUPPORTED_FORMAT,
                f"{label}: declared {declared} but the payload is {s.base_mime}",
                details={"reason": "type_mismatch", "declared": declared, "detected": s.base_mime},
            )
    if kind is not None:
        want = (kind,) if isinstance(kind, str) else tuple(kind)
        got = mime.split("/", 1)[0]
        if got not in want:
            require(head, want, name=label)  # raises with the standard wording when it can
            raise ToolError(
                ErrorCode.UNSUPPORTED_FORMAT,
                f"{label}: {mime.split(';')[0]} is not {' or '.join(want)}",
                details={"reason": "wrong_kind", "detected": mime, "expected": list(want)},
            )
    return mime


def _spool(src: str, off: int, mime: str, name: str | None, spool_dir: object) -> Blob:
    """Decode ``src[off:]`` chunk by chunk into a temp file owned by the returned blob."""
    fd, tmp = tempfile.mkstemp(prefix="or_magic-", suffix=".bin", dir=spool_dir)  # type: ignore[arg-type]
    try:
        with os.fdopen(fd, "wb") as f:
            for i in range(off, len(src), _CHUNK_CHARS):
                f.write(_decode(src[i : i + _CHUNK_CHARS]))
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Blob(mime, path=Path(tmp), name=name, cleanup=True)


def to_data_url(blob: Blob, *, limit: int | None = None) -> str:
    """``data:<mime>;base64,...`` of a blob (``limit`` refuses big ones: RESOURCE_TOO_LARGE)."""
    return blob.data_url(limit=limit)
