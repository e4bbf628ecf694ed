"""Deterministic embeddings for the double's ``POST /embeddings``.

No model, no randomness: a text's vector is its hashed character trigrams (plus whole words),
signed-hashed into ``dimensions`` buckets and L2-normalised. Texts that share most trigrams get
a high cosine similarity, unrelated texts a low one, and the same text always the same vector, so
tests (and anyone's retrieval code) can assert on nearest neighbours offline.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct
from typing import Any

from ._http import bad_request

DEFAULT_DIMENSIONS = 1536
MAX_DIMENSIONS = 4096
MAX_INPUTS = 2048


def _features(text: str) -> list[str]:
    norm = " ".join(re.findall(r"\w+", text.lower()))
    padded = f"  {norm}  "
    grams = [padded[i : i + 3] for i in range(len(padded) - 2)]
    return grams + [f"w:{w}" for w in norm.split()]


def vector(text: str, dimensions: int) -> list[float]:
    """The unit vector of ``text`` (all zeros but one for an empty text, so it stays unit)."""
    acc = [0.0] * dimensions
    for feat in _features(text):
        h = hashlib.blake2b(feat.encode(), digest_size=8).digest()
        idx = int.from_bytes(h[:4], "little") % dimensions
        acc[idx] += 1.0 if h[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in acc))
    if norm == 0:
        acc[0] = 1.0
        return acc
    return [round(v / norm, 8) for v in acc]


def _text_of(item: Any, i: int) -> str:
    """One input as text: a string, token ids, or a multimodal ``{content: [...]}`` object."""
    if isinstance(item, str):
        return item
    if isinstance(item, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in item):
        return " ".join(f"tok{t}" for t in item)
    if isinstance(item, dict) and isinstance(item.get("content"), list):
        parts = []
        for p in item["content"]:
            if not isinstance(p, dict):
                continue
            if isinstance(p.get("text"), str):
                parts.append(p["text"])
            elif isinstance(p.get("image_url"), dict):
                parts.append(f"image {p['image_url'].get('url', '')[:256]}")
        return " ".join(parts)
    raise bad_request(f"input[{i}]: expected a string, token ids or {{content: [...]}}")


def inputs(raw: Any) -> list[str]:
    """The request's ``input`` as a list of texts (one string, a list of them, token arrays…)."""
    if isinstance(raw, str):
        items: list[Any] = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(t, int) for t in raw):
        items = [raw]  # one token array
    elif isinstance(raw, list) and raw:
        items = raw
    else:
        raise bad_request("input: Required (a string, an array of strings or token arrays)")
    if len(items) > MAX_INPUTS:
        raise bad_request(f"input: at most {MAX_INPUTS} items")
    return [_text_of(it, i) for i, it in enumerate(items)]


def encode(vec: list[float], encoding_format: str) -> list[float] | str:
    """float → the list; base64 → little-endian float32 bytes, base64 (OpenAI's convention)."""
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode("ascii")
    return vec


def embed_body(body: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """(``data`` entries, prompt token estimate) for a validated embeddings request body."""
    dims = body.get("dimensions", DEFAULT_DIMENSIONS)
    if not isinstance(dims, int) or isinstance(dims, bool) or not 1 <= dims <= MAX_DIMENSIONS:
        raise bad_request(f"dimensions: must be an integer from 1 to {MAX_DIMENSIONS}")
    fmt = body.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        raise bad_request("encoding_format: must be float or base64")
    texts = inputs(body.get("input"))
    data = [
        {"object": "embedding", "index": i, "embedding": encode(vector(t, dims), fmt)}
        for i, t in enumerate(texts)
    ]
    tokens = sum(max(1, len(t.split())) for t in texts)
    return data, tokens
