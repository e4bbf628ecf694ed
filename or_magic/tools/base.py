"""What a tool is, and what its handler gets to work with.

A ``ToolSpec`` is defined once and adapted by every front-end: MCP takes its name, description,
pydantic input schema and annotations; magics and widgets call it through ``call_tool``.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import log
from ..config import Settings
from ..result import MediaItem, Progress, ToolResult

if TYPE_CHECKING:  # pragma: no cover
    from pydantic import BaseModel

    from ..client.http import OpenRouterClient
    from ..jobs import JobStore
    from ..redact import StreamScrubber

Handler = Callable[[Any, "ToolContext"], Awaitable[ToolResult]]
ProgressCallback = Callable[[Progress], Any]
TextCallback = Callable[[str], Any]
MediaCallback = Callable[[MediaItem], Any]

SECTIONS = (
    "Use when",
    "Do NOT use when",
    "Good examples",
    "Bad examples",
    "Fails when",
    "Works with",
)


@dataclass(frozen=True)
class Annotations:
    title: str
    read_only: bool
    destructive: bool = False
    idempotent: bool = False
    open_world: bool = True


def paid_annotations(title: str) -> Annotations:
    """Tools whose every call costs money, so a repeat is not free: chat, batch submission and
    the generation tools (which also write files)."""
    return Annotations(
        title=title, read_only=False, destructive=False, idempotent=False, open_world=True
    )


generator_annotations = paid_annotations  # the name the generation tools import


def lookup_annotations(title: str, *, open_world: bool = True) -> Annotations:
    """Tools that only read (catalog, status, health): safe to call again. ``open_world=False``
    for one that reads only local state (a background chat job's row in the job registry)."""
    return Annotations(
        title=title, read_only=True, destructive=False, idempotent=True, open_world=open_world
    )


def analysis_annotations(title: str) -> Annotations:
    """Tools that only read their inputs but pay for a fresh model answer on every call (the
    analyze family): read-only, yet not idempotent."""
    return Annotations(
        title=title, read_only=True, destructive=False, idempotent=False, open_world=True
    )


def idempotent_write_annotations(title: str) -> Annotations:
    """Tools that write a file but change nothing more when called again with the same
    arguments (``embed_texts``' .npy, ``get_video_status``' finished video)."""
    return Annotations(
        title=title, read_only=False, destructive=False, idempotent=True, open_world=True
    )


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    description: str
    input_model: type[BaseModel]
    handler: Handler
    annotations: Annotations
    output_model: type[BaseModel] | None = None


def describe(
    summary: str,
    *,
    use_when: str,
    not_when: str,
    good: list[str],
    bad: list[str],
    fails: str,
    works_with: str,
) -> str:
    """The Node server's six-section description, in its order."""
    parts = [
        summary.strip(),
        "",
        f"Use when: {use_when}",
        f"Do NOT use when: {not_when}",
        "Good examples: " + "; ".join(good),
        "Bad examples: " + "; ".join(bad),
        f"Fails when: {fails}",
        f"Works with: {works_with}",
    ]
    return "\n".join(parts)


@dataclass
class ToolContext:
    """Per-call services and callbacks. Front-ends pass callbacks; tools never import front-ends."""

    tool: str
    settings: Settings
    on_progress: ProgressCallback | None = None
    on_text: TextCallback | None = None
    on_media: MediaCallback | None = None
    started: float = field(default_factory=time.monotonic)
    _last_progress: float | None = None
    _client: OpenRouterClient | None = None
    _scrubber: StreamScrubber | None = None

    @property
    def offline(self) -> bool:
        return self.settings.offline

    @property
    def client(self) -> OpenRouterClient:
        if self._client is None:
            from ..client.http import get_client

            self._client = get_client(self.settings)
        return self._client

    @property
    def jobs(self) -> JobStore:
        from ..jobs import get_job_store

        return get_job_store(self.settings)

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    async def progress(
        self,
        progress: float | None = None,
        total: float | None = None,
        message: str = "",
        status: str | None = None,
    ) -> Progress | None:
        """Report progress; values strictly increase whatever upstream says (missing or backwards).

        Never raises: a broken callback must not break the job.
        """
        last = self._last_progress
        value = progress if isinstance(progress, (int, float)) else None
        if value is None:
            value = (last or 0.0) + 1.0
        if last is not None and value <= last:
            step = 1.0 if total is None else max((total - last) / 20.0, 1e-6)
            value = last + step
        if total is not None and value > total:
            total = value
        self._last_progress = value
        if message:  # upstream status text may echo anything, the key included
            from ..redact import known_secrets, scrub

            message = scrub(message, known_secrets(self.settings.secrets()))
        event = Progress(
            progress=value,
            total=total,
            message=message,
            status=status,
            elapsed_s=round(self.elapsed_s, 3),
        )
        if self.on_progress is not None:
            await _call(self.on_progress, event, "progress")
        return event

    async def text(self, delta: str) -> None:
        """Stream a text delta to the front-end, with the configured secrets scrubbed.

        A key split across deltas is caught: the scrubber holds back a tail that could still
        be the start of a secret; ``flush_text`` (run by ``call_tool`` when the handler ends)
        releases it.
        """
        if not delta or self.on_text is None:
            return
        if self._scrubber is None:
            from ..redact import StreamScrubber, known_secrets

            self._scrubber = StreamScrubber(known_secrets(self.settings.secrets()))
        safe = self._scrubber.feed(delta)
        if safe:
            await _call(self.on_text, safe, "text")

    async def flush_text(self) -> None:
        if self._scrubber is not None and self.on_text is not None:
            tail = self._scrubber.flush()
            if tail:
                await _call(self.on_text, tail, "text")

    async def media(self, item: MediaItem) -> None:
        if self.on_media is not None:
            from ..redact import known_secrets, scrub_value

            secrets = known_secrets(self.settings.secrets())
            item.meta = scrub_value(item.meta, secrets)  # type: ignore[assignment]
            await _call(self.on_media, item, "media")


async def _call(cb: Callable[[Any], Any], arg: Any, what: str) -> None:
    try:
        r = cb(arg)
        if inspect.isawaitable(r):
            await r
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a front-end bug must not kill the job
        log.warn("callback.failed", callback=what, error=type(exc).__name__)
