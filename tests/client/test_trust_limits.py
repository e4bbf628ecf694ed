"""One deadline and one cap for every upstream response; cut streams say so; hostile shapes and
corrupt images get specific codes (never INTERNAL).
"""

from __future__ import annotations

import io
import json
import struct
import time
import tracemalloc
import zlib

import pytest

from or_magic.double import Fault
from or_magic.double.faults import SSE_HEADERS, deep_json, gzip_bomb, sse_body
from or_magic.tools.api import call_tool

pytestmark = pytest.mark.anyio

MODEL = "openai/gpt-4o-mini"
MiB = 1 << 20
GZIP_JSON = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
GZIP_SSE = {"Content-Encoding": "gzip", "Content-Type": "text/event-stream"}


# ---- one deadline for streams ----------------------------------------------------------------------


@pytest.mark.parametrize("hang", ["keepalive", "silent"])
async def test_a_stream_of_only_keepalives_or_silence_ends_at_the_request_timeout(
    double, monkeypatch, hang
):
    monkeypatch.setenv("OPENROUTER_REQUEST_TIMEOUT_MS", "1500")
    monkeypatch.setenv("OPENROUTER_MAX_RETRIES", "0")
    double.inject(Fault(hang=hang, hang_s=20))
    started = time.monotonic()
    r = await call_tool("chat_completion", {"prompt": "x", "model": MODEL}, on_text=lambda d: None)
    elapsed = time.monotonic() - started
    assert r.code == "UPSTREAM_TIMEOUT", r.text
    assert elapsed < 10, elapsed  # 1.5 s deadline, generous bound for a loaded machine


# ---- one cap for every body, counted after decompression ------------------------------------------


async def _peak_during(coro_fn) -> tuple[object, int]:
    """Run ``coro_fn()`` and return its result and the peak of traced Python allocations."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = await coro_fn()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.fixture
def small_cap(monkeypatch):
    monkeypatch.setenv("OPENROUTER_MAX_RESPONSE_BYTES", str(MiB))
    monkeypatch.setenv("OPENROUTER_MAX_RETRIES", "0")


BOMB = 64 * MiB  # inflated size; about 64 KiB on the wire


@pytest.mark.parametrize(
    "stream, prefix, suffix",
    [
        (False, b'{"choices":[{"message":{"content":"', b'"}}]}'),
        (True, b'data: {"choices":[{"delta":{"content":"', b'"}}]}\n\n'),
    ],
    ids=["json-body", "sse-stream"],
)
async def test_a_gzip_bomb_chat_answer_is_refused_with_bounded_memory(
    double, small_cap, stream, prefix, suffix
):
    body = gzip_bomb(BOMB, prefix=prefix, suffix=suffix, fill=b"a")
    double.inject(Fault(body=body, headers=GZIP_SSE if stream else GZIP_JSON))
    r, peak = await _peak_during(
        lambda: call_tool("chat_completion", {"prompt": "x", "model": MODEL, "stream": stream})
    )
    assert r.code == "RESOURCE_TOO_LARGE", r.text
    assert peak < 16 * MiB, peak


async def test_a_gzip_bomb_speech_body_is_refused_with_bounded_memory(double, monkeypatch):
    monkeypatch.setenv("OPENROUTER_AUDIO_MAX_DOWNLOAD_BYTES", str(MiB))
    body = gzip_bomb(BOMB, prefix=b"ID3")
    double.inject(
        Fault(
            "/audio/speech",
            body=body,
            headers={"Content-Encoding": "gzip", "Content-Type": "audio/mpeg"},
        )
    )
    r, peak = await _peak_during(lambda: call_tool("text_to_speech", {"input": "hello"}))
    assert r.code == "RESOURCE_TOO_LARGE", r.text
    assert peak < 16 * MiB, peak


async def test_a_gzip_bomb_video_download_is_refused_and_a_gzip_video_is_decoded(double):
    from or_magic.client.http import close_clients, get_client
    from or_magic.config import get_settings
    from or_magic.errors import ToolError

    client = get_client(get_settings())
    url = double.base_url + "/videos/job-1/content"
    double.inject(
        Fault(
            "/videos/job-1/content",
            body=gzip_bomb(BOMB, prefix=b"\x00\x00\x00\x18ftypmp42"),
            headers={"Content-Encoding": "gzip", "Content-Type": "video/mp4"},
        )
    )
    sink = io.BytesIO()

    async def download():
        try:
            return await client.stream_download(url, sink.write, max_bytes=MiB)
        except ToolError as err:
            return err

    err, peak = await _peak_during(download)
    assert isinstance(err, ToolError) and err.code.value == "RESOURCE_TOO_LARGE", err
    assert sink.tell() <= MiB and peak < 16 * MiB, (sink.tell(), peak)
    # a legitimately compressed body is stored decoded (it used to be written still gzipped)
    payload = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 100
    double.inject(
        Fault(
            "/videos/job-1/content",
            body=zlib.compress(payload, wbits=16 + zlib.MAX_WBITS),
            headers={"Content-Encoding": "gzip", "Content-Type": "video/mp4"},
        )
    )
    sink = io.BytesIO()
    ctype, size = await client.stream_download(url, sink.write, max_bytes=MiB)
    assert (ctype, size, sink.getvalue()) == ("video/mp4", len(payload), payload)
    await close_clients()


async def test_a_plain_body_over_the_cap_is_refused(double, small_cap):
    double.inject(Fault(body=b'{"choices":[{"message":{"content":"' + b"a" * (2 * MiB) + b'"}}]}'))
    r = await call_tool("chat_completion", {"prompt": "x", "model": MODEL, "stream": False})
    assert r.code == "RESOURCE_TOO_LARGE", r.text


# ---- truncated streams -----------------------------------------------------------------------------


def _delta(text: str | None = None, finish: str | None = None) -> dict:
    delta = {"content": text} if text is not None else {"role": "assistant"}
    return {"id": "gen-cut", "model": MODEL, "choices": [{"delta": delta, "finish_reason": finish}]}


async def test_a_stream_cut_after_some_text_is_kept_and_marked_truncated(double):
    from or_magic.config import get_settings
    from or_magic.display import footer_markdown, footer_text
    from or_magic.mcp._adapt import to_call_result

    events = [_delta(), _delta("Hello, "), _delta("wor")]
    double.inject(Fault(body=sse_body(events, done=False), headers=SSE_HEADERS))
    deltas: list[str] = []
    r = await call_tool("chat_completion", {"prompt": "x", "model": MODEL}, on_text=deltas.append)
    assert r.ok, r.text
    assert r.text == "Hello, wor" == "".join(deltas)
    assert r.meta["truncated"] is True
    assert "TRUNCATED" in footer_text(r) and "TRUNCATED" in footer_markdown(r)
    mcp = to_call_result(r, structured=False, settings=get_settings())
    assert mcp.meta["truncated"] is True
    assert any("TRUNCATED" in getattr(c, "text", "") for c in mcp.content)


async def test_a_stream_cut_before_any_text_is_an_upstream_error(double):
    double.inject(Fault(body=sse_body([_delta()], done=False), headers=SSE_HEADERS))
    r = await call_tool("chat_completion", {"prompt": "x", "model": MODEL}, on_text=lambda d: None)
    assert r.code == "UPSTREAM_HTTP", r.text
    assert r.details["truncated"] is True


async def test_a_finished_stream_without_done_is_not_truncated(double):
    events = [_delta("All "), _delta("done.", finish="stop")]
    double.inject(Fault(body=sse_body(events, done=False), headers=SSE_HEADERS))
    r = await call_tool("chat_completion", {"prompt": "x", "model": MODEL}, on_text=lambda d: None)
    assert r.ok and r.text == "All done."
    assert "truncated" not in r.meta
    r = await call_tool("chat_completion", {"prompt": "x", "model": MODEL}, on_text=lambda d: None)
    assert r.ok and "truncated" not in r.meta  # the double's own complete stream


# ---- hostile shapes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [100_000, 1_000])
async def test_deeply_nested_json_is_a_coded_upstream_error(double, depth):
    double.inject(Fault(body=deep_json(depth)))
    r = await call_tool("chat_completion", {"prompt": "x", "model": MODEL, "stream": False})
    assert r.code == "UPSTREAM_HTTP", r.text
    assert "nested" in r.text
    sse = b"data: " + deep_json(depth, opener=b'{"a":', closer=b"}") + b"\n\n"
    double.inject(Fault(body=sse, headers=SSE_HEADERS))
    r = await call_tool("chat_completion", {"prompt": "x", "model": MODEL, "stream": True})
    assert r.code == "UPSTREAM_HTTP", r.text
    assert "nested" in r.text


async def test_a_deeply_nested_error_body_is_still_classified(double, monkeypatch):
    monkeypatch.setenv("OPENROUTER_MAX_RETRIES", "0")
    double.inject(Fault(status=500, body=deep_json(100_000)))
    r = await call_tool("chat_completion", {"prompt": "x", "model": MODEL, "stream": False})
    assert r.code == "UPSTREAM_HTTP", r.text


async def test_a_deeply_nested_json_answer_from_the_model_is_not_internal(double):
    double.inject(Fault(echo=deep_json(50_000).decode()))
    r = await call_tool(
        "chat_completion",
        {"prompt": "x", "model": MODEL, "response_format": {"type": "json_object"}},
    )
    assert r.code != "INTERNAL", r.text


# ---- corrupt images ------------------------------------------------------------------------------------


def _png(fix_crc: bool) -> bytes:
    """A 64x64 PNG with 16 flipped bytes in the middle of its pixel data (IDAT)."""
    from PIL import Image

    im = Image.effect_noise((64, 64), 64).convert("RGB")
    buf = io.BytesIO()
    im.save(buf, "PNG")
    data = bytearray(buf.getvalue())
    i = data.find(b"IDAT")
    n = struct.unpack(">I", data[i - 4 : i])[0]
    for k in range(i + 4 + n // 2, i + 4 + n // 2 + 16):
        data[k] ^= 0xFF
    if fix_crc:  # only the deflate stream is broken: Pillow's CRC-skipping decode cannot tell
        crc = zlib.crc32(bytes(data[i : i + 4 + n])) & 0xFFFFFFFF
        data[i + 4 + n : i + 8 + n] = struct.pack(">I", crc)
    return bytes(data)


@pytest.mark.parametrize("fix_crc", [False, True])
def test_a_png_with_corrupt_pixel_data_is_refused(fix_crc):
    from or_magic.errors import ToolError
    from or_magic.media.blob import Blob
    from or_magic.media.image import prepare_image, verify_image

    blob = Blob("image/png", data=_png(fix_crc), name="c.png")
    for check in (prepare_image, verify_image):
        with pytest.raises(ToolError) as info:
            check(blob)
        assert info.value.code.value == "UNSUPPORTED_FORMAT", info.value


def test_a_truncated_jpeg_is_refused_by_both_paths(fixtures_dir):
    from or_magic.errors import ToolError
    from or_magic.media.blob import Blob
    from or_magic.media.image import prepare_image, verify_image

    blob = Blob.from_path(fixtures_dir / "truncated.jpg")
    for check in (prepare_image, verify_image):
        with pytest.raises(ToolError) as info:
            check(blob)
        assert info.value.code.value == "UNSUPPORTED_FORMAT"


def test_good_images_pass_the_full_decode(fixtures_dir):
    from or_magic.media.blob import Blob
    from or_magic.media.image import verify_image

    for name in ("diagram.png", "photo.jpg", "photo.webp", "animated.gif"):
        verify_image(Blob.from_path(fixtures_dir / name))


async def test_a_corrupt_reference_image_is_refused_before_the_paid_request(double, fixtures_dir):
    with open("bad.png", "wb") as f:
        f.write(_png(fix_crc=True))
    r = await call_tool("generate_image", {"prompt": "x", "input_images": ["bad.png"]})
    assert r.code == "UNSUPPORTED_FORMAT", r.text
    assert r.text.startswith("input_images[0]")
    assert double.requests == []
    r = await call_tool("generate_video_from_image", {"image": "bad.png", "prompt": "waves"})
    assert r.code == "UNSUPPORTED_FORMAT", r.text
    assert double.requests_to("/videos") == []


# ---- the SSE decoder on hostile line lengths -----------------------------------------------------


def test_sse_decoder_any_split_gives_the_same_events():
    import random

    from or_magic.client.sse import SSEDecoder

    text = ': keep-alive\r\n\r\ndata: one\r\n\r\ndata: t\rdata: wo\n\ndata: {"x":"3"}\n\n'
    whole = SSEDecoder()
    expected = whole.feed(text) + whole.flush()
    rng = random.Random(3)
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(text)), rng.randint(1, 15)))
        dec = SSEDecoder()
        got: list[str] = []
        for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True):
            got += dec.feed(text[a:b])
        assert got + dec.flush() == expected


def test_sse_decoder_is_linear_in_a_very_long_line():
    from or_magic.client.sse import SSEDecoder

    piece = "a" * (16 << 10)
    dec = SSEDecoder()
    started = time.monotonic()
    assert dec.feed("data: ") == []
    for _ in range(2048):  # one 32 MiB line in 16 KiB pieces (quadratic took minutes)
        assert dec.feed(piece) == []
    (event,) = dec.feed("\n\n")
    assert len(event) == 2048 * len(piece)
    assert time.monotonic() - started < 10


def test_the_magic_cell_footer_says_truncated(monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    from or_magic import log
    from or_magic.double import get_offline_double
    from tests.magics.test_shell import final_outputs, run

    monkeypatch.setattr(log, "_stream", log._stream)  # loading the extension reroutes logs
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "or_magic")
    double = get_offline_double()
    double.reset()
    events = [_delta(), _delta("Half an ans")]
    double.inject(Fault(body=sse_body(events, done=False), headers=SSE_HEADERS))
    try:
        cap, res = run(shell, "%%openrouter --no-history\nhi")
    finally:
        double.reset()
    assert res.error_in_exec is None, res.error_in_exec
    shown = json.dumps(final_outputs(cap)) + cap.stdout
    assert "Half an ans" in shown and "TRUNCATED" in shown, shown


async def test_a_cut_audio_stream_is_marked_truncated(double):
    import base64

    pcm = base64.b64encode(b"\x00\x01" * 24_000).decode()
    events = [{"choices": [{"delta": {"audio": {"data": pcm, "transcript": "hi"}}}]}]
    double.inject(Fault(body=sse_body(events, done=False), headers=SSE_HEADERS))
    r = await call_tool("generate_audio", {"prompt": "say hi"})
    assert r.ok, r.text
    assert r.meta["truncated"] is True


async def test_a_deeply_nested_mcp_http_request_is_a_parse_error_not_a_crash(double):
    import anyio
    import httpx

    import or_magic.mcp
    from tests.mcp.test_transports import INIT

    h = or_magic.mcp.serve_in_background(port=0)
    try:
        await h.wait_started()
        headers = {
            "Accept": "application/json, text/event-stream",
            "Authorization": f"Bearer {h.token}",
            "Content-Type": "application/json",
        }
        deep = b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":' + deep_json(100_000)
        deep += b"}"

        def post(content: bytes) -> httpx.Response:
            return httpx.post(h.url, content=content, headers=headers, timeout=10)

        r = await anyio.to_thread.run_sync(post, deep)
        assert 400 <= r.status_code < 500, r.text
        assert r.json()["error"]["code"] == -32700  # JSON-RPC parse error
        r = await anyio.to_thread.run_sync(post, json.dumps(INIT).encode())
        assert r.status_code == 200  # the server is still serving
    finally:
        await h.astop()
