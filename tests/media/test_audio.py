"""WAV wrapping and parsing, numpy -> WAV, and the cheap MP4 helpers."""

from __future__ import annotations

import io
import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from or_magic.errors import ErrorCode, ToolError
from or_magic.media.audio import numpy_to_wav, wav_info, wrap_pcm16_wav
from or_magic.media.blob import Blob
from or_magic.media.video import mp4_duration, mp4_has_signature

FIX = Path(__file__).resolve().parents[1] / "fixtures"
PCM = (FIX / "speech-24k-mono.pcm16").read_bytes()


def test_pcm16_header_fields_exact() -> None:
    wav = wrap_pcm16_wav(PCM)
    assert len(wav) == 44 + len(PCM)
    riff, riff_size, wave_id = struct.unpack("<4sI4s", wav[:12])
    assert (riff, riff_size, wave_id) == (b"RIFF", 36 + len(PCM), b"WAVE")
    fmt = struct.unpack("<4sIHHIIHH", wav[12:36])
    assert fmt == (b"fmt ", 16, 1, 1, 24000, 48000, 2, 16)
    assert struct.unpack("<4sI", wav[36:44]) == (b"data", len(PCM))
    assert wav[44:] == PCM


def test_odd_length_pcm_drops_half_sample() -> None:
    wav = wrap_pcm16_wav(b"\x01\x02\x03")
    assert struct.unpack("<I", wav[40:44])[0] == 2
    assert struct.unpack("<I", wav[4:8])[0] == 38
    assert wav[44:] == b"\x01\x02"
    stereo = wrap_pcm16_wav(b"\0" * 7, channels=2)
    assert struct.unpack("<I", stereo[40:44])[0] == 4  # whole 4-byte frames only
    assert len(wrap_pcm16_wav(b"")) == 44


def test_round_trip_with_wave_module() -> None:
    wav = wrap_pcm16_wav(PCM)
    with wave.open(io.BytesIO(wav)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (24000, 1, 2)
        assert w.getnframes() == len(PCM) // 2
        assert w.readframes(w.getnframes()) == PCM
    assert wav_info(wav) == (24000, 1, 16, len(PCM) // 2)


def test_custom_rate_and_bad_rate() -> None:
    assert wav_info(wrap_pcm16_wav(b"\0" * 8, rate=16000, channels=2)) == (16000, 2, 16, 2)
    for bad in (0, -1, 10**7, "24000", True):
        with pytest.raises(ToolError) as ei:
            wrap_pcm16_wav(b"", rate=bad)  # type: ignore[arg-type]
        assert ei.value.code == ErrorCode.INVALID_INPUT


def test_wav_info_real_file_and_errors() -> None:
    info = wav_info((FIX / "speech.wav").read_bytes())
    with wave.open(str(FIX / "speech.wav")) as w:
        assert info == (w.getframerate(), w.getnchannels(), w.getsampwidth() * 8, w.getnframes())
    with pytest.raises(ToolError) as ei:
        wav_info(b"not a wav file at all")
    assert ei.value.code == ErrorCode.UNSUPPORTED_FORMAT
    with pytest.raises(ToolError):
        wav_info(b"RIFF\0\0\0\0WAVEjunk\4\0\0\0abcd")


def test_wav_info_streamed_size_and_extra_chunks() -> None:
    body = b"\1\0" * 10
    hdr = wrap_pcm16_wav(body)
    streamed = hdr[:40] + b"\xff\xff\xff\xff" + body
    assert wav_info(streamed).frames == 10
    with_list = hdr[:12] + b"LIST\3\0\0\0abc\0" + hdr[12:]  # odd chunk + pad byte before fmt
    assert wav_info(with_list) == (24000, 1, 16, 10)


def test_numpy_float_mono() -> None:
    t = np.linspace(0, 1, 8000, endpoint=False)
    sig = 0.5 * np.sin(2 * np.pi * 440 * t)
    wav = numpy_to_wav(sig, 8000)
    with wave.open(io.BytesIO(wav)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getnframes()) == (8000, 1, 8000)
        frames = np.frombuffer(w.readframes(8000), dtype="<i2")
    assert abs(int(frames.max()) - 16384) <= 2
    assert np.array_equal(frames, np.round(sig * 32767).astype(np.int16))


def test_numpy_int16_kept_and_stereo_layouts() -> None:
    a = np.array([[1, -1], [2, -2], [3, -3]], dtype=np.int16)
    wav = numpy_to_wav(a, 16000)
    assert wav_info(wav) == (16000, 2, 16, 3)
    assert np.array_equal(np.frombuffer(wav[44:], "<i2"), a.ravel())
    long = np.zeros((2, 1000), dtype=np.float32)  # IPython's (channels, n) layout
    assert wav_info(numpy_to_wav(long, 8000)) == (8000, 2, 16, 1000)


def test_numpy_out_of_range_floats_normalised_and_nan_zeroed() -> None:
    a = np.array([0.0, 16384.0, -32768.0, np.nan])
    s = np.frombuffer(numpy_to_wav(a, 8000)[44:], "<i2")
    assert list(s) == [0, 16384, -32767, 0]


def test_numpy_other_int_types() -> None:
    assert list(
        np.frombuffer(numpy_to_wav(np.array([0, 128, 255], np.uint8), 8000)[44:], "<i2")
    ) == [-32768, 0, 32512]
    assert list(
        np.frombuffer(numpy_to_wav(np.array([1 << 16, -(1 << 31)], np.int32), 8000)[44:], "<i2")
    ) == [1, -32768]


@pytest.mark.parametrize(
    "bad", [np.zeros(0), np.zeros((2, 2, 2)), np.array(["a", "b"]), np.array([True])]
)
def test_numpy_bad_arrays(bad: np.ndarray) -> None:
    with pytest.raises(ToolError) as ei:
        numpy_to_wav(bad, 8000)
    assert ei.value.code == ErrorCode.INVALID_INPUT


def test_numpy_rate_as_numpy_int() -> None:
    assert wav_info(numpy_to_wav(np.zeros(10), np.int64(22050))).rate == 22050


def test_mp4_helpers() -> None:
    assert mp4_has_signature((FIX / "clip.mp4").read_bytes()[:64])
    assert mp4_has_signature((FIX / "clip.mov").read_bytes()[:64])
    assert not mp4_has_signature((FIX / "clip.webm").read_bytes()[:64])
    assert not mp4_has_signature((FIX / "speech.m4a").read_bytes()[:64])  # audio, not video
    assert mp4_duration(Blob.from_path(FIX / "clip.mp4")) == pytest.approx(2.0, abs=0.05)
    assert mp4_duration(Blob.from_path(FIX / "clip.mov")) == pytest.approx(2.0, abs=0.05)
    assert mp4_duration(Blob("video/mp4", data=(FIX / "clip.mp4").read_bytes())) == pytest.approx(
        2.0, abs=0.05
    )
    assert mp4_duration(Blob.from_path(FIX / "clip.webm")) is None
    assert mp4_duration(Blob("video/mp4", data=b"\0\0\0\x08ftyp")) is None
