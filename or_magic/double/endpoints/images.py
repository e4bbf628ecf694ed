"""The images API: ``POST /images`` (JSON or SSE), ``GET /images/models`` and their endpoints.

Capabilities (sizes, ratios, formats, ``n``) are ``catalog.IMAGE_MODELS``; the pictures are real
PNGs (or SVGs) from ``_media.py``, deterministic for a prompt and seed.
"""

from __future__ import annotations

import base64
import re
import time
from typing import Any

from .. import _chat, _media
from .._http import (
    Req,
    Resp,
    bad_request,
    error_resp,
    invalid_model,
    json_resp,
    required_model_id,
    wrong_endpoint,
)
from ..catalog import IMAGE_BY_ID, IMAGE_MODELS, find_model
from ..faults import OFFLINE_PROVIDER
from ._base import Endpoints, route


class ImagesAPI(Endpoints):
    """Stateless: every answer is computed from the request alone."""

    @route("GET", r"/images/models", auth=False)
    async def image_models(self, req: Req) -> Resp:
        # prices are per endpoint in the spec (ImageEndpoint.pricing), not on the list item
        return json_resp(
            {"data": [{k: v for k, v in m.items() if k != "pricing"} for m in IMAGE_MODELS]}
        )

    @route("GET", r"/images/models/(?P<id>.+)/endpoints", auth=False)
    async def image_model_endpoints(self, req: Req) -> Resp:
        base = find_model(req.params["id"])
        spec = IMAGE_BY_ID.get(base["id"]) if base else None
        if spec is None:
            return error_resp(404, f"No image endpoints found for {req.params['id']}")
        endpoint = {
            "provider_name": OFFLINE_PROVIDER,
            "provider_slug": OFFLINE_PROVIDER,
            "provider_tag": OFFLINE_PROVIDER,
            "supported_parameters": spec["supported_parameters"],
            "allowed_passthrough_parameters": [],
            "supports_streaming": spec["supports_streaming"],
            "pricing": [
                {"billable": "output_image", "unit": "image", "cost_usd": float(p["cost_usd"])}
                for p in spec["pricing"]
            ],
        }
        # the spec's ImageModelEndpointsResponse is not wrapped in ``data``
        return json_resp({"id": spec["id"], "endpoints": [endpoint]})

    @route("POST", r"/images", auth=True)
    async def images(self, req: Req) -> Resp:
        body = req.body()
        model_id = required_model_id(body)
        base = find_model(model_id)
        spec = IMAGE_BY_ID.get(base["id"]) if base else None
        if base is None:
            raise invalid_model(model_id)
        if spec is None:
            raise wrong_endpoint(model_id, f"{base['id']} does not support the images API")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise bad_request("prompt: Required")
        n = _check_options(body, spec)
        w, h = _pixels(body)
        fmt = body.get("output_format") or "png"
        seed = _media.digest(spec["id"], prompt, body.get("seed"))
        data = []
        for i in range(n):
            s = _media.digest(seed, i)
            if fmt == "svg":
                raw, media_type = _media.svg(w, h, s, prompt), "image/svg+xml"
            else:
                # jpeg/webp are not encoded by the double: it answers PNG and says so honestly.
                raw, media_type = _media.png(w, h, s), "image/png"
            data.append(
                {"b64_json": base64.b64encode(raw).decode("ascii"), "media_type": media_type}
            )
        price = float(base["pricing"].get("image_output", "0") or 0)
        p_tokens = len(prompt.split())
        usage = {
            "prompt_tokens": p_tokens,
            "completion_tokens": _chat.IMAGE_TOKENS * n,
            "total_tokens": p_tokens + _chat.IMAGE_TOKENS * n,
            "cost": round(price * n, 10),
        }
        gen_id = self.app.new_id("gen", req.body_hash)
        self.app.account_api.record_generation(
            gen_id,
            req,
            model=spec["id"],
            api_type="image",
            total_cost=usage["cost"],
            usage=usage["cost"],
        )
        created = int(time.time())
        if body.get("stream") is True:
            return self.app.sse_resp(_events(data, created, usage), gen_id)
        return json_resp(
            {"created": created, "data": data, "usage": usage}, headers={"X-Generation-Id": gen_id}
        )


def _check_options(body: dict[str, Any], spec: dict[str, Any]) -> int:
    """``n`` (checked against the model's range) after checking the enum options it supports."""
    sp = spec["supported_parameters"]
    n = body.get("n", 1)
    if not isinstance(n, int) or isinstance(n, bool) or not sp["n"]["min"] <= n <= sp["n"]["max"]:
        raise bad_request(f"n must be an integer from {sp['n']['min']} to {sp['n']['max']}")
    for name in ("resolution", "aspect_ratio", "output_format", "quality"):
        value = body.get(name)
        if value is not None and value not in sp[name]["values"]:
            raise bad_request(
                f"{name} '{value}' is not supported by {spec['id']}. "
                f"Valid values: {', '.join(sp[name]['values'])}"
            )
    return n


def _pixels(body: dict[str, Any]) -> tuple[int, int]:
    """Width and height: an explicit ``WxH`` size, else the aspect ratio at the resolution."""
    size = body.get("size")
    if isinstance(size, str) and re.fullmatch(r"\d{2,5}x\d{2,5}", size):
        w, h = (int(x) for x in size.split("x"))
        if w * h > 64_000_000:
            raise bad_request(f"size {size} is too large")
        return w, h
    res = size if isinstance(size, str) and size in _media.SIZE_SCALE else body.get("resolution")
    return _media.image_dims(body.get("aspect_ratio"), res or "1K")


def _events(data: list[dict[str, Any]], created: int, usage: dict[str, Any]) -> list[Any]:
    """The SSE events of a streamed answer: one partial image, then each image, then [DONE]."""
    events: list[Any] = [
        {
            "type": "image_generation.partial_image",
            "partial_image_index": 0,
            "b64_json": data[0]["b64_json"],
        }
    ]
    for d in data:
        events.append(
            {
                "type": "image_generation.completed",
                "b64_json": d["b64_json"],
                "media_type": d["media_type"],
                "created": created,
                "usage": usage,
            }
        )
    events.append("[DONE]")
    return events
