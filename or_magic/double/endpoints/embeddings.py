"""``POST /embeddings`` and ``GET /embeddings/models``.

The vectors and the body checks are ``_embed.py``'s, shared with the batch API's embedding
requests, so a batch vector equals the interactive one.
"""

from __future__ import annotations

from .. import _embed
from .._http import Req, Resp, json_resp, require_model
from ..catalog import MODELS, has_output
from ._base import Endpoints, route


class EmbeddingsAPI(Endpoints):
    """Stateless: every answer is computed from the request alone."""

    @route("GET", r"/embeddings/models", auth=False)
    async def embedding_models(self, req: Req) -> Resp:
        items = [m for m in MODELS if has_output(m, "embeddings")]
        return json_resp({"data": items, "total_count": len(items), "links": {"next": None}})

    @route("POST", r"/embeddings", auth=True)
    async def embeddings(self, req: Req) -> Resp:
        body = req.body()
        model = require_model(body, "embeddings", "embeddings")
        data, tokens = _embed.embed_body(body)
        gen_id = self.app.new_id("gen-emb", req.body_hash)
        cost = round(tokens * float(model["pricing"].get("prompt", "0") or 0), 12)
        self.app.account_api.record_generation(
            gen_id,
            req,
            model=model["id"],
            api_type="embeddings",
            total_cost=cost,
            usage=cost,
            tokens_prompt=tokens,
        )
        return json_resp(
            {
                "id": gen_id,
                "object": "list",
                "model": model["id"],
                "data": data,
                "usage": {
                    "prompt_tokens": tokens,
                    "total_tokens": tokens,
                    "cost": cost,
                    "is_byok": False,
                },
            },
            headers={"X-Generation-Id": gen_id},
        )
