"""The OpenRouter double over a real loopback socket: lifecycle, auth, request log, faults, models.

Endpoint content (chat, images, audio, videos, rerank) is in ``test_endpoints.py``.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from or_magic.double import Fault, OpenRouterDouble, get_offline_double
from or_magic.double.catalog import MODELS, find_model
from or_magic.tools.health import KEY_FIELDS
from tests.double._helpers import socket_double_fixtures

KEY = "sk-or-v1-" + "ab12" * 16
AUTH = {"Authorization": f"Bearer {KEY}"}
CHAT = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "Hello there double"}]}


double, client = socket_double_fixtures(AUTH)


# ---- lifecycle ------------------------------------------------------------------------------


def test_urls_and_lifecycle() -> None:
    d = OpenRouterDouble()
    with pytest.raises(RuntimeError):
        _ = d.url
    with d:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", d.url)
        assert d.base_url == d.url + "/api/v1"
        assert d.running
        assert httpx.get(d.base_url + "/models").status_code == 200
    assert not d.running
    d.stop()  # idempotent
    with pytest.raises(httpx.ConnectError):
        httpx.get(d.base_url + "/models", timeout=2)


def test_given_port_is_used(double: OpenRouterDouble) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with OpenRouterDouble(port=port) as d:
        assert d.port == port
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/models").status_code == 200


def test_root_and_unknown_paths(client: httpx.Client, double: OpenRouterDouble) -> None:
    r = httpx.get(double.url + "/")
    assert r.status_code == 200 and r.json()["offline"] is True
    r = client.get("/nope")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"error": {"code": 404, "message": "Not Found"}}
    assert httpx.get(double.url + "/v1/models").status_code == 404
    r = client.get("/chat/completions")
    assert r.status_code == 405 and r.json()["error"]["code"] == 405


def test_invalid_json_body(client: httpx.Client) -> None:
    r = client.post(
        "/chat/completions", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["error"]["message"] == "Invalid JSON body"


# ---- auth --------------------------------------------------------------------------------


def test_auth_missing_invalid_and_revoked() -> None:
    with OpenRouterDouble(valid_keys={KEY, "sk-or-v1-other"}) as d:
        url = d.base_url + "/key"
        r = httpx.get(url)
        assert r.status_code == 401
        assert r.json() == {"error": {"code": 401, "message": "No auth credentials found"}}
        r = httpx.get(url, headers={"Authorization": "Bearer sk-or-v1-wrong"})
        assert r.status_code == 401 and r.json()["error"]["message"] == "User not found."
        r = httpx.get(url, headers={"Authorization": "Bearer"})
        assert r.status_code == 401
        assert httpx.get(url, headers=AUTH).status_code == 200
        d.revoke(KEY)
        r = httpx.get(url, headers=AUTH)
        assert r.status_code == 401, "revoked key must not be reported valid"
        assert (
            httpx.post(d.base_url + "/chat/completions", json=CHAT, headers=AUTH).status_code == 401
        )
        other = {"Authorization": "Bearer sk-or-v1-other"}
        assert httpx.get(url, headers=other).status_code == 200
        # public discovery endpoints work without a key, but a presented key must be valid
        for path in ("/models", "/videos/models", "/images/models", "/model/openai/gpt-4o"):
            assert httpx.get(d.base_url + path).status_code == 200, path
            assert httpx.get(d.base_url + path, headers=AUTH).status_code == 401, path
            assert httpx.get(d.base_url + path, headers=other).status_code == 200, path


def test_any_key_accepted_when_valid_keys_is_none(client: httpx.Client) -> None:
    r = client.get("/key", headers={"Authorization": "Bearer anything"})
    assert r.status_code == 200
    assert (
        client.post("/chat/completions", json=CHAT, headers={"Authorization": ""}).status_code
        == 401
    )


def test_no_auth_mode_and_offline_singleton() -> None:
    d1 = get_offline_double()
    results: list[OpenRouterDouble] = []
    threads = [
        threading.Thread(target=lambda: results.append(get_offline_double())) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r is d1 for r in results)
    r = httpx.post(d1.base_url + "/chat/completions", json=CHAT)
    assert r.status_code == 200
    body = r.json()
    assert body["provider"] == "or_magic-offline"
    assert "offline double" in body["choices"][0]["message"]["content"]
    r = httpx.get(d1.base_url + "/key")
    assert r.status_code == 200 and r.json()["data"]["is_free_tier"] is True


def test_key_endpoint_and_legacy_path(client: httpx.Client, double: OpenRouterDouble) -> None:
    data = client.get("/key").json()["data"]
    assert data["label"] == "sk-or-v1-ab1...ab12"
    assert KEY not in json.dumps(data)
    # every field health_check reports from GET /key is served
    assert [f for f in KEY_FIELDS if f not in data] == []
    assert data["usage"] == 0
    client.post("/chat/completions", json=CHAT)
    legacy = client.get("/auth/key").json()["data"]
    assert legacy["usage"] > 0  # chat cost is accounted to the key
    double.set_key_info(KEY, limit=1.0, limit_remaining=0.25)
    data = client.get("/key").json()["data"]
    assert (data["limit"], data["limit_remaining"]) == (1.0, 0.25)
    assert client.get("/credits").status_code == 403


# ---- request log -------------------------------------------------------------------------


def test_request_log_records_everything(client: httpx.Client, double: OpenRouterDouble) -> None:
    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    jpeg = (fixtures / "photo.jpg").read_bytes()
    wav = (fixtures / "speech.wav").read_bytes()
    body = {
        "model": "google/gemini-2.5-flash",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe all of these"},
                    {
                        "type": "image_url",
                        "image_url": {
                            "url": "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
                        },
                    },
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                    {
                        "type": "input_audio",
                        "input_audio": {"data": base64.b64encode(wav).decode(), "format": "wav"},
                    },
                    {
                        "type": "video_url",
                        "video_url": {"url": "data:video/mp4;base64,AAAAIGZ0eXBpc29t"},
                    },
                    {
                        "type": "file",
                        "file": {
                            "filename": "a.pdf",
                            "file_data": "data:application/pdf;base64,JVBERi0xLjQK",
                        },
                    },
                ],
            }
        ],
    }
    r = client.post("/chat/completions?x=1", json=body, headers={"X-Custom": "yes"})
    assert r.status_code == 200
    client.get("/models")
    [rec] = double.requests_to("/chat/completions")
    assert rec.method == "POST" and rec.path == "/api/v1/chat/completions"
    assert rec.query == {"x": "1"}
    assert rec.headers["x-custom"] == "yes" and rec.headers["authorization"] == f"Bearer {KEY}"
    assert rec.auth == KEY
    assert rec.json == body
    assert rec.body_size == len(r.request.content)
    assert rec.status == 200
    kinds = [(m["type"], m["mime"], m["size"], m["url"]) for m in rec.media]
    assert kinds == [
        ("image_url", "image/jpeg", len(jpeg), None),
        ("image_url", None, None, "https://example.com/cat.png"),
        ("input_audio", "audio/wav", len(wav), None),
        ("video_url", "video/mp4", 12, None),
        ("file", "application/pdf", 9, None),
    ]
    assert rec.media[0]["sniffed"] == "image/jpeg" and rec.media[2]["sniffed"] == "audio/wav"
    assert rec.media[4]["filename"] == "a.pdf"
    text = r.json()["choices"][0]["message"]["content"]
    assert f"2 images (image/jpeg, {len(jpeg)} bytes; https://example.com/cat.png)" in text
    assert f"1 audio clip (wav, {len(wav)} bytes)" in text
    assert (
        "1 video (video/mp4, 12 bytes)" in text
        and "1 file (application/pdf, 9 bytes, a.pdf)" in text
    )
    assert [r.path for r in double.requests] == ["/api/v1/chat/completions", "/api/v1/models"]
    double.reset()
    assert double.requests == []


def test_big_body_is_summarised_not_kept(client: httpx.Client, double: OpenRouterDouble) -> None:
    raw = b"\xff\xd8\xff\xe0" + bytes(12 * 1024 * 1024)
    url = "data:image/jpeg;base64," + base64.b64encode(raw).decode()
    body = {
        "model": "openai/gpt-4o",
        "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}
        ],
    }
    del url
    r = client.post("/chat/completions", json=body)
    assert r.status_code == 200
    assert f"1 image (image/jpeg, {len(raw)} bytes)" in r.json()["choices"][0]["message"]["content"]
    [rec] = double.requests_to("/chat/completions")
    assert rec.body_size > 16 * 1024 * 1024
    assert rec.media[0]["size"] == len(raw) and rec.media[0]["sniffed"] == "image/jpeg"
    kept = rec.json["messages"][0]["content"][0]["image_url"]["url"]
    assert kept.startswith("data:image/jpeg;base64,") and len(kept) < 200
    assert len(json.dumps(rec.json)) < 2000


# ---- faults ------------------------------------------------------------------------------


def test_status_fault_plain_shape_with_rate_limit_headers(
    client: httpx.Client, double: OpenRouterDouble
) -> None:
    double.inject(Fault("/chat/completions", status=429, retry_after="3"))
    r = client.post("/chat/completions", json=CHAT)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "3"
    reset = int(r.headers["x-ratelimit-reset"])
    assert reset > time.time() * 1000 - 1000  # epoch milliseconds
    assert r.headers["x-ratelimit-limit"] == "20" and r.headers["x-ratelimit-remaining"] == "0"
    err = r.json()["error"]
    assert err["code"] == 429 and "Rate limit" in err["message"]
    assert err["metadata"]["headers"]["X-RateLimit-Reset"] == str(reset)
    # consumed: the next request succeeds
    assert client.post("/chat/completions", json=CHAT).status_code == 200


def test_status_fault_old_and_new_shapes(client: httpx.Client, double: OpenRouterDouble) -> None:
    double.inject(Fault(status=503, shape="old", retry_after="7", message="upstream overloaded"))
    r = client.post("/chat/completions", json=CHAT)
    assert r.status_code == 503 and r.headers["retry-after"] == "7"
    assert "x-ratelimit-reset" not in r.headers
    body = r.json()
    assert body["user_id"]
    err = body["error"]
    assert err["code"] == 503 and err["message"] == "Provider returned error"
    assert err["metadata"]["provider_name"] == "or_magic-offline"
    raw = json.loads(err["metadata"]["raw"])
    assert raw["error"]["message"] == "upstream overloaded"

    double.inject(Fault(status=429, shape="new", retry_after="40"))
    r = client.post("/chat/completions", json=CHAT)
    err = r.json()["error"]
    # the spec requires the integer code; the typed fields come on top of it
    assert r.status_code == 429 and err["code"] == 429
    assert err["http_status"] == 429 and err["error_type"] == "rate_limit_exceeded"
    assert err["availability"]["code"] == "capacity_exhausted"
    assert err["availability"]["retryable"] is True and err["availability"]["retry_after"] == 40
    assert err["availability"]["requested_models"] == ["openai/gpt-4o"]
    assert err["metadata"]["error_type"] == "rate_limit_exceeded"


def test_fault_matching_method_path_times_and_headers(
    client: httpx.Client, double: OpenRouterDouble
) -> None:
    double.inject(Fault("/models", method="POST", status=500))  # never matches a GET
    double.inject(Fault("/models", status=502, times=2, headers={"X-Extra": "1"}))
    assert client.get("/models").status_code == 502
    r = client.get("/models")
    assert r.status_code == 502 and r.headers["x-extra"] == "1"
    assert client.get("/models").status_code == 200
    assert len(double.pending_faults) == 1
    double.inject(Fault("/models", headers={"X-Only-Headers": "yes"}))
    r = client.get("/models")
    assert r.status_code == 200 and r.headers["x-only-headers"] == "yes"
    double.inject(Fault("/rerank", status=500, times=None))
    for _ in range(3):
        assert client.post("/rerank", json={}).status_code == 500
    double.reset()
    assert double.pending_faults == []
    with pytest.raises(ValueError):
        Fault(scenario="nope")


def test_fault_body_override(client: httpx.Client, double: OpenRouterDouble) -> None:
    double.inject(Fault("/key", body={"data": {"label": "custom"}}))
    assert client.get("/key").json() == {"data": {"label": "custom"}}
    double.inject(Fault("/key", status=418, body="teapot"))
    r = client.get("/key")
    assert r.status_code == 418 and r.text == "teapot"


def test_delay_and_slow_body(client: httpx.Client, double: OpenRouterDouble) -> None:
    double.inject(Fault("/models", delay_s=0.3))
    t = time.monotonic()
    assert client.get("/models").status_code == 200
    assert time.monotonic() - t >= 0.3
    double.inject(Fault("/models", delay_s=2))
    with pytest.raises(httpx.ReadTimeout):
        client.get("/models", timeout=0.3)
    double.inject(Fault("/chat/completions", slow_body_s=0.4))
    t = time.monotonic()
    r = client.post("/chat/completions", json=CHAT)
    assert r.status_code == 200 and r.json()["choices"]
    assert time.monotonic() - t >= 0.35


def test_truncate_drop_malformed_html(
    client: httpx.Client, double: OpenRouterDouble, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    double.inject(Fault("/chat/completions", truncate=True))
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/chat/completions", json=CHAT)
    double.inject(Fault("/chat/completions", drop=True))
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/chat/completions", json=CHAT)
    assert double.requests_to("/chat/completions")[-1].status == 0

    double.inject(Fault("/chat/completions", malformed=True))
    r = client.post("/chat/completions", json=CHAT)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        r.json()
    double.inject(Fault("/images", html=True))
    r = client.post("/images", json={})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.text.startswith("<!DOCTYPE html>")
    # the server is still healthy afterwards, and uvicorn logged nothing about the faults
    assert client.post("/chat/completions", json=CHAT).status_code == 200
    assert [r.getMessage() for r in caplog.records if r.name.startswith("uvicorn")] == []


def test_truncated_stream(client: httpx.Client, double: OpenRouterDouble) -> None:
    double.inject(Fault("/chat/completions", truncate=True))
    got = b""
    with pytest.raises(httpx.RemoteProtocolError):  # noqa: SIM117
        with client.stream("POST", "/chat/completions", json={**CHAT, "stream": True}) as r:
            for chunk in r.iter_bytes():
                got += chunk
    assert b"data: " in got and b"[DONE]" not in got


def test_error_in_200(client: httpx.Client, double: OpenRouterDouble) -> None:
    double.inject(Fault("/chat/completions", error_in_200=True, status=402, message="no credits"))
    r = client.post("/chat/completions", json=CHAT)
    assert r.status_code == 200
    assert r.json()["error"] == {"code": 402, "message": "no credits"}


def test_model_bound_fault_and_models_fallback(
    client: httpx.Client, double: OpenRouterDouble
) -> None:
    double.inject(Fault(model="openai/gpt-4o", status=503))
    body = {**CHAT, "models": ["anthropic/claude-sonnet-4.5", "google/gemini-2.5-flash"]}
    r = client.post("/chat/completions", json=body)
    assert r.status_code == 200
    assert r.json()["model"] == "anthropic/claude-sonnet-4.5"
    assert "anthropic/claude-sonnet-4.5" in r.json()["choices"][0]["message"]["content"]
    # a model-bound fault on the only model is returned as is
    double.inject(Fault(model="openai/gpt-4o", status=404, message="No endpoints found"))
    r = client.post("/chat/completions", json=CHAT)
    assert r.status_code == 404
    # it does not hit other models
    double.inject(Fault(model="openai/gpt-4o", status=500))
    assert (
        client.post("/chat/completions", json={**CHAT, "model": "openai/gpt-4o-mini"}).status_code
        == 200
    )
    assert client.post("/chat/completions", json=CHAT).status_code == 500
    # a model-less fault is not worked around by fallbacks
    double.inject(Fault(status=429))
    assert client.post("/chat/completions", json=body).status_code == 429
    # model-bound faults on other endpoints
    double.inject(Fault("/videos", model="google/veo-3.1", status=402))
    assert (
        client.post("/videos", json={"model": "alibaba/wan-2.7", "prompt": "x"}).status_code == 202
    )
    assert (
        client.post("/videos", json={"model": "google/veo-3.1", "prompt": "x"}).status_code == 402
    )


# ---- response cache ----------------------------------------------------------------------


def test_response_cache_headers(client: httpx.Client) -> None:
    h = {"X-OpenRouter-Cache": "true", "X-OpenRouter-Cache-TTL": "120"}
    r1 = client.post("/chat/completions", json=CHAT, headers=h)
    assert r1.headers["x-openrouter-cache-status"] == "MISS"
    assert r1.headers["x-openrouter-cache-ttl"] == "120"
    r2 = client.post("/chat/completions", json=CHAT, headers=h)
    assert r2.headers["x-openrouter-cache-status"] == "HIT"
    assert int(r2.headers["x-openrouter-cache-age"]) >= 0
    assert r2.headers["x-openrouter-cache-ttl"] == "120"
    assert r2.headers["x-openrouter-cache-source-id"] == r1.json()["id"]
    assert r2.json() == r1.json()
    other = {**CHAT, "messages": [{"role": "user", "content": "different"}]}
    assert (
        client.post("/chat/completions", json=other, headers=h).headers["x-openrouter-cache-status"]
        == "MISS"
    )
    clear = {**h, "X-OpenRouter-Cache-Clear": "true"}
    assert (
        client.post("/chat/completions", json=CHAT, headers=clear).headers[
            "x-openrouter-cache-status"
        ]
        == "MISS"
    )
    assert "x-openrouter-cache-status" not in client.post("/chat/completions", json=CHAT).headers


# ---- models ------------------------------------------------------------------------------


def test_models_default_filter_is_text(client: httpx.Client) -> None:
    body = client.get("/models").json()
    ids = {m["id"] for m in body["data"]}
    assert body["total_count"] == len(body["data"]) and body["links"]["next"] is None
    assert "openai/gpt-4o" in ids and "google/gemini-2.5-flash-image" in ids
    for hidden in (
        "black-forest-labs/flux.2-pro",
        "google/veo-3.1",
        "cohere/rerank-v3.5",
        "openai/whisper-1",
    ):
        assert hidden not in ids, hidden
    all_ids = {
        m["id"] for m in client.get("/models", params={"output_modalities": "all"}).json()["data"]
    }
    assert len(all_ids) == len(MODELS) >= 30
    image = {
        m["id"] for m in client.get("/models", params={"output_modalities": "image"}).json()["data"]
    }
    assert "black-forest-labs/flux.2-pro" in image and "openai/gpt-4o" not in image
    video = client.get("/models", params={"output_modalities": "video,rerank"}).json()["data"]
    assert {m["id"] for m in video} >= {"google/veo-3.1", "openai/sora-2-pro", "cohere/rerank-v3.5"}
    audio_in = client.get("/models", params={"input_modalities": "audio,video"}).json()["data"]
    assert all({"audio", "video"} <= set(m["architecture"]["input_modalities"]) for m in audio_in)
    assert "google/gemini-2.5-flash" in {m["id"] for m in audio_in}


def test_models_record_shape(client: httpx.Client) -> None:
    for m in client.get("/models", params={"output_modalities": "all"}).json()["data"]:
        assert isinstance(m["pricing"]["prompt"], str) and isinstance(
            m["pricing"]["completion"], str
        )
        arch = m["architecture"]
        assert arch["modality"] == "+".join(arch["input_modalities"]) + "->" + "+".join(
            arch["output_modalities"]
        )
        assert {
            "id",
            "name",
            "created",
            "context_length",
            "top_provider",
            "supported_parameters",
        } <= set(m)
    tts = find_model("deepgram/flux-tts:free")
    assert tts is not None and "flux-alexis-en" in tts["supported_voices"]


def test_models_pagination(client: httpx.Client) -> None:
    first = client.get("/models", params={"output_modalities": "all", "limit": 10}).json()
    assert len(first["data"]) == 10 and first["total_count"] == len(MODELS)
    nxt = first["links"]["next"]
    assert (
        nxt.startswith("/api/v1/models?") and "offset=10" in nxt and "output_modalities=all" in nxt
    )
    second = client.get(nxt.removeprefix("/api/v1")).json()
    assert {m["id"] for m in second["data"]}.isdisjoint({m["id"] for m in first["data"]})
    last = client.get(
        "/models", params={"output_modalities": "all", "offset": 30, "limit": 10}
    ).json()
    assert last["links"]["next"] is None
    assert client.get("/models", params={"q": "gemma"}).json()["total_count"] == 2


def test_model_lookup_and_endpoints(client: httpx.Client) -> None:
    assert client.get("/model/openai/gpt-4o").json()["data"]["id"] == "openai/gpt-4o"
    assert client.get("/model/openai/gpt-4o:nitro").json()["data"]["id"] == "openai/gpt-4o"
    free = client.get("/model/google/gemma-4-26b-a4b-it:free").json()["data"]
    assert free["pricing"]["prompt"] == "0"
    assert client.get("/model/acme/nope").status_code == 404
    ep = client.get("/models/google/gemma-4-26b-a4b-it:free/endpoints").json()["data"]
    assert ep["id"] == "google/gemma-4-26b-a4b-it:free"
    assert ep["endpoints"][0]["provider_name"] == "or_magic-offline"
    assert client.get("/models/acme/nope/endpoints").status_code == 404


def test_catalog_notable_ids() -> None:
    for mid in (
        "google/gemma-4-26b-a4b-it:free",
        "google/gemma-4-26b-a4b-it",
        "nvidia/nemotron-nano-12b-v2-vl:free",
        "openai/gpt-audio",
        "openai/gpt-audio-mini",
        "google/gemini-3.1-flash-image-preview",
        "bytedance/seedance-2.0-fast",
        "alibaba/wan-2.7",
        "cohere/rerank-english-v3.0",
        "openai/gpt-4o-mini-tts",
        "openai/gpt-4o-transcribe",
        "anthropic/claude-sonnet-4.5",
    ):
        assert find_model(mid) is not None, mid
    flash = find_model("google/gemini-2.5-flash")
    assert flash is not None
    assert set(flash["architecture"]["input_modalities"]) >= {"image", "audio", "video", "file"}


# ---- generation stats ----------------------------------------------------------------------


def test_generation_lookup(client: httpx.Client) -> None:
    assert client.get("/generation", params={"id": "gen-0-unknown"}).status_code == 404
    r = client.post("/chat/completions", json=CHAT)
    gid = r.headers["x-generation-id"]
    assert gid == r.json()["id"]
    data = client.get("/generation", params={"id": gid}).json()["data"]
    assert data["id"] == gid and data["model"] == "openai/gpt-4o"
    assert data["total_cost"] == r.json()["usage"]["cost"] and data["api_type"] == "completions"
    assert client.get("/generation").status_code == 400


# ---- packaging / CLI ---------------------------------------------------------------------


def test_import_is_light() -> None:
    code = "import sys, or_magic.double; print('uvicorn' in sys.modules, 'httpx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("module", ["or_magic.double", "or_magic.testing"])  # new name, old alias
@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGINT at once"])
def test_cli_serves_until_interrupted(module: str, how: str) -> None:
    """The CLI's ready line means "accepting requests"; a signal any time after it exits 0.

    Waits on what the process says (its lines, its exit), with bounds far above any load, never
    on a fixed sleep: on a busy machine a start or a shutdown can take seconds.
    """
    import queue
    import signal

    from tests.conftest import default_sigint

    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,  # a suite run as a background job ignores SIGINT
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:  # readline() has no timeout: read in a thread, wait on the queue
        for ln in proc.stdout or ():
            lines.put(ln)
        lines.put("")  # EOF

    threading.Thread(target=pump, daemon=True).start()
    try:
        line = lines.get(timeout=90)
        m = re.search(r"(http://127\.0\.0\.1:\d+/api/v1)", line)
        assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
        if how != "SIGINT at once":  # at once: the moment after the ready line, no request
            r = httpx.post(m.group(1) + "/chat/completions", json=CHAT, timeout=30)
            assert r.status_code == 200
        proc.send_signal(getattr(signal, how.split()[0]))
        assert proc.wait(timeout=90) == 0, proc.stderr.read() if proc.stderr else ""
        rest = []
        while (ln := lines.get(timeout=30)) != "":
            rest.append(ln)
        assert rest[-1].strip() == "OpenRouter double stopped", rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
