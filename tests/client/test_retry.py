"""Retry policy: retryable statuses, Retry-After in every form, backoff with full jitter."""

from __future__ import annotations

import random
import time
from email.utils import formatdate

import pytest

from or_magic.client.retry import (
    backoff_delay,
    is_retryable_status,
    parse_retry_after,
    retry_after_from,
)


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
