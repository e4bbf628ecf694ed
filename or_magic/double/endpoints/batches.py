"""The double's Batch API: ``POST/GET /batches``, ``GET/DELETE /batches/{id}``, cancel.

Shapes follow the official SDK (``openrouter/components/batch*.py``): a submit answers ``202`` with
``status: "validating"``; every ``GET /batches/{id}`` of a live batch advances it one step along
its ``BatchScript`` (``validating → in_progress → completed`` by default), finishing more of its
requests on each ``in_progress`` poll; a terminal batch carries ``results`` (one per request, each
with ``custom_id`` and a ``response`` or an ``error``). ``DELETE`` removes a terminal batch and
answers ``409`` for a live one (the SDK's documented semantics). The SDK has no cancel operation;
the double serves the OpenAI-compatible ``POST /batches/{id}/cancel`` (``cancelling``, then
``cancelled`` on the next poll, finished requests kept).

Chat requests are answered by the double's own ``/chat/completions`` handler, so a batch result is
exactly what the interactive call would have returned (same validation, same per-model faults).
Embedding requests are answered by the interactive ``/embeddings`` code (``_embed.embed_body``:
same vectors, same ``dimensions``/``encoding_format`` handling, same per-token price), so a batch
vector equals the one the interactive call returns.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import _embed
from .._http import ApiError, Req, Resp, bad_request, json_resp
from ..catalog import find_model
from ..faults import (
    BATCH_TERMINAL,
    ERROR_TYPES,
    OFFLINE_PROVIDER,
    BatchScript,
    RecordedRequest,
    error_body,
)
from ._base import Endpoints, route

if TYPE_CHECKING:  # pragma: no cover
    from ..app import DoubleApp

ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings", "/v1/responses", "/v1/messages")
SERVED_ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings")
MAX_REQUESTS = 10_000  # per batch; the real limit is not documented in the SDK
MAX_CUSTOM_ID = 64
EMBED_DIM = _embed.DEFAULT_DIMENSIONS
WINDOW_S = 24 * 3600
_CUSTOM_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def embed_text(text: str, dim: int = EMBED_DIM) -> list[float]:
    """The interactive ``/embeddings`` vector of ``text`` (similar texts are near)."""
    return _embed.vector(text, dim)


@dataclass
class _Batch:
    id: str
    endpoint: str
    model: str
    requests: list[dict[str, Any]]
    created_at: int
    script: BatchScript
    key: str | None
    headers: dict[str, str]
    polls: int = 0
    status: str = "validating"
    done: int = 0  # requests answered so far (in submission order)
    results: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    finalized_at: int | None = None
    cancel_requested: bool = False
    seq: int = 0  # submission order (created_at has one-second resolution)

    @property
    def terminal(self) -> bool:
        return self.status in BATCH_TERMINAL

    def counts(self) -> dict[str, int]:
        failed = sum(1 for r in self.results if r["error"] is not None)
        return {
            "completed": len(self.results) - failed,
            "failed": failed,
            "total": len(self.requests),
        }

    def usage(self) -> dict[str, Any] | None:
        if not self.results:
            return None
        p = c = 0
        cost = 0.0
        for r in self.results:
            u = ((r.get("response") or {}).get("body") or {}).get("usage") or {}
            p += int(u.get("prompt_tokens") or 0)
            c += int(u.get("completion_tokens") or 0)
            cost += float(u.get("cost") or 0.0)
        return {
            "prompt_tokens": p,
            "completion_tokens": c,
            "total_tokens": p + c,
            "cost": round(cost, 8),
        }

    def view(self, *, with_results: bool) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "model": self.model,
            "completion_window": "24h",
            "status": self.status,
            "created_at": self.created_at,
            "expires_at": self.created_at + WINDOW_S,
            "finalized_at": self.finalized_at,
            "provider": OFFLINE_PROVIDER,
            "error": {"message": self.error} if self.error else None,
            "request_counts": self.counts(),
            "results": (list(self.results) if self.terminal else None) if with_results else None,
            "usage": self.usage(),
        }


class BatchAPI(Endpoints):
    """Batch state and handlers (behind their own lock: a batch runs chat requests itself)."""

    def __init__(self, app: DoubleApp) -> None:
        super().__init__(app)
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.batches: dict[str, _Batch] = {}
            self.scripts: deque[BatchScript] = deque()
            self._seq = itertools.count(1)

    def script(self, script: BatchScript) -> None:
        """The next submitted batch follows ``script`` (queued, one per submit)."""
        with self.lock:
            self.scripts.append(script)

    def get(self, batch_id: str) -> _Batch | None:
        with self.lock:
            return self.batches.get(batch_id)

    # ---- handlers --------------------------------------------------------------------------------
    @route("POST", r"/batches", auth=True)
    async def create(self, req: Req) -> Resp:
        body = req.body()
        endpoint = body.get("endpoint")
        if endpoint not in ENDPOINTS:
            raise bad_request(f"endpoint must be one of {', '.join(ENDPOINTS)}")
        if endpoint not in SERVED_ENDPOINTS:
            raise bad_request(f"the offline double does not run {endpoint} batches")
        model = body.get("model")
        if not isinstance(model, str) or find_model(model) is None:
            raise bad_request(f"{model} is not a valid model ID")
        window = body.get("completion_window", "24h")
        if window != "24h":
            raise bad_request("completion_window must be '24h'")
        reqs = body.get("requests")
        if not isinstance(reqs, list) or not reqs:
            raise bad_request("requests must be a non-empty array")
        if len(reqs) > MAX_REQUESTS:
            raise ApiError(413, error_body(413, f"A batch holds at most {MAX_REQUESTS} requests"))
        seen: set[str] = set()
        for i, r in enumerate(reqs):
            if not isinstance(r, dict) or not isinstance(r.get("body"), dict):
                raise bad_request(f"requests[{i}] needs a body object")
            cid = r.get("custom_id")
            if not isinstance(cid, str) or not _CUSTOM_ID.match(cid):
                raise bad_request(f"requests[{i}].custom_id must match {_CUSTOM_ID.pattern}")
            if cid in seen:
                raise bad_request(f"duplicate custom_id {cid!r}")
            seen.add(cid)
        with self.lock:
            script = self.scripts.popleft() if self.scripts else BatchScript()
        batch = _Batch(
            id=self.app.new_id("batch", req.body_hash).replace("-", "_"),
            endpoint=endpoint,
            model=model,
            requests=[{"custom_id": r["custom_id"], "body": r["body"]} for r in reqs],
            created_at=int(time.time()),
            script=script,
            key=req.key,
            headers={k: v for k, v in req.headers.items() if k in ("authorization", "host")},
            status=script.statuses[0],
        )
        if batch.status in BATCH_TERMINAL:
            await self._finish(batch, batch.status)
        with self.lock:
            batch.seq = next(self._seq)
            self.batches[batch.id] = batch
        return json_resp(batch.view(with_results=True), 202)

    @route("GET", r"/batches", auth=True)
    async def list(self, req: Req) -> Resp:
        q = req.query
        try:
            limit = int(q.get("limit", "20"))
        except ValueError:
            raise bad_request("limit must be an integer") from None
        if not 1 <= limit <= 100:
            raise bad_request("limit must be between 1 and 100")
        wanted = {s for s in q.get("status", "").split(",") if s}
        with self.lock:
            mine = [b for b in self.batches.values() if b.key == req.key]
        mine.sort(key=lambda b: b.seq, reverse=True)  # newest first
        if wanted:
            mine = [b for b in mine if b.status in wanted]
        after = q.get("after")
        if after:
            ids = [b.id for b in mine]
            if after not in ids:
                raise bad_request(f"after: unknown batch id {after!r}")
            mine = mine[ids.index(after) + 1 :]
        page = mine[:limit]
        return json_resp(
            {
                "object": "list",
                "data": [b.view(with_results=False) for b in page],
                "first_id": page[0].id if page else None,
                "last_id": page[-1].id if page else None,
                "has_more": len(mine) > limit,
            }
        )

    @route("GET", r"/batches/(?P<id>[^/]+)", auth=True)
    async def retrieve(self, req: Req) -> Resp:
        batch = self._own(req)
        if not batch.terminal:
            await self._advance(batch)
        return json_resp(batch.view(with_results=True))

    @route("POST", r"/batches/(?P<id>[^/]+)/cancel", auth=True)
    async def cancel(self, req: Req) -> Resp:
        batch = self._own(req)
        if batch.terminal:
            raise ApiError(409, error_body(409, f"Batch {batch.id} is already {batch.status}"))
        batch.cancel_requested = True
        batch.status = "cancelling"
        return json_resp(batch.view(with_results=True))

    @route("DELETE", r"/batches/(?P<id>[^/]+)", auth=True)
    async def delete(self, req: Req) -> Resp:
        batch = self._own(req)
        if not batch.terminal:
            raise ApiError(
                409, error_body(409, f"Batch {batch.id} is {batch.status}; cancel it first")
            )
        with self.lock:
            self.batches.pop(batch.id, None)
        return json_resp(
            {
                "id": batch.id,
                "object": "batch",
                "deletion": {
                    "openrouter": "deleted",
                    "upstream": {"provider": OFFLINE_PROVIDER, "status": "deleted"},
                },
            }
        )

    # ---- lifecycle --------------------------------------------------------------------------------
    def _own(self, req: Req) -> _Batch:
        batch = self.get(req.params.get("id", ""))
        if batch is None or batch.key != req.key:
            raise ApiError(404, error_body(404, "Batch not found"))
        return batch

    async def _advance(self, batch: _Batch) -> None:
        if batch.cancel_requested:
            await self._finish(batch, "cancelled")
            return
        batch.polls += 1
        steps = batch.script.statuses
        status = steps[min(batch.polls, len(steps) - 1)]
        if status in ("in_progress", "finalizing"):
            # each in_progress poll finishes another share of the requests
            live = [s for s in steps if s in ("in_progress", "finalizing")] or ["in_progress"]
            share = min(1.0, (batch.polls) / (len(live) + 1))
            await self._run_until(batch, max(batch.done, math.ceil(len(batch.requests) * share)))
            batch.status = status
        elif status in BATCH_TERMINAL:
            await self._finish(batch, status)
        else:
            batch.status = status

    async def _finish(self, batch: _Batch, status: str) -> None:
        if status == "completed":
            await self._run_until(batch, len(batch.requests))
        elif status == "failed" and not batch.results:
            batch.error = batch.script.error or "The batch failed validation"
        if status in ("expired", "cancelled"):
            etype = "batch_expired" if status == "expired" else "batch_cancelled"
            for pos in range(batch.done, len(batch.requests)):
                batch.results.append(
                    _error_result(batch, pos, f"Request not run: the batch was {status}", etype)
                )
            batch.done = len(batch.requests)
        batch.status = status
        batch.finalized_at = int(time.time())

    async def _run_until(self, batch: _Batch, upto: int) -> None:
        while batch.done < upto:
            pos = batch.done
            batch.results.append(await self._run_one(batch, pos))
            batch.done += 1

    async def _run_one(self, batch: _Batch, pos: int) -> dict[str, Any]:
        item = batch.requests[pos]
        cid = item["custom_id"]
        if batch.script.item_fails(pos, cid):
            st = batch.script.fail_status
            return _error_result(
                batch, pos, "Provider returned error", ERROR_TYPES.get(st, "server")
            )
        body = {**item["body"]}
        body.setdefault("model", batch.model)
        if batch.endpoint == "/v1/embeddings":
            answer = self._embed(body)
            if isinstance(answer, str):
                return _error_result(batch, pos, answer, "invalid_request")
            return _ok_result(batch, pos, answer)
        body.pop("stream", None)
        try:
            resp = await self.app.chat_api.chat(self._sub_request(batch, body))
        except ApiError as exc:
            msg = exc.message("error")
            return _error_result(batch, pos, msg, ERROR_TYPES.get(exc.status, "unmapped"))
        if resp.status != 200 or resp.body is None:
            return _error_result(
                batch,
                pos,
                "Provider returned error",
                ERROR_TYPES.get(resp.status, "provider_unavailable"),
            )
        return _ok_result(batch, pos, json.loads(resp.body))

    def _sub_request(self, batch: _Batch, body: dict[str, Any]) -> Req:
        raw = json.dumps(body, sort_keys=True).encode()
        record = RecordedRequest(
            method="POST",
            path="/api/v1/chat/completions",
            query={},
            headers=dict(batch.headers),
            json=body,
            body_size=len(raw),
        )
        return Req(
            "POST",
            "/chat/completions",
            {},
            dict(batch.headers),
            body,
            hashlib.sha256(raw).hexdigest(),
            record,
        )

    def _embed(self, body: dict[str, Any]) -> dict[str, Any] | str:
        """An embeddings answer for one request body, or the message of its 400."""
        try:
            data, tokens = _embed.embed_body(body)
        except ApiError as exc:
            return exc.message("invalid request")
        model = find_model(body.get("model"))
        price = float(((model or {}).get("pricing") or {}).get("prompt", "0") or 0)
        return {
            "object": "list",
            "id": self.app.new_id("emb"),
            "model": body.get("model"),
            "data": data,
            "usage": {
                "prompt_tokens": tokens,
                "total_tokens": tokens,
                "cost": round(tokens * price, 12),
            },
        }


def _ok_result(batch: _Batch, pos: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"{batch.id}_r{pos}",
        "custom_id": batch.requests[pos]["custom_id"],
        "response": {"status_code": 200, "request_id": f"req_{batch.id}_{pos}", "body": body},
        "error": None,
    }


def _error_result(batch: _Batch, pos: int, message: str, etype: str) -> dict[str, Any]:
    """A failed request: only the spec's ``error`` fields (``message``, ``param``, ``type``,
    ``error_type``), so SDK users and our client read the same thing."""
    return {
        "id": f"{batch.id}_r{pos}",
        "custom_id": batch.requests[pos]["custom_id"],
        "response": None,
        "error": {
            "message": message,
            "param": None,
            "type": etype,
            "error_type": etype,
        },
    }
