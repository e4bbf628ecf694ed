"""Classification of upstream errors: old and new body shapes, provider errors, redaction."""

from __future__ import annotations

import pytest

from or_magic.client.classify import classify_upstream
from or_magic.errors import ErrorCode


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
