"""Contract: the official SDK, pointed at the double, parses every answer the double gives.

Each endpoint the double serves is called through ``openrouter.OpenRouter(server_url=…)``: a
success must come back as the SDK's typed result (no ``ResponseValidationError``), an error as the
SDK's typed error for that status. A test at the end checks no route of the double is left out.
"""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

openrouter = pytest.importorskip("openrouter")
from openrouter import errors  # noqa: E402

from or_magic.double import Fault, OpenRouterDouble  # noqa: E402

KEY = "sk-or-v1-" + "c0ffee" * 10 + "abcd"
MGMT = "sk-or-v1-" + "facade" * 10 + "abcd"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(scope="module")
def server() -> Iterator[OpenRouterDouble]:
    d = OpenRouterDouble(valid_keys={KEY, MGMT})
    d.start()
    yield d
    d.stop()


@pytest.fixture
def sdk(server: OpenRouterDouble) -> Iterator[Any]:
    server.reset()
    with openrouter.OpenRouter(api_key=KEY, server_url=server.base_url) as client:
        yield client


def _wav_b64() -> str:
    return base64.b64encode((FIXTURES / "speech.wav").read_bytes()).decode()


MSG = [{"role": "user", "content": "hello"}]

# name → call. Every one must return a typed result.
OK_CALLS: dict[str, Callable[[Any], Any]] = {
    "chat": lambda c: c.chat.send(model="openai/gpt-4o", messages=MSG),
    "chat-stream": lambda c: list(c.chat.send(model="openai/gpt-4o", messages=MSG, stream=True)),
    "chat-tools": lambda c: c.chat.send(
        model="openai/gpt-4o",
        messages=MSG,
        tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}],
    ),
    "chat-reasoning": lambda c: c.chat.send(
        model="deepseek/deepseek-r1", messages=MSG, reasoning={"effort": "low"}
    ),
    "chat-image-out": lambda c: c.chat.send(
        model="google/gemini-2.5-flash-image", messages=MSG, modalities=["image", "text"]
    ),
    "chat-online": lambda c: c.chat.send(model="openai/gpt-4o:online", messages=MSG),
    "chat-json": lambda c: c.chat.send(
        model="openai/gpt-4o", messages=MSG, response_format={"type": "json_object"}
    ),
    "models": lambda c: c.models.list(),
    "models-filtered": lambda c: c.models.list(output_modalities="all"),
    "models-count": lambda c: c.models.count(),
    "model": lambda c: c.models.get(author="openai", slug="gpt-4o"),
    "endpoints": lambda c: c.endpoints.list(author="openai", slug="gpt-4o"),
    "endpoints-stt": lambda c: c.endpoints.list(author="openai", slug="whisper-1"),
    "key": lambda c: c.api_keys.get_current_key_metadata(),
    "providers": lambda c: c.providers.list(),
    "embeddings": lambda c: c.embeddings.generate(
        model="openai/text-embedding-3-small", input="hello"
    ),
    "embeddings-list-b64": lambda c: c.embeddings.generate(
        model="openai/text-embedding-3-small",
        input=["a", "b"],
        dimensions=8,
        encoding_format="base64",
    ),
    "embeddings-models": lambda c: c.embeddings.list_models(),
    "images": lambda c: c.images.generate(model="black-forest-labs/flux.2-pro", prompt="fox"),
    "images-models": lambda c: c.images.list_models(),
    "images-endpoints": lambda c: c.images.list_model_endpoints(
        author="black-forest-labs", slug="flux.2-pro"
    ),
    "tts": lambda c: c.tts.create_speech(
        model="openai/gpt-4o-mini-tts", input="hello", voice="alloy", response_format="mp3"
    ),
    "stt": lambda c: c.stt.create_transcription(
        model="openai/whisper-1", input_audio={"data": _wav_b64(), "format": "wav"}
    ),
    "stt-verbose": lambda c: c.stt.create_transcription(
        model="openai/whisper-1",
        input_audio={"data": _wav_b64(), "format": "wav"},
        response_format="verbose_json",
    ),
    "rerank": lambda c: c.rerank.rerank(
        model="cohere/rerank-v3.5", query="cats", documents=["cats purr", "dogs bark"], top_n=1
    ),
    "videos-models": lambda c: c.video_generation.list_videos_models(),
    "video-submit": lambda c: c.video_generation.generate(model="google/veo-3.1", prompt="waves"),
}


@pytest.mark.parametrize("name", sorted(OK_CALLS))
def test_sdk_parses_every_success(sdk, name):
    result = OK_CALLS[name](sdk)
    assert result is not None


def _catalog_ids() -> list[str]:
    from or_magic.double.catalog import MODELS

    return [m["id"] for m in MODELS]


@pytest.mark.parametrize("model_id", _catalog_ids())
def test_every_catalog_model_and_its_endpoints_parse(sdk, model_id):
    author, slug = model_id.split("/", 1)
    assert sdk.models.get(author=author, slug=slug).data.id == model_id
    assert sdk.endpoints.list(author=author, slug=slug).data.endpoints


def test_video_lifecycle_and_generation_stats_parse(sdk):
    job = sdk.video_generation.generate(model="google/veo-3.1", prompt="waves", duration=4)
    assert job.status == "pending"
    for _ in range(5):
        polled = sdk.video_generation.get_generation(job_id=job.id)
        if polled.status == "completed":
            break
    assert polled.status == "completed" and polled.generation_id
    content = sdk.video_generation.get_video_content(job_id=job.id, index=0)
    assert content.read()[4:8] == b"ftyp"
    gen = sdk.generations.get_generation(id=polled.generation_id)
    assert gen.data.api_type == "video" and gen.data.total_cost > 0


def test_generation_of_a_chat_parses_with_every_required_field(sdk, server):
    sdk.chat.send(model="openai/gpt-4o", messages=MSG)
    (gen_id,) = list(server.app.generations)
    gen = sdk.generations.get_generation(id=gen_id)
    assert gen.data.api_type == "completions" and gen.data.tokens_prompt
    assert gen.data.data_region == "global"


@pytest.mark.parametrize("name", ["images", "tts", "stt", "rerank", "embeddings", "chat-stream"])
def test_generation_stats_of_every_paid_endpoint_parse(sdk, server, name):
    OK_CALLS[name](sdk)
    (gen_id,) = list(server.app.generations)
    gen = sdk.generations.get_generation(id=gen_id)
    assert gen.data.id == gen_id and gen.data.total_cost >= 0 and gen.data.api_type


def test_credits_parse_for_a_management_key(server):
    server.set_key_info(MGMT, is_management_key=True, total_credits=50.0)
    with openrouter.OpenRouter(api_key=MGMT, server_url=server.base_url) as c:
        got = c.credits.get_credits()
    assert got.data.total_credits == 50.0 and got.data.total_usage >= 0


def test_embeddings_are_deterministic_unit_vectors_and_similar_texts_are_near(sdk):
    r = sdk.embeddings.generate(
        model="openai/text-embedding-3-small",
        input=["the cat sat on the mat", "a cat sat on a mat", "quarterly revenue report"],
        dimensions=256,
    )
    a, b, c = (d.embedding for d in r.data)
    assert len(a) == 256 and math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-5)
    cos = lambda u, v: sum(x * y for x, y in zip(u, v, strict=True))  # noqa: E731
    assert cos(a, b) > 0.5 > 0.2 > cos(a, c)
    again = sdk.embeddings.generate(
        model="openai/text-embedding-3-small", input="the cat sat on the mat", dimensions=256
    )
    assert again.data[0].embedding == a
    assert r.usage.prompt_tokens > 0 and [d.index for d in r.data] == [0, 1, 2]
    b64 = sdk.embeddings.generate(
        model="openai/text-embedding-3-small",
        input="the cat sat on the mat",
        dimensions=256,
        encoding_format="base64",
    )
    floats = struct.unpack("<256f", base64.b64decode(b64.data[0].embedding))
    assert all(math.isclose(x, y, abs_tol=1e-6) for x, y in zip(floats, a, strict=True))


# The calls the double answers with an error status, by the SDK's typed error for that status.
BAD_REQUEST_CALLS: dict[str, Callable[[Any], Any]] = {
    "chat-unknown-model": lambda c: c.chat.send(model="nope/nope", messages=MSG),
    "chat-not-chat-model": lambda c: c.chat.send(model="cohere/rerank-v3.5", messages=MSG),
    "images-unknown-model": lambda c: c.images.generate(model="nope/x", prompt="p"),
    "images-wrong-kind": lambda c: c.images.generate(model="openai/gpt-4o", prompt="p"),
    "tts-wrong-kind": lambda c: c.tts.create_speech(model="openai/gpt-4o", input="hi"),
    "stt-wrong-kind": lambda c: c.stt.create_transcription(
        model="openai/gpt-4o", input_audio={"data": _wav_b64(), "format": "wav"}
    ),
    "rerank-wrong-kind": lambda c: c.rerank.rerank(
        model="openai/gpt-4o", query="q", documents=["d"]
    ),
    "embeddings-wrong-kind": lambda c: c.embeddings.generate(model="openai/gpt-4o", input="x"),
    "embeddings-bad-dimensions": lambda c: c.embeddings.generate(
        model="openai/text-embedding-3-small", input="x", dimensions=0
    ),
    "video-unknown-model": lambda c: c.video_generation.generate(model="nope/x", prompt="p"),
}
NOT_FOUND_CALLS: dict[str, Callable[[Any], Any]] = {
    "video-unknown-job": lambda c: c.video_generation.get_generation(job_id="job_nope"),
    "endpoints-unknown": lambda c: c.endpoints.list(author="nope", slug="nope"),
    "model-unknown": lambda c: c.models.get(author="nope", slug="nope"),
    "generation-unknown": lambda c: c.generations.get_generation(id="gen-nope"),
}
FORBIDDEN_CALLS: dict[str, Callable[[Any], Any]] = {
    "credits-not-management": lambda c: c.credits.get_credits(),
}
# name → (call, the SDK's typed error class).
ERROR_CALLS: dict[str, tuple[Callable[[Any], Any], type]] = {
    **{name: (call, errors.BadRequestResponseError) for name, call in BAD_REQUEST_CALLS.items()},
    **{name: (call, errors.NotFoundResponseError) for name, call in NOT_FOUND_CALLS.items()},
    **{name: (call, errors.ForbiddenResponseError) for name, call in FORBIDDEN_CALLS.items()},
}


@pytest.mark.parametrize("name", sorted(ERROR_CALLS))
def test_sdk_raises_its_typed_error(sdk, name):
    call, exc = ERROR_CALLS[name]
    with pytest.raises(exc) as info:
        call(sdk)
    assert not isinstance(info.value, errors.ResponseValidationError)
    assert isinstance(info.value.data.error.code, int)


# injected failures: status → the typed error, in every error-body vintage
STATUS_ERRORS = {
    400: errors.BadRequestResponseError,
    401: errors.UnauthorizedResponseError,
    402: errors.PaymentRequiredResponseError,
    404: errors.NotFoundResponseError,
    408: errors.RequestTimeoutResponseError,
    413: errors.PayloadTooLargeResponseError,
    422: errors.UnprocessableEntityResponseError,
    429: errors.TooManyRequestsResponseError,
    500: errors.InternalServerResponseError,
    502: errors.BadGatewayResponseError,
    503: errors.ServiceUnavailableResponseError,
    524: errors.EdgeNetworkTimeoutResponseError,
    529: errors.ProviderOverloadedResponseError,
}


@pytest.mark.parametrize("shape", [None, "old", "new"])
@pytest.mark.parametrize("status", sorted(STATUS_ERRORS))
def test_injected_errors_become_the_typed_error_for_their_status(sdk, server, status, shape):
    server.inject(Fault("/chat/completions", status=status, shape=shape))
    # chat retries 5xx by default: one attempt, so the injected failure is what the SDK sees
    once = openrouter.utils.RetryConfig(
        "none", openrouter.utils.BackoffStrategy(1, 1, 1.0, 1), False
    )
    with pytest.raises(STATUS_ERRORS[status]) as info:
        sdk.chat.send(model="openai/gpt-4o", messages=MSG, retries=once)
    assert info.value.data.error.code == status


def test_unauthenticated_is_the_typed_401(server):
    with (
        openrouter.OpenRouter(api_key="sk-or-v1-wrong", server_url=server.base_url) as c,
        pytest.raises(errors.UnauthorizedResponseError),
    ):
        c.api_keys.get_current_key_metadata()


def test_every_route_of_the_double_is_called_here(server):
    """A new route in the double must get a case above (or this list)."""
    called = {
        "/chat/completions",
        "/models",
        "/models/count",
        "/models/(?P<id>.+)/endpoints",
        "/model/(?P<id>.+)",
        "/key",
        "/credits",
        "/generation",
        "/rerank",
        "/images/models",
        "/images/models/(?P<id>.+)/endpoints",
        "/images",
        "/audio/speech",
        "/audio/transcriptions",
        "/embeddings",
        "/embeddings/models",
        "/providers",
        "/videos/models",
        "/videos",
        "/videos/(?P<id>[^/]+)/content",
        "/videos/(?P<id>[^/]+)",
        # through the SDK's batch client in tests/double/test_batches.py
        "/batches",
        "/batches/(?P<id>[^/]+)",
    }
    # not in the SDK (legacy or user-scoped paths); covered by tests/double/test_endpoints.py
    # (/batches/{id}/cancel: OpenAI-style; SDK 1.3.84 has no cancel call)
    outside_sdk = {"/auth/key", "/models/user", "/batches/(?P<id>[^/]+)/cancel"}
    routes = {pattern.pattern for _, pattern, _, _ in server.app._routes}
    assert routes - called - outside_sdk == set()


# ---- strict: no field the spec lacks, no enum value outside it ---------------------------------

# Fields the double sends that the spec lacks. Each is documented by OpenRouter (page cited) or is
# the double's own marker; anything else in a response is a failure.
RESPONSE_ALLOWLIST: dict[str, set[str]] = {
    "/chat/completions": {
        "provider",  # docs: api-reference/overview (response "provider")
        "choices[].native_finish_reason",  # docs: api-reference/overview (finish reasons)
        "usage.completion_tokens_details.image_tokens",  # docs: api-reference/overview (usage)
        "choices[].message.images[].type",  # docs: guides/overview/multimodal/image-generation
        "choices[].message.annotations",  # docs: guides/features/web-search (url_citation)
    },
    "/key": {"data.offline"},  # the double's own marker (every result of it says offline)
    # open enum in the spec; the catalog mirrors provider sizes it lacks (Sora 1792x1024, …)
    "/videos/models": {"data[].supported_sizes"},
}


def _strict_cases() -> list[tuple[str, str, str, Any, type]]:
    from openrouter import components as C
    from openrouter import operations as O

    wav = {"data": _wav_b64(), "format": "wav"}
    chat = {"messages": [{"role": "user", "content": "hi"}]}
    return [
        ("POST", "/chat/completions", "chat", {"model": "openai/gpt-4o", **chat}, C.ChatResult),
        (
            "POST",
            "/chat/completions",
            "reasoning",
            {"model": "deepseek/deepseek-r1", **chat},
            C.ChatResult,
        ),
        (
            "POST",
            "/chat/completions",
            "image-out",
            {"model": "google/gemini-2.5-flash-image", "modalities": ["image", "text"], **chat},
            C.ChatResult,
        ),
        (
            "POST",
            "/chat/completions",
            "online",
            {"model": "openai/gpt-4o:online", **chat},
            C.ChatResult,
        ),
        ("GET", "/models", "models", None, C.ModelsListResponse),
        ("GET", "/models/count", "count", None, C.ModelsCountResponse),
        ("GET", "/key", "key", None, O.GetCurrentKeyResponse),
        ("GET", "/providers", "providers", None, O.ListProvidersResponse),
        (
            "POST",
            "/embeddings",
            "embeddings",
            {"model": "openai/text-embedding-3-small", "input": ["a", "b"], "dimensions": 4},
            O.CreateEmbeddingsResponseBody,
        ),
        (
            "POST",
            "/images",
            "images",
            {"model": "black-forest-labs/flux.2-pro", "prompt": "x", "n": 2},
            C.ImageGenerationResponse,
        ),
        ("GET", "/images/models", "image-models", None, C.ImageModelsListResponse),
        (
            "GET",
            "/images/models/black-forest-labs/flux.2-pro/endpoints",
            "image-endpoints",
            None,
            C.ImageModelEndpointsResponse,
        ),
        (
            "POST",
            "/audio/transcriptions",
            "stt",
            {"model": "openai/whisper-1", "input_audio": wav, "response_format": "verbose_json"},
            C.STTResponse,
        ),
        (
            "POST",
            "/rerank",
            "rerank",
            {"model": "cohere/rerank-v3.5", "query": "q", "documents": ["q d", "x"]},
            O.CreateRerankResponseBody,
        ),
        ("GET", "/videos/models", "video-models", None, C.VideoModelsListResponse),
        (
            "POST",
            "/videos",
            "video",
            {"model": "google/veo-3.1", "prompt": "w"},
            C.VideoGenerationResponse,
        ),
    ]


@pytest.mark.parametrize(
    ("method", "path", "case", "body", "model"),
    _strict_cases(),
    ids=[c[2] for c in _strict_cases()],
)
def test_double_answers_use_only_spec_fields_and_values(server, method, path, case, body, model):
    import httpx

    from .strict import problems

    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}) as c:
        r = c.request(method, path, json=body, timeout=30)
    assert r.status_code in (200, 202), r.text[:300]
    allow = RESPONSE_ALLOWLIST.get(path, set())
    found = problems(model, r.json(), allow=allow)
    assert not found, f"{case}:\n" + "\n".join(found)


def test_generation_stats_use_only_spec_fields(sdk, server):
    import httpx
    from openrouter import components as C

    from .strict import problems

    sdk.chat.send(model="openai/gpt-4o", messages=MSG)
    (gen_id,) = list(server.app.generations)
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}) as c:
        raw = c.get("/generation", params={"id": gen_id}).json()
    assert not problems(C.GenerationResponse, raw)
