"""Cheap video helpers: ISO-BMFF signature and duration from ``mvhd`` without a decoder.

The duration walk reads only box headers (seeking over ``mdat``), so it is O(number of top-level
boxes) even for a 100 MB file-backed ``Blob``.
"""

from __future__ import annotations

import struct
from typing import IO

from .blob import Blob
from .sniff import sniff

_TOP_LEVEL_LIMIT = 64  # boxes we are willing to walk before giving up


def mp4_has_signature(data: bytes) -> bool:
    """True for ISO-BMFF/QuickTime video (``ftyp``, or an old QuickTime leading atom)."""
    s = sniff(data[:8192])
    return s is not None and s.fmt in ("mp4", "mov") and s.kind == "video"


def _parse_mvhd(body: bytes) -> float | None:
    if len(body) < 20:
        return None
    version = body[0]
    if version == 1:
        if len(body) < 32:
            return None
        timescale, duration = struct.unpack(">IQ", body[20:32])
    else:
        timescale, duration = struct.unpack(">II", body[12:20])
    if not timescale or duration in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
        return None
    return duration / timescale


def _boxes(f: IO[bytes], start: int, end: int | None):
    """(type, body_offset, body_size) of the boxes in [start, end)."""
    pos = start
    for _ in range(_TOP_LEVEL_LIMIT):
        if end is not None and pos + 8 > end:
            return
        f.seek(pos)
        hdr = f.read(16)
        if len(hdr) < 8:
            return
        size, typ = struct.unpack(">I4s", hdr[:8])
        hlen = 8
        if size == 1:
            if len(hdr) < 16:
                return
            size = struct.unpack(">Q", hdr[8:16])[0]
            hlen = 16
        elif size == 0:  # to the end of the file
            f.seek(0, 2)
            size = f.tell() - pos
        if size < hlen:
            return
        yield typ, pos + hlen, size - hlen
        pos += size


def mp4_duration(blob: Blob) -> float | None:
    """Duration in seconds from ``moov/mvhd``, or None when absent/unreadable (never raises)."""
    import io

    try:
        f: IO[bytes] = (
            io.BytesIO(blob.data) if blob.data is not None else open(blob.path, "rb")  # type: ignore[arg-type]  # noqa: SIM115
        )
    except OSError:
        return None
    with f:
        try:
            for typ, off, size in _boxes(f, 0, None):
                if typ == b"moov":
                    for sub, soff, ssize in _boxes(f, off, off + size):
                        if sub == b"mvhd":
                            f.seek(soff)
                            return _parse_mvhd(f.read(min(ssize, 32)))
                    return None
        except (OSError, struct.error, ValueError):
            return None
    return None
