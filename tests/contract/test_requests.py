"""Contract: every request body a tool sends validates against the official SDK's request model.

Each case runs one tool (one parameter family) against the double; then every request the double
recorded is checked with ``strict.problems`` against the SDK model for its endpoint. A field the
model does not define, or an enum value outside the spec, fails the case — unless it is on
``ALLOWLIST``, each entry of which cites the OpenRouter documentation page that describes it.
GET requests have their query keys checked against the operation's request model.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("openrouter")

from openrouter import operations
from openrouter.components.batchsubmitbody import BatchSubmitBody
from openrouter.components.chatrequest import ChatRequest
from openrouter.components.imagegenerationrequest import ImageGenerationRequest
from openrouter.components.speechrequest import SpeechRequest
from openrouter.components.sttrequest import STTRequest
from openrouter.components.videogenerationrequest import VideoGenerationRequest

from or_magic.tools.api import call_tool

from .strict import problems

pytestmark = pytest.mark.anyio

# Fields OpenRouter documents but the OpenAPI spec (and so the SDK) lacks. Keep this short: every
# entry needs the docs page it comes from.
ALLOWLIST: dict[str, set[str]] = {
    "/chat/completions": {
        # docs: guides/best-practices/reasoning-tokens — reasoning.max_tokens / exclude / enabled
        "reasoning.max_tokens",
        "reasoning.exclude",
        "reasoning.enabled",
        # docs: guides/overview/multimodal/audio — chat audio output {voice, format}
        "audio",
    },
}

BODY_MODELS: dict[str, type] = {
    "/chat/completions": ChatRequest,
    "/images": ImageGenerationRequest,
    "/audio/speech": SpeechRequest,
    "/audio/transcriptions": STTRequest,
    "/videos": VideoGenerationRequest,
    "/rerank": operations.CreateRerankRequestBody,
    "/embeddings": operations.CreateEmbeddingsRequestBody,
    "/batches": BatchSubmitBody,
}

# GET path (below /api/v1, ids replaced) → the operation's request model (its query fields)
QUERY_MODELS: dict[str, type] = {
    "/models": operations.GetModelsRequest,
    "/models/count": operations.ListModelsCountRequest,
    "/generation": operations.GetGenerationRequest,
    "/key": operations.GetCurrentKeyRequest,
    "/credits": operations.GetCreditsRequest,
    "/providers": operations.ListProvidersRequest,
    "/images/models": operations.ListImageModelsRequest,
    "/videos/models": operations.ListVideosModelsRequest,
    "/embeddings/models": operations.ListEmbeddingsModelsRequest,
    "/batches": operations.ListBatchesRequest,
    "/videos/{id}/content": operations.ListVideosContentRequest,
}

SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "answer",
        "strict": True,
        "schema": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
    },
}
PROVIDER = {
    "order": ["openai", "azure"],
    "only": ["openai"],
    "ignore": ["deepinfra"],
    "quantizations": ["fp8"],
    "sort": "price",
    "require_parameters": True,
    "data_collection": "deny",
    "allow_fallbacks": False,
    "zdr": True,
    "max_price": {"prompt": 1, "completion": 2},
}
VIDEO = {"max_wait_ms": 20_000, "poll_interval_ms": 50}

CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("chat-basic", "chat_completion", {"prompt": "hi", "system": "be brief", "stream": False}),
    ("chat-stream", "chat_completion", {"prompt": "hi", "stream": True}),
    (
        "chat-sampling",
        "chat_completion",
        {
            "prompt": "hi",
            "temperature": 0.3,
            "top_p": 0.9,
            "frequency_penalty": 0.1,
            "presence_penalty": 0.2,
            "seed": 7,
            "stop": ["END"],
            "max_tokens": 50,
        },
    ),
    ("chat-provider", "chat_completion", {"prompt": "hi", "provider": PROVIDER}),
    (
        "chat-online-plugin",
        "chat_completion",
        {"prompt": "news?", "online": True, "web_max_results": 3, "web_blocked_domains": ["x.com"]},
    ),
    ("chat-online-suffix", "chat_completion", {"prompt": "news?", "model": "openai/gpt-4o:online"}),
    (
        "chat-reasoning",
        "chat_completion",
        {
            "prompt": "think",
            "model": "deepseek/deepseek-r1",
            "reasoning": {"max_tokens": 64, "exclude": False, "enabled": True},
        },
    ),
    (
        "chat-reasoning-effort",
        "chat_completion",
        {"prompt": "think", "model": "deepseek/deepseek-r1", "reasoning_effort": "high"},
    ),
    ("chat-include-reasoning", "chat_completion", {"prompt": "t", "include_reasoning": True}),
    (
        "chat-structured",
        "chat_completion",
        {"prompt": "json", "model": "openai/gpt-4o", "response_format": SCHEMA},
    ),
    (
        "chat-json-object",
        "chat_completion",
        {"prompt": "json", "response_format": {"type": "json_object"}, "response_healing": True},
    ),
    (
        "chat-fallbacks",
        "chat_completion",
        {"prompt": "hi", "model": "openai/gpt-4o", "models": ["openai/gpt-4o-mini"]},
    ),
    (
        "chat-tools",
        "chat_completion",
        {
            "prompt": "weather?",
            "model": "openai/gpt-4o",
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "weather",
                        "description": "Weather",
                        "parameters": {"type": "object", "properties": {}},
                    },
                }
            ],
            "tool_choice": "auto",
        },
    ),
    (
        "chat-messages",
        "chat_completion",
        {
            "model": "openai/gpt-4o",
            "messages": [
                {"role": "developer", "content": "d"},
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "ok"},
            ],
        },
    ),
    ("chat-fusion", "chat_completion", {"prompt": "hi", "fusion": True}),
    ("chat-subagent", "chat_completion", {"prompt": "hi", "subagent": {"model": "openai/gpt-4o"}}),
    ("chat-cache", "chat_completion", {"prompt": "hi", "cache": True, "cache_ttl": "5m"}),
    ("start-chat", "start_chat_completion", {"prompt": "hi", "wait": True}),
    ("analyze-image", "analyze_image", {"image_path": "photo.jpg", "question": "what?"}),
    (
        "analyze-image-cache",
        "analyze_image",
        {
            "image_path": "photo.jpg",
            "image_paths": ["diagram.png"],
            "detail": "high",
            "cache_input": True,
            "provider": {"sort": "latency"},
            "temperature": 0.1,
            "max_tokens": 20,
        },
    ),
    ("analyze-audio", "analyze_audio", {"audio_path": "speech.wav", "cache_input": True}),
    ("analyze-video", "analyze_video", {"video_path": "clip.mp4", "cache_input": True}),
    ("analyze-media", "analyze_media", {"sources": ["photo.jpg", "speech.mp3", "clip.mp4"]}),
    (
        "generate-image",
        "generate_image",
        {
            "prompt": "fox",
            "aspect_ratio": "16:9",
            "image_size": "2K",
            "provider": {"sort": "price"},
        },
    ),
    (
        "generate-image-half-k",
        "generate_image",
        {"prompt": "fox", "model": "google/gemini-3.1-flash-image-preview", "image_size": "0.5K"},
    ),
    ("generate-image-refs", "generate_image", {"prompt": "fox", "input_images": ["photo.jpg"]}),
    (
        "images-dedicated",
        "generate_image_dedicated",
        {
            "prompt": "city",
            "model": "black-forest-labs/flux.2-pro",
            "resolution": "2K",
            "aspect_ratio": "16:9",
            "quality": "high",
            "output_format": "png",
            "n": 2,
            "input_references": ["photo.jpg"],
            "provider": {"only": ["black-forest-labs"]},
        },
    ),
    (
        "images-half-k",
        "generate_image_dedicated",
        {"prompt": "city", "model": "google/gemini-3.1-flash-image-preview", "resolution": "0.5K"},
    ),
    (
        "images-512",
        "generate_image_dedicated",
        {"prompt": "city", "model": "google/gemini-3.1-flash-image-preview", "resolution": "512"},
    ),
    ("audio-chat", "generate_audio", {"prompt": "say hi", "voice": "alloy", "format": "wav"}),
    ("music", "generate_audio", {"prompt": "a tune", "model": "google/lyria-3-pro-preview"}),
    *[
        (
            f"tts-{fmt}",
            "text_to_speech",
            {
                "input": "hello there",
                "model": "openai/gpt-4o-mini-tts",
                "voice": "alloy",
                "response_format": fmt,
                "speed": 1.1,
                "instructions": "cheerful",
                "provider": {"data_collection": "deny", "zdr": True},
            },
        )
        for fmt in ("mp3", "pcm", "wav")
    ],
    ("tts-default", "text_to_speech", {"input": "hello"}),
    *[
        (
            f"stt-{fmt}",
            "speech_to_text",
            {
                "audio_path": "speech.wav",
                "language": "en",
                "response_format": fmt,
                "temperature": 0.2,
                "provider": {"zdr": True},
            },
        )
        for fmt in ("json", "verbose_json", "text", "srt", "vtt")
    ],
    ("stt-mp3", "speech_to_text", {"audio_path": "speech.mp3"}),
    ("embed-one", "embed_texts", {"input": "cats purr"}),
    (
        "embed-many",
        "embed_texts",
        {
            "input": ["cats purr", "dogs bark", "fish swim"],
            "dimensions": 64,
            "input_type": "search_document",
            "chunk_size": 2,
            "provider": {"order": ["openai"]},
        },
    ),
    (
        "embed-batch",
        "submit_batch",
        {"tool": "embed_texts", "items": ["a", "b"], "args": {"dimensions": 32}},
    ),
    (
        "rerank",
        "rerank_documents",
        {"query": "cats", "documents": ["cats purr", "dogs bark"], "top_n": 1},
    ),
    (
        "rerank-docs",
        "rerank_documents",
        {
            "query": "cats",
            "documents": ["cats purr"],
            "return_documents": True,
            "provider": {"order": ["cohere"]},
        },
    ),
    (
        "video-text",
        "generate_video",
        {
            "prompt": "waves",
            "duration": 4,
            "resolution": "720p",
            "aspect_ratio": "16:9",
            "seed": 3,
            "generate_audio": True,
            "provider": {"options": {"google-vertex": {"negativePrompt": "rain"}}},
            **VIDEO,
        },
    ),
    ("video-size", "generate_video", {"prompt": "waves", "size": "1280x720", **VIDEO}),
    (
        "video-frames",
        "generate_video",
        {
            "prompt": "waves",
            "first_frame_image": "photo.jpg",
            "last_frame_image": "diagram.png",
            **VIDEO,
        },
    ),
    (
        "video-references",
        "generate_video",
        {
            "prompt": "waves",
            "model": "bytedance/seedance-2.0-fast",
            "reference_images": ["photo.jpg"],
            **VIDEO,
        },
    ),
    ("video-from-image", "generate_video_from_image", {"image": "photo.jpg", "prompt": "go"}),
    ("search-models", "search_models", {"query": "gpt", "capabilities": {"vision": True}}),
    ("search-models-out", "search_models", {"output_modalities": ["image"], "limit": 5}),
    ("model-info", "get_model_info", {"model": "openai/gpt-4o"}),
    ("validate-model", "validate_model", {"model": "openai/gpt-4o"}),
    ("health", "health_check", {}),
    ("batch-chat", "submit_batch", {"items": ["a", "b"], "args": {"max_tokens": 20}}),
    (
        "batch-analyze",
        "submit_batch",
        {"tool": "analyze_image", "items": ["photo.jpg"], "args": {"question": "what?"}},
    ),
]

MEDIA = ("photo.jpg", "diagram.png", "speech.wav", "speech.mp3", "clip.mp4")


def _endpoint(path: str) -> str:
    p = path.split("/api/v1", 1)[-1].rstrip("/")
    if p.startswith("/videos/") and p != "/videos/models":
        return "/videos/{id}/content" if p.endswith("/content") else "/videos/{id}"
    if p.startswith("/models/") and p.endswith("/endpoints"):
        return "/models/{id}/endpoints"
    if p.startswith("/model/"):
        return "/model/{id}"
    if p.startswith("/batches/"):
        return "/batches/{id}"
    return p


def check_request(rec: Any) -> list[str]:
    """Problems of one recorded request against the SDK (empty = conforms)."""
    ep = _endpoint(rec.path)
    if rec.method == "POST":
        model = BODY_MODELS.get(ep)
        if model is None:
            return [f"POST {ep}: no SDK request model mapped (add one to BODY_MODELS)"]
        found = [
            f"POST {ep} {p}" for p in problems(model, rec.json, allow=ALLOWLIST.get(ep, set()))
        ]
        if (
            ep == "/batches"
        ):  # the SDK types each item's body as a plain dict: check it as its endpoint
            inner = str(rec.json.get("endpoint", "")).removeprefix("/v1")
            item_model = BODY_MODELS.get(inner)
            for i, req in enumerate(rec.json.get("requests") or []):
                if item_model is None:
                    found.append(f"POST /batches: no SDK request model for items of {inner!r}")
                    break
                allow = ALLOWLIST.get(inner, set())
                found += [
                    f"POST /batches requests[{i}].body {p}"
                    for p in problems(item_model, req["body"], allow=allow)
                ]
        return found
    model = QUERY_MODELS.get(ep)
    if model is None:
        return [] if not rec.query else [f"GET {ep}: query {sorted(rec.query)} with no model"]
    known = set(model.model_fields)
    return [
        f"GET {ep}: query key {k!r} not in {model.__name__}" for k in rec.query if k not in known
    ]


@pytest.fixture
def media(fixtures_dir: Path) -> None:
    for name in MEDIA:
        shutil.copy(fixtures_dir / name, Path.cwd() / name)


@pytest.mark.parametrize(("case", "tool", "args"), CASES, ids=[c[0] for c in CASES])
async def test_request_matches_the_sdk_model(double, media, case, tool, args, monkeypatch):
    monkeypatch.setenv("OPENROUTER_VIDEO_POLL_INTERVAL_MS", "50")
    args = dict(args)
    wait = args.pop("wait", False)
    r = await call_tool(tool, args)
    assert not r.is_error, f"{case}: {r.code} {r.text}"
    if wait:  # a background job: its request is sent after the call returns
        r = await call_tool(
            "get_chat_completion_status", {"job_id": r.data["job_id"], "wait_s": 30}
        )
        assert not r.is_error, f"{case}: {r.code} {r.text}"
    sent = [q for q in double.requests if "/api/v1/" in q.path]
    assert sent, f"{case}: nothing was sent"
    found = [p for q in sent for p in check_request(q)]
    assert not found, f"{case}:\n" + "\n".join(found)


def test_every_tool_is_covered():
    from or_magic.tools import registry

    covered = {c[1] for c in CASES} | {
        "get_chat_completion_status",
        "get_video_status",
        "get_batch_status",  # GETs /batches/{id}: no body; its query is checked by check_request
    }
    assert set(registry.all_tools()) <= covered


def test_the_checker_catches_unknown_fields_and_open_enum_misses():
    body = {
        "model": "m",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": "x"}, "cache_control": {}},
                ],
            }
        ],
        "provider": {"sort": "price", "bogus": 1},
    }
    got = problems(ChatRequest, body)
    assert any("content[0].cache_control" in p for p in got)
    assert any("provider.bogus" in p for p in got)
    assert problems(ImageGenerationRequest, {"model": "m", "prompt": "p", "resolution": "0.5K"})
    assert problems(ImageGenerationRequest, {"model": "m"})  # required field missing
    assert not problems(ImageGenerationRequest, {"model": "m", "prompt": "p", "resolution": "512"})
    allowed = problems(
        ChatRequest,
        {"messages": [], "reasoning": {"max_tokens": 3}},
        allow=["reasoning.max_tokens"],
    )
    assert not allowed


# ---- the fixes the contract found --------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("generate_video", {"prompt": "w", "provider": {"only": ["google-vertex"]}}),
        ("text_to_speech", {"input": "hi", "provider": {"sort": "price"}}),
        ("speech_to_text", {"audio_path": "speech.wav", "provider": {"order": ["openai"]}}),
        ("generate_image_dedicated", {"prompt": "p", "provider": {"zdr": True}}),
    ],
)
async def test_provider_keys_an_endpoint_lacks_are_refused_before_sending(
    double, media, tool, args
):
    r = await call_tool(tool, args)
    assert r.code == "INVALID_INPUT" and "provider" in r.text, r.text
    assert not [q for q in double.requests if q.method == "POST"]


async def test_env_routing_defaults_do_not_break_speech(double, monkeypatch):
    monkeypatch.setenv("OPENROUTER_PROVIDER_SORT", "price")
    monkeypatch.setenv("OPENROUTER_PROVIDER_DATA_COLLECTION", "deny")
    r = await call_tool("text_to_speech", {"input": "hello"})
    assert not r.is_error, r.text
    (req,) = [q for q in double.requests if q.path.endswith("/audio/speech")]
    assert req.json["provider"] == {"data_collection": "deny"}


async def test_max_price_is_sent_as_decimal_strings(double):
    r = await call_tool(
        "chat_completion",
        {"prompt": "hi", "provider": {"max_price": {"prompt": 1, "completion": 1e-7}}},
    )
    assert not r.is_error, r.text
    assert double.requests[-1].json["provider"]["max_price"] == {
        "prompt": "1",
        "completion": "0.0000001",
    }


async def test_tts_wav_is_requested_as_pcm_and_wrapped_locally(double):
    r = await call_tool("text_to_speech", {"input": "hello there", "response_format": "wav"})
    assert not r.is_error, r.text
    assert double.requests[-1].json["response_format"] == "pcm"
    (item,) = r.media
    assert item.mime == "audio/wav" and item.read_bytes()[:4] == b"RIFF"


@pytest.mark.parametrize("fmt", ["srt", "vtt", "text"])
async def test_stt_subtitle_formats_are_rendered_from_verbose_json(double, media, fmt):
    r = await call_tool("speech_to_text", {"audio_path": "speech.wav", "response_format": fmt})
    assert not r.is_error, r.text
    assert double.requests[-1].json["response_format"] == "verbose_json"
    assert "Offline transcription" in r.text
    if fmt == "srt":
        assert r.text.startswith("1\n00:00:00,000 --> 00:00:")
    elif fmt == "vtt":
        assert r.text.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:")
    else:
        assert "-->" not in r.text


async def test_half_k_is_sent_under_the_spec_name(double):
    r = await call_tool(
        "generate_image_dedicated",
        {"prompt": "p", "model": "google/gemini-3.1-flash-image-preview", "resolution": "0.5K"},
    )
    assert not r.is_error, r.text
    assert double.requests[-1].json["resolution"] == "512"
