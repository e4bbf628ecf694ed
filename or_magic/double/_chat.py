"""Chat completions of the double: a deterministic, content-aware answer, as JSON or SSE events.

The answer names the served model, echoes the start of the last user text and lists the media it
received, so a test (or a curious user offline) can see exactly what the client sent.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import _media
from ._http import ApiError, bad_request
from ._schema import instance_for
from .catalog import EXTENDED_ASPECT_RATIOS, IMAGE_ASPECT_RATIOS, is_audio_chat_model
from .faults import OFFLINE_PROVIDER, error_body

OFFLINE_NOTE = "This is the or_magic offline double, not a real model; set OPENROUTER_API_KEY for real answers."
IMAGE_TOKENS = 1290
MEDIA_PROMPT_TOKENS = {"image_url": 258, "input_image": 258}


@dataclass
class DoubleCompletion:
    id: str
    model: str
    created: int
    content: str | None
    reasoning: str | None = None
    refusal: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    images: list[str] = field(default_factory=list)
    audio: bytes | None = None
    transcript: str | None = None
    finish_reason: str = "stop"
    native_finish_reason: str = "stop"
    error: dict[str, Any] | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    annotations: list[dict[str, Any]] = field(default_factory=list)


# ---- request reading --------------------------------------------------------------------------


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            p.get("text", "")
            for p in content
            if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        )
    return ""


def last_user_text(messages: list[Any]) -> str:
    for msg in reversed(messages):
        if isinstance(msg, dict) and msg.get("role") == "user":
            return " ".join(_text_of(msg.get("content")).split())
    return ""


def echo_of(text: str, limit: int = 120) -> str:
    if not text:
        return "(no text)"
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


#: What the answer calls a media part of each type (any other type by its own name); the plural
#: adds an "s".
MEDIA_NOUNS = {
    "image_url": "image",
    "input_image": "image",
    "input_audio": "audio clip",
    "audio_url": "audio clip",
    "video_url": "video",
    "input_video": "video",
}


def describe_media(media: list[dict[str, Any]]) -> str:
    """``1 image (image/jpeg, 34567 bytes), 1 audio clip (wav, 1234 bytes)``."""
    groups: dict[str, list[str]] = {}
    for m in media:
        kind = m["type"]
        if m.get("url"):
            detail = m["url"] if len(m["url"]) <= 80 else m["url"][:77] + "..."
        else:
            label = m.get("format") if kind == "input_audio" else m.get("mime")
            detail = f"{label or 'unknown'}, {m.get('size') or 0} bytes"
            if kind == "file" and m.get("filename"):
                detail += f", {m['filename']}"
        groups.setdefault(kind, []).append(detail)
    parts = []
    for kind, details in groups.items():
        noun = MEDIA_NOUNS.get(kind, kind)
        n = len(details)
        parts.append(f"{n} {noun if n == 1 else noun + 's'} ({'; '.join(details)})")
    return ", ".join(parts)


def _words(text: str | None) -> int:
    return len(text.split()) if text else 0


def prompt_tokens(messages: list[Any], media: list[dict[str, Any]]) -> int:
    n = 0
    for msg in messages:
        if isinstance(msg, dict):
            n += 3 + _words(_text_of(msg.get("content")))
    for m in media:
        size = m.get("size") or 0
        if m["type"] in MEDIA_PROMPT_TOKENS:
            n += MEDIA_PROMPT_TOKENS[m["type"]]
        elif m["type"] == "input_audio":
            n += max(1, size // 800)
        elif m["type"] in ("video_url", "input_video"):
            n += max(1, size // 1000)
        else:
            n += max(1, size // 500)
    return max(1, n)


def _price(model: dict[str, Any], key: str) -> float:
    try:
        return float(model["pricing"].get(key, "0") or 0)
    except (TypeError, ValueError):
        return 0.0


def _wants_reasoning(body: dict[str, Any]) -> tuple[bool, bool]:
    """(reasoning requested, reasoning excluded from the answer)."""
    r = body.get("reasoning")
    if isinstance(r, dict):
        if r.get("enabled") is False or r.get("effort") == "none":
            return False, False
        return True, bool(r.get("exclude"))
    if body.get("include_reasoning") is True:
        return True, False
    effort = body.get("reasoning_effort")
    if isinstance(effort, str) and effort != "none":
        return True, False
    return False, False


# ---- validation ---------------------------------------------------------------------------------


def validate(body: dict[str, Any], model_id: str, model: dict[str, Any]) -> None:
    """Checks the real API makes before generating (raise :class:`ApiError`)."""
    messages = body.get("messages")
    if messages is None and isinstance(body.get("prompt"), str):
        return
    if not isinstance(messages, list) or not messages:
        raise bad_request('Input required: specify "prompt" or "messages"')
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or not isinstance(msg.get("role"), str):
            raise bad_request(f"messages[{i}].role: Required")
    for name, lo, hi in (("temperature", 0, 2), ("top_p", 0, 1)):
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise bad_request(f"{name}: Expected number, received {type(value).__name__}")
        if not lo <= value <= hi:
            raise bad_request(f"{name}: Number must be between {lo} and {hi}")
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 1
        ):
            raise bad_request(f"{name}: Expected a positive integer")
    modalities = body.get("modalities")
    if modalities is None:
        return
    if not isinstance(modalities, list) or not all(isinstance(m, str) for m in modalities):
        raise bad_request("modalities must be an array of strings")
    outputs = model["architecture"]["output_modalities"]
    for wanted in ("image", "audio"):
        if wanted in modalities and wanted not in outputs:
            raise ApiError(
                404,
                error_body(
                    404,
                    "No endpoints found that support the requested output modalities: "
                    + ", ".join(modalities),
                ),
            )
    if "audio" in modalities:
        if body.get("stream") is not True:
            raise bad_request("Audio output requires stream: true")
        audio = body.get("audio") if isinstance(body.get("audio"), dict) else {}
        fmt = audio.get("format", "pcm16")
        if is_audio_chat_model(model_id) and fmt != "pcm16":
            raise bad_request(
                f"'audio.format' does not support '{fmt}' when stream=true. "
                "Supported values are: 'pcm16'.",
                shape="old",
            )
    if "image" in modalities:
        cfg = body.get("image_config") if isinstance(body.get("image_config"), dict) else {}
        extended = "3.1-flash-image" in model_id
        ratios = IMAGE_ASPECT_RATIOS + (EXTENDED_ASPECT_RATIOS if extended else [])
        sizes = ["1K", "2K", "4K"] + (["0.5K"] if extended else [])
        ratio, size = cfg.get("aspect_ratio"), cfg.get("image_size")
        if ratio is not None and ratio not in ratios:
            raise bad_request(
                f"Unsupported aspect_ratio '{ratio}' for {model_id}. Supported: {', '.join(ratios)}",
                shape="old",
            )
        if size is not None and size not in sizes:
            raise bad_request(
                f"Unsupported image_size '{size}' for {model_id}. Supported: {', '.join(sizes)}",
                shape="old",
            )


# ---- generation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ask:
    """What one request asks, read once: the inputs every step of :func:`build` looks at."""

    messages: list[Any]
    media: list[dict[str, Any]]
    user_text: str
    echo: str
    received: str  # " It also received …." or ""
    seed: bytes
    modalities: list[Any]
    reasoning: bool  # asked for and the model supports it
    exclude_reasoning: bool
    reasoning_text: str


def _read_ask(body: dict[str, Any], model_id: str, model: dict[str, Any]) -> _Ask:
    messages = body.get("messages")
    if not isinstance(messages, list):
        messages = [{"role": "user", "content": body.get("prompt", "")}]
    media = _media.summarise_media(messages)
    user_text = last_user_text(messages)
    wants_reasoning, exclude_reasoning = _wants_reasoning(body)
    return _Ask(
        messages=messages,
        media=media,
        user_text=user_text,
        echo=echo_of(user_text),
        received=f" It also received {describe_media(media)}." if media else "",
        seed=_media.digest(model_id, user_text, len(media)),
        modalities=body["modalities"] if isinstance(body.get("modalities"), list) else ["text"],
        reasoning=wants_reasoning and "reasoning" in model.get("supported_parameters", []),
        exclude_reasoning=exclude_reasoning,
        reasoning_text=(
            f"Offline double reasoning: the user wrote “{echo_of(user_text, 60)}”; "
            "no real thinking happens here, the answer is deterministic."
        ),
    )


def build(
    body: dict[str, Any],
    *,
    model_id: str,
    model: dict[str, Any],
    scenario: str | None,
    gen_id: str,
    created: int,
    online: bool = False,
) -> DoubleCompletion:
    """The whole answer to one chat request, in steps that each own one part of the request.

    Order matters: later steps override earlier ones (a forced tool call clears the text, a
    scenario replaces the answer, the citation and usage describe the final content).
    """
    ask = _read_ask(body, model_id, model)
    content = (
        f"[offline] {model_id} received your message: “{ask.echo}”.{ask.received} {OFFLINE_NOTE}"
    )
    c = DoubleCompletion(id=gen_id, model=model_id, created=created, content=content)
    _answer_response_format(c, body, ask, model_id)
    if ask.reasoning:
        c.reasoning = None if ask.exclude_reasoning else ask.reasoning_text
    reasoning_tokens = _words(ask.reasoning_text) if ask.reasoning else 0
    if "image" in ask.modalities:
        _answer_image(c, body, ask, model, scenario)
    if "audio" in ask.modalities:
        _answer_audio(c, body, ask)
    _answer_tool_call(c, body, ask, scenario)
    _cut_to_max_tokens(c, body)
    replace = _SCENARIO_ANSWERS.get(scenario) if scenario else None
    if replace is not None:
        replaced_tokens = replace(c, ask.reasoning_text)
        if replaced_tokens is not None:
            reasoning_tokens = replaced_tokens
    if online and c.content:
        c.annotations = [_offline_citation(ask.user_text, len(c.content))]
    c.usage = _usage(c, ask, model, reasoning_tokens)
    return c


def _answer_response_format(
    c: DoubleCompletion, body: dict[str, Any], ask: _Ask, model_id: str
) -> None:
    """``json_schema``: an instance of the schema; ``json_object``: a small JSON echo."""
    rf = body.get("response_format")
    if not isinstance(rf, dict):
        return
    if rf.get("type") == "json_schema":
        js = rf.get("json_schema") if isinstance(rf.get("json_schema"), dict) else {}
        c.content = json.dumps(
            instance_for(js.get("schema", {"type": "object"})), ensure_ascii=False
        )
    elif rf.get("type") == "json_object":
        media = describe_media(ask.media) or None
        c.content = json.dumps(
            {"offline": True, "model": model_id, "echo": ask.echo, "media": media},
            ensure_ascii=False,
        )


def _answer_image(
    c: DoubleCompletion,
    body: dict[str, Any],
    ask: _Ask,
    model: dict[str, Any],
    scenario: str | None,
) -> None:
    """A real PNG sized by ``image_config`` (or the no_image / https_image scenario's text)."""
    if scenario == "no_image":
        c.content = f"I can't draw that right now (offline double, no_image scenario). Prompt: “{ask.echo}”."
        return
    if scenario == "https_image":
        c.content = (
            "Here is your image: "
            f"https://images.example.com/offline/{ask.seed[:8].hex()}.png (offline double)"
        )
        return
    cfg = body.get("image_config") if isinstance(body.get("image_config"), dict) else {}
    w, h = _media.image_dims(cfg.get("aspect_ratio"), cfg.get("image_size"))
    data = _media.png(w, h, ask.seed)
    c.images = ["data:image/png;base64," + base64.b64encode(data).decode("ascii")]
    only_image = "text" not in model["architecture"]["output_modalities"]
    c.content = (
        ""
        if only_image
        else f"Here is your image ({w}x{h} PNG) from the or_magic offline double for “{ask.echo}”."
        + ask.received
    )


_AUDIO_ASSETS = {"mp3": "speech.mp3", "opus": "speech.opus"}


def _answer_audio(c: DoubleCompletion, body: dict[str, Any], ask: _Ask) -> None:
    """A tone (raw pcm16 or WAV) or a bundled mp3/opus clip, with a transcript and no text."""
    audio_cfg = body.get("audio") if isinstance(body.get("audio"), dict) else {}
    fmt = audio_cfg.get("format", "pcm16")
    pcm = _media.pcm_tone(1.0, _media.tone_freq(ask.seed))
    if fmt == "wav":
        c.audio = _media.wav(pcm)
    elif isinstance(fmt, str) and fmt in _AUDIO_ASSETS:
        c.audio = _media.asset_bytes(_AUDIO_ASSETS[fmt])
    else:
        c.audio = pcm
    c.transcript = f"Offline audio from the or_magic double for: {echo_of(ask.user_text, 80)}"
    c.content = ""


def _answer_tool_call(
    c: DoubleCompletion, body: dict[str, Any], ask: _Ask, scenario: str | None
) -> None:
    """One call of the forced (or first) function when ``tool_choice`` demands it (or the scenario)."""
    tools = [
        t
        for t in body.get("tools") or []
        if isinstance(t, dict)
        and t.get("type") == "function"
        and isinstance(t.get("function"), dict)
    ]
    choice = body.get("tool_choice")
    forced = None
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        forced = choice["function"].get("name")
    if not (scenario == "tool_calls" or (tools and (choice == "required" or forced))):
        return
    fn = next((t["function"] for t in tools if t["function"].get("name") == forced), None)
    fn = fn or (tools[0]["function"] if tools else {"name": "offline_tool", "parameters": {}})
    args = instance_for(fn.get("parameters") or {"type": "object", "properties": {}})
    c.tool_calls = [
        {
            "id": "call_" + ask.seed[:12].hex(),
            "type": "function",
            "function": {"name": fn.get("name"), "arguments": json.dumps(args)},
        }
    ]
    c.content = None
    c.finish_reason = c.native_finish_reason = "tool_calls"


def _cut_to_max_tokens(c: DoubleCompletion, body: dict[str, Any]) -> None:
    """Content longer than ``max_completion_tokens``/``max_tokens`` words stops with ``length``."""
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(limit, int) and limit > 0 and c.content and _words(c.content) > limit:
        c.content = " ".join(c.content.split()[:limit])
        c.finish_reason, c.native_finish_reason = "length", "length"


# Scenarios that replace the answer. Each edits the completion and may return the new count of
# reasoning tokens (None keeps the count of the normal answer).


def _reasoning_cutoff(c: DoubleCompletion, reasoning_text: str) -> int | None:
    c.content, c.reasoning = None, reasoning_text + " " + "Still thinking..." * 5
    c.finish_reason, c.native_finish_reason = "length", "MAX_TOKENS"
    return _words(c.reasoning)


def _reasoning_only_stop(c: DoubleCompletion, reasoning_text: str) -> int | None:
    c.content, c.reasoning = None, reasoning_text
    c.finish_reason = c.native_finish_reason = "stop"
    return _words(c.reasoning)


def _refusal(c: DoubleCompletion, reasoning_text: str) -> int | None:
    c.content = None
    c.refusal = "I'm sorry, but I can't help with that. (offline double refusal scenario)"
    c.finish_reason = c.native_finish_reason = "stop"
    return None


def _content_filter(c: DoubleCompletion, reasoning_text: str) -> int | None:
    c.content, c.images = "", []
    c.finish_reason, c.native_finish_reason = "content_filter", "SAFETY"
    return None


def _empty(c: DoubleCompletion, reasoning_text: str) -> int | None:
    c.content, c.images = "", []
    c.finish_reason = c.native_finish_reason = "stop"
    return None


def _provider_error_200(c: DoubleCompletion, reasoning_text: str) -> int | None:
    c.content = " ".join((c.content or "").split()[:4])
    c.images = []
    c.finish_reason = c.native_finish_reason = "error"
    c.error = {
        "code": 502,
        "message": "Provider returned error",
        "metadata": {"error_type": "provider_unavailable", "provider_code": "upstream_error"},
    }
    return None


_SCENARIO_ANSWERS: dict[str, Callable[[DoubleCompletion, str], int | None]] = {
    "reasoning_cutoff": _reasoning_cutoff,
    "reasoning_only_stop": _reasoning_only_stop,
    "refusal": _refusal,
    "content_filter": _content_filter,
    "empty": _empty,
    "provider_error_200": _provider_error_200,
}


def _offline_citation(user_text: str, content_length: int) -> dict[str, Any]:
    """The stand-in ``url_citation`` of a web-search (``:online``) answer."""
    q = "+".join(re.findall(r"\w+", user_text)[:6]) or "offline"
    return {
        "type": "url_citation",
        "url_citation": {
            "url": f"https://example.com/offline-search?q={q}",
            "title": "Offline search result (or_magic double)",
            "content": "The offline double does not search the web; this citation is a stand-in.",
            "start_index": 0,
            "end_index": content_length,
        },
    }


def _usage(
    c: DoubleCompletion, ask: _Ask, model: dict[str, Any], reasoning_tokens: int
) -> dict[str, Any]:
    """Token counts (words, fixed media costs) and a cost priced from the model's record."""
    media = ask.media
    p_tokens = prompt_tokens(ask.messages, media)
    text_tokens = _words(c.content) + _words(c.refusal) + _words(c.transcript)
    if c.tool_calls:
        text_tokens += sum(_words(tc["function"]["arguments"]) for tc in c.tool_calls)
    image_tokens = IMAGE_TOKENS * len(c.images)
    audio_tokens = (len(c.audio) // 960) if c.audio else 0  # ~50 tokens per second of audio
    completion_tokens = text_tokens + reasoning_tokens + image_tokens + audio_tokens
    cost = (
        p_tokens * _price(model, "prompt")
        + (text_tokens + reasoning_tokens) * _price(model, "completion")
        + len(c.images) * _price(model, "image_output")
        + audio_tokens * _price(model, "audio_output")
        + _price(model, "request")
    )
    return {
        "prompt_tokens": p_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": p_tokens + completion_tokens,
        "cost": round(cost, 10),
        "is_byok": False,
        "prompt_tokens_details": {
            "cached_tokens": 0,
            "cache_write_tokens": 0,
            "audio_tokens": sum(
                max(1, (m.get("size") or 0) // 800) for m in media if m["type"] == "input_audio"
            ),
            "video_tokens": sum(
                max(1, (m.get("size") or 0) // 1000)
                for m in media
                if m["type"] in ("video_url", "input_video")
            ),
        },
        "completion_tokens_details": {
            "reasoning_tokens": reasoning_tokens,
            "image_tokens": image_tokens,
            "audio_tokens": audio_tokens,
        },
        "cost_details": {
            "upstream_inference_cost": None,
            "upstream_inference_prompt_cost": round(p_tokens * _price(model, "prompt"), 10),
            "upstream_inference_completions_cost": round(
                cost - p_tokens * _price(model, "prompt"), 10
            ),
        },
    }


# ---- serialisation --------------------------------------------------------------------------


def _message(c: DoubleCompletion) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "role": "assistant",
        "content": c.content,
        "refusal": c.refusal,
        "reasoning": c.reasoning,
        "reasoning_details": (
            [{"type": "reasoning.text", "text": c.reasoning, "format": "unknown", "index": 0}]
            if c.reasoning
            else []
        ),
    }
    if c.tool_calls:
        msg["tool_calls"] = c.tool_calls
    if c.images:
        msg["images"] = [{"type": "image_url", "image_url": {"url": u}} for u in c.images]
    if c.annotations:
        msg["annotations"] = c.annotations
    if c.audio is not None:
        msg["audio"] = {
            "id": "audio_" + c.id[-12:],
            "data": base64.b64encode(c.audio).decode("ascii"),
            "transcript": c.transcript,
            "expires_at": c.created + 3600,
        }
    return msg


def to_json(c: DoubleCompletion) -> dict[str, Any]:
    choice: dict[str, Any] = {
        "index": 0,
        "logprobs": None,
        "finish_reason": c.finish_reason,
        "native_finish_reason": c.native_finish_reason,
        "message": _message(c),
    }
    if c.error is not None:
        choice["error"] = c.error
    return {
        "id": c.id,
        "provider": OFFLINE_PROVIDER,
        "model": c.model,
        "object": "chat.completion",
        "created": c.created,
        "system_fingerprint": None,
        "service_tier": None,
        "choices": [choice],
        "usage": c.usage,
    }


_PIECE = re.compile(r"\S+\s*|\s+")


def pieces(text: str, per: int = 4) -> list[str]:
    """Split text into pieces of ``per`` words whose concatenation is exactly ``text``."""
    toks = _PIECE.findall(text)
    return ["".join(toks[i : i + per]) for i in range(0, len(toks), per)] or [text]


def to_events(
    c: DoubleCompletion,
    *,
    midstream_error: dict[str, Any] | None = None,
    split_chars: int | None = None,
) -> list[Any]:
    """SSE payloads in order: dicts (``data: <json>``) and the final ``"[DONE]"`` marker.

    With ``midstream_error`` (or the provider_error_200 scenario) the stream carries a couple of
    chunks, then one chunk with a top-level ``error`` and ``finish_reason: "error"``, and ends.
    """
    base = {
        "id": c.id,
        "provider": OFFLINE_PROVIDER,
        "model": c.model,
        "object": "chat.completion.chunk",
        "created": c.created,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None, native: str | None = None):
        return {
            **base,
            "choices": [
                {
                    "index": 0,
                    "delta": delta,
                    "finish_reason": finish,
                    "native_finish_reason": native,
                    "logprobs": None,
                }
            ],
        }

    events: list[Any] = [chunk({"role": "assistant", "content": ""})]
    if c.reasoning:
        for p in pieces(c.reasoning):
            events.append(
                chunk(
                    {
                        "content": "",
                        "reasoning": p,
                        "reasoning_details": [
                            {"type": "reasoning.text", "text": p, "format": "unknown", "index": 0}
                        ],
                    }
                )
            )
    if c.refusal:
        events.append(chunk({"content": None, "refusal": c.refusal}))
    if c.content:
        parts = (
            [c.content[i : i + split_chars] for i in range(0, len(c.content), split_chars)]
            if split_chars
            else pieces(c.content)
        )
        events.extend(chunk({"content": p}) for p in parts)
    if c.tool_calls:
        for i, tc in enumerate(c.tool_calls):
            fn = tc["function"]
            events.append(
                chunk(
                    {
                        "content": None,
                        "tool_calls": [
                            {
                                "index": i,
                                "id": tc["id"],
                                "type": "function",
                                "function": {"name": fn["name"], "arguments": ""},
                            }
                        ],
                    }
                )
            )
            events.append(
                chunk({"tool_calls": [{"index": i, "function": {"arguments": fn["arguments"]}}]})
            )
    if c.images:
        events.append(
            chunk(
                {
                    "content": "",
                    "images": [{"type": "image_url", "image_url": {"url": u}} for u in c.images],
                }
            )
        )
    if c.audio is not None:
        sizes = _media.audio_chunks(len(c.audio))
        words = pieces(
            c.transcript or "", per=max(1, -(-_words(c.transcript) // max(1, len(sizes))))
        )
        pos = 0
        aid = "audio_" + c.id[-12:]
        for i, n in enumerate(sizes):
            part = c.audio[pos : pos + n]
            pos += n
            audio: dict[str, Any] = {
                "id": aid,
                "data": base64.b64encode(part).decode("ascii"),
                "transcript": words[i] if i < len(words) else "",
            }
            if i == 0:
                audio["expires_at"] = c.created + 3600
            events.append(chunk({"content": "", "audio": audio}))

    err = midstream_error if midstream_error is not None else c.error
    if err is not None:
        events = events[: min(len(events), 3)]
        events.append(
            {
                **base,
                "error": err,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"content": ""},
                        "finish_reason": "error",
                        "native_finish_reason": "error",
                    }
                ],
            }
        )
        return events
    final: dict[str, Any] = {"content": ""}
    if c.annotations:
        final["annotations"] = c.annotations
    events.append(chunk(final, c.finish_reason, c.native_finish_reason))
    events.append({**base, "choices": [], "usage": c.usage})
    events.append("[DONE]")
    return events
