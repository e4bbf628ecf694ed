"""generate_audio (streamed chat audio) and text_to_speech against the double: real WAV/MP3 bytes,
multi-chunk base64 decoding, the pcm16-only rule of gpt-audio models, music models, refusals."""

from __future__ import annotations

import base64
import binascii
import struct
from pathlib import Path

import pytest

from or_magic.double import Fault
from or_magic.double._media import digest, pcm_tone, tone_freq
from or_magic.errors import ToolError
from or_magic.media.audio import wav_info
from or_magic.media.sniff import sniff
from or_magic.tools.api import call_tool
from or_magic.tools.audio_gen import Base64Chunks
from tests.tools._helpers import chat_requests, inproc_double_fixture, requests_to

pytestmark = pytest.mark.anyio


double = inproc_double_fixture()


@pytest.fixture
def out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "out"
    monkeypatch.setenv("OPENROUTER_OUTPUT_DIR", str(root))
    return root


def expected_pcm(model: str, prompt: str) -> bytes:
    """The tone the double streams for this model and prompt."""
    return pcm_tone(1.0, tone_freq(digest(model, " ".join(prompt.split()), 0)))


# ---- Base64Chunks --------------------------------------------------------------------------------


def test_individually_padded_chunks_decode_one_by_one():
    data = bytes(range(256)) * 40
    pieces = [data[i : i + 1001] for i in range(0, len(data), 1001)]  # 1001 % 3 != 0: padded
    enc = [base64.b64encode(p).decode() for p in pieces]
    assert all(e.endswith("=") for e in enc[:-1])
    d = Base64Chunks(1 << 20, "t")
    for e in enc:
        d.feed(e)
    assert d.close() == data
    try:  # what the Node server did: join the text, decode once
        joined = base64.b64decode("".join(enc))
    except binascii.Error:
        joined = None
    assert joined != data


@pytest.mark.parametrize("cut", [1, 2, 3, 5, 7, 333])
def test_one_encoding_split_anywhere_decodes(cut):
    data = b"streamed audio bytes!" * 97 + b"x"
    enc = base64.b64encode(data).decode()
    d = Base64Chunks(1 << 20, "t")
    for i in range(0, len(enc), cut):
        d.feed(enc[i : i + cut])
    assert d.close() == data


def test_bad_base64_and_cap():
    d = Base64Chunks(1 << 20, "generate_audio")
    with pytest.raises(ToolError) as e:
        d.feed("!!!!")
    assert e.value.code.value == "UNSUPPORTED_FORMAT"
    d = Base64Chunks(10, "generate_audio")
    with pytest.raises(ToolError) as e:
        d.feed(base64.b64encode(b"x" * 11).decode())
    assert e.value.code.value == "RESOURCE_TOO_LARGE"


# ---- generate_audio -----------------------------------------------------------------------------


async def test_default_streams_pcm16_and_returns_a_valid_wav(double, out):
    prompt = "Say hello to the whole team, please"
    r = await call_tool("generate_audio", {"prompt": prompt})
    assert r.ok, r.text
    (item,) = r.media
    assert item.mime == "audio/wav" and item.path is None
    wav = item.data
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
    assert struct.unpack("<HHIIHH", wav[20:36]) == (1, 1, 24000, 48000, 2, 16)
    info = wav_info(wav)
    assert (info.rate, info.channels, info.bits, info.frames) == (24000, 1, 16, 24000)
    # Multi-chunk decoding is byte-exact: the samples are the double's tone, untouched.
    assert r.meta["audio_chunks"] > 1
    assert wav[44:] == expected_pcm("openai/gpt-audio", prompt)
    assert r.meta["duration_s"] == 1.0
    assert r.meta["transcript"].startswith("Offline audio from the or_magic double")
    assert r.text == r.meta["transcript"]
    (req,) = chat_requests(double)
    assert req.json["stream"] is True
    assert req.json["modalities"] == ["text", "audio"]
    assert req.json["audio"] == {"format": "pcm16", "voice": "alloy"}


async def test_mp3_from_a_gpt_audio_model_becomes_wav_with_a_note(double, out):
    r = await call_tool(
        "generate_audio",
        {"prompt": "Read this", "format": "mp3", "voice": " nova ", "save_path": "speech/read.mp3"},
    )
    assert r.ok, r.text
    final = out / "speech" / "read.wav"
    assert final.is_file() and not (out / "speech" / "read.mp3").exists()
    assert wav_info(final.read_bytes()).frames == 24000
    assert r.meta["format_requested"] == "mp3" and r.meta["format_sent"] == "pcm16"
    assert any("streams only pcm16" in n for n in r.meta["notes"])
    assert "(detected WAV, saved as" in r.text and "Transcript: " in r.text
    assert "Note: " in r.text
    (req,) = chat_requests(double)
    assert req.json["audio"] == {"format": "pcm16", "voice": "nova"}


async def test_music_model_keeps_its_own_format(double, out):
    r = await call_tool(
        "generate_audio",
        {
            "prompt": "calm piano loop",
            "model": "google/lyria-3-pro-preview",
            "format": "mp3",
            "save_path": "loop.mp3",
        },
    )
    assert r.ok, r.text
    data = (out / "loop.mp3").read_bytes()
    assert sniff(data[:8192]).mime == "audio/mpeg"
    assert r.meta["format_sent"] == "mp3" and "extension_corrected" not in r.meta
    (req,) = chat_requests(double)
    assert req.json["modalities"] == ["audio"] and "voice" not in req.json["audio"]


async def test_over_the_audio_ceiling_is_saved(double, out, monkeypatch):
    monkeypatch.setenv("OPENROUTER_AUDIO_INLINE_MAX_BYTES", "1000")
    r = await call_tool("generate_audio", {"prompt": "hi"})
    assert r.ok
    p = Path(r.media[0].path)
    assert r.media[0].data is None and p.suffix == ".wav" and p.parent.name == "or_magic-output"
    assert "Transcript:" in r.text


async def test_no_audio_is_upstream_refused_with_the_text(double, out):
    body = {
        "id": "gen-x",
        "model": "openai/gpt-audio",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "I can't say that."},
            }
        ],
    }
    double.inject(Fault("/chat/completions", body=body))  # a JSON answer: server ignored stream
    r = await call_tool("generate_audio", {"prompt": "x", "save_path": "no.wav"})
    assert r.code == "UPSTREAM_REFUSED"
    assert "I can't say that." in r.text and r.details["reason"] == "no_audio_in_stream"
    assert not (out / "no.wav").exists()


async def test_full_json_answer_with_audio_is_used(double, out):
    pcm = pcm_tone(0.25, 440.0)
    body = {
        "id": "gen-y",
        "model": "openai/gpt-audio",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "audio": {"data": base64.b64encode(pcm).decode(), "transcript": "hi"},
                },
            }
        ],
    }
    double.inject(Fault("/chat/completions", body=body))
    r = await call_tool("generate_audio", {"prompt": "x"})
    assert r.ok, r.text
    assert r.media[0].data[44:] == pcm and r.meta["transcript"] == "hi"


async def test_midstream_error_is_classified(double, out):
    double.inject(Fault("/chat/completions", midstream_error=True, status=502))
    r = await call_tool("generate_audio", {"prompt": "x", "save_path": "e.wav"})
    assert r.code == "UPSTREAM_HTTP"
    assert not (out / "e.wav").exists()


async def test_bad_format_is_invalid_before_any_request(double, out):
    r = await call_tool("generate_audio", {"prompt": "x", "format": "aac"})
    assert r.code == "INVALID_INPUT"
    r = await call_tool("generate_audio", {"prompt": ""})
    assert r.code == "INVALID_INPUT"
    assert double.requests == []


# ---- text_to_speech -----------------------------------------------------------------------------


async def test_tts_default_mp3_with_the_default_voice(double, out):
    r = await call_tool("text_to_speech", {"input": "Welcome to the demo."})
    assert r.ok, r.text
    assert r.media[0].mime == "audio/mpeg" and sniff(r.media[0].data[:8192]).mime == "audio/mpeg"
    assert r.text.startswith("Speech generated (") and r.meta["voice"] == "flux-alexis-en"
    (req,) = requests_to(double, "/audio/speech")
    assert req.json == {
        "model": "deepgram/flux-tts:free",
        "input": "Welcome to the demo.",
        "response_format": "mp3",
        "voice": "flux-alexis-en",
    }


async def test_tts_pcm_is_wrapped_and_saved_as_wav(double, out):
    r = await call_tool(
        "text_to_speech",
        {
            "input": "one two three four",
            "response_format": "pcm",
            "speed": 1.5,
            "save_path": "t.pcm",
        },
    )
    assert r.ok, r.text
    data = (out / "t.wav").read_bytes()
    info = wav_info(data)
    assert (info.rate, info.channels, info.bits) == (24000, 1, 16) and info.frames > 0
    assert r.meta["extension_corrected"] is True


async def test_tts_other_model_sends_no_default_voice_and_opus_is_ogg(double, out):
    r = await call_tool(
        "text_to_speech",
        {
            "input": "bonjour",
            "model": "openai/gpt-4o-mini-tts",
            "response_format": "opus",
            "instructions": "warm",
            "save_path": "b.mp3",
        },
    )
    assert r.ok, r.text
    assert (out / "b.opus").read_bytes()[:4] == b"OggS"
    (req,) = requests_to(double, "/audio/speech")
    assert "voice" not in req.json and req.json["instructions"] == "warm"


async def test_tts_failures(double, out):
    r = await call_tool("text_to_speech", {"input": "x", "speed": 9})
    assert r.code == "INVALID_INPUT"
    r = await call_tool("text_to_speech", {"input": "   "})
    assert r.code == "INVALID_INPUT"
    assert double.requests == []
    double.inject(Fault("/audio/speech", html=True))
    r = await call_tool("text_to_speech", {"input": "x"})
    assert r.code == "UPSTREAM_HTTP"
    double.inject(Fault("/audio/speech", body=b"", headers={"Content-Type": "audio/mpeg"}))
    r = await call_tool("text_to_speech", {"input": "x"})
    assert r.code == "UPSTREAM_REFUSED"
    r = await call_tool("text_to_speech", {"input": "x", "voice": "nobody"})
    assert r.code == "INVALID_INPUT" and "voice" in r.text
