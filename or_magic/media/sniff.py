"""Format detection from magic bytes (never from extensions or Content-Type).

``sniff(head)`` looks at the first few KB (``HEAD_BYTES``) and returns a ``Sniffed`` or ``None``.
It is pure byte inspection: no Pillow, no numpy, no I/O, so it is cheap enough to run on every
input and output. Detection is deliberately strict where false positives are likely: a bare MPEG
audio frame sync must have no reserved bits *and* (when the head is long enough) be followed by a
second valid frame header where the first frame's length predicts, so random bytes starting with
``FF Ex`` are not "MP3".

Known limits (documented, tested): a file that is cut short after its header still sniffs as its
format (``truncated.mp4`` is ``video/mp4``) - decoders report the damage later; an MP4 whose
``moov`` sits after ``mdat`` cannot be told audio-only from the head, so it is ``video/mp4`` unless
its brand says ``M4A``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from ..errors import ErrorCode, ToolError

Kind = Literal["image", "audio", "video"]

# How many leading bytes callers should hand to ``sniff`` (enough for WebM track headers and an
# MP4 ``moov`` box at the front of a small file; everything else needs far less).
HEAD_BYTES = 8192

# OpenRouter ``input_audio.format`` words.
AUDIO_FORMATS: tuple[str, ...] = ("wav", "mp3", "aiff", "aac", "ogg", "flac", "m4a")
# Video containers OpenRouter accepts as ``video_url`` data URLs.
VIDEO_FORMATS: tuple[str, ...] = ("mp4", "mov", "webm", "mpeg")


@dataclass(frozen=True)
class Sniffed:
    """What the bytes are: ``kind`` family, canonical ``mime``, ``ext`` (with dot), ``fmt`` word.

    ``fmt`` is the OpenRouter ``input_audio.format`` word for audio, the container for video
    (``mp4, mov, webm, mpeg``; also ``mp2t, mkv, avi, ogg``) and the codec name for images.
    """

    kind: Kind
    mime: str
    ext: str
    fmt: str

    @property
    def base_mime(self) -> str:
        """``mime`` without parameters (``audio/ogg; codecs=opus`` -> ``audio/ogg``)."""
        return self.mime.split(";", 1)[0].strip()


def _s(kind: Kind, mime: str, ext: str, fmt: str) -> Sniffed:
    return Sniffed(kind, mime, ext, fmt)


JPEG = _s("image", "image/jpeg", ".jpg", "jpeg")
PNG = _s("image", "image/png", ".png", "png")
GIF = _s("image", "image/gif", ".gif", "gif")
WEBP = _s("image", "image/webp", ".webp", "webp")
BMP = _s("image", "image/bmp", ".bmp", "bmp")
TIFF = _s("image", "image/tiff", ".tiff", "tiff")
ICO = _s("image", "image/x-icon", ".ico", "ico")
SVG = _s("image", "image/svg+xml", ".svg", "svg")
AVIF = _s("image", "image/avif", ".avif", "avif")
HEIC = _s("image", "image/heic", ".heic", "heic")
WAV = _s("audio", "audio/wav", ".wav", "wav")
MP3 = _s("audio", "audio/mpeg", ".mp3", "mp3")
FLAC = _s("audio", "audio/flac", ".flac", "flac")
AIFF = _s("audio", "audio/aiff", ".aiff", "aiff")
AAC = _s("audio", "audio/aac", ".aac", "aac")
M4A = _s("audio", "audio/mp4", ".m4a", "m4a")
OGG_VORBIS = _s("audio", "audio/ogg", ".ogg", "ogg")
OGG_OPUS = _s("audio", "audio/ogg; codecs=opus", ".opus", "ogg")
OGG_FLAC = _s("audio", "audio/ogg; codecs=flac", ".oga", "ogg")
OGG_VIDEO = _s("video", "video/ogg", ".ogv", "ogg")
WEBM_AUDIO = _s("audio", "audio/webm", ".webm", "webm")
MKA = _s("audio", "audio/x-matroska", ".mka", "mka")
MP4 = _s("video", "video/mp4", ".mp4", "mp4")
MOV = _s("video", "video/quicktime", ".mov", "mov")
GPP = _s("video", "video/3gpp", ".3gp", "mp4")
WEBM = _s("video", "video/webm", ".webm", "webm")
MKV = _s("video", "video/x-matroska", ".mkv", "mkv")
MPEG = _s("video", "video/mpeg", ".mpeg", "mpeg")
MPEGTS = _s("video", "video/mp2t", ".ts", "mp2t")
AVI = _s("video", "video/x-msvideo", ".avi", "avi")


# ---- MPEG audio ---------------------------------------------------------------------------------

# Bitrates in kbit/s by [version_group][layer] (version_group 0 = MPEG-1, 1 = MPEG-2/2.5).
_MPA_BITRATES = {
    (0, 3): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),  # L1
    (0, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),  # L2
    (0, 1): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),  # L3
    (1, 3): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (1, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (1, 1): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPA_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mpa_header(b: bytes, i: int) -> tuple[int, int, int, int] | None:
    """Parse an MPEG audio frame header at ``i``: (version, layer, rate, frame_len) or None.

    Rejects every reserved value (version 01, layer 00, bitrate 1111, sample rate 11, emphasis 10)
    and free-format (bitrate 0000), whose frame length cannot be checked.
    """
    if i + 4 > len(b) or b[i] != 0xFF or (b[i + 1] & 0xE0) != 0xE0:
        return None
    version = (b[i + 1] >> 3) & 3
    layer = (b[i + 1] >> 1) & 3
    br_idx = b[i + 2] >> 4
    sr_idx = (b[i + 2] >> 2) & 3
    padding = (b[i + 2] >> 1) & 1
    if version == 1 or layer == 0 or br_idx in (0, 15) or sr_idx == 3 or (b[i + 3] & 3) == 2:
        return None
    kbps = _MPA_BITRATES[(0 if version == 3 else 1, layer)][br_idx]
    rate = _MPA_RATES[version][sr_idx]
    if layer == 3:  # Layer I: 4-byte slots
        frame_len = (12 * kbps * 1000 // rate + padding) * 4
    elif layer == 1 and version != 3:  # Layer III, MPEG-2/2.5: 576 samples per frame
        frame_len = 72 * kbps * 1000 // rate + padding
    else:
        frame_len = 144 * kbps * 1000 // rate + padding
    if frame_len < 21:
        return None
    return version, layer, rate, frame_len


def _is_mpeg_audio(b: bytes, i: int = 0) -> bool:
    first = _mpa_header(b, i)
    if first is None:
        return False
    nxt = i + first[3]
    if nxt + 4 > len(b):
        # The head ends inside the first frame (max frame is < 2 KB, so only a tiny input or a
        # tiny head): the strict header check is all we can do.
        return True
    second = _mpa_header(b, nxt)
    return second is not None and second[:3] == first[:3]


def _adts_header(b: bytes, i: int) -> int | None:
    """AAC ADTS frame length at ``i`` (sync 0xFFF, layer 00, valid sampling index) or None."""
    if i + 7 > len(b) or b[i] != 0xFF or (b[i + 1] & 0xF6) != 0xF0:
        return None
    sf_idx = (b[i + 2] >> 2) & 0xF
    if sf_idx > 12:
        return None
    frame_len = ((b[i + 3] & 3) << 11) | (b[i + 4] << 3) | (b[i + 5] >> 5)
    if frame_len < 7:
        return None
    return frame_len


def _is_adts(b: bytes, i: int = 0) -> bool:
    n = _adts_header(b, i)
    if n is None:
        return False
    if i + n + 7 > len(b):
        return True
    return _adts_header(b, i + n) is not None


def _id3_end(b: bytes) -> int | None:
    """Offset just after an ID3v2 tag at the start, or None if the tag header is malformed."""
    if len(b) < 10 or b[:3] != b"ID3" or b[3] not in (2, 3, 4) or b[4] == 0xFF:
        return None
    if any(x & 0x80 for x in b[6:10]):  # syncsafe integer
        return None
    size = (b[6] << 21) | (b[7] << 14) | (b[8] << 7) | b[9]
    footer = 10 if (b[5] & 0x10) else 0
    return 10 + size + footer


# ---- ISO-BMFF -----------------------------------------------------------------------------------

_M4A_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}
_QT_BRANDS = {b"qt  ", b"mov "}
_AVIF_BRANDS = {b"avif", b"avis"}
_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_3GP_PREFIXES = (b"3gp", b"3g2", b"3ge", b"3gg")
_QT_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


def _mp4_handlers(b: bytes) -> set[bytes]:
    """Handler types (``vide``, ``soun``...) of the ``hdlr`` boxes visible in the head."""
    out = set()
    for m in re.finditer(rb"hdlr", b):
        j = m.end() + 8  # version/flags (4) + pre_defined (4)
        if j + 4 <= len(b):
            out.add(b[j : j + 4])
    return out


def _sniff_ftyp(b: bytes) -> Sniffed | None:
    size = int.from_bytes(b[0:4], "big")
    major = b[8:12]
    if size < 12 or len(major) < 4:
        return None
    end = min(size, len(b))
    compat = {b[k : k + 4] for k in range(16, end - 3, 4)}
    brands = {major} | compat
    if major in _QT_BRANDS:
        return MOV
    if major in _AVIF_BRANDS:
        return AVIF
    if major in _HEIC_BRANDS:
        return HEIC
    if major in _M4A_BRANDS or (brands & _M4A_BRANDS and major not in (b"avc1", b"M4V ")):
        return M4A
    if major.startswith(_3GP_PREFIXES):
        return GPP
    handlers = _mp4_handlers(b)
    if handlers and b"vide" not in handlers and b"soun" in handlers:
        return M4A  # audio-only MP4 whose moov is at the front
    return MP4


def _sniff_qt_atom(b: bytes) -> Sniffed | None:
    """Old QuickTime files without ``ftyp``: a plausible first atom of a known type."""
    if len(b) >= 8 and b[4:8] in _QT_ATOMS:
        size = int.from_bytes(b[0:4], "big")
        if size == 1 or size >= 8:
            nxt = size if size >= 8 else None
            if b[4:8] in (b"free", b"skip", b"wide") and nxt is not None and nxt + 8 <= len(b):
                # Padding first: only trust it if a real atom follows.
                return MOV if b[nxt + 4 : nxt + 8] in _QT_ATOMS | {b"ftyp"} else None
            if b[4:8] in (b"moov", b"mdat", b"pnot"):
                return MOV
    return None


# ---- EBML (Matroska / WebM) ---------------------------------------------------------------------


def _vint(b: bytes, i: int, keep_marker: bool) -> tuple[int, int] | None:
    """EBML variable-length integer at ``i``: (value, length) or None."""
    if i >= len(b) or b[i] == 0:
        return None
    first = b[i]
    length = 1
    mask = 0x80
    while not first & mask:
        mask >>= 1
        length += 1
    if i + length > len(b):
        return None
    value = first if keep_marker else first & (mask - 1)
    for k in range(1, length):
        value = (value << 8) | b[i + k]
    if not keep_marker and value == (1 << (7 * length)) - 1:
        value = -1  # "unknown size"
    return value, length


def _ebml_children(b: bytes, start: int, end: int) -> Iterable[tuple[int, int, int]]:
    """(id, data_start, data_end) of the elements between ``start`` and ``end`` (clipped)."""
    i = start
    while i < end:
        eid = _vint(b, i, keep_marker=True)
        if eid is None:
            return
        size = _vint(b, i + eid[1], keep_marker=False)
        if size is None:
            return
        ds = i + eid[1] + size[1]
        de = end if size[0] < 0 else ds + size[0]
        yield eid[0], ds, min(de, len(b))
        if size[0] < 0 or de > len(b):
            return  # unknown size or runs past the head: its siblings are out of reach
        i = de


_EBML = 0x1A45DFA3
_DOCTYPE = 0x4282
_SEGMENT = 0x18538067
_TRACKS = 0x1654AE6B
_TRACK_ENTRY = 0xAE
_TRACK_TYPE = 0x83
_CLUSTER = 0x1F43B675


def _sniff_ebml(b: bytes) -> Sniffed | None:
    doctype = None
    seg = None
    for eid, ds, de in _ebml_children(b, 0, len(b)):
        if eid == _EBML:
            for cid, cs, ce in _ebml_children(b, ds, de):
                if cid == _DOCTYPE:
                    doctype = b[cs:ce].rstrip(b"\0").decode("ascii", "replace").lower()
        elif eid == _SEGMENT:
            seg = (ds, de)
            break
    if doctype not in ("webm", "matroska"):
        return None
    types: set[int] = set()
    if seg is not None:
        for eid, ds, de in _ebml_children(b, *seg):
            if eid == _TRACKS:
                for tid, ts, te in _ebml_children(b, ds, de):
                    if tid != _TRACK_ENTRY:
                        continue
                    for fid, fs, fe in _ebml_children(b, ts, te):
                        if fid == _TRACK_TYPE and fe > fs:
                            types.add(int.from_bytes(b[fs:fe], "big"))
                break
            if eid == _CLUSTER:
                break
    audio_only = bool(types) and 2 in types and 1 not in types
    if doctype == "webm":
        return WEBM_AUDIO if audio_only else WEBM
    return MKA if audio_only else MKV


# ---- Ogg ----------------------------------------------------------------------------------------


def _sniff_ogg(b: bytes) -> Sniffed:
    if len(b) >= 27:
        nseg = b[26]
        payload = b[27 + nseg : 27 + nseg + 16]
        if payload.startswith(b"OpusHead"):
            return OGG_OPUS
        if payload.startswith(b"\x80theora") or payload.startswith(b"\x80kate"):
            return OGG_VIDEO
        if payload.startswith(b"\x7fFLAC"):
            return OGG_FLAC
    return OGG_VORBIS  # \x01vorbis, Speex and anything else audio-ish


# ---- text ---------------------------------------------------------------------------------------

_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_HTML_START = re.compile(
    rb"<(?:!doctype\s+html|html|head|body|script|title|meta|iframe|h1|div|p|table|center|pre)[\s>/]",
    re.I,
)


def _strip_text_prefix(head: bytes) -> bytes:
    b = head
    for bom in _BOMS:
        if b.startswith(bom):
            b = b[len(bom) :]
            break
    if b[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(b) > 3 and b[1:2] == b"\0" and b[3:4] == b"\0"):
        b = b.replace(b"\0", b"")  # UTF-16: crude, but enough to read ASCII tags
    b = b.lstrip()
    # XML declarations and comments may precede the root element.
    while True:
        if b.startswith(b"<?"):
            k = b.find(b"?>")
            if k < 0:
                return b
            b = b[k + 2 :].lstrip()
        elif b.startswith(b"<!--"):
            k = b.find(b"-->")
            if k < 0:
                return b
            b = b[k + 3 :].lstrip()
        else:
            return b


def looks_like_html(head: bytes) -> bool:
    """True when ``head`` is (the start of) an HTML document: an error page served as media."""
    b = _strip_text_prefix(head[:2048])
    if _HTML_START.match(b):
        return True
    return b[:1] == b"<" and b"<html" in b[:1024].lower()


def _is_svg(head: bytes) -> bool:
    b = _strip_text_prefix(head[:4096])
    if b[:9].lower().startswith(b"<!doctype"):
        k = b.find(b">")
        b = b[k + 1 :].lstrip() if k >= 0 else b
    return bool(re.match(rb"<svg[\s>]", b, re.I))


def _is_text(head: bytes) -> bool:
    sample = head[:1024]
    if not sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # a multi-byte char cut at the end is fine
            return False
    return not any(c < 9 or 13 < c < 32 for c in sample if c != 27)


def describe(head: bytes) -> str:
    """A short human description of unrecognised bytes, for error messages."""
    if not head:
        return "empty"
    if looks_like_html(head):
        return "an HTML page"
    if _is_text(head):
        b = head.lstrip()
        if b[:1] in (b"{", b"["):
            return "JSON text"
        if b[:1] == b"<":
            return "XML/markup text"
        return "plain text"
    return f"unrecognised binary data (starts {head[:8].hex(' ')})"


# ---- main entry ---------------------------------------------------------------------------------


def sniff(head: bytes) -> Sniffed | None:
    """Identify media from its first bytes (``HEAD_BYTES`` is plenty); ``None`` if unknown.

    The first rule of ``_RULES`` that claims the head decides (its answer may be ``None``: a RIFF of
    an unknown form is not sniffed as anything else); unclaimed heads may still be a bare QuickTime
    atom or, last, SVG text.
    """
    b = bytes(head)
    if len(b) < 4:
        return None
    for claims, identify in _RULES:
        if claims(b):
            return identify(b)
    qt = _sniff_qt_atom(b)
    if qt is not None:
        return qt
    if b[:1] in _SVG_FIRST_BYTES and _is_svg(b):
        return SVG
    return None


def _is(kind: Sniffed) -> Callable[[bytes], Sniffed]:
    """An identify step for a rule whose claim already says what the bytes are."""
    return lambda b: kind


_RIFF_FORMS = {b"WEBP": WEBP, b"WAVE": WAV, b"AVI ": AVI}
_BMP_DIB_SIZES = (12, 16, 40, 52, 56, 64, 108, 124)
_SVG_FIRST_BYTES = (b"<", b"\xef", b"\xff", b"\xfe", b" ", b"\t", b"\r", b"\n")


def _is_bmp(b: bytes) -> bool:
    """``BM``, a known DIB header size and zero reserved fields."""
    if b[:2] != b"BM" or len(b) < 18:
        return False
    return int.from_bytes(b[14:18], "little") in _BMP_DIB_SIZES and b[6:10] == b"\0\0\0\0"


def _is_ico(b: bytes) -> bool:
    """ICO: image count 1..256, and the first directory entry's reserved byte is 0."""
    return (
        b[:4] == b"\0\0\1\0"
        and len(b) >= 10
        and 0 < int.from_bytes(b[4:6], "little") <= 256
        and b[9] == 0
    )


def _sniff_id3(b: bytes) -> Sniffed | None:
    """What follows an ID3v2 tag: FLAC, ADTS AAC, else MP3 (``None`` if the tag runs off the head)."""
    end = _id3_end(b)
    if end is None:
        return None
    rest = b[end:]
    if rest[:4] == b"fLaC":
        return FLAC
    if _adts_header(rest, 0) is not None:
        return AAC
    return MP3


def _sniff_frame_sync(b: bytes) -> Sniffed | None:
    """A bare ``FF`` frame sync: ADTS AAC or MPEG audio, strictly checked (else nothing)."""
    if _is_adts(b):
        return AAC
    if _is_mpeg_audio(b):
        return MP3
    return None


def _is_mpegts(b: bytes) -> bool:
    """188-byte TS packets (sync 0x47 at 0, 188, 376) or M2TS's 192-byte ones (4-byte timestamp)."""
    n = len(b)
    if b[0] == 0x47 and n >= 189 and b[188] == 0x47 and (n < 377 or b[376] == 0x47):
        return True
    return n >= 197 and b[4] == 0x47 and b[196] == 0x47 and (n < 389 or b[388] == 0x47)


# (claims the head?, what it is) in precedence order: images, audio, then video containers.
_RULES: tuple[tuple[Callable[[bytes], bool], Callable[[bytes], Sniffed | None]], ...] = (
    (lambda b: b[:3] == b"\xff\xd8\xff", _is(JPEG)),
    (lambda b: b[:8] == b"\x89PNG\r\n\x1a\n", _is(PNG)),
    (lambda b: b[:6] in (b"GIF87a", b"GIF89a"), _is(GIF)),
    (
        lambda b: b[:4] in (b"RIFF", b"RF64", b"BW64") and len(b) >= 12,
        lambda b: _RIFF_FORMS.get(b[8:12]),
    ),
    (lambda b: b[:4] in (b"II*\0", b"MM\0*"), _is(TIFF)),
    (_is_bmp, _is(BMP)),
    (_is_ico, _is(ICO)),
    (lambda b: b[:4] == b"fLaC", _is(FLAC)),
    (lambda b: b[:4] == b"OggS", _sniff_ogg),
    (lambda b: b[:4] == b"FORM" and len(b) >= 12 and b[8:12] in (b"AIFF", b"AIFC"), _is(AIFF)),
    (lambda b: b[:3] == b"ID3", _sniff_id3),
    (lambda b: b[0] == 0xFF, _sniff_frame_sync),
    (lambda b: len(b) >= 12 and b[4:8] == b"ftyp", _sniff_ftyp),
    (lambda b: b[:4] == b"\x1a\x45\xdf\xa3", _sniff_ebml),
    (lambda b: b[:3] == b"\0\0\1" and b[3] in (0xBA, 0xB3), _is(MPEG)),
    (_is_mpegts, _is(MPEGTS)),
)


_NOUN = {"image": "an image", "audio": "audio", "video": "a video"}


def _noun(kinds: Iterable[str]) -> str:
    return " or ".join(_NOUN.get(k, k) for k in kinds)


def require(head: bytes, kind: Kind | Iterable[Kind], *, name: str | None = None) -> Sniffed:
    """``sniff`` that raises: ``INVALID_INPUT`` for empty input, ``UNSUPPORTED_FORMAT`` otherwise.

    ``kind`` may be one family or several (``("audio", "video")``). Messages name the input:
    ``not-really.png: plain text, not an image``.
    """
    kinds = (kind,) if isinstance(kind, str) else tuple(kind)
    want = _noun(kinds)
    prefix = f"{name}: " if name else ""
    if not head:
        raise ToolError(
            ErrorCode.INVALID_INPUT,
            f"{prefix}empty input (0 bytes), expected {want}",
            details={"reason": "empty"},
        )
    s = sniff(head)
    if s is None:
        what = describe(head)
        html = what == "an HTML page"
        raise ToolError(
            ErrorCode.UNSUPPORTED_FORMAT,
            f"{prefix}{what}, not {want}",
            details={"reason": "html" if html else "unknown_format", "expected": list(kinds)},
            suggestions=(
                ["The server sent a web page (often an error or login page) instead of the file"]
                if html
                else [
                    f"Pass {want} in a supported format; the type is detected from content, not extension"
                ]
            ),
        )
    if s.kind not in kinds:
        raise ToolError(
            ErrorCode.UNSUPPORTED_FORMAT,
            f"{prefix}{s.base_mime} is {_NOUN[s.kind]}, not {want}",
            details={"reason": "wrong_kind", "detected": s.base_mime, "expected": list(kinds)},
        )
    return s


# ---- MIME / extension / format tables -----------------------------------------------------------

_EXT_BY_MIME = {
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/pjpeg": ".jpg",
    "image/png": ".png",
    "image/apng": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/bmp": ".bmp",
    "image/x-ms-bmp": ".bmp",
    "image/tiff": ".tiff",
    "image/x-icon": ".ico",
    "image/vnd.microsoft.icon": ".ico",
    "image/svg+xml": ".svg",
    "image/avif": ".avif",
    "image/heic": ".heic",
    "audio/wav": ".wav",
    "audio/wave": ".wav",
    "audio/x-wav": ".wav",
    "audio/vnd.wave": ".wav",
    "audio/mpeg": ".mp3",
    "audio/mp3": ".mp3",
    "audio/mpeg3": ".mp3",
    "audio/x-mpeg-3": ".mp3",
    "audio/flac": ".flac",
    "audio/x-flac": ".flac",
    "audio/ogg": ".ogg",
    "audio/opus": ".opus",
    "audio/vorbis": ".ogg",
    "audio/aiff": ".aiff",
    "audio/x-aiff": ".aiff",
    "audio/aac": ".aac",
    "audio/x-aac": ".aac",
    "audio/aacp": ".aac",
    "audio/mp4": ".m4a",
    "audio/x-m4a": ".m4a",
    "audio/m4a": ".m4a",
    "audio/webm": ".webm",
    "audio/x-matroska": ".mka",
    "audio/pcm": ".pcm",
    "audio/l16": ".pcm",
    "video/mp4": ".mp4",
    "video/x-m4v": ".mp4",
    "video/quicktime": ".mov",
    "video/x-quicktime": ".mov",
    "video/mov": ".mov",
    "video/webm": ".webm",
    "video/x-matroska": ".mkv",
    "video/mpeg": ".mpeg",
    "video/mp2t": ".ts",
    "video/3gpp": ".3gp",
    "video/ogg": ".ogv",
    "video/x-msvideo": ".avi",
    "application/ogg": ".ogg",
}


def _split_mime(mime: str) -> tuple[str, dict[str, str]]:
    base, _, rest = (mime or "").partition(";")
    params = {}
    for p in rest.split(";"):
        k, eq, v = p.partition("=")
        if eq:
            params[k.strip().lower()] = v.strip().strip('"').lower()
    return base.strip().lower(), params


def ext_for_mime(mime: str) -> str | None:
    """File extension (with dot) for a MIME type, parameters allowed; None if unknown."""
    base, params = _split_mime(mime)
    if base in ("audio/ogg", "application/ogg") and "opus" in params.get("codecs", ""):
        return ".opus"
    return _EXT_BY_MIME.get(base)


def video_ext_for_mime(mime: str) -> str:
    """Extension for a generated video's Content-Type (``video/quicktime`` -> ``.mov``)."""
    base, _ = _split_mime(mime)
    if base in _EXT_BY_MIME and base.startswith("video/"):
        return _EXT_BY_MIME[base]
    if "webm" in base:
        return ".webm"
    if "quicktime" in base or "mov" in base:
        return ".mov"
    if "mp2t" in base:
        return ".ts"
    if "mpeg" in base:
        return ".mpeg"
    if "matroska" in base:
        return ".mkv"
    return ".mp4"


_AUDIO_MIME_BY_FMT = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "aiff": "audio/aiff",
    "aac": "audio/aac",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "m4a": "audio/mp4",
    "webm": "audio/webm",
    "pcm16": "audio/pcm",
    "pcm24": "audio/pcm",
}


def mime_for_audio_fmt(fmt: str) -> str:
    """MIME type for an ``input_audio.format`` word (unknown words -> ``audio/<fmt>``)."""
    f = fmt.strip().lower()
    return _AUDIO_MIME_BY_FMT.get(f, f"audio/{f}")


_AUDIO_FMT_BY_SUBTYPE = {
    "mpeg": "mp3",
    "mp3": "mp3",
    "mpeg3": "mp3",
    "x-mpeg-3": "mp3",
    "mpga": "mp3",
    "wav": "wav",
    "wave": "wav",
    "x-wav": "wav",
    "vnd.wave": "wav",
    "x-pn-wav": "wav",
    "aac": "aac",
    "x-aac": "aac",
    "aacp": "aac",
    "mp4": "m4a",
    "m4a": "m4a",
    "x-m4a": "m4a",
    "aiff": "aiff",
    "x-aiff": "aiff",
    "aif": "aiff",
    "ogg": "ogg",
    "opus": "ogg",
    "vorbis": "ogg",
    "flac": "flac",
    "x-flac": "flac",
    "webm": "webm",
    "pcm": "pcm16",
    "l16": "pcm16",
    "pcm16": "pcm16",
    "pcm24": "pcm24",
}


def audio_fmt_from_mime(mime: str) -> str | None:
    """``input_audio.format`` word for an audio MIME type (``audio/mpeg`` -> ``mp3``) or None."""
    return _format_word(mime, "audio", _AUDIO_FMT_BY_SUBTYPE)


_VIDEO_FMT_BY_SUBTYPE = {
    "mp4": "mp4",
    "x-m4v": "mp4",
    "3gpp": "mp4",
    "mpeg": "mpeg",
    "mpg": "mpeg",
    "mov": "mov",
    "quicktime": "mov",
    "x-quicktime": "mov",
    "webm": "webm",
    "mp2t": "mp2t",
    "x-matroska": "mkv",
    "ogg": "ogg",
    "x-msvideo": "avi",
}


def video_fmt_from_mime(mime: str) -> str | None:
    """Container word for a video MIME type (``video/quicktime`` -> ``mov``) or None."""
    return _format_word(mime, "video", _VIDEO_FMT_BY_SUBTYPE)


def _format_word(mime: str, kind: str, by_subtype: dict[str, str]) -> str | None:
    """The format word ``by_subtype`` gives a MIME type's subtype, when the type is of ``kind``
    (``kind_of_mime`` decides, so ``application/ogg`` is audio here as everywhere)."""
    if kind_of_mime(mime) != kind:
        return None
    base, _ = _split_mime(mime)
    return by_subtype.get(base.partition("/")[2])


def kind_of_mime(mime: str) -> str | None:
    """``image``/``audio``/``video`` from a MIME type (``application/ogg`` counts as audio)."""
    base, _ = _split_mime(mime)
    top = base.partition("/")[0]
    if top in ("image", "audio", "video"):
        return top
    if base == "application/ogg":
        return "audio"
    return None
