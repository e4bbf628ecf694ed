"""generate_image and generate_image_dedicated against the double: real PNG bytes, references,
extension correction, inline ceilings, refusals and every save_path sandbox case."""

from __future__ import annotations

import base64
import http.server
import io
import json
import shutil
import threading
from pathlib import Path

import pytest

from or_magic import log
from or_magic.double import Fault
from or_magic.double._media import png
from or_magic.media.image import png_dimensions
from or_magic.tools.api import call_tool, get_tool
from or_magic.tools.image_gen import find_images
from tests.tools._helpers import chat_requests, inproc_double_fixture, requests_to

pytestmark = pytest.mark.anyio


double = inproc_double_fixture()


EXTENDED = "google/gemini-3.1-flash-image-preview"


def png_b64(w: int = 64, h: int = 32) -> str:
    return base64.b64encode(png(w, h, bytes(range(32)))).decode("ascii")


def chat_body(message: dict) -> dict:
    return {
        "id": "gen-fault-1",
        "model": "google/gemini-2.5-flash-image",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", **message}}
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 10, "total_tokens": 15, "cost": 0.04},
    }


# ---- happy paths ------------------------------------------------------------------------------


async def test_generate_image_inline_png_has_the_requested_shape(double, out):
    r = await call_tool(
        "generate_image",
        {"prompt": "A red fox in snow", "aspect_ratio": "16:9", "image_size": "1K"},
    )
    assert r.ok, r.text
    (item,) = r.media
    assert item.kind == "image" and item.mime == "image/png" and item.path is None
    assert png_dimensions(item.data) == (1344, 768)
    assert (r.meta["width"], r.meta["height"]) == (1344, 768)
    assert r.meta["model"] == "google/gemini-2.5-flash-image"
    assert r.meta["cost_usd"] > 0 and r.meta["generation_id"].startswith("gen-")
    assert "Here is your image" in r.meta["model_text"]
    (req,) = chat_requests(double)
    assert req.json["messages"] == [
        {"role": "user", "content": "Generate an image: A red fox in snow"}
    ]
    assert req.json["modalities"] == ["image", "text"]
    assert req.json["image_config"] == {"aspect_ratio": "16:9", "image_size": "1K"}
    assert not out.exists() or not any(out.rglob("*.png"))  # inline: nothing written


async def test_extended_ratio_and_half_k_on_the_31_model(double, out):
    r = await call_tool(
        "generate_image",
        {"prompt": "tall banner", "model": EXTENDED, "aspect_ratio": "1:4", "image_size": "0.5K"},
    )
    assert r.ok, r.text
    w, h = png_dimensions(r.media[0].data)
    assert h > w and abs(h / w - 4) < 0.2


# The tool surface's list (tool-surface.md §generate_image), written out here on purpose: the
# schema must offer exactly these, in this order.
STANDARD_RATIOS = ["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"]
SPEC_ASPECT_RATIOS = [*STANDARD_RATIOS, "1:4", "4:1", "1:8", "8:1"]  # extended: gemini-3.1 only


async def test_all_fourteen_ratios_are_in_the_schema():
    for tool in ("generate_image", "generate_image_dedicated"):
        prop = get_tool(tool).input_model.model_json_schema()["properties"]["aspect_ratio"]
        (enum,) = [b["enum"] for b in prop["anyOf"] if "enum" in b]
        assert enum == SPEC_ASPECT_RATIOS, tool


async def test_bad_enum_is_invalid_input_and_nothing_is_sent(double, out):
    r = await call_tool("generate_image", {"prompt": "x", "aspect_ratio": "7:5"})
    assert r.code == "INVALID_INPUT" and "aspect_ratio" in r.text
    r = await call_tool("generate_image", {"prompt": "   "})
    assert r.code == "INVALID_INPUT" and "prompt" in r.text
    r = await call_tool("generate_image", {"prompt": "x", "modalities": ["text"]})
    assert r.code == "INVALID_INPUT"
    assert double.requests == []


async def test_save_path_corrects_the_extension_and_keeps_small_data(double, out):
    r = await call_tool("generate_image", {"prompt": "fox", "save_path": "art/fox.jpg"})
    assert r.ok, r.text
    final = out / "art" / "fox.png"
    assert final.is_file() and not (out / "art" / "fox.jpg").exists()
    assert png_dimensions(final.read_bytes()) == (1024, 1024)
    assert r.meta["save_path"] == str(final)
    assert r.meta["extension_corrected"] is True
    assert r.text.startswith(
        f"Image saved to: {out / 'art' / 'fox.jpg'} (detected PNG, saved as {final})"
    )
    (item,) = r.media
    assert item.path == str(final) and item.data == final.read_bytes()  # under 1 MiB: both
    assert not list((out / "art").glob(".*.part"))


async def test_over_the_inline_ceiling_is_saved_never_dropped(double, out, monkeypatch):
    monkeypatch.setenv("OPENROUTER_IMAGE_INLINE_MAX_BYTES", "1024")
    r = await call_tool("generate_image", {"prompt": "fox"})
    assert r.ok, r.text
    (item,) = r.media
    assert item.data is None and item.path
    p = Path(item.path)
    assert p.is_file() and p.parent == out / "or_magic-output" and p.suffix == ".png"
    assert p.name.startswith("generate_image-")
    assert r.meta["auto_saved"] is True and "larger than the inline limit" in r.text


async def test_inline_ceiling_zero_means_always_saved(double, out, monkeypatch):
    monkeypatch.setenv("OPENROUTER_INLINE_MAX_BYTES", "0")
    r = await call_tool("generate_image", {"prompt": "fox", "save_path": "a.png"})
    assert r.ok and r.media[0].data is None and Path(r.media[0].path).is_file()


async def test_reference_images_from_path_and_data_url(double, out, fixtures_dir, tmp_path):
    shutil.copy(fixtures_dir / "photo.jpg", tmp_path / "work" / "ref.jpg")
    data_url = "data:image/png;base64," + png_b64()
    r = await call_tool(
        "generate_image",
        {"prompt": "same style, a cat", "input_images": ["ref.jpg", data_url]},
    )
    assert r.ok, r.text
    (req,) = chat_requests(double)
    content = req.json["messages"][0]["content"]
    assert content[0]["type"] == "text" and content[0]["text"].endswith("Prompt: same style, a cat")
    parts = content[1:]
    assert [p["type"] for p in parts] == ["image_url", "image_url"]
    assert all(p["image_url"]["detail"] == "high" for p in parts)
    assert [m["mime"] for m in req.media] == ["image/jpeg", "image/png"]


def _fake_dns(monkeypatch: pytest.MonkeyPatch, table: dict[str, list[str]]) -> list[str]:
    """Resolve names from ``table`` (and record the lookups) instead of the system resolver."""
    from or_magic.safety import fetch

    asked: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        if host not in table:
            raise OSError(f"no such host {host}")
        return table[host]

    monkeypatch.setattr(fetch, "system_resolver", resolver)
    return asked


async def test_public_reference_urls_are_forwarded_not_downloaded(double, out, monkeypatch):
    asked = _fake_dns(monkeypatch, {"images.example.org": ["93.184.215.14"]})
    url = "https://images.example.org/cat.png?size=large"
    r = await call_tool("generate_image", {"prompt": "a cat", "input_images": [url]})
    assert r.ok, r.text
    assert asked == ["images.example.org"]  # vetted (resolved), never fetched
    (req,) = chat_requests(double)
    part = req.json["messages"][0]["content"][1]
    assert part == {"type": "image_url", "image_url": {"url": url, "detail": "high"}}


@pytest.mark.parametrize(
    ("url", "addresses"),
    [
        ("http://intranet.example.org/a.png", ["10.1.2.3"]),
        ("http://meta.example.org/latest", ["169.254.169.254"]),
        ("http://mixed.example.org/a.png", ["93.184.215.14", "127.0.0.1"]),
        ("http://127.0.0.1:8080/a.png", []),
    ],
)
async def test_private_reference_urls_are_refused_before_sending(
    double, out, monkeypatch, url, addresses
):
    host = url.split("/")[2].split(":")[0]
    _fake_dns(monkeypatch, {host: addresses})
    r = await call_tool("generate_image", {"prompt": "x", "input_images": [url]})
    assert r.code == "UPSTREAM_REFUSED" and r.details["reason"] == "blocked_host", r.text
    assert r.text.startswith("input_images[0]")
    assert double.requests == []


def serve_bytes(body: bytes, content_type: str) -> http.server.ThreadingHTTPServer:
    """A loopback server answering every GET with ``body``; the caller shuts it down."""

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


async def test_allowlisted_private_reference_is_inlined_not_forwarded(
    double, out, monkeypatch, fixtures_dir
):
    """OpenRouter cannot reach an internal host, so an allowlisted one is downloaded here."""
    srv = serve_bytes((fixtures_dir / "photo.jpg").read_bytes(), "image/jpeg")
    try:
        monkeypatch.setenv("OPENROUTER_URL_ALLOWLIST", "127.0.0.1")
        url = f"http://127.0.0.1:{srv.server_address[1]}/ref.jpg"
        r = await call_tool("generate_image", {"prompt": "x", "input_images": [url]})
    finally:
        srv.shutdown()
        srv.server_close()
    assert r.ok, r.text
    (req,) = chat_requests(double)
    sent = req.json["messages"][0]["content"][1]["image_url"]["url"]
    assert sent != url and [m["mime"] for m in req.media] == ["image/jpeg"]


async def test_bad_references_fail_before_any_request(double, out, tmp_path):
    (tmp_path / "work" / "notes.txt").write_text("hello")
    cases = {
        "missing.png": "INVALID_INPUT",
        "../out/elsewhere.png": "UNSAFE_PATH",
        "/etc/passwd": "UNSAFE_PATH",
        "notes.txt": "UNSUPPORTED_FORMAT",
        "data:image/png;base64,bm90IGFuIGltYWdl": "UNSUPPORTED_FORMAT",
    }
    for ref, code in cases.items():
        r = await call_tool("generate_image", {"prompt": "x", "input_images": [ref]})
        assert r.code == code, (ref, r.text)
        assert r.text.startswith("input_images[0]"), r.text
    r = await call_tool("generate_image", {"prompt": "x", "input_images": ["  "]})
    assert r.code == "INVALID_INPUT"
    assert double.requests == []


# ---- where images hide in answers --------------------------------------------------------------


async def test_no_image_is_upstream_refused_with_the_model_text(double, out):
    double.inject(Fault("/chat/completions", scenario="no_image"))
    r = await call_tool("generate_image", {"prompt": "something odd", "save_path": "x.png"})
    assert r.code == "UPSTREAM_REFUSED"
    assert r.text.startswith("Model returned no image. Text response: I can't draw that")
    assert r.details["reason"] == "no_image_in_response"
    assert r.suggestions
    assert not (out / "x.png").exists()


async def test_image_in_content_parts_inline_data_and_text(double, out):
    b64 = png_b64(40, 20)
    double.inject(
        Fault(
            "/chat/completions",
            body=chat_body(
                {
                    "content": [
                        {"type": "text", "text": "ok"},
                        {"inline_data": {"data": b64, "mime_type": "image/png"}},
                    ]
                }
            ),
        )
    )
    r = await call_tool("generate_image", {"prompt": "x"})
    assert r.ok, r.text
    assert png_dimensions(r.media[0].data) == (40, 20)
    double.inject(
        Fault(
            "/chat/completions",
            body=chat_body({"content": f"Here: ![img](data:image/png;base64,{b64}) done"}),
        )
    )
    r = await call_tool("generate_image", {"prompt": "x"})
    assert r.ok, r.text
    assert png_dimensions(r.media[0].data) == (40, 20)


async def test_non_image_payloads_are_unsupported_format(double, out):
    text_b64 = base64.b64encode(b"just some text, no pixels").decode()
    double.inject(
        Fault(
            "/chat/completions",
            body=chat_body(
                {
                    "content": "",
                    "images": [{"image_url": {"url": "data:image/png;base64," + text_b64}}],
                }
            ),
        )
    )
    r = await call_tool("generate_image", {"prompt": "x", "save_path": "n.png"})
    assert r.code == "UNSUPPORTED_FORMAT", r.text
    double.inject(Fault("/images", body={"data": [{"b64_json": text_b64}]}))
    r = await call_tool("generate_image_dedicated", {"prompt": "x", "save_path": "n.png"})
    assert r.code == "UNSUPPORTED_FORMAT", r.text
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*"))


def test_find_images_order_and_https_urls():
    assert find_images(
        {
            "images": [{"image_url": {"url": "data:image/png;base64,AA"}}],
            "content": "https://x.test/a.png",
        }
    ) == [("data", "data:image/png;base64,AA")]
    assert find_images({"content": "See https://cdn.test/out/img.webp?sig=1, and more"}) == [
        ("url", "https://cdn.test/out/img.webp?sig=1")
    ]
    assert find_images({"content": "![x](https://cdn.test/render)"}) == [
        ("url", "https://cdn.test/render")
    ]
    assert find_images(
        {"content": [{"type": "image", "data": "AAAA", "mime_type": "image/webp"}]}
    ) == [("data", "data:image/webp;base64,AAAA")]
    assert find_images({"content": "no pictures here: https://example.test/page"}) == []


@pytest.fixture
def image_server():
    srv = serve_bytes(png(48, 24, bytes(range(1, 33))), "image/png")
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


async def test_plain_image_url_in_the_text_is_fetched_through_the_ssrf_guard(
    double, out, image_server, monkeypatch
):
    url = f"{image_server}/render/img.png"
    double.inject(Fault("/chat/completions", body=chat_body({"content": f"Your image: {url}"})))
    r = await call_tool("generate_image", {"prompt": "x", "save_path": "u.png"})
    assert r.code == "UPSTREAM_REFUSED" and r.details["reason"] == "blocked_host"  # loopback
    monkeypatch.setenv("OPENROUTER_URL_ALLOWLIST", "127.0.0.1")
    double.inject(Fault("/chat/completions", body=chat_body({"content": f"Your image: {url}"})))
    r = await call_tool("generate_image", {"prompt": "x", "save_path": "u.png"})
    assert r.ok, r.text
    assert png_dimensions((out / "u.png").read_bytes()) == (48, 24)
    assert r.meta["image_url"] == url


async def test_https_image_that_cannot_be_fetched_is_returned_as_a_url(double, out, monkeypatch):
    from or_magic.errors import ErrorCode, ToolError
    from or_magic.tools import image_gen

    async def fail(url, settings):
        raise ToolError(ErrorCode.UPSTREAM_HTTP, "unreachable")

    monkeypatch.setattr(image_gen, "fetch_image", fail)
    double.inject(Fault("/chat/completions", scenario="https_image"))
    r = await call_tool("generate_image", {"prompt": "x"})
    assert r.ok, r.text
    assert r.meta["image_url"].startswith("https://images.example.com/")
    assert r.text.startswith("Image generated. URL: https://images.example.com/")


async def test_upstream_errors_are_classified(double, out):
    double.inject(Fault("/chat/completions", status=402))
    r = await call_tool("generate_image", {"prompt": "x"})
    assert r.code == "UPSTREAM_REFUSED" and r.suggestions
    r = await call_tool("generate_image", {"prompt": "x", "model": "nobody/nothing"})
    assert r.code in ("MODEL_NOT_FOUND", "INVALID_INPUT"), r.text


async def test_audit_line_only_after_validation(double, out, monkeypatch):
    buf = io.StringIO()
    monkeypatch.setattr(log, "_stream", buf)
    await call_tool("generate_image", {"prompt": "x", "save_path": "../escape.png"})
    await call_tool("generate_image", {"prompt": "x", "aspect_ratio": "nope"})
    assert "generate_image.start" not in buf.getvalue()
    await call_tool("generate_image", {"prompt": "a secret plan " * 20})
    lines = [json.loads(x) for x in buf.getvalue().splitlines() if "generate_image.start" in x]
    assert len(lines) == 1 and len(lines[0]["ctx"]["prompt_preview"]) <= 81


# ---- generate_image_dedicated --------------------------------------------------------------------


async def test_dedicated_n_images_saved_with_numbered_names(double, out):
    r = await call_tool(
        "generate_image_dedicated",
        {
            "prompt": "mascots",
            "model": "black-forest-labs/flux.2-pro",
            "n": 3,
            "output_format": "jpeg",
            "resolution": "2K",
            "aspect_ratio": "3:2",
            "save_path": "m.jpg",
        },
    )
    assert r.ok, r.text
    files = [out / "m.png", out / "m-2.png", out / "m-3.png"]
    assert all(f.is_file() for f in files)
    w, h = png_dimensions(files[0].read_bytes())
    assert w > h
    assert r.meta["images_count"] == 3 and r.meta["save_paths"] == [str(f) for f in files]
    assert "format_note" in r.meta  # the double answers PNG for jpeg, honestly
    (req,) = requests_to(double, "/images")
    assert req.json == {
        "model": "black-forest-labs/flux.2-pro",
        "prompt": "mascots",
        "resolution": "2K",
        "aspect_ratio": "3:2",
        "output_format": "jpeg",
        "n": 3,
    }


async def test_dedicated_svg_and_references_and_cache_headers(double, out):
    data_url = "data:image/png;base64," + png_b64()
    r = await call_tool(
        "generate_image_dedicated",
        {
            "prompt": "icon",
            "model": "black-forest-labs/flux.2-pro",
            "output_format": "svg",
            "input_references": [data_url],
            "cache": True,
            "cache_ttl": "5m",
            "save_path": "icon.png",
        },
    )
    assert r.ok, r.text
    assert (out / "icon.svg").read_bytes().lstrip().startswith(b"<svg")
    assert r.meta["mime"] == "image/svg+xml"
    (req,) = requests_to(double, "/images")
    assert req.json["input_references"][0]["type"] == "image_url"
    assert req.json["input_references"][0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert (
        req.headers["x-openrouter-cache"] == "true"
        and req.headers["x-openrouter-cache-ttl"] == "300"
    )


async def test_dedicated_empty_data_is_refused_and_bad_n_is_invalid(double, out):
    double.inject(Fault("/images", body={"created": 1, "data": []}))
    r = await call_tool("generate_image_dedicated", {"prompt": "x"})
    assert r.code == "UPSTREAM_REFUSED" and r.text == "Model returned no image data."
    r = await call_tool("generate_image_dedicated", {"prompt": "x", "n": 11})
    assert r.code == "INVALID_INPUT"
    r = await call_tool(
        "generate_image_dedicated",
        {"prompt": "x", "model": "google/gemini-2.5-flash-image", "resolution": "4K"},
    )
    assert (
        r.code == "INVALID_INPUT" and "resolution" in r.text
    )  # the model's own limits, from upstream


async def test_dedicated_url_only_answer(double, out):
    double.inject(Fault("/images", body={"data": [{"url": "https://img.test/a.png"}]}))
    r = await call_tool("generate_image_dedicated", {"prompt": "x"})
    assert r.ok and r.text == "Image generated. URL: https://img.test/a.png"
    assert r.meta["image_url"] == "https://img.test/a.png" and not r.media
