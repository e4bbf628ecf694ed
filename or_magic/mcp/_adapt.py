"""``ToolResult`` → MCP ``CallToolResult``: content blocks, ``structuredContent`` and ``_meta``.

Rules (the Node server's wire contract, plus what MCP clients handle best):

* **Errors** are results with ``isError: true``; ``_meta`` is ``ToolResult.error_meta()`` (``code``,
  then ``details`` / ``suggestions`` / ``retry_after_seconds`` only when they carry something, and
  ``offline``). The text block carries the message *and* the code and suggestions, because most
  hosts show the model only ``content``, never ``_meta``.
* **Success** ``_meta`` is ``result.meta`` (``server_version``, ``offline``, usage, cost, …) plus
  ``code`` when the result carries one (``JOB_STILL_RUNNING``, or paid media whose save failed
  after payment, are successes).
* **Structured output**: tools with an ``output_model`` declare ``outputSchema``; their result has
  ``structuredContent = data`` and ``content[0].text`` is that JSON (indent 2), as in the Node server.
  Tools without an ``output_model`` never send ``structuredContent``: without a schema clients cannot
  validate it, and several hosts (Claude Code among them) show the model *only* the structured JSON
  when it is present, which would hide a chat answer behind its metadata.
* **Media**: an item saved to disk (``path``) becomes a ``resource_link`` (``file://`` URI) and its
  path goes to ``_meta.save_path``; nothing is inlined then. Otherwise images and audio are inlined
  as image/audio blocks when at most the configured ceilings (``OPENROUTER_IMAGE_INLINE_MAX_BYTES``,
  ``OPENROUTER_AUDIO_INLINE_MAX_BYTES``, default 1 MiB), a video as an embedded blob resource when at
  most ``OPENROUTER_VIDEO_INLINE_MAX_BYTES``; anything bigger is left out with a note saying to pass
  ``save_path``. A response therefore never carries hundreds of MB.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mcp.types as types

from or_magic.tools import inline_ceiling

if TYPE_CHECKING:  # pragma: no cover
    from or_magic.config import Settings
    from or_magic.result import MediaItem, ToolResult

INLINE_URI_PREFIX = "inline://or-magic/"


def jsonable(value: Any) -> Any:
    """A JSON-safe deep copy (paths, datetimes and other odd values become strings)."""
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def dump_data(value: Any) -> str:
    """Compact JSON text of a result's data (odd values as strings, like ``jsonable``)."""
    return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))


def error_text(result: ToolResult) -> str:
    lines = [result.text or f"{result.tool} failed"]
    lines.append("")
    lines.append(f"Error code: {result.code}")
    if result.suggestions:
        lines.append("Suggestions:")
        lines.extend(f"- {s}" for s in result.suggestions)
    if isinstance(result.retry_after_seconds, (int, float)):
        lines.append(f"Retry after: {result.retry_after_seconds:g} s")
    return "\n".join(lines)


def to_call_result(
    result: ToolResult,
    *,
    structured: bool,
    settings: Settings,
    structured_json: str | None = None,
) -> types.CallToolResult:
    """``structured_json``: ``result.data`` already serialised (``dump_data``), so a structured
    result is encoded once; the text block is that same compact JSON (the C encoder: indented
    output goes through json's pure-Python encoder, most of a warm search_models call)."""
    if result.is_error:
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=error_text(result))],
            is_error=True,
            _meta=jsonable(result.error_meta()),
        )
    meta: dict[str, Any] = dict(result.meta)
    if result.code:
        meta["code"] = result.code
    content: list[Any] = []
    structured_content: dict[str, Any] | None = None
    if structured and result.data is not None:
        raw = structured_json if structured_json is not None else dump_data(result.data)
        structured_content = json.loads(raw)
        content.append(types.TextContent(type="text", text=raw))
    elif result.text:
        content.append(types.TextContent(type="text", text=result.text))
    media_blocks, notes, saved = _media_blocks(result.media, settings)
    content.extend(media_blocks)
    if meta.get("truncated"):  # most hosts show the model only content, never _meta
        from ..display import TRUNCATED_NOTE

        notes = [*notes, TRUNCATED_NOTE]
    if notes:
        content.append(types.TextContent(type="text", text="\n".join(notes)))
    if saved and "save_path" not in meta:
        meta["save_path"] = saved[0]
    if len(saved) > 1 and "save_paths" not in meta:
        meta["save_paths"] = saved
    if not content:
        content.append(types.TextContent(type="text", text=result.text or "(no output)"))
    kwargs: dict[str, Any] = {}
    if structured_content is not None:
        kwargs["structured_content"] = structured_content
    return types.CallToolResult(content=content, is_error=False, _meta=jsonable(meta), **kwargs)


def _media_blocks(
    items: list[MediaItem], settings: Settings
) -> tuple[list[Any], list[str], list[str]]:
    blocks: list[Any] = []
    notes: list[str] = []
    saved: list[str] = []
    for item in items:
        if item.path:
            p = Path(item.path).expanduser()
            try:
                p = p.resolve()
            except OSError:
                pass
            saved.append(str(p))
            size = item.size_bytes
            if size is None:
                try:
                    size = p.stat().st_size
                except OSError:
                    size = None
            blocks.append(
                types.ResourceLink(
                    type="resource_link",
                    uri=p.as_uri(),
                    name=item.name or p.name,
                    mime_type=item.mime,
                    size=size,
                    description=f"{item.kind} saved to {p}",
                )
            )
            continue
        if item.data is None:
            continue
        size = len(item.data)
        ceiling = inline_ceiling(item.kind, settings)
        if size > ceiling:
            notes.append(
                f"{item.kind.capitalize()} ({size} bytes, {item.mime}) is larger than the inline "
                f"limit of {ceiling} bytes and was not included; pass save_path to keep it."
            )
            continue
        b64 = base64.b64encode(item.data).decode("ascii")
        if item.kind == "image":
            blocks.append(types.ImageContent(type="image", data=b64, mime_type=item.mime))
        elif item.kind == "audio":
            blocks.append(types.AudioContent(type="audio", data=b64, mime_type=item.mime))
        else:
            uri = item.meta.get("url") if isinstance(item.meta.get("url"), str) else None
            blocks.append(
                types.EmbeddedResource(
                    type="resource",
                    resource=types.BlobResourceContents(
                        uri=uri or f"{INLINE_URI_PREFIX}{item.kind}/{item.name or 'media'}",
                        mime_type=item.mime,
                        blob=b64,
                    ),
                )
            )
    return blocks, notes, saved
