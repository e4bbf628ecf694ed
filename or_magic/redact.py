"""Scrub secrets and bulky payloads out of any text that may be shown, logged or saved.

Every error message, log line and result text passes through ``redact`` at the boundary. Known
secrets (the API key, the MCP token) are replaced exactly; anything shaped like an OpenRouter key
or a bearer token is replaced by pattern, and data URLs / long base64 runs are elided.
"""

from __future__ import annotations

import re
import threading

_MAX_SCAN = 20_000  # cut before running regexes: no regex DoS on huge upstream bodies

_KEY_RE = re.compile(r"sk-or-[A-Za-z0-9_-]{6,}")
_GENERIC_KEY_RE = re.compile(r"\b(sk|pk|rk)-[A-Za-z0-9_-]{16,}")
_BEARER_RE = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{6,}")
_AUTH_HDR_RE = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)[^'\"\s,}]+(\s+[^'\"\s,}]+)?")
_DATA_URL_RE = re.compile(
    r"data:[\w.+-]+/[\w.+-]+(?:;[\w.+-]+=[\w.+-]+)*;base64,[A-Za-z0-9+/=]{16,}"
)
_B64_RUN_RE = re.compile(r"[A-Za-z0-9+/]{200,}={0,2}")

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret so ``redact`` replaces it verbatim wherever it appears."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def redact(text: object, *, limit: int | None = None, extra: list[str] | None = None) -> str:
    """Return ``text`` with secrets, data URLs and base64 blobs removed, optionally capped."""
    s = text if isinstance(text, str) else str(text)
    truncated = False
    if len(s) > _MAX_SCAN:
        s = s[:_MAX_SCAN]
        truncated = True
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in [*known, *(extra or [])]:
        if secret and secret in s:
            s = s.replace(secret, "[REDACTED]")
    s = _KEY_RE.sub("[REDACTED]", s)
    s = _GENERIC_KEY_RE.sub("[REDACTED]", s)
    s = _BEARER_RE.sub(r"\1[REDACTED]", s)
    s = _AUTH_HDR_RE.sub(r"\1[REDACTED]", s)
    s = _DATA_URL_RE.sub(lambda m: m.group(0).split(",", 1)[0] + ",[…base64 elided]", s)
    s = _B64_RUN_RE.sub("[…base64 elided]", s)
    if limit is not None and len(s) > limit:
        s = s[:limit] + "…"
    elif truncated:
        s += "…"
    return s
