"""Unit tests of the base layer: config parsing, redaction, retry policy, SSE decoding, classification."""

from __future__ import annotations

import random
import time
from email.utils import formatdate

import pytest

from or_magic.client.classify import classify_upstream
from or_magic.client.retry import (
    backoff_delay,
    is_retryable_status,
    parse_retry_after,
    retry_after_from,
)
from or_magic.client.sse import SSEDecoder
from or_magic.config import ENV_VARS, MiB, Secret, load_settings
from or_magic.errors import ALL_CODES, ConfigError, ErrorCode
from or_magic.redact import redact, register_secret
from or_magic.tools.common import normalise_ttl, split_suffix

# ---- config ---------------------------------------------------------------------------------------


def test_defaults_match_the_node_server():
    s = load_settings({})
    assert s.image_max_dimension == 800
    assert s.image_jpeg_quality == 80
    assert s.video_poll_interval_ms == 15_000
    assert s.video_max_wait_ms == 600_000
    assert s.video_gen_max_bytes == 256 * MiB
    assert s.video_inline_max_bytes == 10 * MiB
    assert s.image_inline_ceiling == MiB and s.audio_inline_ceiling == MiB
    assert s.model_cache_ttl_ms == 3_600_000
    assert s.max_result_text_chars == 512_000
    assert s.base_url == "https://openrouter.ai/api/v1"
    assert s.offline  # no key


@pytest.mark.parametrize(
    "name,value",
    [
        ("OPENROUTER_VIDEO_MAX_WAIT_MS", "-5"),
        ("OPENROUTER_VIDEO_MAX_WAIT_MS", "3.14"),
        ("OPENROUTER_VIDEO_MAX_WAIT_MS", "10"),  # below min 100
        ("OPENROUTER_IMAGE_JPEG_QUALITY", "101"),
        ("OPENROUTER_CACHE_RESPONSES", "maybe"),
        ("OPENROUTER_PROVIDER_SORT", "cheapest"),
        ("OPENROUTER_PROVIDER_ORDER", "[not json"),
        ("OPENROUTER_BASE_URL", "ftp://example.com"),
        ("OPENROUTER_LOG_LEVEL", "loud"),
    ],
)
def test_malformed_values_name_the_variable(name, value):
    with pytest.raises(ConfigError) as ei:
        load_settings({name: value})
    assert ei.value.variable == name
    assert name in ei.value.message
    assert ei.value.code is ErrorCode.INVALID_INPUT


def test_provider_defaults_parse_csv_json_and_bools():
    s = load_settings(
        {
            "OPENROUTER_PROVIDER_ORDER": '["anthropic", "openai"]',
            "OPENROUTER_PROVIDER_IGNORE": "a, b,,",
            "OPENROUTER_PROVIDER_ALLOW_FALLBACKS": "No",
            "OPENROUTER_PROVIDER_SORT": "Price",
        }
    )
    assert s.provider_defaults() == {
        "ignore": ["a", "b"],
        "order": ["anthropic", "openai"],
        "sort": "price",
        "allow_fallbacks": False,
    }


def test_key_is_a_secret_and_custom_base_url_without_key_is_not_offline():
    s = load_settings({"OPENROUTER_API_KEY": "sk-or-v1-abcdefabcdefabcdef"})
    assert isinstance(s.api_key, Secret)
    assert (
        "abcdef" not in repr(s)
        and "abcdef" not in repr(s.api_key)
        and "abcdef" not in f"{s.api_key}"
    )
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(s.api_key)
    assert not s.offline
    local = load_settings({"OPENROUTER_BASE_URL": "http://127.0.0.1:11434/v1"})
    assert not local.offline and local.api_key is None
    assert load_settings({"OPENROUTER_API_KEY": "k", "OPENROUTER_OFFLINE": "1"}).offline


def test_alias_default_model_and_env_table_lists_every_variable():
    assert load_settings({"DEFAULT_MODEL": "x/y"}).default_model == "x/y"
    from or_magic.config import env_table_markdown

    table = env_table_markdown()
    for v in ENV_VARS:
        assert v.name in table


def test_empty_values_mean_unset():
    s = load_settings({"OPENROUTER_VIDEO_MAX_WAIT_MS": "  ", "OPENROUTER_API_KEY": ""})
    assert s.video_max_wait_ms == 600_000 and s.api_key is None


# ---- redaction ------------------------------------------------------------------------------------


def test_redact_removes_keys_bearers_data_urls_and_blobs():
    key = "sk-or-v1-" + "a1" * 32
    text = (
        f"key={key} Authorization: Bearer abc.def-123456 "
        "img=data:image/png;base64," + "A" * 300 + " blob " + "Q" * 400
    )
    out = redact(text)
    assert key not in out and "a1a1a1" not in out
    assert "abc.def-123456" not in out
    assert "AAAA" not in out and "QQQQ" not in out
    assert "data:image/png;base64," in out  # the mime stays: it is useful


def test_redact_registered_secret_of_any_shape_and_caps_length():
    register_secret("hunter2-super-secret")
    assert "hunter2" not in redact("password was hunter2-super-secret!")
    assert len(redact("x" * 100_000, limit=50)) <= 51


# ---- retry policy ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status,retry",
    [
        (408, True),
        (429, True),
        (500, True),
        (503, True),
        (529, True),
        (400, False),
        (401, False),
        (402, False),
        (404, False),
        (422, False),
    ],
)
def test_retryable_statuses(status, retry):
    assert is_retryable_status(status) is retry


def test_retry_after_seconds_date_past_and_garbage():
    now = time.time()
    assert parse_retry_after("7") == 7
    assert parse_retry_after("0") == 0
    assert 25 <= parse_retry_after(formatdate(now + 30, usegmt=True), now=now) <= 31
    assert parse_retry_after(formatdate(now - 3600, usegmt=True), now=now) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-3") is None
    assert parse_retry_after(None) is None


def test_retry_after_from_headers_any_case_ms_and_body():
    assert retry_after_from({"Retry-After": "3"}) == 3
    assert retry_after_from({"retry-after-ms": "1500"}) == 1.5
    body = {"error": {"availability": {"retry_after": 40}}}
    assert retry_after_from({}, body) == 40
    body2 = {"error": {"metadata": {"headers": {"Retry-After": "29"}}}}
    assert retry_after_from(None, body2) == 29


def test_backoff_bounds_full_jitter_floor_and_cap():
    rng = random.Random(1)
    for attempt in range(6):
        for _ in range(200):
            d = backoff_delay(attempt, None, cap_s=10, rng=rng)
            assert 0 <= d <= min(10, 0.5 * 2**attempt)
    # Retry-After is a floor...
    assert all(backoff_delay(0, 2.0, cap_s=10, rng=rng) >= 2.0 for _ in range(100))
    # ...but never above the cap, whatever the server says.
    assert backoff_delay(0, 3600, cap_s=10, rng=rng) == 10


# ---- SSE ------------------------------------------------------------------------------------------


def test_sse_comments_crlf_multiline_and_split_chunks():
    raw = ': OPENROUTER PROCESSING\r\n\r\ndata: {"a":1}\r\n\r\n: keepalive\n\ndata: line1\ndata: line2\n\ndata: [DONE]\n\n'
    dec = SSEDecoder()
    out: list[str] = []
    for i in range(0, len(raw), 3):  # tiny chunks split CRLF pairs and fields
        out += dec.feed(raw[i : i + 3])
    out += dec.flush()
    assert out == ['{"a":1}', "line1\nline2", "[DONE]"]


def test_sse_trailing_event_without_blank_line_is_flushed():
    dec = SSEDecoder()
    assert dec.feed("data: x") == []
    assert dec.flush() == ["x"]


# ---- classification -------------------------------------------------------------------------------


def test_every_code_is_unique_and_thirteen():
    assert len(ALL_CODES) == 13 == len(set(ALL_CODES))
    assert "INVALID_CREDENTIALS" in ALL_CODES and "JOB_STILL_RUNNING" in ALL_CODES


@pytest.mark.parametrize(
    "status,body,code,reason",
    [
        (
            401,
            {"error": {"code": 401, "message": "No auth credentials found"}},
            "INVALID_CREDENTIALS",
            "authentication",
        ),
        (
            402,
            {"error": {"code": 402, "message": "Insufficient credits"}},
            "UPSTREAM_REFUSED",
            "credits",
        ),
        (
            429,
            {"error": {"code": 429, "message": "Rate limit exceeded: free-models-per-day"}},
            "UPSTREAM_REFUSED",
            "rate_limit",
        ),
        (
            403,
            {
                "error": {
                    "code": 403,
                    "message": "x requires moderation",
                    "metadata": {"reasons": ["violence"]},
                }
            },
            "UPSTREAM_REFUSED",
            "moderation",
        ),
        (
            403,
            {
                "error": {
                    "code": 403,
                    "message": "Request blocked: prompt injection patterns detected",
                }
            },
            "UPSTREAM_REFUSED",
            "guardrail",
        ),
        (
            404,
            {
                "error": {
                    "code": 404,
                    "message": "No endpoints found matching your data policy (Paid model training).",
                }
            },
            "ZDR_INCOMPATIBLE",
            "privacy_restricted",
        ),
        (
            400,
            {"error": {"code": 400, "message": "acme/nope is not a valid model ID"}},
            "MODEL_NOT_FOUND",
            "model_not_found",
        ),
        (
            408,
            {"error": {"code": 408, "message": "Operation timed out."}},
            "UPSTREAM_TIMEOUT",
            "timeout",
        ),
        (
            413,
            {"error": {"code": 413, "message": "Payload too large"}},
            "RESOURCE_TOO_LARGE",
            "payload_too_large",
        ),
        (422, {"error": {"code": 422, "message": "unprocessable"}}, "INVALID_INPUT", "bad_request"),
        (
            502,
            {"error": {"code": 502, "message": "Provider returned error"}},
            "UPSTREAM_HTTP",
            "server",
        ),
        (
            529,
            {"error": {"code": 529, "message": "Provider returned error"}},
            "UPSTREAM_HTTP",
            "server",
        ),
        (524, None, "UPSTREAM_TIMEOUT", "timeout"),
    ],
)
def test_classify_old_shapes(status, body, code, reason):
    err = classify_upstream(status, body)
    assert err.code.value == code
    assert err.details["reason"] == reason
    assert err.suggestions, "every classified error carries advice"


def test_classify_new_shape_availability_block_wins_over_status_text():
    body = {
        "error": {
            "message": "No endpoints for openai/gpt-5.2 match your data policy (zero data retention).",
            "error_type": "not_found",
            "http_status": 404,
            "availability": {
                "code": "privacy_restricted",
                "retryable": False,
                "excluded_by": ["data_policy:zdr"],
            },
        }
    }
    err = classify_upstream(404, body)
    assert err.code is ErrorCode.ZDR_INCOMPATIBLE
    assert err.details["excluded_by"] == ["data_policy:zdr"]
    # The Node server's wrong advice must not be repeated.
    assert not any("data_collection" in s and "allow" in s for s in err.suggestions)


def test_classify_capacity_exhausted_carries_retry_after_and_fallbacks():
    body = {
        "error": {
            "message": "All providers for acme/model-x are at capacity. Retry after 40 seconds.",
            "error_type": "rate_limit_exceeded",
            "http_status": 429,
            "availability": {
                "code": "capacity_exhausted",
                "retryable": True,
                "retry_after": 40,
                "fallback_models": ["acme/model-y"],
            },
        }
    }
    err = classify_upstream(429, body)
    assert err.code is ErrorCode.UPSTREAM_REFUSED
    assert err.retry_after_seconds == 40
    assert err.details["fallback_models"] == ["acme/model-y"]


def test_classify_provider_raw_json_string_and_string_code_and_structured_type():
    body = {
        "error": {
            "message": "Provider returned error",
            "code": 400,
            "metadata": {
                "provider_name": "OpenAI",
                "raw": '{"error":{"code":"invalid_request_error","message":"at most 64 tools are allowed"}}\n',
            },
        }
    }
    err = classify_upstream(400, body)
    assert "at most 64 tools" in err.message and err.code is ErrorCode.INVALID_INPUT
    midstream = {
        "error": {
            "code": "server_error",
            "message": "boom",
            "metadata": {"error_type": "provider_unavailable"},
        }
    }
    assert classify_upstream(None, midstream).code is ErrorCode.UPSTREAM_HTTP
    typed = {
        "error": {
            "code": 400,
            "message": "nope",
            "metadata": {"error_type": "context_length_exceeded"},
        }
    }
    assert classify_upstream(400, typed).details["reason"] == "context_length_exceeded"


def test_classify_redacts_keys_from_upstream_messages():
    key = "sk-or-v1-" + "f" * 64
    err = classify_upstream(401, {"error": {"code": 401, "message": f"Invalid key {key}"}})
    assert key not in err.message and "ffff" not in err.message


# ---- small helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "v,secs", [(300, 300), ("300", 300), ("30s", 30), ("5m", 300), ("1h", 3600), ("1d", 86400)]
)
def test_ttl_normalised(v, secs):
    assert normalise_ttl(v) == secs


@pytest.mark.parametrize("v", [0, 86401, "2d", "5 minutes", "", True])
def test_ttl_rejected(v):
    with pytest.raises(ValueError):
        normalise_ttl(v)


def test_split_suffix():
    assert split_suffix("openai/gpt-4o:nitro") == ("openai/gpt-4o", "nitro")
    assert split_suffix("openai/gpt-4o") == ("openai/gpt-4o", None)
    assert split_suffix("weird:tag") == ("weird:tag", None)
