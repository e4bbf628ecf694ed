"""Scrub secrets and bulky payloads out of any text that may be shown, logged or saved.

Every error message, log line and result text passes through ``redact`` at the boundary. Known
secrets (the API key, the MCP token) are replaced exactly; anything shaped like an OpenRouter key
or a bearer token is replaced by pattern, and data URLs / long base64 runs are elided.
"""

from __future__ import annotations

import re
import threading
from typing import Any

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
    """``text`` with every exact occurrence of ``secrets`` replaced (no patterns, no elision).

    Successful answers go through this one, not ``redact``: a model's legitimate base64 or a
    string that merely looks like a key must survive, the configured key must not.
    """
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "[REDACTED]")
    return text


def scrub_value(value: object, secrets: list[str], _depth: int = 0) -> object:
    """A JSON-like value with ``scrub`` applied to every string in it (keys included).

    Containers are rebuilt only when something changed, so an untouched result keeps its
    objects; bytes are left alone (media payloads are binary).
    """
    if not secrets:
        return value
    if isinstance(value, str):
        return scrub(value, secrets)
    if _depth >= _MAX_DEPTH:
        return value
    if isinstance(value, dict):
        out = {}
        changed = False
        for k, v in value.items():
            nk = scrub(k, secrets) if isinstance(k, str) else k
            nv = scrub_value(v, secrets, _depth + 1)
            changed = changed or nk is not k or nv is not v
            out[nk] = nv
        return out if changed else value
    if isinstance(value, (list, tuple)):
        items = [scrub_value(v, secrets, _depth + 1) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return tuple(items) if isinstance(value, tuple) else items
    return value


class StreamScrubber:
    """Exact redaction for text that arrives in deltas, where a key may be split across them.

    ``feed`` returns what is safe to show now; it holds back the longest tail that is still the
    start of a secret (at most ``len(secret) - 1`` characters) until the next delta settles it,
    and ``flush`` releases the rest at the end of the stream.
    """

    def __init__(self, secrets: list[str]) -> None:
        self._secrets = [s for s in secrets if s]
        self._held = ""

    def feed(self, delta: str) -> str:
        if not self._secrets:
            return delta
        buf = scrub(self._held + delta, self._secrets)
        keep = self._prefix_tail(buf)
        self._held = buf[len(buf) - keep :] if keep else ""
        return buf[: len(buf) - keep]

    def flush(self) -> str:
        out, self._held = self._held, ""
        return scrub(out, self._secrets) if out else ""

    def _prefix_tail(self, buf: str) -> int:
        """Length of the longest suffix of ``buf`` that is a proper prefix of some secret."""
        best = 0
        for secret in self._secrets:
            n = min(len(secret) - 1, len(buf))
            while n > best:
                if secret.startswith(buf[len(buf) - n :]):
                    best = n
                    break
                n -= 1
        return best


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
