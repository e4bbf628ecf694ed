"""Media the double produces and inspects: PNGs, PCM tones, WAV, padded MP4 streams, sniffing.

Everything is stdlib (zlib + struct), deterministic, and cheap: PNG rows are identical inside a
band and use the PNG "Up" filter, so a 4K image compresses as runs of zeros in milliseconds.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import math
import re
import struct
import zlib
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ASSETS = Path(__file__).parent / "assets"
PCM_RATE = 24_000


@functools.lru_cache(maxsize=8)
def asset_bytes(name: str) -> bytes:
    """Bytes of a shipped asset (speech.mp3, speech.opus, clip.mp4)."""
    return (ASSETS / name).read_bytes()


def digest(*parts: Any) -> bytes:
    h = hashlib.sha256()
    for p in parts:
        h.update(repr(p).encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.digest()


# ---- PNG --------------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int, height: int, seed: bytes, bands: int = 8) -> bytes:
    """A real RGB PNG of ``width``×``height``: horizontal colour bands derived from ``seed``."""
    if width < 1 or height < 1:
        raise ValueError("PNG dimensions must be positive")
    comp = zlib.compressobj(1)
    out = [comp.compress(b"")]
    bands = max(1, min(bands, height))
    zero_row = b"\x02" + bytes(width * 3)  # filter "Up" with zero deltas = repeat previous row
    for b in range(bands):
        y0 = b * height // bands
        y1 = (b + 1) * height // bands
        rows = y1 - y0
        if rows <= 0:
            continue
        r, g, bl = seed[(3 * b) % 30], seed[(3 * b + 1) % 30], seed[(3 * b + 2) % 30]
        first = b"\x00" + bytes((r, g, bl)) * width
        out.append(comp.compress(first))
        left = rows - 1
        block = 256
        while left > 0:
            n = min(block, left)
            out.append(comp.compress(zero_row * n))
            left -= n
    out.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", b"".join(out))
        + _chunk(b"IEND", b"")
    )


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG header (used by tests and the image endpoints)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    return struct.unpack(">II", data[16:24])


# Pixel sizes at 1K (openrouter-api.md §3.1); other ratios keep ~1 MP, rounded to 16.
ASPECT_1K: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "2:3": (832, 1248),
    "3:2": (1248, 832),
    "3:4": (864, 1184),
    "4:3": (1184, 864),
    "4:5": (896, 1152),
    "5:4": (1152, 896),
    "9:16": (768, 1344),
    "16:9": (1344, 768),
    "21:9": (1536, 672),
}
SIZE_SCALE = {"0.5K": 0.5, "512": 0.5, "1K": 1.0, "2K": 2.0, "4K": 4.0}
_RATIO = re.compile(r"^(\d{1,3}):(\d{1,3})$")


def image_dims(aspect_ratio: str | None, image_size: str | None) -> tuple[int, int]:
    """Pixel size for an aspect ratio + size word; raises ``ValueError`` on nonsense."""
    scale = SIZE_SCALE.get(image_size or "1K")
    if scale is None:
        raise ValueError(f"unknown image size {image_size!r}")
    ratio = aspect_ratio or "1:1"
    if ratio == "auto":
        ratio = "1:1"
    if ratio in ASPECT_1K:
        w, h = ASPECT_1K[ratio]
    else:
        m = _RATIO.match(ratio)
        if not m or int(m.group(1)) == 0 or int(m.group(2)) == 0:
            raise ValueError(f"unknown aspect ratio {aspect_ratio!r}")
        a, b = int(m.group(1)), int(m.group(2))
        w = max(16, round(math.sqrt(1024 * 1024 * a / b) / 16) * 16)
        h = max(16, round(w * b / a / 16) * 16)
    return max(1, int(w * scale)), max(1, int(h * scale))


def svg(width: int, height: int, seed: bytes, text: str) -> bytes:
    colour = seed[:3].hex()
    safe = "".join(c for c in text[:60] if c.isalnum() or c in " .,-")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><rect width="100%" height="100%" fill="#{colour}"/>'
        f'<text x="16" y="48" font-size="32">offline double: {safe}</text></svg>'
    ).encode()


# ---- audio ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def pcm_tone(seconds: float, freq: float, rate: int = PCM_RATE) -> bytes:
    """Mono 16-bit little-endian sine with 10 ms fades, deterministic."""
    n = max(1, int(seconds * rate))
    fade = max(1, min(n // 2, rate // 100))
    step = 2 * math.pi * freq / rate
    amp = 0.25 * 32767
    samples = array("h", bytes(2 * n))
    for i in range(n):
        env = min(1.0, i / fade, (n - 1 - i) / fade)
        samples[i] = int(amp * env * math.sin(step * i))
    if samples.itemsize == 2 and array("h", [1]).tobytes() != b"\x01\x00":  # big-endian host
        samples.byteswap()
    return samples.tobytes()


def tone_freq(seed: bytes) -> float:
    """A pleasant frequency (220–660 Hz) chosen by the prompt's hash."""
    return 220.0 + (int.from_bytes(seed[:2], "big") % 441)


def wav(pcm: bytes, rate: int = PCM_RATE, channels: int = 1, bits: int = 16) -> bytes:
    byte_rate = rate * channels * bits // 8
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(pcm),
        b"WAVE",
        b"fmt ",
        16,
        1,
        channels,
        rate,
        byte_rate,
        channels * bits // 8,
        bits,
        b"data",
        len(pcm),
    )
    return header + pcm


def wav_duration(head: bytes, total_size: int) -> float | None:
    """Duration of a WAV from its first bytes (chunks walked until ``data``); None if not WAV."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos = 12
    byte_rate = 0
    while pos + 8 <= len(head):
        cid, size = struct.unpack("<4sI", head[pos : pos + 8])
        if cid == b"fmt " and pos + 16 <= len(head):
            byte_rate = struct.unpack("<I", head[pos + 16 : pos + 20])[0]
        if cid == b"data":
            if not byte_rate:
                return None
            avail = max(0, total_size - pos - 8)
            return round(min(size, avail) / byte_rate, 3)
        pos += 8 + size + (size & 1)
    return None


def audio_chunks(total: int, target: int = 4802) -> list[int]:
    """Chunk lengths for streamed audio that sum to ``total`` and are never a multiple of 3.

    So every chunk's base64 ends in padding, and a client that joins the base64 strings before
    decoding (instead of decoding per chunk) gets corrupt audio, as with the real API.
    """
    if target % 3 == 0:
        target += 1
    sizes: list[int] = []
    left = total
    while left > 0:
        n = min(target, left)
        if n % 3 == 0:
            n -= 2  # leaves 2 (or target-ish) bytes for the next chunk, neither divisible by 3
        sizes.append(n)
        left -= n
    return sizes


# ---- video ------------------------------------------------------------------------------------


def mp4_stream(total_size: int, chunk: int = 1 << 20) -> Iterator[bytes]:
    """A valid MP4 of exactly ``total_size`` bytes: the shipped clip plus a trailing ``free`` box.

    Generated lazily in ``chunk``-sized pieces, so a 256 MiB download never sits in memory.
    """
    clip = asset_bytes("clip.mp4")
    pad = total_size - len(clip)
    if pad == 0:
        yield clip
        return
    if pad < 8:
        raise ValueError(f"video_content_bytes must be at least {len(clip) + 8}")
    if pad < 2**32:
        box = struct.pack(">I4s", pad, b"free")
    else:
        box = struct.pack(">I4sQ", 1, b"free", pad)
    yield clip
    yield box
    left = pad - len(box)
    zeros = bytes(min(chunk, left)) if left > 0 else b""
    while left > 0:
        n = min(chunk, left)
        yield zeros if n == len(zeros) else zeros[:n]
        left -= n


# ---- inspection -------------------------------------------------------------------------------

_MAGIC: list[tuple[int, bytes, str]] = [
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"%PDF", "application/pdf"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"OggS", "audio/ogg"),
    (0, b"fLaC", "audio/flac"),
    (0, b"\x1a\x45\xdf\xa3", "video/webm"),
    (0, b"\x00\x00\x01\xba", "video/mpeg"),
]


def sniff(head: bytes) -> str | None:
    """MIME type from magic bytes, or None (only what the double needs to report)."""
    for off, magic, mime in _MAGIC:
        if head[off : off + len(magic)] == magic:
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "audio/aiff"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B "):
            return "audio/mp4"
        if brand == b"qt  ":
            return "video/quicktime"
        return "video/mp4"
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] & 0x18) != 0x08:
        return "audio/mpeg"
    if head[:2] == b"\xff\xf1" or head[:2] == b"\xff\xf9":
        return "audio/aac"
    return None


class Elided(str):
    """Stand-in for a huge base64 string of a big request body: remembers size and head bytes.

    The double never keeps megabytes of base64 around; handlers read ``decoded_size``/``head``
    through :func:`b64_info`, which works the same for ordinary strings.
    """

    decoded_size: int
    head: bytes

    def __new__(cls, text: str, decoded_size: int, head: bytes) -> Elided:
        obj = super().__new__(cls, text)
        obj.decoded_size = decoded_size
        obj.head = head
        return obj


def b64_info(s: str, head_len: int = 64) -> tuple[int, bytes]:
    """(decoded size, first bytes) of a base64 string without decoding all of it."""
    if isinstance(s, Elided):
        return s.decoded_size, s.head[:head_len]
    t = s.strip()
    if any(c in t for c in " \r\n\t"):
        t = "".join(t.split())
    pad = len(t) - len(t.rstrip("="))
    size = max(0, len(t) * 3 // 4 - pad)
    n = min(len(t), ((head_len + 2) // 3) * 4)
    try:
        head = base64.b64decode(t[:n] + "=" * (-n % 4), validate=False)[:head_len]
    except (binascii.Error, ValueError):
        head = b""
    return size, head


def parse_data_url(url: str) -> tuple[str, bool, str] | None:
    """``data:<mime>[;...][;base64],<payload>`` → (mime, is_base64, payload); None if not one."""
    if not url.startswith("data:"):
        return None
    if isinstance(url, Elided):
        meta = url[5:].split(",", 1)[0]
        return (meta.split(";")[0] or "text/plain"), True, url
    meta, sep, payload = url[5:].partition(",")
    if not sep:
        return None
    parts = meta.split(";")
    return (parts[0] or "text/plain"), "base64" in parts[1:], payload


def decode_b64(s: str) -> bytes:
    """Full decode (only for payloads the double really needs, e.g. small audio)."""
    if isinstance(s, Elided):
        return s.head
    try:
        return base64.b64decode("".join(s.split()) + "=" * (-len(s.strip()) % 4))
    except (binascii.Error, ValueError):
        return b""


# ---- media parts of request bodies -------------------------------------------------------------

_PAYLOAD_KEY = {
    "image_url": "image_url",
    "input_image": "image_url",
    "video_url": "video_url",
    "input_video": "video_url",
    "audio_url": "audio_url",
}


def _url_entry(kind: str, url: Any, extra: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": kind, "mime": None, "size": None, "url": None, "sniffed": None}
    if isinstance(url, str):
        parsed = parse_data_url(url)
        if parsed is None:
            entry["url"] = url
        else:
            mime, is_b64, payload = parsed
            entry["mime"] = mime
            if is_b64:
                entry["size"], head = b64_info(payload)
                entry["sniffed"] = sniff(head)
            else:
                entry["size"] = len(payload)
    entry.update(extra)
    return entry


def _audio_entry(payload: dict[str, Any], kind: str = "input_audio") -> dict[str, Any]:
    # the format word's MIME type is API vocabulary the client knows too: one table for both
    from ..media.sniff import mime_for_audio_fmt

    fmt = payload.get("format")
    entry: dict[str, Any] = {
        "type": kind,
        "mime": mime_for_audio_fmt(fmt) if isinstance(fmt, str) else None,
        "size": None,
        "url": None,
        "sniffed": None,
        "format": fmt,
    }
    data = payload.get("data")
    if isinstance(data, str):
        if data.startswith("data:"):  # not allowed upstream, but report what was sent
            parsed = parse_data_url(data)
            data = parsed[2] if parsed else data
        entry["size"], head = b64_info(data)
        entry["sniffed"] = sniff(head)
    return entry


def summarise_media(obj: Any) -> list[dict[str, Any]]:
    """Every media part in a request body: type, mime, decoded size (or url), sniffed type."""
    out: list[dict[str, Any]] = []

    def walk(node: Any, depth: int) -> None:
        if depth > 16:
            return
        if isinstance(node, list):
            for item in node:
                walk(item, depth + 1)
            return
        if not isinstance(node, dict):
            return
        kind = node.get("type")
        if isinstance(kind, str) and kind in _PAYLOAD_KEY:
            payload = node.get(_PAYLOAD_KEY[kind])
            if not isinstance(payload, dict):
                payload = node.get("image") if kind == "image_url" else None  # legacy shape
            url = payload.get("url") if isinstance(payload, dict) else payload
            extra = {k: node[k] for k in ("frame_type",) if k in node}
            if isinstance(payload, dict) and "detail" in payload:
                extra["detail"] = payload["detail"]
            out.append(_url_entry(kind, url, extra))
            return
        if kind == "input_audio" and isinstance(node.get("input_audio"), dict):
            out.append(_audio_entry(node["input_audio"]))
            return
        if kind == "file" and isinstance(node.get("file"), dict):
            f = node["file"]
            entry = _url_entry("file", f.get("file_data"), {"filename": f.get("filename")})
            if f.get("file_id") and entry["url"] is None and entry["size"] is None:
                entry["url"] = f"file_id:{f['file_id']}"
            out.append(entry)
            return
        for key, value in node.items():
            if key == "input_audio" and isinstance(value, dict) and "data" in value:
                out.append(_audio_entry(value))  # /audio/transcriptions body
            elif isinstance(value, (dict, list)):
                walk(value, depth + 1)

    walk(obj, 0)
    return out


_BIG_B64 = re.compile(
    rb'"((?:data:[A-Za-z0-9.+/-]{1,100}(?:;[A-Za-z0-9=.+-]{1,100})*;base64,)?)([A-Za-z0-9+/]{65536,}={0,2})"'
)
_PLACEHOLDER = "__or_magic_elided_{}__"


def parse_big_json(buf: bytes | bytearray) -> Any:
    """Parse a large JSON body with every base64 run ≥ 64 KiB replaced by an :class:`Elided`.

    The regex finds the runs in the raw bytes, so the big strings are never built as ``str``
    objects; the caller can drop ``buf`` afterwards and keep only the summary.
    """
    import json

    table: dict[str, Elided] = {}
    parts: list[bytes] = []
    last = 0
    for i, m in enumerate(_BIG_B64.finditer(buf)):
        parts.append(bytes(buf[last : m.start()]))
        key = _PLACEHOLDER.format(i)
        prefix = m.group(1).decode("ascii")
        run = m.group(2)
        pad = len(run) - len(run.rstrip(b"="))
        size = len(run) * 3 // 4 - pad
        head = base64.b64decode(bytes(run[:96]))
        table[key] = Elided(f"{prefix}<{len(run)} base64 chars elided>", size, head)
        parts.append(b'"' + key.encode() + b'"')
        last = m.end()
    if not table:
        return json.loads(buf)
    parts.append(bytes(buf[last:]))
    doc = json.loads(b"".join(parts))

    def restore(node: Any) -> Any:
        if isinstance(node, str):
            return table.get(node, node)
        if isinstance(node, list):
            return [restore(x) for x in node]
        if isinstance(node, dict):
            return {k: restore(v) for k, v in node.items()}
        return node

    return restore(doc)
