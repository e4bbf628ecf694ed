"""Scrub secrets and bulky payloads out of any text that may be shown, logged or saved.

Every error message, log line and result text passes through ``redact`` at the boundary. Known
secrets (the API key, the MCP token) are replaced wherever they appear, also encoded (base64 at any
alignment, percent-encoded, JSON-escaped, hex: ``secret_forms``); anything shaped like an
OpenRouter key or a bearer token is replaced by pattern, and data URLs / long base64 runs are
elided.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from .secret_forms import SecretMatcher, matcher_for

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
        known = set(_secrets)
    known.update(e for e in (extra or []) if e)
    m = matcher_for(known)
    s = m.sub(s)
    if truncated:  # the cut may fall inside an encoded key: drop a tail that could be its start
        s = s[: m.partial_start(s)]
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


# ---- exact redaction of the configured secrets in successful results and streams --------------

_MAX_DEPTH = 64  # results are shallow; anything deeper is not walked further (no RecursionError)


def known_secrets(extra: list[str] | None = None) -> list[str]:
    """The registered secrets plus ``extra``, longest first, each with its ``Bearer`` form.

    Longest first so a key that contains another secret is replaced whole.
    """
    with _lock:
        values = set(_secrets)
    values.update(s for s in (extra or []) if s and len(s) >= 4)
    forms = {f"Bearer {v}" for v in values} | values
    return sorted(forms, key=len, reverse=True)


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every occurrence of ``secrets`` replaced, plain or encoded (no patterns, no
    elision).

    Successful answers go through this one, not ``redact``: a model's legitimate base64 or a
    string that merely looks like a key must survive, the configured key must not, also as its
    base64, percent, JSON-escape or hex encoding (``secret_forms``).
    """
    return matcher_for(secrets).sub(text) if secrets else text


def scrub_value(value: object, secrets: list[str]) -> object:
    """A JSON-like value with ``scrub`` applied to every string in it (keys included).

    Containers are rebuilt only when something changed, so an untouched result keeps its
    objects; bytes are left alone (media payloads are binary).
    """
    if not secrets:
        return value
    return _scrub_in(value, matcher_for(secrets), 0)


def _scrub_in(value: object, m: SecretMatcher, depth: int) -> object:
    if isinstance(value, str):
        return m.sub(value)
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, dict):
        out = {}
        changed = False
        for k, v in value.items():
            nk = m.sub(k) if isinstance(k, str) else k
            nv = _scrub_in(v, m, depth + 1)
            changed = changed or nk is not k or nv is not v
            out[nk] = nv
        return out if changed else value
    if isinstance(value, (list, tuple)):
        items = [_scrub_in(v, m, depth + 1) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return tuple(items) if isinstance(value, tuple) else items
    return value


class StreamScrubber:
    """Redaction for text that arrives in deltas, where a key (or its encoding) may be split.

    ``feed`` returns what is safe to show now; it holds back the earliest tail that could still
    grow into a form of a secret (at most the longest form's length minus one: a percent- or
    ``\\u``-escaped key is several times the key) until the next delta settles it, and ``flush``
    releases the rest at the end of the stream.
    """

    def __init__(self, secrets: list[str]) -> None:
        self._matcher = matcher_for([s for s in secrets if s]) if any(secrets) else None
        self._held = ""

    def feed(self, delta: str) -> str:
        if self._matcher is None:
            return delta
        buf = self._matcher.sub(self._held + delta)
        cut = self._matcher.partial_start(buf)
        self._held = buf[cut:]
        return buf[:cut]

    def flush(self) -> str:
        out, self._held = self._held, ""
        return self._matcher.sub(out) if out and self._matcher is not None else out


def scrub_result(result: Any, secrets: list[str]) -> None:
    """Remove ``secrets`` from the text, data, meta, details, suggestions and media metadata."""
    if not secrets:
        return
    result.text = scrub_value(result.text, secrets)
    result.data = scrub_value(result.data, secrets)
    result.meta = scrub_value(result.meta, secrets)
    result.details = scrub_value(result.details, secrets)
    result.suggestions = scrub_value(result.suggestions, secrets)
    for item in result.media:
        item.meta = scrub_value(item.meta, secrets)
        if item.name is not None:
            item.name = scrub_value(item.name, secrets)
