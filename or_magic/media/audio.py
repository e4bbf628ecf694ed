"""WAV helpers: wrap raw PCM16 in a RIFF header, read a WAV header, numpy samples -> WAV.

Models stream ``pcm16`` audio (24 kHz, mono, signed 16-bit little-endian) without a header; we
save and display WAV. numpy is imported only inside ``numpy_to_wav``.
"""

from __future__ import annotations

import operator
import struct
from typing import Any, NamedTuple

from ..errors import ErrorCode, ToolError

PCM16_RATE = 24_000
MAX_RATE = 768_000
MAX_CHANNELS = 64  # a (n, channels) array with more columns than this is not audio


def wav_header(data_len: int, rate: int, channels: int, bits: int = 16) -> bytes:
    """The canonical 44-byte PCM WAV header for ``data_len`` bytes of samples."""
    block_align = channels * bits // 8
    return b"".join(
        (
            b"RIFF",
            struct.pack("<I", 36 + data_len),
            b"WAVE",
            b"fmt ",
            struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * block_align, block_align, bits),
            b"data",
            struct.pack("<I", data_len),
        )
    )


def _check_rate_channels(rate: Any, channels: int) -> int:
    """The rate as an ``int`` (numpy integers accepted); INVALID_INPUT when out of range."""
    try:
        r = operator.index(rate) if not isinstance(rate, bool) else None
    except TypeError:
        r = None
    if r is None and isinstance(rate, float) and rate.is_integer():
        r = int(rate)
    if r is None or not 1 <= r <= MAX_RATE:
        raise ToolError(
            ErrorCode.INVALID_INPUT,
            f"sample rate must be a whole number 1..{MAX_RATE}, got {rate!r}",
        )
    if not isinstance(channels, int) or not 1 <= channels <= MAX_CHANNELS:
        raise ToolError(
            ErrorCode.INVALID_INPUT, f"channels must be 1..{MAX_CHANNELS}, got {channels!r}"
        )
    return r


def wrap_pcm16_wav(pcm: bytes, rate: int = PCM16_RATE, channels: int = 1) -> bytes:
    """Raw signed 16-bit little-endian PCM -> WAV bytes (44-byte header + samples).

    A trailing partial frame (odd byte count for mono, or less than ``2*channels`` bytes) is
    dropped: it is half a sample and cannot be played; keeping it would misalign the data chunk.
    """
    rate = _check_rate_channels(rate, channels)
    frame = 2 * channels
    n = len(pcm) - len(pcm) % frame
    body = pcm if n == len(pcm) else memoryview(pcm)[:n]
    return b"".join((wav_header(n, rate, channels, 16), body))


class WavInfo(NamedTuple):
    rate: int
    channels: int
    bits: int
    frames: int


def wav_info(data: bytes) -> WavInfo:
    """(rate, channels, bits, frames) from a WAV file's header and chunk table.

    Handles extensible/float formats, chunks before ``fmt ``, odd-size chunk padding, and streamed
    files whose data size is 0 or 0xFFFFFFFF (frames then come from the bytes present).
    """
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RF64") or data[8:12] != b"WAVE":
        raise ToolError(ErrorCode.UNSUPPORTED_FORMAT, "not a WAV file (no RIFF/WAVE header)")
    i = 12
    fmt = None
    while i + 8 <= len(data):
        cid = data[i : i + 4]
        size = struct.unpack("<I", data[i + 4 : i + 8])[0]
        body = i + 8
        if cid == b"fmt " and size >= 16 and body + 16 <= len(data):
            _tag, channels, rate, _brate, block_align, bits = struct.unpack(
                "<HHIIHH", data[body : body + 16]
            )
            fmt = (rate, channels, bits, block_align)
        elif cid == b"data":
            if fmt is None:
                break
            rate, channels, bits, block_align = fmt
            present = len(data) - body
            n = present if size in (0, 0xFFFFFFFF) or size > present else size
            if not channels or not block_align:
                break
            return WavInfo(rate, channels, bits, n // block_align)
        i = body + size + (size & 1)
    raise ToolError(
        ErrorCode.UNSUPPORTED_FORMAT,
        "malformed WAV file (missing fmt or data chunk)",
        details={"reason": "corrupt"},
    )


def numpy_to_wav(arr: Any, rate: int) -> bytes:
    """A numpy array of samples -> 16-bit PCM WAV bytes.

    * 1-D: mono. 2-D: ``(n, channels)``; ``(channels, n)`` (IPython's layout) is accepted when the
      first axis is the short one.
    * Floats are taken as [-1, 1]; if the peak is above 1 the signal is normalised to it
      (like IPython's ``Audio``), since clipping would destroy e.g. int samples cast to float.
      NaN/inf become 0.
    * int16 is kept bit-exact; other integer types are scaled to 16 bits (uint8 is offset-binary).
    """
    import numpy as np

    rate = _check_rate_channels(rate, 1)
    a = np.asarray(arr)
    if a.size == 0:
        raise ToolError(ErrorCode.INVALID_INPUT, "audio array is empty")
    if a.ndim == 1:
        a = a[:, None]
    elif a.ndim == 2:
        if a.shape[1] > MAX_CHANNELS and a.shape[0] <= MAX_CHANNELS:
            a = a.T
        elif a.shape[1] > MAX_CHANNELS:
            raise ToolError(
                ErrorCode.INVALID_INPUT,
                f"a 2-D audio array must be (samples, channels); got shape {a.shape}",
            )
    else:
        raise ToolError(
            ErrorCode.INVALID_INPUT, f"audio arrays must be 1-D or 2-D, got shape {a.shape}"
        )
    kind = a.dtype.kind
    if kind == "b" or kind not in "fiu":
        raise ToolError(ErrorCode.INVALID_INPUT, f"cannot use a {a.dtype} array as audio samples")
    if kind == "f":
        a = np.nan_to_num(a.astype(np.float64, copy=False), nan=0.0, posinf=0.0, neginf=0.0)
        peak = float(np.max(np.abs(a))) if a.size else 0.0
        if peak > 1.0:
            a = a / peak
        pcm = np.round(np.clip(a, -1.0, 1.0) * 32767.0).astype("<i2")
    elif a.dtype == np.int16:
        pcm = a.astype("<i2", copy=False)
    elif kind == "u":
        bits = a.dtype.itemsize * 8
        pcm = (
            (a.astype(np.int64) - (1 << (bits - 1))) >> max(bits - 16, 0) << max(16 - bits, 0)
        ).astype("<i2")
    else:
        bits = a.dtype.itemsize * 8
        pcm = ((a.astype(np.int64) >> max(bits - 16, 0)) << max(16 - bits, 0)).astype("<i2")
    data = np.ascontiguousarray(pcm).tobytes()
    return wav_header(len(data), rate, pcm.shape[1], 16) + data
