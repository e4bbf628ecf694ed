"""Mime bundles built from ToolResults: durable, terminal-friendly, never autoplaying."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from or_magic.display import (
    RichResult,
    footer_text,
    media_bundle,
    result_bundle,
    result_bundles,
    save_media,
    src_for_path,
    text_bundle,
)
from or_magic.result import MediaItem, ToolResult

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def _result(**kw) -> ToolResult:
    meta = {
        "model": "acme/model-1",
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        "cost_usd": 0.00123,
        "latency_ms": 1234.0,
    }
    meta.update(kw.pop("meta", {}))
    return ToolResult(tool=kw.pop("tool", "chat_completion"), meta=meta, **kw)


def test_markdown_text_has_footer_and_provenance():
    data, md = text_bundle(_result(text="**hi**"))
    assert data["text/markdown"].startswith("**hi**")
    assert "acme/model-1" in data["text/markdown"]
    assert "10 → 5 tokens" in data["text/markdown"]
    assert "$0.00123" in data["text/markdown"]
    assert "1.2 s" in data["text/markdown"]
    assert "offline" not in data["text/markdown"]
    assert md["or_magic"]["tool"] == "chat_completion"
    assert md["or_magic"]["model"] == "acme/model-1"
    assert data["text/plain"].startswith("**hi**")


def test_offline_badge_is_visible_everywhere():
    r = _result(text="x", meta={"offline": True})
    data, md = text_bundle(r)
    assert "**`offline`**" in data["text/markdown"]
    assert "OFFLINE" in data["text/plain"]
    assert md["or_magic"]["offline"] is True
    assert "OFFLINE" in footer_text(r)


def test_formats():
    r = _result(text='```json\n{"a": 1}\n```')
    data, md = text_bundle(r, fmt="json")
    assert data["application/json"] == {"a": 1}
    assert md["or_magic"]["json_ok"] is True
    data, _ = text_bundle(_result(text="<b>x</b>"), fmt="html")
    assert data["text/html"].startswith("<b>x</b>") and "or-magic-footer" in data["text/html"]
    data, _ = text_bundle(_result(text="plain"), fmt="text")
    assert set(data) == {"text/plain"}
    data, _ = text_bundle(_result(text="```python\nprint(1)\n```"), fmt="code")
    assert data["text/plain"] == "print(1)"
    assert data["text/markdown"].startswith("```python\nprint(1)\n```")
    # bad JSON: still shown, flagged
    data, md = text_bundle(_result(text="not json"), fmt="json")
    assert "application/json" not in data and md["or_magic"]["json_ok"] is False


def test_image_inline_png_plus_text_and_footer_outputs():
    r = _result(tool="generate_image", text="done", media=[MediaItem("image", "image/png", PNG)])
    bundles = result_bundles(r)
    assert [b[1]["or_magic"]["part"] for b in bundles] == ["text", "image", "footer"]
    img = bundles[1][0]
    assert base64.b64decode(img["image/png"]) == PNG
    assert "inline" in img["text/plain"]
    assert "text/markdown" in bundles[2][0]


def test_audio_and_video_players_never_autoplay_or_loop(tmp_path: Path):
    a = MediaItem("audio", "audio/mpeg", b"ID3" + b"\0" * 100)
    v = MediaItem("video", "video/mp4", b"\0\0\0\x18ftypmp42" + b"\0" * 100)
    for item, tag in ((a, "<audio"), (v, "<video")):
        data, _ = media_bundle(item, inline_max_bytes=1 << 20)
        html = data["text/html"]
        assert html.startswith(tag) and "controls" in html
        assert "autoplay" not in html and "loop" not in html
        assert "data:" in html


def test_big_media_is_referenced_by_a_relative_saved_path(tmp_path: Path):
    item = MediaItem("video", "video/mp4", b"\0\0\0\x18ftypmp42" + b"\0" * 5000)
    data, md = media_bundle(item, inline_max_bytes=100, media_dir="outs")
    assert item.path is not None and Path(item.path).is_file()
    assert "base64" not in data["text/html"]
    assert 'src="outs/video-' in data["text/html"]
    assert item.path in data["text/plain"]
    assert md["or_magic"]["path"] == item.path
    # an image too big to inline is an <img src=path>
    img = MediaItem("image", "image/png", PNG * 200)
    data, _ = media_bundle(img, inline_max_bytes=10, media_dir="outs")
    assert "image/png" not in data and '<img src="outs/image-' in data["text/html"]


def test_save_media_is_content_addressed(tmp_path: Path):
    a = MediaItem("image", "image/png", PNG)
    b = MediaItem("image", "image/png", PNG)
    d = tmp_path / "m"
    assert save_media(a, d) == save_media(b, d)
    assert len(list(d.iterdir())) == 1


def test_src_for_path_outside_cwd_is_absolute(tmp_path: Path):
    assert src_for_path("x/y z.mp4") == "x/y%20z.mp4"
    outside = Path(os.path.abspath(os.sep)) / "elsewhere.mp4"
    assert src_for_path(str(outside)).startswith("/")


def test_single_bundle_for_panels():
    v = MediaItem("video", "video/mp4", b"\0\0\0\x18ftypmp42" + b"\0" * 10)
    data, _ = result_bundle(_result(tool="generate_video", media=[v]))
    assert data["text/html"].startswith("<video") and "or-magic-footer" in data["text/html"]
    both = _result(text="t", media=[MediaItem("image", "image/png", PNG), v])
    data, _ = result_bundle(both)
    assert "<img" in data["text/html"] and "<video" in data["text/html"]
    lines = data["text/plain"].splitlines()  # the terminal names every item, in order
    assert lines[1:3] == ["[image image/png, 70 B] inline", "[video video/mp4, 22 B] inline"]
    saved = MediaItem("video", "video/mp4", v.data, path="clips/a.mp4")
    data, _ = result_bundle(_result(media=[saved]))
    assert "[video video/mp4, 22 B] saved: clips/a.mp4" in data["text/plain"].splitlines()


def test_error_bundle_and_rich_result():
    err = ToolResult(tool="x", is_error=True, code="INVALID_INPUT", text="bad", suggestions=["fix"])
    [(data, _)] = result_bundles(err)
    assert "[INVALID_INPUT] bad" in data["text/plain"] and "fix" in data["text/markdown"]
    r = RichResult(_result(text="hello", media=[MediaItem("image", "image/png", PNG)]))
    assert r.text == "hello" and r == "hello" and str(r) == "hello"
    assert r.bytes == PNG and r.mime == "image/png" and r.cost == 0.00123
    assert r.model == "acme/model-1" and r.usage["total_tokens"] == 15
    assert r.image().size == (1, 1)
    assert len(r.bundles()) == 3
    data, _ = r._repr_mimebundle_()
    assert "text/html" in data


def test_costs_never_pair_up_as_latex_in_markdown():
    from or_magic.display import footer_markdown
    from or_magic.magics._bundles import table_bundle as _table_bundle
    from or_magic.result import ToolResult

    r = ToolResult(
        tool="chat_completion",
        text="x",
        meta={"model": "m", "cost_usd": 0.5, "usage": {"total_tokens": 3}},
    )
    assert "\\$0.5" in footer_markdown(r)
    md = _table_bundle(("model", "in $/M tok", "out $/M tok"), [("a", "$1.60", "$2")], empty="")[0][
        "text/markdown"
    ]
    assert "$" not in md.replace("\\$", "")  # every dollar escaped, headers included


def test_offline_costs_are_labelled_simulated_in_the_footer_and_the_usage_table():
    from or_magic import usage
    from or_magic.display import footer_markdown
    from or_magic.magics._bundles import usage_bundle as _usage_bundle

    fake = ToolResult(
        tool="generate_video",
        text="x",
        meta={"model": "google/veo-3.1", "cost_usd": 1.6, "offline": True},
    )
    real = ToolResult(tool="chat_completion", text="y", meta={"model": "m", "cost_usd": 0.02})
    assert "$1.60 simulated, offline" in footer_text(fake)
    assert "\\$1.60 simulated, offline" in footer_markdown(fake)
    assert "simulated" not in footer_text(real) and "$0.02" in footer_text(real)

    usage.reset()
    try:
        usage.record_result(fake)
        usage.record_result(real)
        total = usage.totals()
        assert total.cost_usd == 0.02 and total.simulated_cost_usd == 1.6  # never summed up
        data, _ = _usage_bundle(usage.snapshot(), total)
    finally:
        usage.reset()
    plain, md = data["text/plain"], data["text/markdown"]
    assert "**" not in plain, plain  # the terminal shows no Markdown
    rows = {ln.split()[0]: ln for ln in plain.splitlines()[1:]}
    assert "$1.60 simulated, offline" in rows["google/veo-3.1"]
    assert "simulated" not in rows["m"]
    assert "$0.02 + $1.60 simulated, offline" in rows["total"]
    assert md.splitlines()[-1].startswith("| **total** |")


def test_money_has_cents():
    from or_magic.display import format_cost

    assert [format_cost(c) for c in (None, 0, 0.000123, 0.5, 1.6, 2, 12.34567)] == [
        None,
        "$0",
        "$0.000123",
        "$0.50",
        "$1.60",
        "$2.00",
        "$12.3457",
    ]
