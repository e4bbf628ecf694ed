"""The double's model catalog: plain data, importable by tests without starting anything.

``MODELS`` mirrors ``GET /api/v1/models`` records (prices are strings, USD per token, like the real
API). ``VIDEO_MODELS`` and ``IMAGE_MODELS`` are the capability records of ``/videos/models`` and
``/images/models``. Ids and capabilities follow openrouter-api.md; prices are plausible, not real.
"""

from __future__ import annotations

from typing import Any

#: Routing variants a model id may carry; ``model:variant`` resolves to ``model`` when the exact
#: variant is not listed (``:free`` variants that exist are separate catalog entries, as upstream).
VARIANT_SUFFIXES = ("free", "nitro", "online", "floor", "exacto", "thinking", "extended")

_TEXT_PARAMS = [
    "max_tokens",
    "temperature",
    "top_p",
    "stop",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "response_format",
    "structured_outputs",
    "tools",
    "tool_choice",
]
_REASONING_PARAMS = [*_TEXT_PARAMS, "reasoning", "include_reasoning", "reasoning_effort"]

OPENAI_VOICES = [
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "fable",
    "nova",
    "onyx",
    "sage",
    "shimmer",
    "verse",
]
DEEPGRAM_VOICES = [
    "flux-alexis-en",
    "flux-arcas-en",
    "flux-luna-en",
    "flux-orion-en",
    "flux-stella-en",
]


def _model(
    id: str,
    name: str,
    *,
    inputs: list[str],
    outputs: list[str],
    prompt: str = "0",
    completion: str = "0",
    context: int | None = 131072,
    max_out: int | None = 16384,
    params: list[str] | None = None,
    created: int = 1_740_000_000,
    tokenizer: str = "Other",
    description: str = "",
    extra_pricing: dict[str, str] | None = None,
    voices: list[str] | None = None,
    hf: str | None = None,
) -> dict[str, Any]:
    pricing = {
        "prompt": prompt,
        "completion": completion,
        "request": "0",
        "image": "0",
        "web_search": "0",
        "internal_reasoning": "0",
    }
    pricing.update(extra_pricing or {})
    params = list(_TEXT_PARAMS if params is None else params)
    rec: dict[str, Any] = {
        "id": id,
        "canonical_slug": id.split(":")[0] + "-20250101",
        "hugging_face_id": hf or "",
        "name": name,
        "created": created,
        "description": description or f"{name} (offline double catalog entry).",
        "context_length": context,
        "architecture": {
            "modality": "+".join(inputs) + "->" + "+".join(outputs),
            "input_modalities": list(inputs),
            "output_modalities": list(outputs),
            "tokenizer": tokenizer,
            "instruct_type": None,
        },
        "pricing": pricing,
        "top_provider": {
            "context_length": context,
            "max_completion_tokens": max_out,
            "is_moderated": id.startswith("openai/"),
        },
        "per_request_limits": None,
        "supported_parameters": params,
        "default_parameters": {"temperature": None, "top_p": None, "frequency_penalty": None},
        "expiration_date": None,
        "links": {"details": f"/api/v1/models/{id}/endpoints"},
    }
    if "reasoning" in params:
        rec["reasoning"] = {
            "supported_efforts": ["high", "medium", "low", "minimal"],
            "default_effort": "medium",
            "default_enabled": False,
            "mandatory": False,
            "supports_max_tokens": True,
        }
    rec["supported_voices"] = list(voices) if voices is not None else None  # required, nullable
    return rec


_GEMMA_DESC = "Gemma 4 26B A4B: an open mixture-of-experts model from Google with image input."

MODELS: list[dict[str, Any]] = [
    # ---- text / vision chat
    _model(
        "google/gemma-4-26b-a4b-it:free",
        "Google: Gemma 4 26B A4B (free)",
        inputs=["text", "image"],
        outputs=["text"],
        created=1_775_000_000,
        tokenizer="Gemma",
        description=_GEMMA_DESC,
        hf="google/gemma-4-26b-a4b-it",
    ),
    _model(
        "google/gemma-4-26b-a4b-it",
        "Google: Gemma 4 26B A4B",
        inputs=["text", "image"],
        outputs=["text"],
        prompt="0.00000007",
        completion="0.00000035",
        created=1_775_000_000,
        tokenizer="Gemma",
        description=_GEMMA_DESC,
        hf="google/gemma-4-26b-a4b-it",
    ),
    _model(
        "nvidia/nemotron-nano-12b-v2-vl:free",
        "NVIDIA: Nemotron Nano 12B 2 VL (free)",
        inputs=["text", "image", "video"],
        outputs=["text"],
        context=128000,
        created=1_761_000_000,
        hf="nvidia/NVIDIA-Nemotron-Nano-12B-v2-VL-BF16",
    ),
    _model(
        "google/gemini-2.5-flash",
        "Google: Gemini 2.5 Flash",
        inputs=["text", "image", "file", "audio", "video"],
        outputs=["text"],
        prompt="0.0000003",
        completion="0.0000025",
        context=1048576,
        max_out=65535,
        params=_REASONING_PARAMS,
        created=1_750_000_000,
        tokenizer="Gemini",
        extra_pricing={"audio": "0.000001", "image": "0.001238", "internal_reasoning": "0.0000025"},
    ),
    _model(
        "google/gemini-2.5-pro",
        "Google: Gemini 2.5 Pro",
        inputs=["text", "image", "file", "audio", "video"],
        outputs=["text"],
        prompt="0.00000125",
        completion="0.00001",
        context=1048576,
        max_out=65536,
        params=_REASONING_PARAMS,
        created=1_750_000_001,
        tokenizer="Gemini",
        extra_pricing={"image": "0.00516", "internal_reasoning": "0.00001"},
    ),
    _model(
        "openai/gpt-4o",
        "OpenAI: GPT-4o",
        inputs=["text", "image", "file"],
        outputs=["text"],
        prompt="0.0000025",
        completion="0.00001",
        context=128000,
        created=1_715_367_049,
        tokenizer="GPT",
        extra_pricing={"image": "0.003613"},
    ),
    _model(
        "openai/gpt-4o-mini",
        "OpenAI: GPT-4o-mini",
        inputs=["text", "image", "file"],
        outputs=["text"],
        prompt="0.00000015",
        completion="0.0000006",
        context=128000,
        created=1_721_260_800,
        tokenizer="GPT",
    ),
    _model(
        "openai/gpt-5.2",
        "OpenAI: GPT-5.2",
        inputs=["text", "image", "file"],
        outputs=["text"],
        prompt="0.00000175",
        completion="0.000014",
        context=400000,
        max_out=128000,
        params=_REASONING_PARAMS,
        created=1_765_000_000,
        tokenizer="GPT",
    ),
    _model(
        "anthropic/claude-sonnet-4.5",
        "Anthropic: Claude Sonnet 4.5",
        inputs=["text", "image", "file"],
        outputs=["text"],
        prompt="0.000003",
        completion="0.000015",
        context=1000000,
        max_out=64000,
        params=_REASONING_PARAMS,
        created=1_759_161_676,
        tokenizer="Claude",
        extra_pricing={"input_cache_read": "0.0000003", "input_cache_write": "0.00000375"},
    ),
    _model(
        "deepseek/deepseek-r1",
        "DeepSeek: R1",
        inputs=["text"],
        outputs=["text"],
        prompt="0.0000004",
        completion="0.000002",
        context=163840,
        params=_REASONING_PARAMS,
        created=1_737_381_095,
        tokenizer="DeepSeek",
    ),
    _model(
        "qwen/qwen3-235b-a22b",
        "Qwen: Qwen3 235B A22B",
        inputs=["text"],
        outputs=["text"],
        prompt="0.00000013",
        completion="0.0000006",
        context=131072,
        params=_REASONING_PARAMS,
        created=1_745_875_757,
        tokenizer="Qwen3",
    ),
    _model(
        "meta-llama/llama-3.3-70b-instruct:free",
        "Meta: Llama 3.3 70B Instruct (free)",
        inputs=["text"],
        outputs=["text"],
        context=65536,
        created=1_733_506_137,
        tokenizer="Llama3",
    ),
    _model(
        "meta-llama/llama-3.3-70b-instruct",
        "Meta: Llama 3.3 70B Instruct",
        inputs=["text"],
        outputs=["text"],
        prompt="0.00000013",
        completion="0.0000004",
        created=1_733_506_137,
        tokenizer="Llama3",
    ),
    _model(
        "mistralai/mistral-small-3.2-24b-instruct",
        "Mistral: Mistral Small 3.2 24B",
        inputs=["text", "image"],
        outputs=["text"],
        prompt="0.00000005",
        completion="0.0000001",
        created=1_750_443_016,
        tokenizer="Mistral",
    ),
    # ---- audio output through chat (stream + pcm16 only)
    _model(
        "openai/gpt-audio",
        "OpenAI: GPT Audio",
        inputs=["text", "audio"],
        outputs=["text", "audio"],
        prompt="0.0000025",
        completion="0.00001",
        created=1_756_000_000,
        tokenizer="GPT",
        extra_pricing={"audio": "0.00004", "audio_output": "0.00008"},
        voices=OPENAI_VOICES,
    ),
    _model(
        "openai/gpt-audio-mini",
        "OpenAI: GPT Audio Mini",
        inputs=["text", "audio"],
        outputs=["text", "audio"],
        prompt="0.0000006",
        completion="0.0000024",
        created=1_756_000_001,
        tokenizer="GPT",
        extra_pricing={"audio": "0.00001", "audio_output": "0.00002"},
        voices=OPENAI_VOICES,
    ),
    _model(
        "openai/gpt-4o-audio-preview",
        "OpenAI: GPT-4o Audio Preview",
        inputs=["text", "audio"],
        outputs=["text", "audio"],
        prompt="0.0000025",
        completion="0.00001",
        created=1_740_000_100,
        tokenizer="GPT",
        extra_pricing={"audio": "0.00004", "audio_output": "0.00008"},
        voices=OPENAI_VOICES,
    ),
    _model(
        "google/lyria-3-pro-preview",
        "Google: Lyria 3 Pro (music, preview)",
        inputs=["text"],
        outputs=["audio"],
        prompt="0",
        completion="0",
        context=32768,
        params=["temperature", "seed"],
        created=1_770_000_000,
        tokenizer="Gemini",
        extra_pricing={"request": "0.06"},
    ),
    # ---- image generation
    _model(
        "google/gemini-2.5-flash-image",
        "Google: Gemini 2.5 Flash Image (Nano Banana)",
        inputs=["image", "text"],
        outputs=["image", "text"],
        prompt="0.0000003",
        completion="0.0000025",
        context=32768,
        max_out=8192,
        params=["max_tokens", "temperature", "top_p", "seed", "response_format"],
        created=1_759_000_000,
        tokenizer="Gemini",
        extra_pricing={"image_output": "0.039"},
    ),
    _model(
        "google/gemini-3.1-flash-image-preview",
        "Google: Gemini 3.1 Flash Image Preview",
        inputs=["image", "text"],
        outputs=["image", "text"],
        prompt="0.0000005",
        completion="0.000003",
        context=65536,
        max_out=32768,
        params=["max_tokens", "temperature", "top_p", "seed", "response_format"],
        created=1_772_000_000,
        tokenizer="Gemini",
        extra_pricing={"image_output": "0.045"},
    ),
    _model(
        "black-forest-labs/flux.2-pro",
        "Black Forest Labs: FLUX.2 Pro",
        inputs=["text", "image"],
        outputs=["image"],
        context=46864,
        max_out=None,
        params=["seed"],
        created=1_764_000_000,
        extra_pricing={"image_output": "0.03"},
    ),
    # ---- video generation (async /videos API)
    _model(
        "google/veo-3.1",
        "Google: Veo 3.1",
        inputs=["text", "image"],
        outputs=["video"],
        context=None,
        max_out=None,
        params=["seed"],
        created=1_767_000_000,
        extra_pricing={"request": "0"},
    ),
    _model(
        "openai/sora-2-pro",
        "OpenAI: Sora 2 Pro",
        inputs=["text"],
        outputs=["video"],
        context=None,
        max_out=None,
        params=[],
        created=1_767_000_001,
    ),
    _model(
        "bytedance/seedance-2.0-fast",
        "ByteDance: Seedance 2.0 Fast",
        inputs=["text", "image", "audio", "video"],
        outputs=["video"],
        context=None,
        max_out=None,
        params=["seed"],
        created=1_770_000_002,
    ),
    _model(
        "alibaba/wan-2.7",
        "Alibaba: Wan 2.7",
        inputs=["text", "image"],
        outputs=["video"],
        context=None,
        max_out=None,
        params=["seed"],
        created=1_770_000_003,
    ),
    # ---- rerank
    _model(
        "cohere/rerank-v3.5",
        "Cohere: Rerank v3.5",
        inputs=["text"],
        outputs=["rerank"],
        context=4096,
        max_out=None,
        params=[],
        created=1_733_000_000,
        tokenizer="Cohere",
        extra_pricing={"request": "0.002"},
    ),
    _model(
        "cohere/rerank-english-v3.0",
        "Cohere: Rerank English v3.0",
        inputs=["text"],
        outputs=["rerank"],
        context=4096,
        max_out=None,
        params=[],
        created=1_712_000_000,
        tokenizer="Cohere",
        extra_pricing={"request": "0.002"},
    ),
    # ---- speech (TTS) and transcription (STT)
    _model(
        "deepgram/flux-tts:free",
        "Deepgram: Flux TTS (free)",
        inputs=["text"],
        outputs=["speech"],
        context=2000,
        max_out=None,
        params=["speed"],
        created=1_771_000_000,
        voices=DEEPGRAM_VOICES,
    ),
    _model(
        "openai/gpt-4o-mini-tts",
        "OpenAI: GPT-4o mini TTS",
        inputs=["text"],
        outputs=["speech"],
        prompt="0.0000006",
        completion="0.000012",
        context=2000,
        max_out=None,
        params=["speed", "instructions"],
        created=1_742_000_000,
        tokenizer="GPT",
        voices=OPENAI_VOICES,
    ),
    _model(
        "openai/whisper-1",
        "OpenAI: Whisper",
        inputs=["audio"],
        outputs=["transcription"],
        context=None,
        max_out=None,
        params=["language", "temperature", "response_format"],
        created=1_677_000_000,
        extra_pricing={"audio": "0.0001"},
    ),
    _model(
        "openai/gpt-4o-transcribe",
        "OpenAI: GPT-4o Transcribe",
        inputs=["audio"],
        outputs=["transcription"],
        prompt="0.0000025",
        completion="0.00001",
        context=16000,
        max_out=None,
        params=["language", "temperature", "response_format"],
        created=1_742_000_001,
        tokenizer="GPT",
        extra_pricing={"audio": "0.00006"},
    ),
    # ---- embeddings (POST /embeddings; GET /embeddings/models)
    _model(
        "openai/text-embedding-3-small",
        "OpenAI: Text Embedding 3 Small",
        inputs=["text"],
        outputs=["embeddings"],
        prompt="0.00000002",
        context=8192,
        max_out=None,
        params=[],
        created=1_706_000_000,
        tokenizer="GPT",
    ),
]

_BY_ID: dict[str, dict[str, Any]] = {m["id"]: m for m in MODELS}


def split_variant(model_id: str) -> tuple[str, str | None]:
    """``"a/b:free"`` → ``("a/b", "free")``; ids without a known variant come back unchanged."""
    base, sep, variant = model_id.rpartition(":")
    if sep and base and variant in VARIANT_SUFFIXES:
        return base, variant
    return model_id, None


def find_model(model_id: str | None) -> dict[str, Any] | None:
    """Exact id first, then the id without its routing variant; ``None`` when unknown."""
    if not isinstance(model_id, str) or not model_id:
        return None
    hit = _BY_ID.get(model_id)
    if hit is not None:
        return hit
    base, variant = split_variant(model_id)
    return _BY_ID.get(base) if variant else None


def has_output(model: dict[str, Any], modality: str) -> bool:
    return modality in model["architecture"]["output_modalities"]


def is_audio_chat_model(model_id: str) -> bool:
    """Models that only stream audio as pcm16 (the gpt-audio family), per openrouter-api.md §4."""
    return "gpt-audio" in model_id or "audio-preview" in model_id


def is_music_model(model_id: str) -> bool:
    return "lyria" in model_id or "music" in model_id


# ---- /videos/models ------------------------------------------------------------------------

VIDEO_MODELS: list[dict[str, Any]] = [
    {
        "id": "google/veo-3.1",
        "canonical_slug": "google/veo-3.1",
        "name": "Google: Veo 3.1",
        "description": "Veo 3.1 text- and image-to-video with native audio.",
        "created": 1_767_000_000,
        "hugging_face_id": None,
        "supported_resolutions": ["720p", "1080p"],
        "supported_aspect_ratios": ["16:9", "9:16"],
        "supported_sizes": ["1280x720", "720x1280", "1920x1080", "1080x1920"],
        "supported_durations": [4, 6, 8],
        "supported_frame_images": ["first_frame", "last_frame"],
        "generate_audio": True,
        "seed": True,
        "pricing_skus": {"per-video-second": "0.40", "per-video-second-1080p": "0.60"},
        "creativity": None,
        "upscale_factor": None,
        "allowed_passthrough_parameters": [
            "personGeneration",
            "negativePrompt",
            "enhancePrompt",
            "conditioningScale",
        ],
    },
    {
        "id": "openai/sora-2-pro",
        "canonical_slug": "openai/sora-2-pro",
        "name": "OpenAI: Sora 2 Pro",
        "description": "Sora 2 Pro text-to-video; audio is always generated.",
        "created": 1_767_000_001,
        "hugging_face_id": None,
        "supported_resolutions": ["720p", "1080p"],
        "supported_aspect_ratios": ["16:9", "9:16"],
        "supported_sizes": ["1280x720", "720x1280", "1792x1024", "1024x1792"],
        "supported_durations": [4, 8, 12],
        "supported_frame_images": None,
        "generate_audio": None,
        "seed": False,
        "pricing_skus": {"per-video-second": "0.30", "per-video-second-1080p": "0.50"},
        "creativity": None,
        "upscale_factor": None,
        "allowed_passthrough_parameters": [],
    },
    {
        "id": "bytedance/seedance-2.0-fast",
        "canonical_slug": "bytedance/seedance-2.0-fast",
        "name": "ByteDance: Seedance 2.0 Fast",
        "description": "Seedance 2.0 Fast with image, audio and video references.",
        "created": 1_770_000_002,
        "hugging_face_id": None,
        "supported_resolutions": ["480p", "720p"],
        "supported_aspect_ratios": ["1:1", "3:4", "9:16", "4:3", "16:9", "21:9", "9:21"],
        "supported_sizes": ["864x480", "480x864", "1280x720", "720x1280", "960x960"],
        "supported_durations": list(range(4, 16)),
        "supported_frame_images": ["first_frame", "last_frame"],
        "generate_audio": True,
        "seed": True,
        "pricing_skus": {"per-video-second": "0.08", "per-video-second-720p": "0.12"},
        "creativity": None,
        "upscale_factor": None,
        "allowed_passthrough_parameters": ["camera_fixed", "watermark"],
    },
    {
        "id": "alibaba/wan-2.7",
        "canonical_slug": "alibaba/wan-2.7",
        "name": "Alibaba: Wan 2.7",
        "description": "Wan 2.7 text- and image-to-video.",
        "created": 1_770_000_003,
        "hugging_face_id": "Wan-AI/Wan2.7",
        "supported_resolutions": ["1080p"],
        "supported_aspect_ratios": ["16:9", "9:16", "1:1"],
        "supported_sizes": ["1920x1080", "1080x1920", "1440x1440"],
        "supported_durations": [5, 10],
        "supported_frame_images": ["first_frame"],
        "generate_audio": False,
        "seed": True,
        "pricing_skus": {"per-video-second": "0.10"},
        "creativity": None,
        "upscale_factor": None,
        "allowed_passthrough_parameters": ["negative_prompt", "prompt_extend"],
    },
]

VIDEO_BY_ID: dict[str, dict[str, Any]] = {m["id"]: m for m in VIDEO_MODELS}

# ---- /images/models ------------------------------------------------------------------------

IMAGE_ASPECT_RATIOS = ["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"]
EXTENDED_ASPECT_RATIOS = ["1:4", "4:1", "1:8", "8:1"]
IMAGE_SIZES = ["1K", "2K", "4K"]


def _image_model(
    id: str, name: str, *, ratios: list[str], resolutions: list[str], formats: list[str], n_max: int
) -> dict[str, Any]:
    base = _BY_ID[id]
    return {
        "id": id,
        "name": name,
        "description": base["description"],
        "created": base["created"],
        "architecture": {
            "input_modalities": base["architecture"]["input_modalities"],
            "output_modalities": ["image"],
        },
        "supported_parameters": {
            "resolution": {"type": "enum", "values": resolutions},
            "aspect_ratio": {"type": "enum", "values": ["auto", *ratios]},
            "output_format": {"type": "enum", "values": formats},
            "quality": {"type": "enum", "values": ["auto", "low", "medium", "high"]},
            "n": {"type": "range", "min": 1, "max": n_max},
            "seed": {"type": "range", "min": 0, "max": 2_147_483_647},
        },
        "supports_streaming": True,
        "endpoints": f"/api/v1/images/models/{id}/endpoints",
        "pricing": [
            {"billable": "image", "unit": "image", "cost_usd": base["pricing"]["image_output"]}
        ],
    }


IMAGE_MODELS: list[dict[str, Any]] = [
    _image_model(
        "google/gemini-2.5-flash-image",
        "Google: Gemini 2.5 Flash Image",
        ratios=IMAGE_ASPECT_RATIOS,
        resolutions=["1K"],
        formats=["png", "jpeg", "webp"],
        n_max=4,
    ),
    _image_model(
        "google/gemini-3.1-flash-image-preview",
        "Google: Gemini 3.1 Flash Image Preview",
        ratios=IMAGE_ASPECT_RATIOS + EXTENDED_ASPECT_RATIOS,
        resolutions=["512", "0.5K", "1K", "2K", "4K"],
        formats=["png", "jpeg", "webp"],
        n_max=4,
    ),
    _image_model(
        "black-forest-labs/flux.2-pro",
        "Black Forest Labs: FLUX.2 Pro",
        ratios=IMAGE_ASPECT_RATIOS,
        resolutions=["1K", "2K"],
        formats=["png", "jpeg", "webp", "svg"],
        n_max=10,
    ),
]

IMAGE_BY_ID: dict[str, dict[str, Any]] = {m["id"]: m for m in IMAGE_MODELS}
