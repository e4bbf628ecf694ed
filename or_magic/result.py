"""Typed results every tool returns and every front-end adapts.

A result carries text, structured ``data``, ``media`` items and ``meta``; an error result carries
``code``, ``details``, ``suggestions`` and ``retry_after_seconds`` as well. Front-ends never look
anywhere else, so what MCP sends, what a magic shows and what a widget renders cannot drift apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import ErrorCode, ToolError

MediaKind = Literal["image", "audio", "video", "file"]


@dataclass
class MediaItem:
    """One piece of media: inline ``data`` bytes, a saved ``path``, or both."""

    kind: MediaKind
    mime: str
    data: bytes | None = None
    path: str | None = None
    size_bytes: int | None = None
    name: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.size_bytes is None and self.data is not None:
            self.size_bytes = len(self.data)

    def read_bytes(self) -> bytes:
        if self.data is not None:
            return self.data
        if self.path is not None:
            return Path(self.path).read_bytes()
        raise ValueError("media item has neither data nor path")

    def __repr__(self) -> str:
        where = f"path={self.path!r}" if self.path else "inline"
        return f"MediaItem({self.kind}, {self.mime}, {self.size_bytes} bytes, {where})"


@dataclass
class Progress:
    """A progress event. ``progress`` strictly increases within one call."""

    progress: float
    total: float | None = None
    message: str = ""
    status: str | None = None
    elapsed_s: float = 0.0


@dataclass
class ToolResult:
    tool: str
    text: str = ""
    is_error: bool = False
    code: str | None = None
    data: dict[str, Any] | None = None
    media: list[MediaItem] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] | None = None
    suggestions: list[str] = field(default_factory=list)
    retry_after_seconds: float | None = None
    # The Python-native value, for callers in the same process (``embed_texts``: a float32
    # ``(n, dims)`` numpy array). Never serialised: MCP and the registry see ``data``/``media``.
    value: Any = field(default=None, repr=False, compare=False)

    # ---- construction helpers -------------------------------------------------------------
    @classmethod
    def from_error(
        cls, tool: str, err: ToolError, meta: dict[str, Any] | None = None
    ) -> ToolResult:
        return cls(
            tool=tool,
            text=err.message,
            is_error=True,
            code=err.code.value,
            details=err.details,
            suggestions=list(err.suggestions),
            retry_after_seconds=err.retry_after_seconds,
            meta=dict(meta or {}),
        )

    # ---- convenience ----------------------------------------------------------------------
    @property
    def ok(self) -> bool:
        return not self.is_error

    @property
    def still_running(self) -> bool:
        return self.code == ErrorCode.JOB_STILL_RUNNING.value

    @property
    def offline(self) -> bool:
        return bool(self.meta.get("offline"))

    @property
    def usage(self) -> dict[str, Any] | None:
        return self.meta.get("usage")

    @property
    def cost(self) -> float | None:
        c = self.meta.get("cost_usd")
        if c is None and isinstance(self.usage, dict):
            c = self.usage.get("cost")
        return float(c) if isinstance(c, (int, float)) else None

    def raise_for_error(self) -> ToolResult:
        """Raise ``ToolError`` if this is an error result; return self otherwise."""
        if self.is_error:
            raise ToolError(
                self.code or ErrorCode.INTERNAL,
                self.text,
                details=self.details,
                suggestions=self.suggestions,
                retry_after_seconds=self.retry_after_seconds,
            )
        return self

    def error_meta(self) -> dict[str, Any]:
        """The Node server's error ``_meta``: code, then only the keys that carry something."""
        out: dict[str, Any] = {"code": self.code}
        if self.details is not None:
            out["details"] = self.details
        if self.suggestions:
            out["suggestions"] = list(self.suggestions)
        if isinstance(self.retry_after_seconds, (int, float)):
            out["retry_after_seconds"] = self.retry_after_seconds
        for k in ("offline",):
            if k in self.meta:
                out[k] = self.meta[k]
        return out

    def to_dict(self, *, include_bytes: bool = False) -> dict[str, Any]:
        """JSON-safe view (media bytes omitted unless asked for)."""
        media = []
        for m in self.media:
            d = {
                "kind": m.kind,
                "mime": m.mime,
                "size_bytes": m.size_bytes,
                "path": m.path,
                "name": m.name,
                "meta": m.meta,
            }
            if include_bytes and m.data is not None:
                import base64

                d["data_base64"] = base64.b64encode(m.data).decode("ascii")
            media.append(d)
        out: dict[str, Any] = {
            "tool": self.tool,
            "is_error": self.is_error,
            "code": self.code,
            "text": self.text,
            "data": self.data,
            "media": media,
            "meta": self.meta,
        }
        if self.is_error:
            out.update(
                details=self.details,
                suggestions=self.suggestions,
                retry_after_seconds=self.retry_after_seconds,
            )
        return out

    def __repr__(self) -> str:
        state = f"error {self.code}" if self.is_error else (self.code or "ok")
        preview = self.text if len(self.text) <= 60 else self.text[:57] + "..."
        extra = f", {len(self.media)} media" if self.media else ""
        off = ", offline" if self.offline else ""
        return f"ToolResult({self.tool}: {state}{off}{extra}, text={preview!r})"

    def __str__(self) -> str:
        return self.text if not self.is_error else f"[{self.code}] {self.text}"

    def json(self) -> str:
        return json.dumps(self.to_dict(), default=str, indent=2)
