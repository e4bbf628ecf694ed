"""Mime bundles for tool results: what a notebook saves, GitHub renders and a terminal prints.

Every result becomes plain, durable bundles (no widget state needed to see it later):

- text as ``text/markdown`` (or ``text/plain``, ``application/json``, ``text/html``) with a one-line
  footer ``model · tokens · $cost · latency`` and a visible **offline** badge;
- images as ``image/png`` / ``image/jpeg`` (+ a ``text/plain`` that names the saved path, if any);
- audio as ``text/html`` ``<audio controls>``, video as ``<video controls>`` (never autoplay or
  loop); small media as a data URI, big media referenced by a relative saved path so the notebook
  does not bloat (the threshold is ``inline_max_bytes``).

``text/plain`` is always meaningful (paths printed), so the plain IPython terminal gets a useful
fallback. Each bundle carries provenance metadata ``{"or_magic": {"tool", "model", "part"}}``.

This module imports nothing heavy; it is shared by the magics and the widget dashboard.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload
from urllib.parse import quote

if TYPE_CHECKING:  # pragma: no cover
    from .result import MediaItem, ToolResult

Bundle = tuple[dict[str, Any], dict[str, Any]]

FORMATS = ("markdown", "text", "json", "html", "code")
DEFAULT_INLINE_MAX_BYTES = 2 * 1024 * 1024
DEFAULT_MEDIA_DIR = "or_magic-output"

_INLINE_IMAGE_MIMES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml"}
_EXT_FALLBACK = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/svg+xml": ".svg",
    "audio/mpeg": ".mp3",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/ogg": ".ogg",
    "audio/flac": ".flac",
    "audio/aac": ".aac",
    "audio/mp4": ".m4a",
    "audio/webm": ".weba",
    "audio/opus": ".opus",
    "video/mp4": ".mp4",
    "video/webm": ".webm",
    "video/quicktime": ".mov",
    "video/mpeg": ".mpeg",
}


# ---- small formatting helpers ---------------------------------------------------------------------


def human_bytes(n: int | None) -> str:
    if n is None:
        return "? B"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def format_cost(cost: float | None) -> str | None:
    if cost is None:
        return None
    if cost == 0:
        return "$0"
    if cost < 0.01:
        return f"${cost:.6f}".rstrip("0")
    whole, _, cents = f"{cost:.4f}".rstrip("0").partition(".")
    return f"${whole}.{cents.ljust(2, '0')}"  # money: $1.60, not $1.6


def format_spend(cost: float | None, simulated: float | None = None) -> str | None:
    """A cost for people: real spend as is; the offline double's figure marked as simulated.

    ``$1.60 simulated, offline`` for an offline result, so a made-up price never reads as money
    spent; ``$0.02 + $1.60 simulated`` when a session mixed both.
    """
    real = format_cost(cost) if cost else None
    fake = format_cost(simulated) if simulated else None
    if fake is None:
        return real if real is not None else format_cost(cost)
    fake = f"{fake} simulated, offline"
    return f"{real} + {fake}" if real else fake


def format_latency(ms: Any) -> str | None:
    if not isinstance(ms, (int, float)):
        return None
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def _tokens(meta: dict[str, Any]) -> str | None:
    usage = meta.get("usage")
    if not isinstance(usage, dict):
        return None
    total = usage.get("total_tokens")
    p, c = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if isinstance(p, int) and isinstance(c, int):
        return f"{p:,} → {c:,} tokens"
    if isinstance(total, int):
        return f"{total:,} tokens"
    return None


TRUNCATED_NOTE = "TRUNCATED (the stream ended before the model finished; the answer is partial)"


def footer_parts(result: ToolResult) -> list[str]:
    meta = result.meta or {}
    parts: list[str] = []
    model = meta.get("model")
    if model:
        parts.append(str(model))
    elif result.tool:
        parts.append(result.tool)
    tok = _tokens(meta)
    if tok:
        parts.append(tok)
    cost = format_spend(None, result.cost) if result.offline else format_cost(result.cost)
    if cost:
        parts.append(cost)
    lat = format_latency(meta.get("latency_ms"))
    if lat:
        parts.append(lat)
    if meta.get("truncated"):
        parts.append(TRUNCATED_NOTE)
    if meta.get("cached"):
        parts.append("cached")  # answered by the local response cache: nothing was sent
    trimmed = meta.get("history_trimmed")
    if isinstance(trimmed, dict) and trimmed.get("dropped_messages"):
        n = trimmed["dropped_messages"]
        parts.append(
            f"history trimmed: {n} oldest message{'s' if n != 1 else ''} dropped to fit "
            f"({trimmed.get('limit', 'context window').replace('_', ' ')}, estimated)"
        )
    return parts


def footer_text(result: ToolResult) -> str:
    """``model · tokens · $cost · latency [· OFFLINE]`` as plain text."""
    parts = footer_parts(result)
    if result.offline:
        parts.append("OFFLINE (no API key: answered by the offline double)")
    return " · ".join(parts)


def md_escape(text: str) -> str:
    """Text safe inside Markdown: HTML-escaped, and ``$`` escaped so two costs on a line are not
    typeset as LaTeX math by JupyterLab / nbviewer."""
    return html.escape(text, quote=False).replace("$", "\\$")


def footer_markdown(result: ToolResult) -> str:
    parts = [md_escape(p) for p in footer_parts(result)]
    text = " · ".join(parts)
    badge = " **`offline`**" if result.offline else ""
    return f"<sub>{text}</sub>{badge}"


def footer_html(result: ToolResult) -> str:
    parts = [html.escape(p) for p in footer_parts(result)]
    badge = (
        ' <b style="color:#b35c00;border:1px solid #b35c00;border-radius:3px;padding:0 3px">'
        "offline</b>"
        if result.offline
        else ""
    )
    return (
        '<div class="or-magic-footer" style="font-size:smaller;opacity:.75">'
        f"{' · '.join(parts)}{badge}</div>"
    )


def _provenance(result: ToolResult, part: str, **extra: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"tool": result.tool, "part": part}
    model = (result.meta or {}).get("model")
    if model:
        info["model"] = model
    if result.offline:
        info["offline"] = True
    info.update({k: v for k, v in extra.items() if v is not None})
    return {"or_magic": info}


# ---- media -------------------------------------------------------------------------------------------


def extension_for(mime: str) -> str:
    """The file extension (with the dot) for a media MIME type; ``.bin`` when nothing knows it."""
    try:
        from .media.sniff import ext_for_mime

        ext = ext_for_mime(mime)
        if ext:
            return ext
    except Exception:  # pragma: no cover - sniff module optional here
        pass
    base = mime.split(";", 1)[0].strip().lower()
    if base in _EXT_FALLBACK:
        return _EXT_FALLBACK[base]
    import mimetypes

    return mimetypes.guess_extension(base) or ".bin"


def save_media(item: MediaItem, directory: str | os.PathLike[str] | None = None) -> str:
    """Write ``item`` to ``directory`` (atomically, content-addressed name) and set ``item.path``."""
    if item.path and Path(item.path).exists():
        return item.path
    data = item.read_bytes()
    d = Path(directory or DEFAULT_MEDIA_DIR)
    d.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(data).hexdigest()[:10]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = d / f"{item.kind}-{stamp}-{digest}{extension_for(item.mime)}"
    existing = sorted(d.glob(f"{item.kind}-*-{digest}{extension_for(item.mime)}"))
    if existing:
        path = existing[0]
    else:
        from .safety.atomic import atomic_write

        atomic_write(path, data)
    item.path = str(path)
    if item.size_bytes is None:
        item.size_bytes = len(data)
    return item.path


def src_for_path(path: str) -> str:
    """A URL for ``<img/audio/video src>``: relative to the working directory when possible.

    Frontends resolve relative ``src`` against the notebook's directory, which is the kernel's
    working directory in the usual setup.
    """
    p = os.path.abspath(path)
    try:
        rel = os.path.relpath(p, os.getcwd())
    except ValueError:  # another drive on Windows
        rel = p
    if rel.startswith(".."):
        rel = p
    return quote(rel.replace(os.sep, "/"))


def _size(item: MediaItem) -> int | None:
    if item.size_bytes is not None:
        return item.size_bytes
    if item.data is not None:
        return len(item.data)
    if item.path:
        try:
            return os.path.getsize(item.path)
        except OSError:
            return None
    return None


def media_plain(item: MediaItem) -> str:
    where = f"saved: {item.path}" if item.path else "inline"
    name = f" {item.name}" if item.name and not item.path else ""
    return f"[{item.kind} {item.mime}, {human_bytes(_size(item))}{name}] {where}"


def media_bundle(
    item: MediaItem,
    result: ToolResult | None = None,
    *,
    inline_max_bytes: int = DEFAULT_INLINE_MAX_BYTES,
    media_dir: str | os.PathLike[str] | None = None,
    footer: str | None = None,
) -> Bundle:
    """One media item as a durable bundle (``footer`` HTML is appended to HTML players)."""
    size = _size(item)
    inline = (item.data is not None or bool(item.path)) and (
        size is not None and size <= inline_max_bytes
    )
    if not inline and not item.path and item.data is not None:
        save_media(item, media_dir)  # too big to embed: reference it by path
    meta_info = {"mime": item.mime, "size_bytes": size, "path": item.path}
    md: dict[str, Any] = {}
    if result is not None:
        md = _provenance(result, item.kind, **meta_info)
    else:
        md = {"or_magic": {"part": item.kind, **{k: v for k, v in meta_info.items() if v}}}
    plain = media_plain(item)
    mime = item.mime.split(";", 1)[0].strip().lower()
    data: dict[str, Any] = {"text/plain": plain}
    if item.kind == "image":
        if inline and mime in ("image/png", "image/jpeg"):
            data[mime] = base64.b64encode(item.read_bytes()).decode("ascii")
        elif inline and mime == "image/svg+xml":
            data[mime] = item.read_bytes().decode("utf-8", "replace")
        elif inline and mime in _INLINE_IMAGE_MIMES:
            b64 = base64.b64encode(item.read_bytes()).decode("ascii")
            data["text/html"] = f'<img src="data:{mime};base64,{b64}" style="max-width:100%"/>' + (
                footer or ""
            )
        elif item.path:
            data["text/html"] = (
                f'<img src="{html.escape(src_for_path(item.path))}" style="max-width:100%"/>'
                + (footer or "")
            )
        return data, md
    if item.kind in ("audio", "video"):
        tag = item.kind
        if inline:
            b64 = base64.b64encode(item.read_bytes()).decode("ascii")
            src = f"data:{mime};base64,{b64}"
        elif item.path:
            src = html.escape(src_for_path(item.path))
        else:  # pragma: no cover - no bytes, no path
            return data, md
        style = ' style="max-width:100%"' if tag == "video" else ""
        link = (
            f'<div style="font-size:smaller"><a href="{html.escape(src_for_path(item.path))}" '
            f"download>{html.escape(os.path.basename(item.path))}</a></div>"
            if item.path
            else ""
        )
        data["text/html"] = (
            f'<{tag} controls preload="metadata"{style}>'
            f'<source src="{src}" type="{html.escape(mime)}"/>'
            f"Your browser cannot play this {tag}: {html.escape(plain)}</{tag}>"
            f"{link}{footer or ''}"
        )
        return data, md
    return data, md


# ---- text ------------------------------------------------------------------------------------------


def _fence(text: str, lang: str = "") -> str:
    longest = max((len(r) for r in _backtick_runs(text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def _backtick_runs(text: str) -> list[str]:
    import re

    return re.findall(r"`+", text)


def strip_code_fence(text: str) -> tuple[str, str]:
    """``(code, language)`` from an answer that is one fenced block; else ``(text, "")``."""
    import re

    m = re.match(r"^\s*(`{3,}|~{3,})([\w+#.-]*)[^\n]*\n(.*?)\n\s*\1\s*$", text, re.DOTALL)
    if m:
        return m.group(3), m.group(2)
    return text, ""


def json_value(result: ToolResult) -> Any:
    if result.data is not None:
        return result.data
    text = result.text.strip()
    code, _ = strip_code_fence(text)
    try:
        return json.loads(code)
    except (ValueError, RecursionError):  # hostile nesting is "not JSON" here
        return None


def text_bundle(
    result: ToolResult, *, fmt: str = "markdown", footer: bool = True, text: str | None = None
) -> Bundle:
    """The answer text in format ``fmt`` with the footer (merged where the format allows)."""
    body = result.text if text is None else text
    md = _provenance(result, "text", format=fmt)
    plain = body + (f"\n\n— {footer_text(result)}" if footer else "")
    if fmt == "text":
        return {"text/plain": plain}, md
    if fmt == "json":
        value = json_value(result)
        data: dict[str, Any] = {"text/plain": plain}
        if value is not None:
            data["application/json"] = (
                value if isinstance(value, (dict, list)) else {"value": value}
            )
            data["text/plain"] = json.dumps(value, indent=2, ensure_ascii=False, default=str) + (
                f"\n\n— {footer_text(result)}" if footer else ""
            )
        md["or_magic"]["json_ok"] = value is not None
        return data, md
    if fmt == "html":
        return {
            "text/html": body + (footer_html(result) if footer else ""),
            "text/plain": plain,
        }, md
    if fmt == "code":
        code, lang = strip_code_fence(body)
        markdown = _fence(code, lang or "python")
        if footer:
            markdown += "\n\n" + footer_markdown(result)
        return {"text/markdown": markdown, "text/plain": code}, md
    markdown = body + (("\n\n" if body else "") + footer_markdown(result) if footer else "")
    return {"text/markdown": markdown, "text/plain": plain}, md


def footer_bundle(result: ToolResult) -> Bundle:
    return (
        {"text/markdown": footer_markdown(result), "text/plain": "— " + footer_text(result)},
        _provenance(result, "footer"),
    )


def error_bundle(result: ToolResult) -> Bundle:
    lines = [f"[{result.code}] {result.text}"] + [f"  → {s}" for s in result.suggestions]
    md = "**`" + str(result.code) + "`** " + html.escape(result.text, quote=False)
    if result.suggestions:
        md += "\n" + "\n".join(f"- {html.escape(s, quote=False)}" for s in result.suggestions)
    return {"text/markdown": md, "text/plain": "\n".join(lines)}, _provenance(result, "error")


# ---- whole results ---------------------------------------------------------------------------------


def _has_text(result: ToolResult) -> bool:
    return bool(result.text and result.text.strip())


def result_bundles(
    result: ToolResult,
    *,
    fmt: str = "markdown",
    inline_max_bytes: int = DEFAULT_INLINE_MAX_BYTES,
    media_dir: str | os.PathLike[str] | None = None,
    footer: bool = True,
    save_all_media: bool = False,
) -> list[Bundle]:
    """Every part of ``result`` as separate outputs: text, each media item, then the footer.

    With media, the text becomes its own output and the footer is the last one (``text/markdown``).
    ``save_all_media`` writes media without a path to ``media_dir`` first (terminal fallback).
    """
    if result.is_error:
        return [error_bundle(result)]
    if save_all_media:
        for item in result.media:
            if not item.path:
                save_media(item, media_dir)
    if not result.media:
        return [text_bundle(result, fmt=fmt, footer=footer)]
    out: list[Bundle] = []
    if _has_text(result):
        out.append(text_bundle(result, fmt=fmt, footer=False))
    for item in result.media:
        out.append(
            media_bundle(item, result, inline_max_bytes=inline_max_bytes, media_dir=media_dir)
        )
    if footer:
        out.append(footer_bundle(result))
    return out


def result_bundle(
    result: ToolResult,
    *,
    inline_max_bytes: int = DEFAULT_INLINE_MAX_BYTES,
    fmt: str = "markdown",
    media_dir: str | os.PathLike[str] | None = None,
    footer: bool = True,
) -> Bundle:
    """The whole result as ONE bundle (for a single display handle, e.g. a finished job panel).

    Text-only results keep their format; a single audio/video item gets the footer inside its
    HTML; anything else is combined into one ``text/html`` (images as ``<img>``) plus ``text/plain``.
    """
    if result.is_error:
        return error_bundle(result)
    if not result.media:
        return text_bundle(result, fmt=fmt, footer=footer)
    fhtml = footer_html(result) if footer else ""
    if len(result.media) == 1 and not _has_text(result):
        item = result.media[0]
        data, md = media_bundle(
            item,
            result,
            inline_max_bytes=inline_max_bytes,
            media_dir=media_dir,
            footer=fhtml if item.kind != "image" else None,
        )
        if footer:
            data["text/plain"] += "\n— " + footer_text(result)
        if item.kind == "image" and footer and "text/html" not in data:
            # keep image/png as the rich part; the footer lives in text/plain and metadata
            md["or_magic"]["footer"] = footer_text(result)
        return data, md
    html_parts: list[str] = []
    plain_parts: list[str] = []
    if _has_text(result):
        html_parts.append(
            f'<div style="white-space:pre-wrap">{html.escape(result.text, quote=False)}</div>'
        )
        plain_parts.append(result.text)
    for item in result.media:
        data, _ = media_bundle(item, result, inline_max_bytes=inline_max_bytes, media_dir=media_dir)
        mime = next((k for k in data if k.startswith("image/")), None)
        if "text/html" in data:
            html_parts.append(data["text/html"])
        elif mime:
            payload = data[mime]
            if mime == "image/svg+xml":
                html_parts.append(payload)
            else:
                html_parts.append(
                    f'<img src="data:{mime};base64,{payload}" style="max-width:100%"/>'
                )
        plain_parts.append(data["text/plain"])
    if footer:
        html_parts.append(fhtml)
        plain_parts.append("— " + footer_text(result))
    return (
        {"text/html": "\n".join(html_parts), "text/plain": "\n".join(plain_parts)},
        _provenance(result, "combined"),
    )


# ---- a result object that displays itself ------------------------------------------------------------

_T = TypeVar("_T")


class _OfRaw(Generic[_T]):
    """A read-only attribute of ``RichResult`` that is its ``ToolResult``'s attribute of the same
    name: the wrapper adds conveniences, never a second copy of the result's fields."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _OfRaw[_T]: ...
    @overload
    def __get__(self, obj: RichResult, owner: type | None = None) -> _T: ...
    def __get__(self, obj: RichResult | None, owner: type | None = None) -> Any:
        return self if obj is None else getattr(obj.raw, self.name)

    def __set__(self, obj: RichResult, value: Any) -> None:  # read-only, like a bare property
        raise AttributeError(f"property {self.name!r} of 'RichResult' object has no setter")


class RichResult:
    """What ``-o VAR`` stores: a ``ToolResult`` with conveniences, which displays itself.

    ``.text``, ``.data``, ``.media`` (``MediaItem`` list), ``.meta``, ``.usage``, ``.cost``,
    ``.model``, ``.latency_ms``, ``.offline``, ``.raw`` (the ``ToolResult``); ``.bytes`` / ``.path``
    / ``.paths`` for media; ``.image()`` (a PIL image), ``.save(path)``, ``.json()``.
    """

    def __init__(
        self,
        result: ToolResult,
        *,
        fmt: str = "markdown",
        inline_max_bytes: int = DEFAULT_INLINE_MAX_BYTES,
        media_dir: str | os.PathLike[str] | None = None,
        prompt: str | None = None,
    ) -> None:
        self.raw = result
        self.fmt = fmt
        self.inline_max_bytes = inline_max_bytes
        self.media_dir = media_dir
        self.prompt = prompt
        self.parsed: Any = None  # a pydantic instance when --schema named a model class

    # -- data: the result's own fields, then what is read from them
    tool: _OfRaw[str] = _OfRaw()
    text: _OfRaw[str] = _OfRaw()
    data: _OfRaw[Any] = _OfRaw()
    media: _OfRaw[list[MediaItem]] = _OfRaw()
    meta: _OfRaw[dict[str, Any]] = _OfRaw()
    usage: _OfRaw[dict[str, Any] | None] = _OfRaw()
    cost: _OfRaw[float | None] = _OfRaw()
    offline: _OfRaw[bool] = _OfRaw()
    ok: _OfRaw[bool] = _OfRaw()

    @property
    def value(self) -> Any:
        """The result's own Python value when it has one (``embed_texts``: the float32 array),
        parsed JSON for ``--format json`` / ``--schema`` answers, else the text."""
        if self.raw.value is not None:
            return self.raw.value
        v = json_value(self.raw) if self.fmt == "json" else None
        return self.raw.text if v is None else v

    @property
    def model(self) -> str | None:
        return self.raw.meta.get("model")

    @property
    def latency_ms(self) -> float | None:
        return self.raw.meta.get("latency_ms")

    @property
    def bytes(self) -> bytes | None:
        """Bytes of the first media item (None without media)."""
        return self.media[0].read_bytes() if self.media else None

    @property
    def path(self) -> str | None:
        return next((m.path for m in self.media if m.path), None)

    @property
    def paths(self) -> list[str]:
        return [m.path for m in self.media if m.path]

    @property
    def mime(self) -> str | None:
        return self.media[0].mime if self.media else None

    def image(self, index: int = 0) -> Any:
        """The ``index``-th image as a ``PIL.Image.Image``."""
        import io

        from PIL import Image

        images = [m for m in self.media if m.kind == "image"]
        return Image.open(io.BytesIO(images[index].read_bytes()))

    def save(self, path: str | os.PathLike[str], index: int = 0) -> str:
        """Write the ``index``-th media item to ``path`` (atomically); returns the path."""
        from .safety.atomic import atomic_write

        atomic_write(path, self.media[index].read_bytes())
        return str(path)

    def json(self) -> str:
        return self.raw.json()

    def to_dict(self) -> dict[str, Any]:
        return self.raw.to_dict()

    # -- display
    def bundles(self) -> list[Bundle]:
        return result_bundles(
            self.raw, fmt=self.fmt, inline_max_bytes=self.inline_max_bytes, media_dir=self.media_dir
        )

    def _ipython_display_(self) -> None:
        from IPython.display import display

        for data, md in self.bundles():
            display(data, metadata=md, raw=True)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Bundle:
        return result_bundle(
            self.raw, fmt=self.fmt, inline_max_bytes=self.inline_max_bytes, media_dir=self.media_dir
        )

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self) if not self.media else self._repr_mimebundle_()[0]["text/plain"])

    def __str__(self) -> str:
        return str(self.raw)

    def __repr__(self) -> str:
        return f"RichResult({self.raw!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return self.text == other
        return NotImplemented

    __hash__ = object.__hash__
