"""The double's endpoints answer like OpenRouter: chat (JSON + SSE), images, audio, rerank, videos."""

from __future__ import annotations

import base64
import json
import re
import struct
import time
import tracemalloc
from pathlib import Path
from typing import Any

import httpx
import pytest

from or_magic.double import SCENARIOS, Fault, OpenRouterDouble
from or_magic.double._media import asset_bytes, png_size
from tests.double._helpers import socket_double_fixtures

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
AUTH = {"Authorization": "Bearer sk-or-v1-endpoints"}


def chat_body(
    text: str = "Tell me about otters", model: str = "openai/gpt-4o", **kw: Any
) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **kw}


double, client = socket_double_fixtures(AUTH)


def sse_events(raw: bytes) -> tuple[list[Any], list[str]]:
    """(data payloads in order, comment lines) of an SSE body; '[DONE]' kept as a string."""
    text = raw.decode()
    events: list[Any] = []
    comments: list[str] = []
    for block in re.split(r"\r?\n\r?\n", text):
        for line in re.split(r"\r?\n", block):
            if line.startswith(":"):
                comments.append(line)
            elif line.startswith("data: "):
                payload = line[6:]
                events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events, comments


def stream_chat(client: httpx.Client, body: dict[str, Any]) -> tuple[httpx.Response, bytes]:
    with client.stream("POST", "/chat/completions", json={**body, "stream": True}) as r:
        raw = r.read()
    return r, raw


# ---- chat: JSON ------------------------------------------------------------------------


def test_chat_reply_shape_and_content(client: httpx.Client) -> None:
    r = client.post("/chat/completions", json=chat_body("Tell me about otters please"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert re.fullmatch(r"gen-\d{10}-[A-Za-z0-9]{20}", body["id"])
    assert r.headers["x-generation-id"] == body["id"]
    assert body["provider"] == "or_magic-offline" and body["model"] == "openai/gpt-4o"
    assert body["object"] == "chat.completion" and isinstance(body["created"], int)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop" and choice["native_finish_reason"] == "stop"
    content = choice["message"]["content"]
    assert "openai/gpt-4o" in content and "Tell me about otters please" in content
    assert "offline double" in content
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    expected = usage["prompt_tokens"] * 0.0000025 + usage["completion_tokens"] * 0.00001
    assert usage["cost"] == pytest.approx(expected)
    # deterministic: same request, same answer (ids differ)
    again = client.post("/chat/completions", json=chat_body("Tell me about otters please")).json()
    assert again["choices"] == body["choices"] and again["usage"] == usage
    assert again["id"] != body["id"]


def test_chat_echo_is_truncated_and_free_model_costs_nothing(client: httpx.Client) -> None:
    long = "word " * 200
    body = client.post(
        "/chat/completions", json=chat_body(long, model="google/gemma-4-26b-a4b-it:free")
    ).json()
    content = body["choices"][0]["message"]["content"]
    assert "…" in content and len(content) < 600
    assert body["model"] == "google/gemma-4-26b-a4b-it:free" and body["usage"]["cost"] == 0


def test_chat_unknown_model_and_variants(client: httpx.Client) -> None:
    r = client.post("/chat/completions", json=chat_body(model="acme/not-a-model"))
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["message"] == "acme/not-a-model is not a valid model ID"
    assert err["availability"]["code"] == "model_not_found" and err["http_status"] == 400
    for suffix in ("nitro", "online", "floor", "exacto", "thinking", "free"):
        r = client.post("/chat/completions", json=chat_body(model=f"openai/gpt-4o:{suffix}"))
        assert r.status_code == 200, suffix
        assert r.json()["model"] == "openai/gpt-4o"
    assert client.post("/chat/completions", json=chat_body(model="acme/x:free")).status_code == 400
    r = client.post("/chat/completions", json=chat_body(model="cohere/rerank-v3.5"))
    assert r.status_code == 400 and r.json()["error"]["availability"]["code"] == "wrong_endpoint"
    assert (
        client.post(
            "/chat/completions", json={"model": "openai/gpt-4o", "messages": []}
        ).status_code
        == 400
    )
    for bad in ({"temperature": 2.5}, {"temperature": "hot"}, {"top_p": -1}, {"max_tokens": 0}):
        r = client.post("/chat/completions", json=chat_body(**bad))
        assert r.status_code == 400, bad
    assert (
        client.post("/chat/completions", json=chat_body(temperature=0, top_p=1)).status_code == 200
    )


def test_chat_json_schema_instance_validates(client: httpx.Client) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = {
        "type": "object",
        "properties": {
            "summary": {"type": "string", "minLength": 3},
            "mood": {"type": "string", "enum": ["happy", "sad"]},
            "score": {"type": "number", "minimum": 5, "maximum": 10},
            "count": {"type": "integer", "exclusiveMinimum": 2},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "when": {"type": "string", "format": "date-time"},
            "nested": {"$ref": "#/$defs/Nested"},
            "maybe": {"anyOf": [{"type": "null"}, {"type": "boolean"}]},
        },
        "required": ["summary", "mood", "score", "count", "tags", "nested"],
        "additionalProperties": False,
        "$defs": {
            "Nested": {
                "type": "object",
                "properties": {"ok": {"type": "boolean"}},
                "required": ["ok"],
            }
        },
    }
    rf = {
        "type": "json_schema",
        "json_schema": {"name": "answer", "strict": True, "schema": schema},
    }
    body = client.post("/chat/completions", json=chat_body(response_format=rf)).json()
    value = json.loads(body["choices"][0]["message"]["content"])
    jsonschema.validate(value, schema)
    assert value["mood"] == "happy" and len(value["tags"]) == 2
    rf = {"type": "json_object"}
    value = json.loads(
        client.post("/chat/completions", json=chat_body(response_format=rf)).json()["choices"][0][
            "message"
        ]["content"]
    )
    assert value["offline"] is True and value["model"] == "openai/gpt-4o"


def test_chat_max_tokens_truncates_with_length(client: httpx.Client) -> None:
    body = client.post("/chat/completions", json=chat_body(max_tokens=5)).json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "length"
    assert len(choice["message"]["content"].split()) == 5
    assert body["usage"]["completion_tokens"] == 5


def test_chat_reasoning_when_requested(client: httpx.Client) -> None:
    msg = client.post(
        "/chat/completions",
        json=chat_body(model="anthropic/claude-sonnet-4.5", reasoning={"effort": "low"}),
    ).json()["choices"][0]["message"]
    assert (
        msg["reasoning"]
        and msg["content"]
        and msg["reasoning_details"][0]["type"] == "reasoning.text"
    )
    excluded = client.post(
        "/chat/completions",
        json=chat_body(model="anthropic/claude-sonnet-4.5", reasoning={"exclude": True}),
    ).json()
    assert excluded["choices"][0]["message"]["reasoning"] is None
    assert excluded["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0
    plain = client.post("/chat/completions", json=chat_body(reasoning={"effort": "low"})).json()
    assert plain["choices"][0]["message"]["reasoning"] is None  # gpt-4o does not reason


def test_chat_required_tool_choice_calls_the_tool(client: httpx.Client) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    body = client.post(
        "/chat/completions", json=chat_body(tools=tools, tool_choice="required")
    ).json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    call = choice["message"]["tool_calls"][0]
    assert call["function"]["name"] == "get_weather" and "city" in json.loads(
        call["function"]["arguments"]
    )
    auto = client.post("/chat/completions", json=chat_body(tools=tools)).json()
    assert auto["choices"][0]["finish_reason"] == "stop"


# ---- scenarios -----------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_scenarios_json_and_stream(
    client: httpx.Client, double: OpenRouterDouble, scenario: str
) -> None:
    image = scenario in ("no_image", "https_image")
    body = (
        chat_body("draw a fox", model="google/gemini-2.5-flash-image", modalities=["image", "text"])
        if image
        else chat_body()
    )
    double.inject(Fault(scenario=scenario))
    r = client.post("/chat/completions", json=body)
    assert r.status_code == 200
    choice = r.json()["choices"][0]
    msg = choice["message"]
    expected_finish = {
        "reasoning_cutoff": "length",
        "content_filter": "content_filter",
        "tool_calls": "tool_calls",
        "provider_error_200": "error",
    }.get(scenario, "stop")
    assert choice["finish_reason"] == expected_finish
    if scenario in ("reasoning_cutoff", "reasoning_only_stop"):
        assert msg["content"] is None and msg["reasoning"]
    elif scenario == "refusal":
        assert msg["content"] is None and "can't help" in msg["refusal"]
    elif scenario in ("content_filter", "empty"):
        assert msg["content"] == ""
    elif scenario == "tool_calls":
        assert msg["content"] is None and msg["tool_calls"][0]["type"] == "function"
    elif scenario == "no_image":
        assert "images" not in msg and msg["content"]
    elif scenario == "https_image":
        assert "images" not in msg and re.search(r"https://\S+\.png", msg["content"])
    elif scenario == "provider_error_200":
        assert (
            choice["error"]["code"] == 502
            and choice["error"]["message"] == "Provider returned error"
        )

    double.inject(Fault(scenario=scenario))
    r, raw = stream_chat(client, body)
    events, _ = sse_events(raw)
    finishes = [
        c["choices"][0]["finish_reason"] for c in events if isinstance(c, dict) and c.get("choices")
    ]
    if scenario == "provider_error_200":
        assert events[-1]["error"]["code"] == 502 and finishes[-1] == "error"
    else:
        assert events[-1] == "[DONE]" and finishes[-1] == expected_finish


# ---- chat: SSE ---------------------------------------------------------------------------


def test_stream_matches_json_answer(client: httpx.Client) -> None:
    plain = client.post("/chat/completions", json=chat_body("stream me a story")).json()
    r, raw = stream_chat(client, chat_body("stream me a story"))
    assert r.headers["content-type"] == "text/event-stream"
    assert "content-length" not in r.headers and r.headers["transfer-encoding"] == "chunked"
    assert r.headers["x-generation-id"].startswith("gen-")
    assert raw.startswith(b": OPENROUTER PROCESSING\n\n")
    assert b"\r\n" not in raw
    events, comments = sse_events(raw)
    assert len(comments) >= 2  # before and between chunks
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(
        c["object"] == "chat.completion.chunk" and c["id"] == r.headers["x-generation-id"]
        for c in chunks
    )
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == plain["choices"][0]["message"]["content"]
    assert len([c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]) > 3
    final, usage = chunks[-2], chunks[-1]
    assert final["choices"][0]["finish_reason"] == "stop"
    assert usage["choices"] == [] and usage["usage"] == plain["usage"]


def test_stream_crlf_and_no_comments() -> None:
    with (
        OpenRouterDouble(crlf=True, keepalive_comments=False) as d,
        httpx.Client(base_url=d.base_url, headers=AUTH) as c,
    ):
        _, raw = stream_chat(c, chat_body())
    assert b"\r\n\r\n" in raw and b": OPENROUTER" not in raw
    assert raw.replace(b"\r\n", b"").count(b"\n") == 0
    events, comments = sse_events(raw)
    assert events[-1] == "[DONE]" and not comments


def test_crlf_and_comments_can_be_flipped_at_runtime(
    client: httpx.Client, double: OpenRouterDouble
) -> None:
    double.crlf, double.keepalive_comments = True, False
    try:
        _, raw = stream_chat(client, chat_body())
    finally:
        double.crlf, double.keepalive_comments = False, True
    assert raw.startswith(b"data: ") and b"\r\n\r\n" in raw
    _, raw = stream_chat(client, chat_body())
    assert raw.startswith(b": OPENROUTER PROCESSING\n\n") and b"\r\n" not in raw


def test_midstream_error(client: httpx.Client, double: OpenRouterDouble) -> None:
    double.inject(Fault(midstream_error=True, status=429, message="Rate limit exceeded"))
    r, raw = stream_chat(client, chat_body())
    assert r.status_code == 200
    events, _ = sse_events(raw)
    assert "[DONE]" not in events
    last = events[-1]
    assert last["error"]["code"] == 429 and last["error"]["message"] == "Rate limit exceeded"
    assert last["error"]["metadata"]["provider_name"] == "or_magic-offline"
    assert last["choices"][0]["finish_reason"] == "error"
    assert any(e["choices"][0]["delta"].get("content") for e in events[:-1])


@pytest.mark.anyio
async def test_async_client_streaming(double: OpenRouterDouble) -> None:
    double.reset()
    async with (
        httpx.AsyncClient(base_url=double.base_url, headers=AUTH) as c,
        c.stream("POST", "/chat/completions", json=chat_body(stream=True)) as r,
    ):
        lines = [line async for line in r.aiter_lines()]
    assert lines[0] == ": OPENROUTER PROCESSING" and lines[-2] == "data: [DONE]"


# ---- image generation through chat ------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "ratio", "size", "dims"),
    [
        ("google/gemini-2.5-flash-image", None, None, (1024, 1024)),
        ("google/gemini-2.5-flash-image", "16:9", "1K", (1344, 768)),
        ("google/gemini-2.5-flash-image", "2:3", "2K", (1664, 2496)),
        ("google/gemini-3.1-flash-image-preview", "21:9", "4K", (6144, 2688)),
        ("google/gemini-3.1-flash-image-preview", "9:16", "0.5K", (384, 672)),
        ("google/gemini-3.1-flash-image-preview", "1:4", "1K", (512, 2048)),
        ("google/gemini-3.1-flash-image-preview", "8:1", "1K", (2896, 368)),
    ],
)
def test_chat_image_sizes(
    client: httpx.Client, model: str, ratio: str | None, size: str | None, dims: tuple[int, int]
) -> None:
    cfg = {k: v for k, v in (("aspect_ratio", ratio), ("image_size", size)) if v}
    body = chat_body(
        "A red fox in snow", model=model, modalities=["image", "text"], image_config=cfg
    )
    msg = client.post("/chat/completions", json=body).json()["choices"][0]["message"]
    [img] = msg["images"]
    assert img["type"] == "image_url"
    url = img["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    data = base64.b64decode(url.split(",", 1)[1])
    assert png_size(data) == dims
    assert "A red fox in snow" in msg["content"]


def test_chat_image_png_is_decodable_and_deterministic(client: httpx.Client) -> None:
    from PIL import Image

    body = chat_body(
        "a lighthouse", model="google/gemini-2.5-flash-image", modalities=["image", "text"]
    )
    a = client.post("/chat/completions", json=body).json()["choices"][0]["message"]["images"][0][
        "image_url"
    ]["url"]
    b = client.post("/chat/completions", json=body).json()["choices"][0]["message"]["images"][0][
        "image_url"
    ]["url"]
    assert a == b
    import io

    img = Image.open(io.BytesIO(base64.b64decode(a.split(",", 1)[1])))
    img.load()
    assert img.size == (1024, 1024) and img.mode == "RGB"


def test_chat_image_validation_and_streaming(client: httpx.Client) -> None:
    bad = chat_body(
        model="google/gemini-2.5-flash-image",
        modalities=["image", "text"],
        image_config={"aspect_ratio": "1:4"},
    )
    assert client.post("/chat/completions", json=bad).status_code == 400
    r = client.post("/chat/completions", json=chat_body(modalities=["image", "text"]))
    assert r.status_code == 404 and "output modalities" in r.json()["error"]["message"]
    # flux: image-only output, content is empty
    flux = client.post(
        "/chat/completions",
        json=chat_body(model="black-forest-labs/flux.2-pro", modalities=["image"]),
    ).json()
    assert (
        flux["choices"][0]["message"]["content"] == "" and flux["choices"][0]["message"]["images"]
    )
    # reference images are listed in the reply text
    ref = base64.b64encode((FIXTURES / "diagram.png").read_bytes()).decode()
    content = [
        {"type": "text", "text": "make it blue"},
        {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64," + ref, "detail": "high"},
        },
    ]
    body = {
        "model": "google/gemini-2.5-flash-image",
        "messages": [{"role": "user", "content": content}],
        "modalities": ["image", "text"],
    }
    r, raw = stream_chat(client, body)
    events, _ = sse_events(raw)
    images = [
        e
        for e in events
        if isinstance(e, dict) and e["choices"] and "images" in e["choices"][0]["delta"]
    ]
    assert len(images) == 1
    assert images[0]["choices"][0]["delta"]["images"][0]["image_url"]["url"].startswith(
        "data:image/png;base64,"
    )
    text = "".join(
        e["choices"][0]["delta"].get("content") or "" for e in events[:-1] if e["choices"]
    )
    assert "1 image (image/png" in text


# ---- audio output through chat ------------------------------------------------------------


def test_audio_output_requires_stream_and_pcm16(client: httpx.Client) -> None:
    body = chat_body(
        "say hello",
        model="openai/gpt-audio",
        modalities=["text", "audio"],
        audio={"voice": "alloy", "format": "pcm16"},
    )
    r = client.post("/chat/completions", json=body)
    assert (
        r.status_code == 400
        and r.json()["error"]["message"] == "Audio output requires stream: true"
    )
    wav = {**body, "stream": True, "audio": {"voice": "alloy", "format": "wav"}}
    r = client.post("/chat/completions", json=wav)
    assert r.status_code == 400
    assert (
        "'audio.format' does not support 'wav' when stream=true. Supported values are: 'pcm16'."
        in r.text
    )


@pytest.mark.parametrize(
    "model", ["openai/gpt-audio", "openai/gpt-audio-mini", "google/lyria-3-pro-preview"]
)
def test_audio_chunks_are_padded_individually(client: httpx.Client, model: str) -> None:
    body = chat_body(
        "say hello",
        model=model,
        modalities=["text", "audio"],
        audio={"voice": "alloy", "format": "pcm16"},
    )
    r, raw = stream_chat(client, body)
    assert r.status_code == 200
    events, _ = sse_events(raw)
    audio = [
        e["choices"][0]["delta"]["audio"]
        for e in events
        if isinstance(e, dict) and e["choices"] and "audio" in e["choices"][0]["delta"]
    ]
    assert len(audio) >= 5
    datas = [a["data"] for a in audio]
    assert all(d.endswith("=") for d in datas), "each chunk must carry its own base64 padding"
    pcm = b"".join(base64.b64decode(d) for d in datas)
    assert 40_000 <= len(pcm) <= 60_000 and len(pcm) % 2 == 0  # ~1 s of 24 kHz mono 16-bit
    with pytest.raises(ValueError):  # the 4.5.3 bug: join the strings, decode once
        base64.b64decode("".join(datas), validate=True)
    transcript = "".join(a["transcript"] for a in audio)
    assert "say hello" in transcript
    assert len({a["id"] for a in audio}) == 1
    usage = next(e for e in events if isinstance(e, dict) and e.get("usage"))["usage"]
    assert usage["completion_tokens_details"]["audio_tokens"] > 0
    # deterministic tone
    _, raw2 = stream_chat(client, body)
    again = [
        e["choices"][0]["delta"]["audio"]["data"]
        for e in sse_events(raw2)[0]
        if isinstance(e, dict) and e["choices"] and "audio" in e["choices"][0]["delta"]
    ]
    assert again == datas


# ---- rerank ------------------------------------------------------------------------------


def test_rerank(client: httpx.Client) -> None:
    docs = [
        "Cats purr when happy",
        "The stock market fell",
        "Happy cats sleep a lot",
        "Rain in Spain",
    ]
    r = client.post(
        "/rerank", json={"model": "cohere/rerank-v3.5", "query": "happy cats", "documents": docs}
    )
    assert r.status_code == 200 and r.headers["x-generation-id"]
    body = r.json()
    results = body["results"]
    assert [x["index"] for x in results[:2]] == [0, 2] or [x["index"] for x in results[:2]] == [
        2,
        0,
    ]
    scores = [x["relevance_score"] for x in results]
    assert scores == sorted(scores, reverse=True) and all(0 < s < 1 for s in scores)
    assert results[0]["document"] == {"text": docs[results[0]["index"]]}
    assert {"search_units", "total_tokens", "cost"} <= set(body["usage"])
    top = client.post(
        "/rerank",
        json={
            "model": "cohere/rerank-english-v3.0",
            "query": "happy cats",
            "documents": docs,
            "top_n": 1,
        },
    ).json()
    assert len(top["results"]) == 1 and top["results"][0]["index"] == results[0]["index"]
    objs = client.post(
        "/rerank",
        json={
            "model": "cohere/rerank-v3.5",
            "query": "rain",
            "documents": [{"text": d} for d in docs],
        },
    ).json()
    assert objs["results"][0]["index"] == 3
    assert (
        client.post(
            "/rerank", json={"model": "cohere/rerank-v3.5", "query": "x", "documents": []}
        ).status_code
        == 400
    )
    assert (
        client.post(
            "/rerank", json={"model": "cohere/rerank-v3.5", "query": " ", "documents": docs}
        ).status_code
        == 400
    )
    assert (
        client.post(
            "/rerank", json={"model": "openai/gpt-4o", "query": "x", "documents": docs}
        ).status_code
        == 400
    )


# ---- images API --------------------------------------------------------------------------


def test_images_endpoint(client: httpx.Client) -> None:
    models = client.get("/images/models").json()["data"]
    flux = next(m for m in models if m["id"] == "black-forest-labs/flux.2-pro")
    assert flux["supported_parameters"]["n"] == {"type": "range", "min": 1, "max": 10}
    assert "svg" in flux["supported_parameters"]["output_format"]["values"]
    body = {
        "model": "google/gemini-3.1-flash-image-preview",
        "prompt": "a cat",
        "n": 2,
        "resolution": "2K",
        "aspect_ratio": "16:9",
    }
    r = client.post("/images", json=body)
    assert r.status_code == 200
    out = r.json()
    assert len(out["data"]) == 2 and out["data"][0]["b64_json"] != out["data"][1]["b64_json"]
    assert out["data"][0]["media_type"] == "image/png"
    assert png_size(base64.b64decode(out["data"][0]["b64_json"])) == (2688, 1536)
    assert out["usage"]["cost"] == pytest.approx(0.09)
    jpeg = client.post("/images", json={**body, "n": 1, "output_format": "jpeg"}).json()["data"][0]
    assert jpeg["media_type"] == "image/png"  # honest: the double does not encode JPEG
    assert base64.b64decode(jpeg["b64_json"]).startswith(b"\x89PNG")
    svg = client.post(
        "/images",
        json={"model": "black-forest-labs/flux.2-pro", "prompt": "x", "output_format": "svg"},
    ).json()
    assert svg["data"][0]["media_type"] == "image/svg+xml"
    assert base64.b64decode(svg["data"][0]["b64_json"]).startswith(b"<svg")
    sized = client.post(
        "/images", json={"model": "black-forest-labs/flux.2-pro", "prompt": "x", "size": "640x480"}
    ).json()
    assert png_size(base64.b64decode(sized["data"][0]["b64_json"])) == (640, 480)
    for bad in (
        {"n": 11},
        {"resolution": "8K"},
        {"aspect_ratio": "1:8"},
        {"prompt": ""},
        {"model": "openai/gpt-4o"},
    ):
        assert (
            client.post(
                "/images", json={"model": "black-forest-labs/flux.2-pro", "prompt": "x", **bad}
            ).status_code
            == 400
        ), bad
    r = client.post("/images", json={**body, "n": 1, "stream": True})
    events, _ = sse_events(r.content)
    assert [e["type"] for e in events[:-1]] == [
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    assert events[-1] == "[DONE]"


# ---- speech ------------------------------------------------------------------------------


def test_text_to_speech(client: httpx.Client) -> None:
    body = {
        "model": "deepgram/flux-tts:free",
        "input": "Hello from the double",
        "voice": "flux-alexis-en",
    }
    r = client.post("/audio/speech", json={**body, "response_format": "mp3"})
    assert r.status_code == 200 and r.headers["content-type"] == "audio/mpeg"
    assert r.content == asset_bytes("speech.mp3") and r.headers["x-generation-id"].startswith(
        "gen-"
    )
    r = client.post("/audio/speech", json=body)  # default pcm
    assert (
        r.headers["content-type"] == "audio/pcm"
        and len(r.content) % 2 == 0
        and len(r.content) > 24_000
    )
    r = client.post("/audio/speech", json={**body, "response_format": "wav"})
    assert (
        r.headers["content-type"] == "audio/wav"
        and r.content[:4] == b"RIFF"
        and r.content[8:12] == b"WAVE"
    )
    r = client.post(
        "/audio/speech",
        json={
            "model": "openai/gpt-4o-mini-tts",
            "input": "hi",
            "voice": "nova",
            "response_format": "opus",
        },
    )
    assert r.status_code == 200 and r.content[:4] == b"OggS"
    assert client.post("/audio/speech", json={**body, "input": "   "}).status_code == 400
    assert client.post("/audio/speech", json={**body, "voice": "nova"}).status_code == 400
    assert client.post("/audio/speech", json={**body, "response_format": "aiff"}).status_code == 400
    assert client.post("/audio/speech", json={**body, "model": "openai/gpt-4o"}).status_code == 400


def test_speech_to_text(client: httpx.Client) -> None:
    wav = (FIXTURES / "speech.wav").read_bytes()
    body = {
        "model": "openai/whisper-1",
        "input_audio": {"data": base64.b64encode(wav).decode(), "format": "wav"},
    }
    r = client.post("/audio/transcriptions", json=body)
    assert r.status_code == 200
    out = r.json()
    assert out["duration"] == pytest.approx(5.33, abs=0.01) and out["language"] == "en"
    assert "offline" in out["text"].lower() and "usage" in out
    mp3 = (FIXTURES / "speech.mp3").read_bytes()
    est = client.post(
        "/audio/transcriptions",
        json={
            "model": "openai/gpt-4o-transcribe",
            "language": "de",
            "input_audio": {"data": base64.b64encode(mp3).decode(), "format": "mp3"},
        },
    ).json()
    assert est["language"] == "de" and est["duration"] > 0
    text = client.post("/audio/transcriptions", json={**body, "response_format": "text"})
    assert text.headers["content-type"].startswith("text/plain") and text.text == out["text"]
    srt = client.post("/audio/transcriptions", json={**body, "response_format": "srt"}).text
    assert srt.startswith("1\n00:00:00,000 --> 00:00:05,33")
    vtt = client.post("/audio/transcriptions", json={**body, "response_format": "vtt"}).text
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 -->")
    verbose = client.post(
        "/audio/transcriptions", json={**body, "response_format": "verbose_json"}
    ).json()
    assert verbose["segments"][0]["text"] == out["text"]
    assert (
        client.post(
            "/audio/transcriptions",
            json={"model": "openai/whisper-1", "input_audio": {"data": "", "format": "wav"}},
        ).status_code
        == 400
    )
    assert (
        client.post("/audio/transcriptions", json={**body, "model": "openai/gpt-4o"}).status_code
        == 400
    )


# ---- videos ------------------------------------------------------------------------------


def test_video_models(client: httpx.Client) -> None:
    data = {m["id"]: m for m in client.get("/videos/models").json()["data"]}
    veo = data["google/veo-3.1"]
    assert veo["supported_durations"] == [4, 6, 8] and veo["supported_frame_images"] == [
        "first_frame",
        "last_frame",
    ]
    assert data["openai/sora-2-pro"]["supported_frame_images"] is None
    assert data["bytedance/seedance-2.0-fast"]["supported_durations"] == list(range(4, 16))
    assert len(data["bytedance/seedance-2.0-fast"]["supported_aspect_ratios"]) == 7
    assert data["alibaba/wan-2.7"]["supported_frame_images"] == ["first_frame"]
    for m in data.values():
        assert {
            "supported_resolutions",
            "supported_sizes",
            "generate_audio",
            "seed",
            "pricing_skus",
            "allowed_passthrough_parameters",
        } <= set(m)


def test_video_job_lifecycle(client: httpx.Client, double: OpenRouterDouble) -> None:
    frame = (
        "data:image/png;base64,"
        + base64.b64encode((FIXTURES / "diagram.png").read_bytes()).decode()
    )
    body = {
        "model": "google/veo-3.1",
        "prompt": "a sunflower",
        "duration": 4,
        "resolution": "720p",
        "aspect_ratio": "16:9",
        "frame_images": [
            {"type": "image_url", "image_url": {"url": frame}, "frame_type": "first_frame"}
        ],
    }
    r = client.post("/videos", json=body)
    assert r.status_code == 202
    job = r.json()
    assert job["status"] == "pending" and job["polling_url"] == f"/api/v1/videos/{job['id']}"
    assert double.requests_to("/videos")[0].media[0]["frame_type"] == "first_frame"
    # resolve the relative polling_url against the server, as a client must
    poll = httpx.get(double.url + job["polling_url"], headers=AUTH).json()
    assert poll["status"] == "in_progress" and "unsigned_urls" not in poll
    assert client.get(f"/videos/{job['id']}/content").status_code == 400  # not ready yet
    # a new client (restart) can resume the job
    with httpx.Client(base_url=double.base_url, headers=AUTH) as fresh:
        done = fresh.get(f"/videos/{job['id']}").json()
    assert done["status"] == "completed" and done["generation_id"].startswith("gen-")
    assert done["usage"] == {"cost": pytest.approx(1.6), "is_byok": False}
    [url] = done["unsigned_urls"]
    assert url == f"{double.base_url}/videos/{job['id']}/content?index=0"
    assert httpx.get(url).status_code == 401  # content needs the key
    video = httpx.get(url, headers=AUTH)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert video.content == asset_bytes("clip.mp4") and video.content[4:8] == b"ftyp"
    assert int(video.headers["content-length"]) == len(video.content)
    assert client.get(f"/videos/{job['id']}/content", params={"index": 1}).status_code == 404
    gen = client.get("/generation", params={"id": done["generation_id"]}).json()["data"]
    assert gen["api_type"] == "video"
    assert client.get("/videos/job_nope").status_code == 404
    double.reset()
    assert client.get(f"/videos/{job['id']}").status_code == 404


@pytest.mark.parametrize(
    ("patch", "needle"),
    [
        ({"duration": 5}, "Supported durations: 4, 6, 8"),
        ({"resolution": "480p"}, "720p, 1080p"),
        ({"aspect_ratio": "1:1"}, "16:9, 9:16"),
        ({"size": "640x480"}, "1280x720"),
        ({"model": "acme/video"}, "does not exist"),
        ({"model": "openai/gpt-4o"}, "does not support video"),
        ({"prompt": ""}, "prompt"),
        (
            {"frame_images": [{"frame_type": "first_frame", "image": {"url": "https://x/y.png"}}]},
            "image_url",
        ),
        (
            {
                "frame_images": [
                    {
                        "type": "image_url",
                        "image_url": {"url": "ftp://x"},
                        "frame_type": "first_frame",
                    }
                ]
            },
            "http(s)",
        ),
        (
            {
                "frame_images": [
                    {
                        "type": "image_url",
                        "image_url": {"url": "https://x/y.png"},
                        "frame_type": "middle",
                    }
                ]
            },
            "frame_type",
        ),
        (
            {
                "model": "openai/sora-2-pro",
                "frame_images": [
                    {
                        "type": "image_url",
                        "image_url": {"url": "https://x/y.png"},
                        "frame_type": "first_frame",
                    }
                ],
            },
            "does not support frame images",
        ),
        (
            {
                "model": "alibaba/wan-2.7",
                "duration": 5,
                "resolution": "1080p",
                "aspect_ratio": "16:9",
                "frame_images": [
                    {
                        "type": "image_url",
                        "image_url": {"url": "https://x/y.png"},
                        "frame_type": "last_frame",
                    }
                ],
            },
            "first_frame",
        ),
        ({"input_references": [{"image": {"url": "https://x"}}]}, "input_references[0]"),
    ],
)
def test_video_submit_validation(client: httpx.Client, patch: dict[str, Any], needle: str) -> None:
    body = {"model": "google/veo-3.1", "prompt": "a sunflower", **patch}
    r = client.post("/videos", json=body)
    assert r.status_code == 400, r.text
    assert needle in r.json()["error"]["message"]


def test_video_valid_variants(client: httpx.Client) -> None:
    ok = [
        {
            "model": "bytedance/seedance-2.0-fast",
            "prompt": "x",
            "duration": 13,
            "resolution": "480p",
            "aspect_ratio": "21:9",
        },
        {"model": "openai/sora-2-pro", "prompt": "x", "duration": 12, "size": "1792x1024"},
        {
            "model": "alibaba/wan-2.7",
            "prompt": "x",
            "resolution": "1080p",
            "frame_images": [
                {
                    "type": "image_url",
                    "image_url": {"url": "https://x/y.png"},
                    "frame_type": "first_frame",
                }
            ],
        },
        {
            "model": "google/veo-3.1",
            "frame_images": [
                {
                    "type": "image_url",
                    "image_url": {"url": "https://x/a.png"},
                    "frame_type": "first_frame",
                },
                {
                    "type": "image_url",
                    "image_url": {"url": "https://x/b.png"},
                    "frame_type": "last_frame",
                },
            ],
        },
    ]
    for body in ok:
        assert client.post("/videos", json=body).status_code == 202, body


def test_scripted_video_jobs(client: httpx.Client, double: OpenRouterDouble) -> None:
    double.script_video(
        ["pending", "queued_weird_status", "in_progress", "failed"],
        error="Content policy violation",
    )
    job = client.post("/videos", json={"model": "google/veo-3.1", "prompt": "x"}).json()
    seen = [client.get(f"/videos/{job['id']}").json() for _ in range(5)]
    assert [s["status"] for s in seen] == [
        "pending",
        "queued_weird_status",
        "in_progress",
        "failed",
        "failed",
    ]
    assert seen[-1]["error"] == "Content policy violation"
    assert "unsigned_urls" not in seen[-1]
    for terminal in ("cancelled", "expired"):
        double.script_video([terminal], error=None)
        j = client.post("/videos", json={"model": "google/veo-3.1", "prompt": "x"}).json()
        assert client.get(f"/videos/{j['id']}").json()["status"] == terminal
    # scripts are consumed: the next job follows video_polls_to_complete again
    j = client.post("/videos", json={"model": "google/veo-3.1", "prompt": "x"}).json()
    assert [client.get(f"/videos/{j['id']}").json()["status"] for _ in range(2)] == [
        "in_progress",
        "completed",
    ]
    assert double.video_job(j["id"])["polls"] == 2


def _mp4_boxes(head: bytes, total: int) -> list[tuple[bytes, int]]:
    boxes = []
    pos = 0
    while pos < total:
        size, kind = struct.unpack(">I4s", head[pos : pos + 8])
        if size == 1:
            size = struct.unpack(">Q", head[pos + 8 : pos + 16])[0]
        boxes.append((kind, size))
        pos += size
        if pos >= len(head):
            break
    return boxes


def test_big_video_is_streamed_in_chunks() -> None:
    size = 48 * 1024 * 1024 + 3
    with (
        OpenRouterDouble(video_content_bytes=size, video_polls_to_complete=1) as d,
        httpx.Client(base_url=d.base_url, headers=AUTH) as c,
    ):
        job = c.post("/videos", json={"model": "google/veo-3.1", "prompt": "x"}).json()
        assert c.get(f"/videos/{job['id']}").json()["status"] == "completed"
        tracemalloc.start()
        try:
            received = 0
            head = b""
            t = time.monotonic()
            with c.stream("GET", f"/videos/{job['id']}/content") as r:
                assert r.headers["content-length"] == str(size)
                for chunk in r.iter_raw(1 << 20):
                    if len(head) < 64 * 1024:
                        head += chunk[: 64 * 1024]
                    received += len(chunk)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert received == size
    assert peak < 12 * 1024 * 1024, f"peak {peak} bytes while streaming {size}"
    assert time.monotonic() - t < 10
    boxes = _mp4_boxes(head, size)
    assert [b[0] for b in boxes[:4]] == [b"ftyp", b"moov", b"free", b"mdat"]
    assert boxes[-1] == (b"free", size - len(asset_bytes("clip.mp4")))
    assert sum(b[1] for b in boxes) == size


def test_video_content_size_floor() -> None:
    with pytest.raises(ValueError):
        OpenRouterDouble(video_content_bytes=100)


def test_online_search_annotations_and_fallback_attempts(
    client: httpx.Client, double: OpenRouterDouble
) -> None:
    msg = client.post("/chat/completions", json=chat_body(model="openai/gpt-4o:online")).json()
    ann = msg["choices"][0]["message"]["annotations"][0]
    assert ann["type"] == "url_citation" and ann["url_citation"]["url"].startswith("https://")
    plugin = chat_body(plugins=[{"id": "web", "max_results": 3}])
    assert client.post("/chat/completions", json=plugin).json()["choices"][0]["message"][
        "annotations"
    ]
    _, raw = stream_chat(client, plugin)
    events, _ = sse_events(raw)
    assert any("annotations" in e["choices"][0]["delta"] for e in events[:-1] if e["choices"])
    plain = client.post("/chat/completions", json=chat_body()).json()["choices"][0]["message"]
    assert "annotations" not in plain
    # the generation record lists the failed fallback attempt
    double.inject(Fault(model="openai/gpt-4o", status=503))
    r = client.post("/chat/completions", json=chat_body(models=["openai/gpt-4o-mini"]))
    assert r.json()["model"] == "openai/gpt-4o-mini"
    gen = client.get("/generation", params={"id": r.json()["id"]}).json()["data"]
    assert gen["provider_responses"] == [
        {"provider": "or_magic-offline", "model": "openai/gpt-4o", "status": 503}
    ]
