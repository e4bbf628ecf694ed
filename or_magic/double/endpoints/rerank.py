"""``POST /rerank``: documents scored by word overlap with the query, best first."""

from __future__ import annotations

import math
import re

from .._http import Req, Resp, bad_request, json_resp, require_model, required_text
from ..faults import OFFLINE_PROVIDER
from ._base import Endpoints, route


class RerankAPI(Endpoints):
    """Stateless; scores are deterministic (the same query and documents, the same order)."""

    @route("POST", r"/rerank", auth=True)
    async def rerank(self, req: Req) -> Resp:
        body = req.body()
        model = require_model(body, "rerank", "reranking")
        query = required_text(body, "query")
        texts = _documents(body.get("documents"))
        top_n = body.get("top_n")
        if top_n is not None and (
            not isinstance(top_n, int) or isinstance(top_n, bool) or top_n < 1
        ):
            raise bad_request("top_n: must be a positive integer")
        q_tokens = _tokens(query)
        scored = []
        for i, t in enumerate(texts):
            d_tokens = _tokens(t)
            overlap = len(q_tokens & d_tokens)
            union = len(q_tokens | d_tokens) or 1
            score = 0.02 + 0.9 * overlap / max(1, len(q_tokens)) + 0.07 * overlap / union
            scored.append((round(min(score, 0.999999), 6), i))
        scored.sort(key=lambda s: (-s[0], s[1]))
        if top_n is not None:
            scored = scored[:top_n]
        gen_id = self.app.new_id("gen-rerank", req.body_hash)
        units = max(1, math.ceil(len(texts) / 100))
        total_tokens = len(query.split()) * len(texts) + sum(len(t.split()) for t in texts)
        cost = round(units * float(model["pricing"].get("request", "0")), 10)
        usage = {"search_units": units, "total_tokens": total_tokens, "cost": cost}
        self.app.account_api.record_generation(
            gen_id, req, model=model["id"], api_type="rerank", total_cost=cost, usage=cost
        )
        return json_resp(
            {
                "id": gen_id,
                "model": model["id"],
                "provider": OFFLINE_PROVIDER,
                "results": [
                    {"index": i, "relevance_score": s, "document": {"text": texts[i]}}
                    for s, i in scored
                ],
                "usage": usage,
            },
            headers={"X-Generation-Id": gen_id},
        )


def _documents(docs: object) -> list[str]:
    """The texts of ``documents`` (strings or ``{text}`` objects); the 400 otherwise."""
    if not isinstance(docs, list) or not docs:
        raise bad_request("documents: must be a non-empty array")
    texts: list[str] = []
    for i, d in enumerate(docs):
        if isinstance(d, str):
            texts.append(d)
        elif isinstance(d, dict) and isinstance(d.get("text"), str):
            texts.append(d["text"])
        else:
            raise bad_request(f"documents[{i}]: expected a string or {{text}}")
    return texts


def _tokens(text: str) -> set[str]:
    return {t for t in re.findall(r"[a-z0-9]+", text.lower()) if len(t) > 1}
