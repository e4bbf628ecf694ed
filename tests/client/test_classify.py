"""Classification of upstream errors: old and new body shapes, provider errors, redaction."""

from __future__ import annotations

import pytest

from or_magic.client.classify import classify_upstream
from or_magic.errors import ErrorCode


def old_shape(status: int, message: str, **extra) -> dict:
    """An error body in the old shape: the HTTP status repeated as ``error.code``."""
    return {"error": {"code": status, "message": message, **extra}}


def zdr_body(message: str) -> dict:
    """The new-shape 404 for an account whose data policy (ZDR) excludes every endpoint."""
    return {
        "error": {
            "message": message,
            "error_type": "not_found",
            "http_status": 404,
            "availability": {
                "code": "privacy_restricted",
                "retryable": False,
                "excluded_by": ["data_policy:zdr"],
            },
        }
    }


def assert_classified(err, code: str, reason: str) -> None:
    assert err.code.value == code
    assert err.details["reason"] == reason
    assert err.suggestions, "every classified error carries advice"


@pytest.mark.parametrize(
    "status,message,code,reason",
    [
        (401, "No auth credentials found", "INVALID_CREDENTIALS", "authentication"),
        (402, "Insufficient credits", "UPSTREAM_REFUSED", "credits"),
        (429, "Rate limit exceeded: free-models-per-day", "UPSTREAM_REFUSED", "rate_limit"),
        (
            403,
            "Request blocked: prompt injection patterns detected",
            "UPSTREAM_REFUSED",
            "guardrail",
        ),
        (
            404,
            "No endpoints found matching your data policy (Paid model training).",
            "ZDR_INCOMPATIBLE",
            "privacy_restricted",
        ),
        (400, "acme/nope is not a valid model ID", "MODEL_NOT_FOUND", "model_not_found"),
        (408, "Operation timed out.", "UPSTREAM_TIMEOUT", "timeout"),
        (413, "Payload too large", "RESOURCE_TOO_LARGE", "payload_too_large"),
        (422, "unprocessable", "INVALID_INPUT", "bad_request"),
        (502, "Provider returned error", "UPSTREAM_HTTP", "server"),
        (529, "Provider returned error", "UPSTREAM_HTTP", "server"),
    ],
)
def test_classify_old_shapes(status, message, code, reason):
    assert_classified(classify_upstream(status, old_shape(status, message)), code, reason)


def test_classify_old_shape_moderation_reasons_and_bodyless_timeout():
    body = old_shape(403, "x requires moderation", metadata={"reasons": ["violence"]})
    assert_classified(classify_upstream(403, body), "UPSTREAM_REFUSED", "moderation")
    assert_classified(classify_upstream(524, None), "UPSTREAM_TIMEOUT", "timeout")


def test_classify_new_shape_availability_block_wins_over_status_text():
    body = zdr_body("No endpoints for openai/gpt-5.2 match your data policy (zero data retention).")
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
    typed = old_shape(400, "nope", metadata={"error_type": "context_length_exceeded"})
    assert classify_upstream(400, typed).details["reason"] == "context_length_exceeded"


def test_classify_redacts_keys_from_upstream_messages():
    key = "sk-or-v1-" + "f" * 64
    err = classify_upstream(401, old_shape(401, f"Invalid key {key}"))
    assert key not in err.message and "ffff" not in err.message
