"""``POST /chat/completions``: model fallbacks, per-model faults, the answer as JSON or SSE.

The answer itself (text, reasoning, images, audio, tool calls, usage) is built by ``_chat.py``;
this module decides which model serves it (the ``models`` fallback list, skipping candidates a
fault fails), bills it and frames it.
"""

from __future__ import annotations

import time
from typing import Any

from .. import _chat
from .._fault_answers import fault_response
from .._http import Req, Resp, invalid_model, json_resp, wrong_endpoint
from ..catalog import find_model, has_output
from ..faults import ERROR_TYPES, OFFLINE_PROVIDER, Fault
from ._base import Endpoints, route

DEFAULT_MODEL = "google/gemma-4-26b-a4b-it:free"  # the account default when a body names none


class ChatAPI(Endpoints):
    """Stateless; the batch API calls ``chat`` directly for each of its chat requests."""

    @route("POST", r"/chat/completions", auth=True)
    async def chat(self, req: Req) -> Resp:
        body = req.body()
        candidates = _candidates(body)
        for cand in candidates:
            model = find_model(cand)
            if model is None:
                raise invalid_model(cand)
            if not set(model["architecture"]["output_modalities"]) & {"text", "image", "audio"}:
                raise wrong_endpoint(
                    cand, f"{model['id']} is not a chat model; use its dedicated endpoint"
                )
        entry_fault = req.entry_fault
        failures: list[dict[str, Any]] = []
        for i, cand in enumerate(candidates):
            model = find_model(cand)
            assert model is not None
            served = cand if cand == model["id"] else model["id"]
            fault = self.app.take_fault(req.method, req.path, cand, model_only=True)
            if fault is not None and fault.is_failure and i < len(candidates) - 1:
                failures.append(
                    {"provider": OFFLINE_PROVIDER, "model": cand, "status": fault.status}
                )
                continue
            if fault is not None and fault.preempts:
                resp = fault_response(fault, cand)
                resp.fault = fault
                return resp
            use = fault or entry_fault
            resp = self._answer(req, body, served, model, use, failures, _is_online(cand, body))
            if fault is not None:
                resp.fault = fault
            return resp
        raise AssertionError("unreachable")

    def _answer(
        self,
        req: Req,
        body: dict[str, Any],
        served: str,
        model: dict[str, Any],
        fault: Fault | None,
        attempts: list[dict[str, Any]],
        online: bool,
    ) -> Resp:
        if (
            body.get("modalities") is None
            and "text" not in model["architecture"]["output_modalities"]
            and has_output(model, "image")
        ):
            body = {**body, "modalities": ["image"]}
        _chat.validate(body, served, model)
        gen_id = self.app.new_id("gen", req.body_hash)
        completion = _chat.build(
            body,
            model_id=served,
            model=model,
            scenario=fault.scenario if fault else None,
            gen_id=gen_id,
            created=int(time.time()),
            online=online,
        )
        if fault is not None and fault.echo is not None:  # a reflecting proxy / prompt injection
            completion.content = fault.echo.replace(
                "{authorization}", req.headers.get("authorization", "")
            ).replace("{key}", req.key or "")
        stream = body.get("stream") is True
        self._bill(req, gen_id, served, completion, stream, attempts)
        if stream:
            mid = None
            if fault is not None and fault.midstream_error:
                status = fault.status or 502
                mid = {
                    "code": status,
                    "message": fault.message or "Provider returned error",
                    "metadata": {
                        "error_type": ERROR_TYPES.get(status, "provider_unavailable"),
                        "provider_code": "upstream_error",
                        "provider_name": OFFLINE_PROVIDER,
                    },
                }
            events = _chat.to_events(
                completion, midstream_error=mid, split_chars=fault.echo_split if fault else None
            )
            return self.app.sse_resp(events, gen_id)
        if fault is not None and fault.midstream_error:
            completion.error = {
                "code": fault.status or 502,
                "message": fault.message or "Provider returned error",
                "metadata": {"error_type": "provider_unavailable"},
            }
            completion.finish_reason = completion.native_finish_reason = "error"
        return json_resp(_chat.to_json(completion), 200, {"X-Generation-Id": gen_id})

    def _bill(
        self,
        req: Req,
        gen_id: str,
        served: str,
        completion: _chat.DoubleCompletion,
        stream: bool,
        attempts: list[dict[str, Any]],
    ) -> None:
        """The generation record of one answer (tokens, media counts, fallback attempts)."""
        usage = completion.usage
        media = req.record.media
        self.app.account_api.record_generation(
            gen_id,
            req,
            model=served,
            api_type="completions",
            total_cost=usage["cost"],
            usage=usage["cost"],
            tokens_prompt=usage["prompt_tokens"],
            tokens_completion=usage["completion_tokens"],
            native_tokens_prompt=usage["prompt_tokens"],
            native_tokens_completion=usage["completion_tokens"],
            native_tokens_reasoning=usage["completion_tokens_details"]["reasoning_tokens"],
            native_tokens_completion_images=usage["completion_tokens_details"]["image_tokens"],
            native_tokens_cached=0,
            num_media_prompt=len(media),
            num_media_completion=len(completion.images),
            num_input_audio_prompt=sum(1 for m in media if m["type"] == "input_audio"),
            finish_reason=completion.finish_reason,
            native_finish_reason=completion.native_finish_reason,
            streamed=stream,
            provider_responses=attempts,
        )


def _candidates(body: dict[str, Any]) -> list[str]:
    """``model`` then the ``models`` fallbacks, without repeats (the account default if none)."""
    primary = body.get("model")
    fallbacks = body.get("models") if isinstance(body.get("models"), list) else []
    candidates: list[str] = []
    for m in [primary, *fallbacks]:
        if isinstance(m, str) and m and m not in candidates:
            candidates.append(m)
    return candidates or [DEFAULT_MODEL]


def _is_online(model_id: str, body: dict[str, Any]) -> bool:
    """Web search requested: ``:online``, the ``web`` plugin or the ``openrouter:web_search`` tool."""
    if model_id.endswith(":online"):
        return True
    plugins = body.get("plugins") if isinstance(body.get("plugins"), list) else []
    tools = body.get("tools") if isinstance(body.get("tools"), list) else []
    return any(
        isinstance(p, dict) and p.get("id") == "web" and p.get("enabled", True) for p in plugins
    ) or any(isinstance(t, dict) and t.get("type") == "openrouter:web_search" for t in tools)
