"""OpenRouter's response cache (``X-OpenRouter-Cache: true``) as the double models it.

A cacheable POST with the header is answered from the cache when the same key sent the same body
to the same path within the TTL (``X-OpenRouter-Cache-TTL`` seconds, 1 to 86400, default 300);
``X-OpenRouter-Cache-Clear: true`` forgets the entry first. Hits and misses carry the
``X-OpenRouter-Cache-*`` headers a client reads back.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time

from ._http import Req, Resp

CACHEABLE = {
    "/chat/completions",
    "/images",
    "/audio/speech",
    "/audio/transcriptions",
    "/rerank",
    "/embeddings",
}


class ServerResponseCache:
    """The stored answers, by (path, key, body hash); ``clear()`` empties it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self.lock:
            self.entries: dict[str, tuple[float, Resp, str]] = {}

    @staticmethod
    def key_for(req: Req, path: str) -> str | None:
        """The cache key of a request that asks to be cached, else ``None``."""
        if (
            req.method == "POST"
            and path.rstrip("/") in CACHEABLE
            and req.headers.get("x-openrouter-cache", "").lower() == "true"
        ):
            return hashlib.sha256(f"{path}|{req.key}|{req.body_hash}".encode()).hexdigest()
        return None

    def lookup(self, key: str, req: Req) -> Resp | None:
        ttl_header = req.headers.get("x-openrouter-cache-ttl")
        with self.lock:
            if req.headers.get("x-openrouter-cache-clear", "").lower() == "true":
                self.entries.pop(key, None)
                return None
            entry = self.entries.get(key)
            if entry is None:
                return None
            stored_at, resp, source_id = entry
            ttl = _ttl_seconds(ttl_header)
            age = int(time.time() - stored_at)
            if age > ttl:
                del self.entries[key]
                return None
        headers = dict(resp.headers)
        headers.update(
            {
                "X-OpenRouter-Cache-Status": "HIT",
                "X-OpenRouter-Cache-Age": str(age),
                "X-OpenRouter-Cache-TTL": ttl_header or str(ttl),
                "X-OpenRouter-Cache-Source-Id": source_id,
            }
        )
        return Resp(resp.status, headers, body=resp.body, chunks=resp.chunks)

    def store(self, key: str, req: Req, resp: Resp) -> None:
        """Keep ``resp`` (marking it a MISS, as the answer that filled the cache)."""
        ttl_header = req.headers.get("x-openrouter-cache-ttl")
        resp.headers.update(
            {
                "X-OpenRouter-Cache-Status": "MISS",
                "X-OpenRouter-Cache-Age": "0",
                "X-OpenRouter-Cache-TTL": ttl_header or str(_ttl_seconds(ttl_header)),
            }
        )
        source = resp.headers.get("X-Generation-Id", "")
        stored = Resp(resp.status, dict(resp.headers), body=resp.body, chunks=resp.chunks)
        with self.lock:
            self.entries[key] = (time.time(), stored, source)


def _ttl_seconds(header: str | None) -> int:
    m = re.match(r"\s*(\d+)", header or "")
    return min(86400, max(1, int(m.group(1)))) if m else 300
