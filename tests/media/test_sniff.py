"""Format detection from magic bytes: every fixture, synthetic edge cases, helpers, messages."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from or_magic.errors import ErrorCode, ToolError
from or_magic.media.audio import wrap_pcm16_wav
from or_magic.media.sniff import (
    AUDIO_FORMATS,
    HEAD_BYTES,
    audio_fmt_from_mime,
    describe,
    ext_for_mime,
    kind_of_mime,
    looks_like_html,
    mime_for_audio_fmt,
    require,
    sniff,
    video_ext_for_mime,
    video_fmt_from_mime,
)

FIX = Path(__file__).resolve().parents[1] / "fixtures"

# file -> (kind, mime, ext, fmt) or None (not media)
MATRIX = {
    "photo.jpg": ("image", "image/jpeg", ".jpg", "jpeg"),
    "photo-exif-rotated.jpg": ("image", "image/jpeg", ".jpg", "jpeg"),
    "photo.webp": ("image", "image/webp", ".webp", "webp"),
    "diagram.png": ("image", "image/png", ".png", "png"),
    "animated.gif": ("image", "image/gif", ".gif", "gif"),
    "bomb.png": ("image", "image/png", ".png", "png"),  # sniffing is fine; decoding is refused
    "truncated.jpg": ("image", "image/jpeg", ".jpg", "jpeg"),  # header intact; decode fails
    "speech.wav": ("audio", "audio/wav", ".wav", "wav"),
    "speech.mp3": ("audio", "audio/mpeg", ".mp3", "mp3"),
    "speech.flac": ("audio", "audio/flac", ".flac", "flac"),
    "speech.ogg": ("audio", "audio/ogg", ".ogg", "ogg"),
    "speech.opus": ("audio", "audio/ogg; codecs=opus", ".opus", "ogg"),
    "speech.m4a": ("audio", "audio/mp4", ".m4a", "m4a"),
    "speech.aiff": ("audio", "audio/aiff", ".aiff", "aiff"),
    "clip.mp4": ("video", "video/mp4", ".mp4", "mp4"),
    "clip.webm": ("video", "video/webm", ".webm", "webm"),
    "clip.mov": ("video", "video/quicktime", ".mov", "mov"),
    "clip.mpeg": ("video", "video/mpeg", ".mpeg", "mpeg"),
    "truncated.mp4": ("video", "video/mp4", ".mp4", "mp4"),  # header intact (documented)
    "speech-24k-mono.pcm16": None,  # headerless PCM is not guessable
    "not-really.png": None,
    "page-as-image.jpg": None,
    "empty.wav": None,
    "random-ff.mp3": None,  # FF Ex sync with reserved version bits: NOT mp3
}


def test_matrix_covers_every_fixture() -> None:
    assert set(MATRIX) == {p.name for p in FIX.iterdir() if p.is_file()}


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_format_matrix(name: str) -> None:
    head = (FIX / name).read_bytes()[:HEAD_BYTES]
    s = sniff(head)
    want = MATRIX[name]
    if want is None:
        assert s is None
    else:
        assert s is not None
        assert (s.kind, s.mime, s.ext, s.fmt) == want


@pytest.mark.parametrize("name", sorted(n for n, v in MATRIX.items() if v))
def test_matrix_with_small_head(name: str) -> None:
    """Most formats are recognised from 64 bytes (WebM/MP4 track inspection is a refinement)."""
    head = (FIX / name).read_bytes()[:64]
    s = sniff(head)
    assert s is not None and s.kind == MATRIX[name][0]


def test_pcm16_wrapped_becomes_wav() -> None:
    pcm = (FIX / "speech-24k-mono.pcm16").read_bytes()
    assert sniff(pcm[:HEAD_BYTES]) is None
    s = sniff(wrap_pcm16_wav(pcm)[:HEAD_BYTES])
    assert s is not None and (s.mime, s.fmt) == ("audio/wav", "wav")


def test_html_detection() -> None:
    page = (FIX / "page-as-image.jpg").read_bytes()
    assert looks_like_html(page)
    assert looks_like_html(b"\xef\xbb\xbf  \n<!-- x --><HTML lang=en><body>")
    assert looks_like_html(b'<?xml version="1.0"?><!DOCTYPE html><html>')
    assert looks_like_html(b"<head><title>403</title></head>")
    assert not looks_like_html((FIX / "photo.jpg").read_bytes()[:512])
    assert not looks_like_html(b"<svg xmlns='http://www.w3.org/2000/svg'></svg>")
    assert not looks_like_html(b"plain text")


def test_svg_is_image_but_html_is_not() -> None:
    s = sniff(b'<?xml version="1.0"?>\n<!-- c -->\n<svg width="1" height="1"></svg>')
    assert s is not None and (s.kind, s.mime, s.ext) == ("image", "image/svg+xml", ".svg")
    assert sniff(b"\xef\xbb\xbf<svg>") is not None
    assert sniff(b"<html><svg></svg></html>") is None


# ---- MPEG audio strictness ------------------------------------------------------------------


def _mp3_frames(n: int = 3, header: bytes = b"\xff\xfb\x90\x00") -> bytes:
    # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no padding: 144*128000/44100 = 417 bytes/frame.
    return (header + b"\0" * 413) * n


def test_bare_mp3_frames_detected() -> None:
    s = sniff(_mp3_frames())
    assert s is not None and (s.mime, s.fmt) == ("audio/mpeg", "mp3")


def test_real_mp3_without_id3_tag() -> None:
    data = (FIX / "speech.mp3").read_bytes()
    size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
    bare = data[10 + size :]
    assert bare[0] == 0xFF
    s = sniff(bare[:HEAD_BYTES])
    assert s is not None and s.fmt == "mp3"


@pytest.mark.parametrize(
    "header,why",
    [
        (b"\xff\xeb\x90\x00", "version bits 01 (reserved)"),
        (b"\xff\xf9\x90\x00", "layer bits 00 (reserved; that is ADTS territory)"),
        (b"\xff\xfb\xf0\x00", "bitrate index 1111"),
        (b"\xff\xfb\x9c\x00", "sample-rate index 11"),
        (b"\xff\xfb\x00\x00", "free-format bitrate (unverifiable)"),
        (b"\xff\xfb\x90\x02", "emphasis 10 (reserved)"),
    ],
)
def test_reserved_mpeg_bits_rejected(header: bytes, why: str) -> None:
    s = sniff(_mp3_frames(header=header))
    assert s is None or s.fmt != "mp3", why


def test_mp3_needs_second_frame_where_predicted() -> None:
    one = b"\xff\xfb\x90\x00" + bytes(range(256)) * 8  # valid header, then garbage
    assert sniff(one) is None
    # A short head that ends inside the first frame can only be judged by the header.
    assert sniff(b"\xff\xfb\x90\x00" + b"\0" * 100) is not None


def test_random_ff_never_mp3_at_any_head_size() -> None:
    data = (FIX / "random-ff.mp3").read_bytes()
    for n in (4, 16, 512, 4096, len(data)):
        assert sniff(data[:n]) is None


def test_id3_tag_then_flac_or_aac() -> None:
    tag = b"ID3\x04\x00\x00\x00\x00\x00\x05" + b"\0" * 5
    assert sniff(tag + (FIX / "speech.flac").read_bytes()[:100]).fmt == "flac"  # type: ignore[union-attr]
    assert sniff(b"ID3\x04\x00\x00\x80\x00\x00\x00" + b"\0" * 50) is None  # not syncsafe


def _adts(n_frames: int = 3, frame_len: int = 100) -> bytes:
    hdr = bytearray(7)
    hdr[0] = 0xFF
    hdr[1] = 0xF1  # MPEG-4, layer 00, no CRC
    hdr[2] = (1 << 6) | (4 << 2)  # AAC LC, 44.1 kHz
    hdr[3] = (2 << 6) | ((frame_len >> 11) & 3)
    hdr[4] = (frame_len >> 3) & 0xFF
    hdr[5] = ((frame_len & 7) << 5) | 0x1F
    hdr[6] = 0xFC
    return (bytes(hdr) + b"\0" * (frame_len - 7)) * n_frames


def test_adts_aac() -> None:
    s = sniff(_adts())
    assert s is not None and (s.mime, s.ext, s.fmt) == ("audio/aac", ".aac", "aac")


# ---- containers -------------------------------------------------------------------------------


def _ftyp(major: bytes, *compat: bytes) -> bytes:
    body = major + b"\0\0\0\0" + b"".join(compat)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + b"\0\0\0\x08free"


@pytest.mark.parametrize(
    "major,compat,mime,fmt",
    [
        (b"isom", (b"isom", b"avc1"), "video/mp4", "mp4"),
        (b"mp42", (b"mp41",), "video/mp4", "mp4"),
        (b"dash", (b"iso6",), "video/mp4", "mp4"),
        (b"qt  ", (b"qt  ",), "video/quicktime", "mov"),
        (b"M4A ", (b"isom",), "audio/mp4", "m4a"),
        (b"M4B ", (), "audio/mp4", "m4a"),
        (b"mp42", (b"M4A ",), "audio/mp4", "m4a"),
        (b"avif", (b"mif1",), "image/avif", "avif"),
        (b"heic", (b"mif1",), "image/heic", "heic"),
        (b"3gp4", (), "video/3gpp", "mp4"),
    ],
)
def test_ftyp_brands(major: bytes, compat: tuple[bytes, ...], mime: str, fmt: str) -> None:
    s = sniff(_ftyp(major, *compat))
    assert s is not None and (s.mime, s.fmt) == (mime, fmt)


def test_audio_only_mp4_with_moov_first() -> None:
    hdlr = b"\0\0\0\x21hdlr" + b"\0" * 8 + b"soun" + b"\0" * 13
    assert sniff(_ftyp(b"isom", b"mp41") + b"\0\0\0\x29moov" + hdlr).mime == "audio/mp4"  # type: ignore[union-attr]
    vide = hdlr.replace(b"soun", b"vide")
    assert sniff(_ftyp(b"isom") + b"\0\0\0\x4emoov" + vide + hdlr).mime == "video/mp4"  # type: ignore[union-attr]


def test_old_quicktime_without_ftyp() -> None:
    assert sniff(b"\0\0\0\x10moov" + b"\0" * 8).mime == "video/quicktime"  # type: ignore[union-attr]
    assert sniff(b"\0\0\0\x08wide\0\0\0\x10mdat" + b"\0" * 8).mime == "video/quicktime"  # type: ignore[union-attr]
    assert sniff(b"\0\0\0\x08free" + b"garbage!" * 4) is None


def _ebml_el(eid: bytes, payload: bytes) -> bytes:
    assert len(payload) < 127
    return eid + bytes([0x80 | len(payload)]) + payload


def _webm(doctype: bytes, track_types: list[int]) -> bytes:
    header = _ebml_el(b"\x1a\x45\xdf\xa3", _ebml_el(b"\x42\x82", doctype))
    entries = b"".join(
        _ebml_el(b"\xae", _ebml_el(b"\xd7", bytes([i + 1])) + _ebml_el(b"\x83", bytes([t])))
        for i, t in enumerate(track_types)
    )
    tracks = _ebml_el(b"\x16\x54\xae\x6b", entries)
    info = _ebml_el(b"\x15\x49\xa9\x66", _ebml_el(b"\x2a\xd7\xb1", b"\x0f\x42\x40"))
    segment = b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff" + info + tracks  # unknown size
    return header + segment + b"\x1f\x43\xb6\x75\x01\xff\xff\xff\xff\xff\xff\xff"


@pytest.mark.parametrize(
    "doctype,types,mime,fmt",
    [
        (b"webm", [1, 2], "video/webm", "webm"),
        (b"webm", [2], "audio/webm", "webm"),
        (b"webm", [1], "video/webm", "webm"),
        (b"webm", [], "video/webm", "webm"),  # no Tracks visible: assume video
        (b"matroska", [1, 2], "video/x-matroska", "mkv"),
        (b"matroska", [2], "audio/x-matroska", "mka"),
    ],
)
def test_ebml_doctype_and_tracks(doctype: bytes, types: list[int], mime: str, fmt: str) -> None:
    s = sniff(_webm(doctype, types))
    assert s is not None and (s.mime, s.fmt) == (mime, fmt)


def test_ebml_unknown_doctype() -> None:
    assert sniff(_webm(b"foo", [1])) is None


def test_real_webm_has_video_track() -> None:
    # clip.webm has a VP9 and an Opus track; the audio-only variant is the synthetic one above.
    assert sniff((FIX / "clip.webm").read_bytes()[:HEAD_BYTES]).kind == "video"  # type: ignore[union-attr]


def _ogg_page(packet: bytes) -> bytes:
    return b"OggS\x00\x02" + b"\0" * 20 + bytes([1, len(packet)]) + packet


def test_ogg_codecs() -> None:
    assert sniff(_ogg_page(b"OpusHead\x01\x01")).mime == "audio/ogg; codecs=opus"  # type: ignore[union-attr]
    assert sniff(_ogg_page(b"\x01vorbis\0\0\0\0")).mime == "audio/ogg"  # type: ignore[union-attr]
    theora = sniff(_ogg_page(b"\x80theora\x03\x02"))
    assert theora is not None and (theora.kind, theora.mime, theora.ext) == (
        "video",
        "video/ogg",
        ".ogv",
    )
    assert sniff(_ogg_page(b"\x7fFLAC\x01\x00")).fmt == "ogg"  # type: ignore[union-attr]


def test_mpeg_ps_and_ts() -> None:
    assert sniff(b"\0\0\1\xba" + b"\0" * 20).mime == "video/mpeg"  # type: ignore[union-attr]
    assert sniff(b"\0\0\1\xb3" + b"\0" * 20).mime == "video/mpeg"  # type: ignore[union-attr]
    ts = (b"\x47" + b"\0" * 187) * 3
    s = sniff(ts)
    assert s is not None and (s.mime, s.ext) == ("video/mp2t", ".ts")
    assert sniff(b"\x47" + b"\0" * 187 + b"\x48" + b"\0" * 187) is None
    m2ts = (b"\0\0\0\0\x47" + b"\0" * 187) * 3
    assert sniff(m2ts).mime == "video/mp2t"  # type: ignore[union-attr]


def test_other_images() -> None:
    bmp = b"BM" + struct.pack("<IHHI", 70, 0, 0, 54) + struct.pack("<Iii", 40, 1, 1) + b"\0" * 40
    assert sniff(bmp).mime == "image/bmp"  # type: ignore[union-attr]
    assert sniff(b"BM is a text that starts with BM") is None
    assert sniff(b"II*\0\x08\0\0\0").mime == "image/tiff"  # type: ignore[union-attr]
    assert sniff(b"MM\0*\0\0\0\x08").mime == "image/tiff"  # type: ignore[union-attr]
    ico = b"\0\0\1\0\1\0" + b"\x10\x10\0\0\1\0\x20\0" + b"\0" * 20
    assert sniff(ico).mime == "image/x-icon"  # type: ignore[union-attr]
    assert sniff(b"GIF87a\1\0\1\0").mime == "image/gif"  # type: ignore[union-attr]
    assert sniff(b"RIFF\0\0\0\0AVI LIST").mime == "video/x-msvideo"  # type: ignore[union-attr]
    assert sniff(b"RIFF\0\0\0\0XXXX") is None


def test_too_short_or_empty() -> None:
    assert sniff(b"") is None
    assert sniff(b"\xff\xd8") is None


# ---- require() messages ---------------------------------------------------------------------


def _req(name: str, kind: str = "image") -> ToolError:
    with pytest.raises(ToolError) as ei:
        require((FIX / name).read_bytes()[:HEAD_BYTES], kind, name=name)  # type: ignore[arg-type]
    return ei.value


def test_require_plain_text() -> None:
    e = _req("not-really.png")
    assert e.code == ErrorCode.UNSUPPORTED_FORMAT
    assert e.message == "not-really.png: plain text, not an image"


def test_require_html() -> None:
    e = _req("page-as-image.jpg")
    assert e.code == ErrorCode.UNSUPPORTED_FORMAT
    assert "HTML page" in e.message and e.details["reason"] == "html"  # type: ignore[index]


def test_require_empty_is_invalid_input() -> None:
    e = _req("empty.wav", "audio")
    assert e.code == ErrorCode.INVALID_INPUT
    assert "empty" in e.message


def test_require_wrong_kind() -> None:
    e = _req("speech.mp3", "image")
    assert e.code == ErrorCode.UNSUPPORTED_FORMAT
    assert e.message == "speech.mp3: audio/mpeg is audio, not an image"
    assert require((FIX / "clip.mp4").read_bytes()[:64], ("audio", "video")).fmt == "mp4"


def test_require_random_bytes() -> None:
    e = _req("random-ff.mp3", "audio")
    assert e.code == ErrorCode.UNSUPPORTED_FORMAT
    assert "unrecognised binary data" in e.message


def test_describe() -> None:
    assert describe(b"") == "empty"
    assert describe(b'{"error": "nope"}') == "JSON text"
    assert describe(b"hello") == "plain text"
    assert describe(b"\x00\x01\x02\x03").startswith("unrecognised binary data")


# ---- tables -------------------------------------------------------------------------------------


def test_ext_for_mime() -> None:
    assert ext_for_mime("image/jpeg") == ".jpg"
    assert ext_for_mime("IMAGE/PNG") == ".png"
    assert ext_for_mime("audio/ogg; codecs=opus") == ".opus"
    assert ext_for_mime("audio/ogg") == ".ogg"
    assert ext_for_mime("audio/mpeg") == ".mp3"
    assert ext_for_mime("video/quicktime") == ".mov"
    assert ext_for_mime("application/x-nothing") is None


def test_video_ext_for_mime() -> None:
    assert video_ext_for_mime("video/quicktime") == ".mov"  # the Node server's bug: .mp4
    assert video_ext_for_mime("video/mp4; codecs=avc1") == ".mp4"
    assert video_ext_for_mime("video/webm") == ".webm"
    assert video_ext_for_mime("video/mpeg") == ".mpeg"
    assert video_ext_for_mime("video/mp2t") == ".ts"
    assert video_ext_for_mime("application/octet-stream") == ".mp4"
    assert video_ext_for_mime("") == ".mp4"


def test_audio_fmt_tables() -> None:
    for mime, fmt in {
        "audio/mpeg": "mp3",
        "audio/mp3": "mp3",
        "audio/wav": "wav",
        "audio/x-wav": "wav",
        "audio/wave": "wav",
        "audio/x-aac": "aac",
        "audio/mp4": "m4a",
        "audio/x-m4a": "m4a",
        "audio/x-aiff": "aiff",
        "audio/ogg; codecs=opus": "ogg",
        "audio/flac": "flac",
        "audio/pcm": "pcm16",
    }.items():
        assert audio_fmt_from_mime(mime) == fmt, mime
    assert audio_fmt_from_mime("video/mp4") is None
    assert audio_fmt_from_mime("audio/x-unknown") is None
    assert video_fmt_from_mime("video/quicktime") == "mov"
    assert video_fmt_from_mime("video/x-m4v") == "mp4"
    assert video_fmt_from_mime("audio/mp4") is None
    assert kind_of_mime("image/png; x=1") == "image"
    assert kind_of_mime("application/ogg") == "audio"
    assert kind_of_mime("text/html") is None


def test_mime_for_audio_fmt() -> None:
    # audio/<word>, but for the words whose registered type has another name
    renamed = {"mp3": "audio/mpeg", "m4a": "audio/mp4", "pcm16": "audio/pcm", "pcm24": "audio/pcm"}
    for fmt, mime in renamed.items():
        assert mime_for_audio_fmt(fmt) == mime
    for fmt in AUDIO_FORMATS:
        assert mime_for_audio_fmt(fmt) == renamed.get(fmt, f"audio/{fmt}"), fmt
        # and the type reads back as the same word: a clip labelled here is recognised again
        assert audio_fmt_from_mime(mime_for_audio_fmt(fmt)) == fmt, fmt
    assert mime_for_audio_fmt(" WAV ") == "audio/wav"
    assert mime_for_audio_fmt("x-new") == "audio/x-new"
