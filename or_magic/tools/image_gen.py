"""generate_image (chat modalities) and generate_image_dedicated (``POST /images``).

Order of checks: arguments (pydantic) → ``save_path`` (``UNSAFE_PATH``) → reference images
(sandbox, SSRF guard, format) → the audit line → the paid request. Images are read from
``message.images[]``, then from content parts (``image_url``, ``inline_data``, ``{type: image}``),
then from ``data:image/`` URLs and plain http(s) image URLs in the text, which the Node server
ignored. Extensions are corrected to the detected type and the result says so.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .. import log
from ..config import Settings
from ..errors import SUGGEST_OTHER_MODEL, ErrorCode, ToolError
from ..result import ToolResult
from .base import ToolContext, ToolSpec, describe, generator_annotations
from .common import (
    CacheFields,
    NonBlank,
    ProviderPrefs,
    StrictModel,
    add_max_tokens_and_provider,
    add_usage_and_cost,
    cache_headers,
    clean_model,
    merge_provider,
    no_media_error,
    usage_meta,
)
from .enums import (
    ASPECT_RATIOS,
    DEDICATED_RESOLUTIONS,
    IMAGE_SIZES,
    OUTPUT_FORMATS,
    QUALITIES,
)
from .saving import Delivered, Output, deliver_all, numbered, resolve_save, save_failure_code

MAX_REFERENCES = 20
# Generated images arrive as base64 in JSON; a 4K PNG is tens of MB at most.
GENERATED_IMAGE_MAX = 64 * 1024 * 1024

AspectRatio = Literal[ASPECT_RATIOS]  # type: ignore[valid-type]

_SAVE_DESC = (
    "Write the image to this file under OPENROUTER_OUTPUT_DIR (created if missing; traversal, "
    "absolute paths outside it and symlinks are refused with UNSAFE_PATH before anything is paid "
    "for). The extension is corrected to the detected type. Without save_path the image is "
    "returned inline up to OPENROUTER_IMAGE_INLINE_MAX_BYTES (1 MiB), else saved under "
    "OPENROUTER_OUTPUT_DIR/or_magic-output/ and the path returned."
)


def _refs_ok(v: list[str] | None) -> list[str] | None:
    if v is not None:
        for i, r in enumerate(v):
            if not isinstance(r, str) or not r.strip():
                raise ValueError(f"entry {i} is empty")
    return v


class GenerateImageInput(StrictModel):
    prompt: NonBlank = Field(..., description="What to draw")
    model: str | None = Field(
        None,
        description="Image model (default OPENROUTER_DEFAULT_IMAGE_MODEL, google/gemini-2.5-flash-image)",
    )
    aspect_ratio: AspectRatio | None = Field(  # type: ignore[valid-type]
        None,
        description="1:1 (default) 2:3 3:2 3:4 4:3 4:5 5:4 9:16 16:9 21:9; 1:4 4:1 1:8 8:1 on "
        "gemini-3.1-flash-image-preview only",
    )
    image_size: Literal[IMAGE_SIZES] | None = Field(  # type: ignore[valid-type]
        None, description="1K (default), 2K, 4K; 0.5K on gemini-3.1-flash-image-preview only"
    )
    max_tokens: int | None = Field(None, ge=1)
    save_path: str | None = Field(None, description=_SAVE_DESC)
    input_images: list[str] | None = Field(
        None,
        max_length=MAX_REFERENCES,
        description="Reference images: local paths (input sandbox), http(s) URLs or data URLs. "
        "Public http(s) URLs are forwarded for OpenRouter to fetch (after the SSRF check: a "
        "private or metadata address is refused); paths and data URLs are sent inline",
    )
    modalities: list[Literal["image", "text"]] | None = Field(
        None,
        min_length=1,
        description='Output modalities (default ["image","text"]; ["image"] for image-only models)',
    )
    provider: ProviderPrefs | None = None

    @field_validator("input_images")
    @classmethod
    def _refs(cls, v: list[str] | None) -> list[str] | None:
        return _refs_ok(v)

    @field_validator("modalities")
    @classmethod
    def _mods(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and "image" not in v:
            raise ValueError('modalities must include "image"')
        return list(dict.fromkeys(v)) if v is not None else None


class GenerateImageDedicatedInput(CacheFields):
    prompt: NonBlank = Field(..., description="What to draw")
    model: str | None = Field(
        None, description="Image model (default OPENROUTER_DEFAULT_IMAGE_MODEL)"
    )
    resolution: Literal[DEDICATED_RESOLUTIONS] | None = None  # type: ignore[valid-type]
    aspect_ratio: AspectRatio | None = None  # type: ignore[valid-type]
    quality: Literal[QUALITIES] | None = Field(  # type: ignore[valid-type]
        None, description="Default auto"
    )
    output_format: Literal[OUTPUT_FORMATS] | None = None  # type: ignore[valid-type]
    n: int = Field(1, ge=1, le=10, description="Number of images (1–10)")
    input_references: list[str] | None = Field(
        None,
        max_length=MAX_REFERENCES,
        description="Reference images: local paths, http(s) URLs or data URLs",
    )
    save_path: str | None = Field(None, description=_SAVE_DESC)
    provider: ProviderPrefs | None = None

    @field_validator("input_references")
    @classmethod
    def _refs(cls, v: list[str] | None) -> list[str] | None:
        return _refs_ok(v)

    @model_validator(mode="after")
    def _model(self) -> GenerateImageDedicatedInput:
        if self.model is not None and not self.model.strip():
            self.model = None
        return self


# ---- reference images -----------------------------------------------------------------------------


async def load_image(source: str, settings: Settings, label: str) -> Any:
    """A reference or frame image as a ``Blob`` (input sandbox, SSRF guard, format check)."""
    from ..media.image import verify_image
    from ..media.sources import load_source

    try:
        blob = load_source(source, kind="image", settings=settings, label=label)
        if inspect.isawaitable(blob):
            blob = await blob
    except ToolError as err:
        if not err.message.startswith(label):
            err.with_prefix(label)
        raise
    try:
        verify_image(blob)  # sent as is: a corrupt file is refused before the paid request
    except ToolError as err:
        close = getattr(blob, "close", None)
        if callable(close):
            close()
        if not err.message.startswith(label):
            err.with_prefix(label)
        raise
    return blob


async def reference_urls(sources: list[str] | None, settings: Settings, label: str) -> list[str]:
    """Each reference as a data URL (loaded and checked locally before anything is sent)."""
    return [
        await _inline_url(src, settings, f"{label}[{i}]") for i, src in enumerate(sources or [])
    ]


async def _inline_url(source: str, settings: Settings, label: str) -> str:
    blob = await load_image(source.strip(), settings, label)
    try:
        return blob.data_url(limit=None)
    finally:
        close = getattr(blob, "close", None)
        if callable(close):
            close()


async def forwardable_url(source: str, settings: Settings) -> str | None:
    """``source`` itself when it is an http(s) URL every address of which is public; else None.

    The Node server forwards ``input_images`` URLs for OpenRouter to fetch (no download, no
    inlining). We do the same, but only after the SSRF check: the host is resolved and a private,
    loopback, metadata… address is refused (UPSTREAM_REFUSED) before anything is sent. A host on
    OPENROUTER_URL_ALLOWLIST that resolves to a private address is not forwarded (OpenRouter could
    not reach it): it is downloaded and inlined as before (None).
    """
    if source[:8].lower() != "https://" and source[:7].lower() != "http://":
        return None
    from ..safety import fetch
    from ..safety.addresses import Allowlist, is_blocked_ip

    target = fetch.parse_target(source)
    addresses = await fetch.vet_target(
        target, Allowlist.from_settings(settings), fetch.system_resolver
    )
    if any(is_blocked_ip(a) for a in addresses):
        return None
    return target.url


async def chat_reference_urls(
    sources: list[str] | None, settings: Settings, label: str
) -> tuple[list[str], int]:
    """References for the chat route: public URLs forwarded, the rest loaded and inlined.

    Returns (urls, how many were forwarded)."""
    urls: list[str] = []
    forwarded = 0
    for i, src in enumerate(sources or []):
        try:
            url = await forwardable_url(src.strip(), settings)
        except ToolError as err:
            raise err.with_prefix(f"{label}[{i}]") from None
        if url is not None:
            urls.append(url)
            forwarded += 1
        else:
            urls.append(await _inline_url(src, settings, f"{label}[{i}]"))
    return urls, forwarded


# ---- finding images in an answer -------------------------------------------------------------------

_DATA_IMG = re.compile(
    r"data:image/[A-Za-z0-9.+-]+(?:;[A-Za-z0-9=._+-]+)*;base64,[A-Za-z0-9+/=\s]+"
)
_MD_IMG = re.compile(r"!\[[^\]]*\]\((https?://[^\s)]+)\)")
_URL_IMG = re.compile(
    r"https?://[^\s)\"'<>]+?\.(?:png|jpe?g|webp|gif|avif|bmp)(?:\?[^\s)\"'<>]*)?(?=[\s)\"'<>.,;]|$)",
    re.IGNORECASE,
)


def _url_of(entry: Any) -> str | None:
    if isinstance(entry, str):
        return entry
    if not isinstance(entry, dict):
        return None
    iu = entry.get("image_url")
    if isinstance(iu, dict) and isinstance(iu.get("url"), str):
        return iu["url"]
    if isinstance(iu, str):
        return iu
    if isinstance(entry.get("url"), str):
        return entry["url"]
    return None


def _inline_of(part: dict[str, Any]) -> tuple[str, str] | None:
    """(base64, mime) of ``inline_data`` / ``inlineData`` / ``{type: image, data}`` parts."""
    for key in ("inline_data", "inlineData"):
        d = part.get(key)
        if isinstance(d, dict) and isinstance(d.get("data"), str):
            return d["data"], str(d.get("mime_type") or d.get("mimeType") or "image/png")
    if part.get("type") in ("image", "output_image") and isinstance(part.get("data"), str):
        return part["data"], str(part.get("mime_type") or part.get("mimeType") or "image/png")
    return None


def find_images(msg: dict[str, Any]) -> list[tuple[str, str]]:
    """Images in an assistant message as ``("data", data_url)``, ``("b64", b64)`` or
    ``("url", http_url)``; the first place that holds any wins."""
    found: list[tuple[str, str]] = []
    for entry in msg.get("images") or []:
        u = _url_of(entry)
        if u and (u.startswith("data:") or u.startswith(("https://", "http://"))):
            found.append(("data" if u.startswith("data:") else "url", u))
    if found:
        return found
    content = msg.get("content")
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, dict):
                continue
            inline = _inline_of(part)
            if inline is not None:
                found.append(("data", f"data:{inline[1]};base64,{inline[0]}"))
                continue
            if part.get("type") in ("image_url", "output_image", "image"):
                u = _url_of(part)
                if u and (u.startswith("data:") or u.startswith(("https://", "http://"))):
                    found.append(("data" if u.startswith("data:") else "url", u))
        if found:
            return found
        content = "".join(
            p.get("text", "")
            for p in content
            if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    if isinstance(content, str) and content:
        for m in _DATA_IMG.finditer(content):
            found.append(("data", re.sub(r"\s+", "", m.group(0))))
        if found:
            return found
        seen: set[str] = set()
        for rx in (_MD_IMG, _URL_IMG):
            for m in rx.finditer(content):
                u = m.group(1) if rx is _MD_IMG else m.group(0).rstrip(".,;:!?")
                if u not in seen:
                    seen.add(u)
                    found.append(("url", u))
    return found


def _text_of(msg: dict[str, Any]) -> str:
    c = msg.get("content")
    if isinstance(c, str):
        return c
    if isinstance(c, list):
        return "".join(
            p.get("text", "") for p in c if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


# ---- decoding and delivering ----------------------------------------------------------------------


def decode_image_b64(b64: str, label: str) -> bytes:
    try:
        data = base64.b64decode(re.sub(r"\s+", "", b64), validate=True)
    except (binascii.Error, ValueError):
        raise ToolError(
            ErrorCode.UNSUPPORTED_FORMAT,
            f"{label}: the model returned image data that is not valid base64",
            details={"reason": "bad_base64"},
        ) from None
    if not data:
        raise ToolError(
            ErrorCode.UPSTREAM_REFUSED,
            f"{label}: the model returned an empty image",
            details={"reason": "empty_image"},
        )
    return data


def decode_data_url(url: str, label: str) -> bytes:
    from ..media.dataurl import parse_data_url

    blob = parse_data_url(url, max_bytes=GENERATED_IMAGE_MAX, kind="image", name=label)
    try:
        return blob.read_bytes()
    finally:
        blob.close()


async def fetch_image(url: str, settings: Settings) -> bytes:
    """An image the model returned as a URL, through the SSRF-guarded fetcher."""
    from ..safety.fetch import fetch_url

    fetched = await fetch_url(url, kind="image", settings=settings)
    try:
        return fetched.blob.read_bytes()
    finally:
        fetched.blob.close()


def image_meta(data: bytes, label: str) -> tuple[str, str, dict[str, Any]]:
    """``(mime, ext, {width, height})`` of image bytes; ``UNSUPPORTED_FORMAT`` if not an image."""
    from ..media.blob import Blob
    from ..media.sniff import describe as describe_bytes
    from ..media.sniff import sniff

    s = sniff(data[:8192])
    if s is None or s.kind != "image":
        what = s.base_mime if s is not None else describe_bytes(data[:512])
        raise ToolError(
            ErrorCode.UNSUPPORTED_FORMAT,
            f"{label}: the model returned {what}, not an image",
            details={"reason": "not_an_image"},
        )
    extra: dict[str, Any] = {}
    try:
        from ..media.image import image_size

        w, h = image_size(Blob(s.mime, data=data))
        extra = {"width": w, "height": h}
    except Exception:  # SVG and exotic formats: no pixel size, still a valid result
        pass
    return s.mime, s.ext, extra


def deliver_images(
    images: list[bytes],
    *,
    ctx: ToolContext,
    save_path: Any,
    label: str,
) -> tuple[list[Delivered], list[dict[str, Any]]]:
    """Every image checked, then saved all-or-nothing (``saving.deliver_all``)."""
    outputs: list[Output] = []
    for i, data in enumerate(images):
        mime, ext, dims = image_meta(data, label)
        target = None if save_path is None else numbered(save_path, i)
        outputs.append(Output(data, "image", mime, ext, target, item_meta=dims))
    out = deliver_all(outputs, settings=ctx.settings, tool=label, noun="Image", paid=True)
    infos = [
        {"mime": o.mime, "size_bytes": len(o.data), **(o.item_meta or {}), **d.meta}
        for o, d in zip(outputs, out, strict=True)
    ]
    return out, infos


async def _images_result(
    ctx: ToolContext, tool: str, delivered: list[Delivered], lines: list[str], meta: dict[str, Any]
) -> ToolResult:
    """Stream each delivered image to the front-end (``ctx.media``), then the tool's result
    (carrying the save error's code when the images could not be saved: ``saving``, ``paid``)."""
    for d in delivered:
        await ctx.media(d.item)
    return ToolResult(
        tool=tool,
        text="\n".join(lines),
        code=save_failure_code(delivered),
        media=[d.item for d in delivered],
        meta=meta,
    )


def _model_and_usage(data: dict[str, Any], model: str) -> dict[str, Any]:
    """The start of an image result's meta: the model that answered, its usage and cost."""
    meta: dict[str, Any] = {"model": data.get("model") or model}
    add_usage_and_cost(meta, usage_meta(data.get("usage")))
    return meta


def _result_meta(infos: list[dict[str, Any]], delivered: list[Delivered]) -> dict[str, Any]:
    first = infos[0]
    meta: dict[str, Any] = {
        k: first[k] for k in ("mime", "size_bytes", "width", "height") if k in first
    }
    meta.update(delivered[0].meta)
    meta["images_count"] = len(infos)
    if len(infos) > 1:
        meta["images"] = infos
        saved = [d.path for d in delivered if d.path]
        if saved:
            meta["save_paths"] = saved
    return meta


# ---- generate_image ---------------------------------------------------------------------------------

REFERENCE_PREAMBLE = (
    "Generate a new image. Use the attached reference image(s) for visual consistency: keep "
    "their subjects, style, colours and composition where the prompt does not say otherwise."
)


async def generate_image(args: GenerateImageInput, ctx: ToolContext) -> ToolResult:
    """One chat request for an image; the image is delivered by ``deliver_images``.

    The save_path is checked before the request (free). If saving still fails after it (the
    folder was swapped for a symlink, removed or made unwritable while the request was in
    flight), the write fails safely but the paid image is kept: the result is a success carrying
    the save error's code, ``meta.saved = False`` and the image inline (``saving``, ``paid``),
    because an error result carries no media in any front-end.
    """
    s = ctx.settings
    save = resolve_save(args.save_path, s)
    refs, forwarded = await chat_reference_urls(args.input_images, s, "input_images")
    model = clean_model(args.model) or s.default_image_model
    prompt = args.prompt.strip()
    content: Any
    if refs:
        content = [{"type": "text", "text": f"{REFERENCE_PREAMBLE}\n\nPrompt: {prompt}"}]
        content += [{"type": "image_url", "image_url": {"url": u, "detail": "high"}} for u in refs]
    else:
        content = f"Generate an image: {prompt}"
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": content}],
        "modalities": args.modalities or ["image", "text"],
    }
    cfg = {
        k: v for k, v in (("aspect_ratio", args.aspect_ratio), ("image_size", args.image_size)) if v
    }
    if cfg:
        body["image_config"] = cfg
    add_max_tokens_and_provider(body, args, s)
    log.audit(
        "generate_image.start",
        model=model,
        prompt_preview=log.preview(prompt, 80),
        references=len(refs),
        references_forwarded=forwarded,
        aspect_ratio=args.aspect_ratio,
        image_size=args.image_size,
        save=save is not None,
    )
    resp = await ctx.client.request_json(
        "POST", "/chat/completions", json=body, context="generate_image"
    )
    data = resp.data if isinstance(resp.data, dict) else {}
    choices = data.get("choices") or []
    choice = choices[0] if choices and isinstance(choices[0], dict) else {}
    msg = choice.get("message") if isinstance(choice.get("message"), dict) else None
    if isinstance(choice.get("error"), dict):
        from ..client.classify import classify_upstream

        raise classify_upstream(
            None, {"error": choice["error"]}, resp.headers, context="generate_image"
        )
    if msg is None:
        raise ToolError(
            ErrorCode.INTERNAL,
            "No response from model.",
            details={"reason": "no_message", "response_keys": sorted(data)[:20]},
        )
    text = _text_of(msg).strip()
    finish = choice.get("finish_reason")
    found = find_images(msg)
    if not found:
        raise _no_image(text, finish, model)
    images: list[bytes] = []
    urls: list[str] = []
    fetch_errors: list[str] = []
    for kind, value in found:
        if kind == "data":
            images.append(decode_data_url(value, "generate_image"))
        else:
            urls.append(value)
            try:
                images.append(await fetch_image(value, s))
            except ToolError as err:
                if save is not None:
                    raise err.with_prefix("Download of the generated image") from None
                fetch_errors.append(err.message)
    meta = _model_and_usage(data, model)
    if data.get("id"):
        meta["generation_id"] = data["id"]
    if text:
        meta["model_text"] = text
    if urls:
        meta["image_urls"] = urls
        meta["image_url"] = urls[0]
    if not images:  # only URLs we could not fetch: say where the image is, never drop it
        meta["image_fetch_errors"] = fetch_errors
        return ToolResult(
            tool="generate_image",
            text=f"Image generated. URL: {urls[0]}"
            + (f"\n(Could not download it: {fetch_errors[0]})" if fetch_errors else ""),
            data={"image_url": urls[0], "image_urls": urls},
            meta=meta,
        )
    delivered, infos = deliver_images(images, ctx=ctx, save_path=save, label="generate_image")
    meta.update(_result_meta(infos, delivered))
    lines = [d.text for d in delivered]
    if text:
        lines.append(f"Model text: {text}")
    return await _images_result(ctx, "generate_image", delivered, lines, meta)


def _no_image(text: str, finish: Any, model: str) -> ToolError:
    return no_media_error(
        "image",
        text,
        finish,
        model,
        missing="no_image_in_response",
        suggestions=[
            "Rephrase the prompt (models often answer with text when a request looks unsafe or unclear)",
            "Check the model outputs images (search_models with output modality image)",
            'Image-only models (e.g. Flux) need modalities=["image"]',
        ],
    )


# ---- generate_image_dedicated -----------------------------------------------------------------------


async def generate_image_dedicated(
    args: GenerateImageDedicatedInput, ctx: ToolContext
) -> ToolResult:
    """The Images API (``n`` images); a save that fails after the request keeps the paid images
    inline with the error's code, as ``generate_image`` does."""
    s = ctx.settings
    save = resolve_save(args.save_path, s, count=args.n)
    refs = await reference_urls(args.input_references, s, "input_references")
    model = clean_model(args.model) or s.default_image_model
    body: dict[str, Any] = {"model": model, "prompt": args.prompt.strip()}
    for key in ("resolution", "aspect_ratio", "quality", "output_format"):
        v = getattr(args, key)
        if v is not None:
            body[key] = v
    if body.get("resolution") == "0.5K":
        body["resolution"] = "512"  # the spec's name for it (512, 768, 1K, 1.5K, 2K, 4K)
    if args.n != 1:
        body["n"] = args.n
    provider = merge_provider(args.provider, s, endpoint="images")
    if provider:
        body["provider"] = provider
    if refs:
        body["input_references"] = [{"type": "image_url", "image_url": {"url": u}} for u in refs]
    log.audit(
        "generate_image_dedicated.start",
        model=model,
        prompt_preview=log.preview(args.prompt, 80),
        n=args.n,
        references=len(refs),
        save=save is not None,
    )
    resp = await ctx.client.request_json(
        "POST",
        "/images",
        json=body,
        headers=cache_headers(args, s),
        timeout_s=max(120.0, s.request_timeout_ms / 1000.0),
        context="generate_image_dedicated",
    )
    data = resp.data if isinstance(resp.data, dict) else {}
    entries = [e for e in data.get("data") or [] if isinstance(e, dict)]
    usable = [
        e for e in entries if isinstance(e.get("b64_json"), str) or isinstance(e.get("url"), str)
    ]
    if not usable:
        raise ToolError(
            ErrorCode.UPSTREAM_REFUSED,
            "Model returned no image data.",
            details={"reason": "no_image_in_response", "response_keys": sorted(data)[:20]},
            suggestions=["Rephrase the prompt", SUGGEST_OTHER_MODEL],
        )
    meta = _model_and_usage(data, model)
    gen_id = {k.lower(): v for k, v in resp.headers.items()}.get("x-generation-id")
    if gen_id:
        meta["generation_id"] = gen_id
    revised = [e.get("revised_prompt") for e in usable if isinstance(e.get("revised_prompt"), str)]
    if revised:
        meta["revised_prompt"] = revised[0]
    images: list[bytes] = []
    urls: list[str] = []
    for e in usable:
        if isinstance(e.get("b64_json"), str):
            images.append(decode_image_b64(e["b64_json"], "generate_image_dedicated"))
        else:
            url = e["url"]
            urls.append(url)
            if url.startswith("data:"):
                images.append(decode_data_url(url, "generate_image_dedicated"))
            elif save is not None:
                try:
                    images.append(await fetch_image(url, s))
                except ToolError as err:
                    raise err.with_prefix("Download of the generated image") from None
    if urls:
        meta["image_urls"] = urls
        meta["image_url"] = urls[0]
    if not images:
        return ToolResult(
            tool="generate_image_dedicated",
            text=f"Image generated. URL: {urls[0]}",
            data={"image_url": urls[0], "image_urls": urls},
            meta=meta,
        )
    requested = args.output_format
    delivered, infos = deliver_images(
        images, ctx=ctx, save_path=save, label="generate_image_dedicated"
    )
    meta.update(_result_meta(infos, delivered))
    meta["saved_image_index"] = 0
    lines = [d.text for d in delivered]
    detected = infos[0]["mime"]
    if requested and requested != "svg" and not detected.endswith(requested):
        note = f"output_format {requested} was requested but the model returned {detected}"
        meta["format_note"] = note
        lines.append(f"Note: {note}.")
    if revised:
        lines.append(f"Revised prompt: {revised[0]}")
    return await _images_result(ctx, "generate_image_dedicated", delivered, lines, meta)


# ---- registration -------------------------------------------------------------------------------


TOOLS = [
    ToolSpec(
        name="generate_image",
        title="Generate an image",
        description=describe(
            "Generate an image from a text prompt (optionally guided by reference images) with an "
            "image-capable chat model, and return it inline or save it.",
            use_when="you want a picture, illustration, diagram-like art or an edited variant of "
            "reference images (input_images); aspect_ratio and image_size pick the shape and size.",
            not_when="you need text about an image (analyze_image), a video (generate_video), or "
            "the dedicated Images API with n/quality/output_format (generate_image_dedicated).",
            good=[
                '{"prompt": "A red fox in snow, watercolor", "aspect_ratio": "16:9"}',
                '{"prompt": "Same cat, but wearing a hat", "input_images": ["cat.png"], "save_path": "cat-hat.png"}',
                '{"prompt": "Logo for a bakery", "model": "black-forest-labs/flux.2-pro", "modalities": ["image"]}',
            ],
            bad=[
                '{"prompt": ""} (empty prompt)',
                '{"prompt": "x", "aspect_ratio": "7:5"} (not one of the 14 ratios)',
                '{"prompt": "x", "save_path": "../../etc/x.png"} (UNSAFE_PATH)',
            ],
            fails="INVALID_INPUT for bad arguments or references; UNSAFE_PATH for a save_path outside "
            "OPENROUTER_OUTPUT_DIR (checked before anything is paid for); UPSTREAM_REFUSED when the model "
            "returns no image (its text is included); UNSUPPORTED_FORMAT / RESOURCE_TOO_LARGE for bad "
            "references; MODEL_NOT_FOUND; UPSTREAM_HTTP / UPSTREAM_TIMEOUT; a save_path that fails only "
            "after the request (its folder swapped or made unwritable meanwhile) still returns "
            "the paid image: a success with that code in _meta.code and saved: false.",
            works_with="search_models (output modality image) to pick a model; analyze_image to check "
            "the result; generate_video_from_image to animate it.",
        ),
        input_model=GenerateImageInput,
        handler=generate_image,
        annotations=generator_annotations("Generate an image"),
    ),
    ToolSpec(
        name="generate_image_dedicated",
        title="Generate images (Images API)",
        description=describe(
            "Generate one or more images through OpenRouter's dedicated Images API (POST /images) "
            "with resolution, quality, output_format and n.",
            use_when="you need several variants (n), a specific output_format or quality, or a "
            "model that is only served through the Images API.",
            not_when="a chat image model is enough (generate_image), or you want a video.",
            good=[
                '{"prompt": "Isometric city at dusk", "resolution": "2K", "aspect_ratio": "16:9"}',
                '{"prompt": "Three mascot options", "n": 3, "save_path": "mascot.png"}',
            ],
            bad=['{"prompt": "x", "n": 50} (n is 1–10)', '{"prompt": "x", "quality": "ultra"}'],
            fails="INVALID_INPUT for bad arguments (or a value the model does not support); "
            "UNSAFE_PATH for a save_path outside OPENROUTER_OUTPUT_DIR (before any spend); "
            "UPSTREAM_REFUSED when no image data comes back; MODEL_NOT_FOUND; UPSTREAM_HTTP; "
            "a save_path that fails only after the request (its folder swapped or made "
            "unwritable meanwhile) still returns the paid images: a success with that code "
            "in _meta.code and saved: false.",
            works_with="generate_image for chat image models; analyze_image to inspect results.",
        ),
        input_model=GenerateImageDedicatedInput,
        handler=generate_image_dedicated,
        annotations=generator_annotations("Generate images (Images API)"),
    ),
]

__all__ = ["TOOLS", "find_images", "load_image", "reference_urls"]
