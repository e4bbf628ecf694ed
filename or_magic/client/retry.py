"""When to retry and how long to wait.

Retry 408, 429, 5xx and connection errors; never another 4xx. The wait is full jitter over an
exponential base, but never shorter than the server's ``Retry-After`` and never longer than the cap.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524, 529})
BASE_DELAY_S = 0.5


def is_retryable_status(status: int) -> bool:
    return status in RETRY_STATUSES or 500 <= status <= 599


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` value: delta-seconds or an HTTP date (past → 0)."""
    if value is None:
        return None
    v = value.strip()
    if not v:
        return None
    try:
        secs = float(v)
    except ValueError:
        secs = None
    if secs is not None:
        if secs != secs or secs < 0 or secs == float("inf"):
            return None
        return secs
    try:
        dt = parsedate_to_datetime(v)
    except (TypeError, ValueError, IndexError):
        return None
    if dt is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, dt.timestamp() - now)


def retry_after_from(headers: Mapping[str, str] | None, body: object = None) -> float | None:
    """Retry-After from headers (``retry-after-ms`` too) or the error body's hints."""
    if headers:
        low = {k.lower(): v for k, v in headers.items()}
        ms = low.get("retry-after-ms")
        if ms is not None:
            try:
                return max(0.0, float(ms) / 1000.0)
            except ValueError:
                pass
        ra = parse_retry_after(low.get("retry-after"))
        if ra is not None:
            return ra
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            avail = err.get("availability")
            if isinstance(avail, dict) and isinstance(avail.get("retry_after"), (int, float)):
                return float(avail["retry_after"])
            meta = err.get("metadata")
            if isinstance(meta, dict):
                for key in ("retry_after_seconds", "retry_after"):
                    if isinstance(meta.get(key), (int, float)):
                        return float(meta[key])
                hdrs = meta.get("headers")
                if isinstance(hdrs, dict):
                    return retry_after_from({str(k): str(v) for k, v in hdrs.items()})
    return None


def backoff_delay(
    attempt: int,
    retry_after: float | None,
    *,
    cap_s: float,
    base_s: float = BASE_DELAY_S,
    rng: random.Random | None = None,
) -> float:
    """Delay before retry number ``attempt`` (0-based).

    Full jitter in ``[0, base * 2**attempt]``; a server-given Retry-After is a floor. Everything is
    capped at ``cap_s`` so one misbehaving header cannot stall a notebook for an hour.
    """
    r = (rng or random).random()
    expo = min(cap_s, base_s * (2**attempt))
    delay = r * expo
    if retry_after is not None:
        delay = max(delay, retry_after)
    return max(0.0, min(delay, cap_s))
