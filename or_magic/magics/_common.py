"""Small helpers every cell mode and line command shares: argument cleanup, timestamps, the
output-format tables and the one way an exception becomes an ``OpenRouterCellError``.

Kept free of heavy imports: ``%load_ext`` imports nothing from here until a cell runs.
"""

from __future__ import annotations

import time
from typing import Any

from ._errors import OpenRouterCellError

FMT_ALIASES = {"md": "markdown"}
# What the model is asked for when a non-Markdown ``--format`` is chosen (added to the system message).
FMT_HINTS = {
    "json": "Answer with one JSON value only (no prose, no code fences).",
    "html": "Answer in HTML only (no Markdown, no code fences).",
    "code": "Answer with code only, in a single fenced code block, without explanations.",
    "text": "Answer in plain text without Markdown.",
}
# Which analysis tool, and which argument of it, takes one source of each kind.
KIND_TOOL = {"image": "analyze_image", "audio": "analyze_audio", "video": "analyze_video"}
KIND_ARG = {"image": "image_path", "audio": "audio_path", "video": "video_path"}


def drop_none(d: dict[str, Any]) -> dict[str, Any]:
    """Tool arguments without the flags the user did not give (the tool's defaults apply)."""
    return {k: v for k, v in d.items() if v is not None and v != [] and v != ""}


def stamp() -> str:
    """A sortable, millisecond-unique file-name stamp for auto-saved media."""
    return time.strftime("%Y%m%d-%H%M%S") + f"-{int(time.time() * 1000) % 1000:03d}"


def cell_error(exc: BaseException, prefix: str = "") -> OpenRouterCellError:
    """Any failure before or around a tool call as one coded, redacted cell error."""
    from ..errors import ToolError
    from ..redact import redact

    if isinstance(exc, OpenRouterCellError):
        return exc
    if isinstance(exc, ToolError):
        msg = f"{prefix}: {exc.message}" if prefix and prefix not in exc.message else exc.message
        return OpenRouterCellError(
            exc.code.value,
            redact(msg, limit=2000),
            suggestions=exc.suggestions,
            details=exc.details,
        )
    return OpenRouterCellError(
        "INVALID_INPUT" if isinstance(exc, (ValueError, TypeError)) else "INTERNAL",
        redact(f"{prefix + ': ' if prefix else ''}{type(exc).__name__}: {exc}", limit=2000),
    )
