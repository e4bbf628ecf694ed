"""The model catalogue: ``GET /models`` (filters, sorting, pages), ``/models/count``,
``/models/user``, ``/models/{id}/endpoints``, ``/model/{id}``, and ``/providers``.

The records are ``catalog.MODELS``; the media families list their own models (``/images/models``
in ``images.py``, ``/videos/models`` in ``videos.py``, ``/embeddings/models`` in
``embeddings.py``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from .._http import PREFIX, Req, Resp, bad_request, error_resp, json_resp
from ..catalog import MODELS, find_model, has_output, split_variant
from ..faults import OFFLINE_PROVIDER
from ._base import Endpoints, route

_SORTS = {
    "newest": lambda m: -m["created"],
    "pricing-low-to-high": lambda m: float(m["pricing"]["prompt"]),
    "pricing-high-to-low": lambda m: -float(m["pricing"]["prompt"]),
    "context-high-to-low": lambda m: -(m["context_length"] or 0),
}


class ModelsAPI(Endpoints):
    """Stateless: every answer is read from the catalogue."""

    @route("GET", r"/models", auth=False)
    @route("GET", r"/models/user", auth=True)
    async def models(self, req: Req) -> Resp:
        q = req.query
        out_mods = _csv(q.get("output_modalities", "text"))
        in_mods = _csv(q.get("input_modalities", ""))
        params = _csv(q.get("supported_parameters", ""))
        text = q.get("q", "").strip().lower()
        items = []
        for m in MODELS:
            arch = m["architecture"]
            if "all" not in out_mods and not set(out_mods) & set(arch["output_modalities"]):
                continue
            if in_mods and not set(in_mods) <= set(arch["input_modalities"]):
                continue
            if params and not set(params) <= set(m["supported_parameters"]):
                continue
            if text and text not in (m["id"] + " " + m["name"] + " " + m["description"]).lower():
                continue
            items.append(m)
        sort = _SORTS.get(q.get("sort", ""))
        if sort is not None:
            items.sort(key=sort)
        total = len(items)
        nxt = None
        if "offset" in q or "limit" in q:
            try:
                offset = max(0, int(q.get("offset", "0")))
                limit = min(1000, max(1, int(q.get("limit", "1000"))))
            except ValueError:
                raise bad_request("offset and limit must be integers") from None
            items = items[offset : offset + limit]
            if offset + limit < total:
                rest = {k: v for k, v in q.items() if k not in ("offset", "limit")}
                rest.update(offset=str(offset + limit), limit=str(limit))
                nxt = f"{PREFIX}/models?{urlencode(rest)}"
        return json_resp({"data": items, "total_count": total, "links": {"next": nxt}})

    @route("GET", r"/models/count", auth=False)
    async def models_count(self, req: Req) -> Resp:
        return json_resp({"data": {"count": len(MODELS)}})

    @route("GET", r"/model/(?P<id>.+)", auth=False)
    async def model_one(self, req: Req) -> Resp:
        model = find_model(req.params["id"])
        if model is None:
            return error_resp(404, f"Model {req.params['id']} not found")
        return json_resp({"data": model})

    @route("GET", r"/models/(?P<id>.+)/endpoints", auth=False)
    async def model_endpoints(self, req: Req) -> Resp:
        mid = req.params["id"]
        model = find_model(mid)
        if model is None:
            return error_resp(404, f"No endpoints found for {mid}")
        _, variant = split_variant(mid)
        data = {k: model[k] for k in ("id", "name", "created", "description", "architecture")}
        data["endpoints"] = [_endpoint(model, variant)]
        return json_resp({"data": data})

    @route("GET", r"/providers", auth=False)
    async def providers(self, req: Req) -> Resp:
        return json_resp(
            {
                "data": [
                    {
                        "name": "or_magic offline",
                        "slug": OFFLINE_PROVIDER,
                        "privacy_policy_url": None,
                        "terms_of_service_url": None,
                        "status_page_url": None,
                        "headquarters": None,
                        "datacenters": None,
                    }
                ]
            }
        )


def _csv(value: str) -> list[str]:
    """The non-empty items of a comma-separated query parameter."""
    return [s.strip() for s in value.split(",") if s.strip()]


def _endpoint(model: dict[str, Any], variant: str | None) -> dict[str, Any]:
    """The one (offline) provider endpoint serving ``model``."""
    params = model["supported_parameters"]
    return {
        "name": f"{OFFLINE_PROVIDER} | {model['id']}",
        "model_id": model["id"],
        "model_name": model["name"],
        "provider_name": OFFLINE_PROVIDER,
        "tag": OFFLINE_PROVIDER + (f":{variant}" if variant else ""),
        "context_length": model["context_length"] or 0,  # an int in the spec, never null
        "max_completion_tokens": model["top_provider"]["max_completion_tokens"],
        "max_prompt_tokens": None,
        "pricing": model["pricing"],
        "quantization": "bf16",
        "supported_parameters": model["supported_parameters"],
        "supports_implicit_caching": False,
        "supports_voice_cloning": False,
        "supports_diarization": has_output(model, "transcription"),
        "supports_tool_choice": {
            "auto": "tools" in params,
            "none": "tools" in params,
            "required": "tool_choice" in params,
            "function": "tool_choice" in params,
        },
        "native_tools": {},
        "service_tier": None,
        "status": 0,
        "uptime_last_5m": 100.0,
        "uptime_last_30m": 100.0,
        "uptime_last_1d": 100.0,
        "latency_last_30m": {"p50": 120, "p75": 150, "p90": 200, "p99": 400},
        "throughput_last_30m": {"p50": 90, "p75": 80, "p90": 60, "p99": 30},
    }
