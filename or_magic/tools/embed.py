"""embed_texts: vectors for texts over ``POST /embeddings``.

Why it looks the way it does:

- **One row per input, in input order**, whatever the chunking: texts are cut into requests of at
  most ``chunk_size`` texts (default ``DEFAULT_CHUNK_TEXTS`` = 256; OpenAI-style endpoints accept
  2048) and ``DEFAULT_CHUNK_BYTES`` (1 MiB) of UTF-8 text, sent ``CONCURRENCY`` at a time, and put
  back by chunk position and each answer's ``index``. A chunk that answers with the wrong count of
  vectors, duplicate/missing indices or ragged dimensions fails the call (``UPSTREAM_HTTP``,
  ``details.reason``), never a silently shifted matrix.
- **base64 on the wire** (``encoding_format="base64"``): little-endian float32 bytes are ~5.3
  characters per dimension against ~20 for a JSON float, exact, and need no float parsing; an
  upstream that ignores the field and answers float lists is accepted too.
- **float32 rows, numpy optional**: the vectors are kept as one float32 byte buffer. In Python
  ``result.value`` is an ``(n, dims)`` ``numpy.ndarray`` (numpy is imported only here, and only
  when installed; without it ``value`` is a list of lists). MCP clients get a ``.npy`` file
  (written without numpy) through the output sandbox (``saving.resolve_save`` before any request,
  ``deliver_all`` after) and a small preview in ``data``.
- Blank texts and non-strings are ``INVALID_INPUT`` before anything is spent.

The Batch API engine reuses this module: ``finish_embedding`` turns one batch answer into the same
result, and ``load_vectors`` restores ``value`` from a stored result.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import struct
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import ErrorCode, ToolError
from ..result import ToolResult
from .base import ToolContext, ToolSpec, describe, idempotent_write_annotations
from .common import (
    ProviderPrefs,
    StrictModel,
    add_usage_and_cost,
    clean_model,
    merge_provider,
    usage_meta,
)

TOOL = "embed_texts"
MAX_TEXTS = 100_000
MAX_DIMENSIONS = 4096
DEFAULT_CHUNK_TEXTS = 256
MAX_CHUNK_TEXTS = 2048
DEFAULT_CHUNK_BYTES = 1024 * 1024
CONCURRENCY = 4
PREVIEW_ROWS = 3
PREVIEW_COLS = 6
NPY_MIME = "application/x-npy"


class EmbedInput(StrictModel):
    input: str | list[str] = Field(
        ...,
        description="One text, or a list of texts (1–100,000; each non-blank). One vector per "
        "text, in order.",
    )
    model: str | None = Field(
        None,
        description="Embeddings model; default openai/text-embedding-3-small "
        "(OPENROUTER_DEFAULT_EMBED_MODEL). search_models with output_modalities "
        '["embeddings"] lists them.',
    )
    dimensions: int | None = Field(
        None, ge=1, le=MAX_DIMENSIONS, description="Shorter vectors, for models that support it"
    )
    input_type: str | None = Field(
        None, description="Provider hint such as 'search_query' or 'search_document'"
    )
    chunk_size: int = Field(
        DEFAULT_CHUNK_TEXTS,
        ge=1,
        le=MAX_CHUNK_TEXTS,
        description="Texts per request (also capped at 1 MiB of text per request)",
    )
    save_path: str | None = Field(
        None,
        description="Save the vectors as a .npy file here (inside OPENROUTER_OUTPUT_DIR). "
        "Without it the .npy is inline when small, else saved under or_magic-output/.",
    )
    npy: bool = Field(
        True,
        description="Attach the .npy file (false: only the preview; Python callers read "
        "result.value)",
    )
    provider: ProviderPrefs | None = None

    @field_validator("input")
    @classmethod
    def _texts(cls, v: str | list[str]) -> str | list[str]:
        texts = [v] if isinstance(v, str) else v
        if not texts:
            raise ValueError("give at least one text")
        if len(texts) > MAX_TEXTS:
            raise ValueError(f"at most {MAX_TEXTS} texts per call (use the batch engine)")
        for i, t in enumerate(texts):
            if not t.strip():
                raise ValueError(f"input[{i}] is empty")
        return v


class EmbedOutput(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str
    count: int
    dimensions: int
    preview: list[list[float]]
    save_path: str | None = None


# ---- vectors as float32 bytes ------------------------------------------------------------------


def _shape_error(msg: str, reason: str, **details: Any) -> ToolError:
    return ToolError(
        ErrorCode.UPSTREAM_HTTP, f"embeddings: {msg}", details={"reason": reason, **details}
    )


def _row_bytes(emb: Any, i: int) -> bytes:
    """One answer's vector as little-endian float32 bytes (base64 string or float list)."""
    if isinstance(emb, str):
        try:
            raw = base64.b64decode(emb, validate=True)
        except (binascii.Error, ValueError):
            raise _shape_error(f"vector {i} is not valid base64", "shape") from None
        if not raw or len(raw) % 4:
            raise _shape_error(f"vector {i} is not float32 data", "shape")
        return raw
    if isinstance(emb, list) and emb:
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in emb):
            raise _shape_error(f"vector {i} holds non-numbers", "shape")
        return struct.pack(f"<{len(emb)}f", *emb)
    raise _shape_error(f"vector {i} is missing", "shape")


def parse_rows(data: Any, expected: int, dims: int | None) -> tuple[list[bytes], str | None]:
    """The answer's vectors ordered by ``index`` (exactly ``expected`` of them, one width)."""
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise _shape_error("the answer has no data list", "shape")
    entries = data["data"]
    if len(entries) != expected:
        raise _shape_error(
            f"asked for {expected} vectors, got {len(entries)}",
            "count",
            expected=expected,
            got=len(entries),
        )
    rows: list[bytes | None] = [None] * expected
    for pos, e in enumerate(entries):
        if not isinstance(e, dict):
            raise _shape_error(f"entry {pos} is not an object", "shape")
        idx = e.get("index", pos)
        if not isinstance(idx, int) or isinstance(idx, bool) or not 0 <= idx < expected:
            raise _shape_error(f"entry {pos} has index {idx!r}", "index")
        if rows[idx] is not None:
            raise _shape_error(f"index {idx} answered twice", "index")
        rows[idx] = _row_bytes(e.get("embedding"), idx)
    widths = {len(r) for r in rows if r is not None}
    if len(widths) != 1:
        raise _shape_error("vectors of different lengths", "dimensions")
    width = widths.pop() // 4
    if dims is not None and width != dims:
        raise _shape_error(
            f"asked for {dims} dimensions, got {width}", "dimensions", expected=dims, got=width
        )
    model = data.get("model") if isinstance(data.get("model"), str) else None
    return [r for r in rows if r is not None], model


def to_value(buf: bytes, n: int, dims: int) -> Any:
    """``(n, dims)`` float32 numpy array (a writable copy); a list of lists without numpy."""
    try:
        import numpy as np
    except ImportError:
        flat = struct.unpack(f"<{n * dims}f", buf)
        return [list(flat[i * dims : (i + 1) * dims]) for i in range(n)]
    return np.frombuffer(buf, dtype="<f4").astype(np.float32).reshape(n, dims)


def npy_bytes(buf: bytes, n: int, dims: int) -> bytes:
    """A version-1.0 ``.npy`` file of ``(n, dims)`` little-endian float32 (no numpy needed)."""
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({n}, {dims}), }}"
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * (pad % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + buf


def _preview(buf: bytes, n: int, dims: int) -> list[list[float]]:
    rows = []
    cols = min(dims, PREVIEW_COLS)
    for i in range(min(n, PREVIEW_ROWS)):
        vals = struct.unpack_from(f"<{cols}f", buf, i * dims * 4)
        rows.append([round(float(v), 4) for v in vals])
    return rows


# ---- chunking -----------------------------------------------------------------------------------


def chunk_texts(texts: list[str], max_texts: int, max_bytes: int) -> list[tuple[int, int]]:
    """``(start, end)`` slices: at most ``max_texts`` texts and ``max_bytes`` of UTF-8 each (a
    single longer text goes alone: a text is never split, its model's context decides)."""
    out: list[tuple[int, int]] = []
    start, size = 0, 0
    for i, t in enumerate(texts):
        n = len(t.encode("utf-8", "surrogatepass"))
        if i > start and (i - start >= max_texts or size + n > max_bytes):
            out.append((start, i))
            start, size = i, 0
        size += n
    if texts:
        out.append((start, len(texts)))
    return out


def build_body(args: EmbedInput, model: str, texts: list[str], ctx: ToolContext) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "input": texts, "encoding_format": "base64"}
    if args.dimensions is not None:
        body["dimensions"] = args.dimensions
    if args.input_type:
        body["input_type"] = args.input_type
    provider = merge_provider(args.provider, ctx.settings)
    if provider:
        body["provider"] = provider
    return body


def _add_usage(total: dict[str, Any], usage: Any) -> None:
    u = usage_meta(usage) or {}
    for k in ("prompt_tokens", "total_tokens", "cost"):
        v = u.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            total[k] = total.get(k, 0) + v


# ---- the tool -----------------------------------------------------------------------------------


async def embed_texts(args: EmbedInput, ctx: ToolContext) -> ToolResult:
    from .saving import resolve_save

    texts = [args.input] if isinstance(args.input, str) else list(args.input)
    target = resolve_save(args.save_path, ctx.settings)  # UNSAFE_PATH before anything is spent
    model = clean_model(args.model) or ctx.settings.default_embed_model
    slices = chunk_texts(texts, args.chunk_size, DEFAULT_CHUNK_BYTES)
    rows: list[list[bytes] | None] = [None] * len(slices)
    usage: dict[str, Any] = {}
    served: list[str] = []
    done = 0
    sem = asyncio.Semaphore(CONCURRENCY)

    async def one(k: int, start: int, end: int) -> None:
        nonlocal done
        async with sem:
            body = build_body(args, model, texts[start:end], ctx)
            resp = await ctx.client.request_json("POST", "/embeddings", json=body, context=TOOL)
            got, m = parse_rows(resp.data, end - start, args.dimensions)
        rows[k] = got
        _add_usage(usage, resp.data.get("usage") if isinstance(resp.data, dict) else None)
        if m:
            served.append(m)
        done += end - start
        if len(slices) > 1:
            await ctx.progress(done, len(texts), f"{done}/{len(texts)} texts embedded")

    tasks = [asyncio.ensure_future(one(k, s, e)) for k, (s, e) in enumerate(slices)]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    flat = [r for chunk in rows for r in (chunk or [])]
    widths = {len(r) for r in flat}
    if len(widths) != 1:
        raise _shape_error("chunks answered with different dimensions", "dimensions")
    dims = widths.pop() // 4
    buf = b"".join(flat)
    n = len(texts)
    return _result(args, ctx, buf, n, dims, served[0] if served else model, usage, target)


def _result(
    args: EmbedInput,
    ctx: ToolContext,
    buf: bytes,
    n: int,
    dims: int,
    model: str,
    usage: dict[str, Any],
    target: Any,
) -> ToolResult:
    from .saving import Output, deliver_all, save_failure_code

    meta: dict[str, Any] = {"model": model, "count": n, "dimensions": dims}
    add_usage_and_cost(meta, usage)
    data: dict[str, Any] = {
        "model": model,
        "count": n,
        "dimensions": dims,
        "preview": _preview(buf, n, dims),
    }
    lines = [f"{n} embedding{'s' if n != 1 else ''} × {dims} dimensions (float32) from {model}."]
    media = []
    code = None
    if args.npy or target is not None:
        out = Output(
            npy_bytes(buf, n, dims),
            "file",
            NPY_MIME,
            ".npy",
            target,
            name=f"{TOOL}.npy",
            item_meta={"shape": [n, dims], "dtype": "float32"},
        )
        d = deliver_all([out], settings=ctx.settings, tool=TOOL, noun="Embeddings", paid=True)[0]
        media.append(d.item)
        meta.update(d.meta)
        if d.item.path:
            data["save_path"] = d.item.path
        lines.append(d.text)
        code = save_failure_code([d])
    result = ToolResult(
        tool=TOOL, text="\n".join(lines), code=code, data=data, media=media, meta=meta
    )
    result.value = to_value(buf, n, dims)
    return result


# ---- the batch engine's side --------------------------------------------------------------------


def finish_embedding(data: Any, dims: int | None) -> ToolResult:
    """One Batch API answer (one text) → the result an interactive one-text call gives, with the
    vector kept (base64 float32) in ``data`` so the registry can store and restore it."""
    rows, m = parse_rows(data, 1, dims)
    width = len(rows[0]) // 4
    model = m or ""
    meta: dict[str, Any] = {"model": model, "count": 1, "dimensions": width}
    usage: dict[str, Any] = {}
    _add_usage(usage, data.get("usage"))
    add_usage_and_cost(meta, usage)
    res = ToolResult(
        tool=TOOL,
        text=f"1 embedding × {width} dimensions (float32) from {model}.",
        data={
            "model": model,
            "count": 1,
            "dimensions": width,
            "vector_base64": base64.b64encode(rows[0]).decode("ascii"),
        },
        meta=meta,
    )
    res.value = to_value(rows[0], 1, width)
    return res


def load_vectors(result: ToolResult) -> None:
    """Restore ``value`` of a stored batch result (``data.vector_base64``)."""
    d = result.data or {}
    raw = d.get("vector_base64")
    if result.ok and isinstance(raw, str):
        buf = base64.b64decode(raw)
        result.value = to_value(buf, 1, len(buf) // 4)


TOOLS = [
    ToolSpec(
        name=TOOL,
        title="Embed texts",
        description=describe(
            "Turn texts into embedding vectors (float32, one row per text, in order) for search, "
            "clustering, deduplication or classification; long lists are chunked for you.",
            use_when="you need vectors for texts: semantic search, nearest neighbours, clusters, "
            "features for a model. The vectors come back as a .npy file (saved with save_path) "
            "plus a preview.",
            not_when="you want relevance scores for a query against a few documents "
            "(rerank_documents), or generated text (chat_completion).",
            good=[
                '{"input": "The moon pulls the sea"}',
                '{"input": ["red apple", "green pear"], "dimensions": 256, '
                '"save_path": "vecs.npy"}',
            ],
            bad=['{"input": ""}', '{"input": ["ok", 3]}', '{"input": [], "save_path": "/etc/x"}'],
            fails="INVALID_INPUT (empty text, non-string item, too many texts), UNSAFE_PATH "
            "(save_path outside the output directory; checked before any request), "
            "MODEL_NOT_FOUND, UPSTREAM_HTTP (wrong count or shape of vectors back), upstream errors.",
            works_with="search_models (output_modalities ['embeddings']) to pick a model; "
            "submit_batch for very large jobs; rerank_documents to refine the nearest hits.",
        ),
        input_model=EmbedInput,
        output_model=EmbedOutput,
        handler=embed_texts,
        annotations=idempotent_write_annotations("Embed texts"),
    ),
]
