"""JSON-lines logging on stderr, redacted, never on stdout (stdout belongs to MCP stdio).

``audit`` lines are always written whatever ``OPENROUTER_LOG_LEVEL`` says; they carry previews,
never full prompts, keys or file contents.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from .redact import redact

_LEVELS = {"debug": 10, "info": 20, "warn": 30, "error": 40}
_stream: TextIO | None = None  # tests may redirect


def set_stream(stream: TextIO | None) -> TextIO | None:
    """Send log lines to ``stream`` (``None`` = stderr); returns the previous one.

    A notebook front-end uses this to keep audit lines out of cell outputs.
    """
    global _stream
    previous, _stream = _stream, stream
    return previous


def get_stream() -> TextIO | None:
    return _stream


def _threshold() -> int:
    from .config import get_settings

    try:
        return _LEVELS.get(get_settings().log_level, 20)
    except Exception:
        return 20


class StateFileStream:
    """Log lines appended to ``<state dir>/or_magic.log``: where logs go inside a notebook, so
    audit lines never show up as red stderr blocks in cells. Opened per line (there are few)."""

    def write(self, text: str) -> int:
        try:
            from .config import get_settings

            path = get_settings().state_root / "or_magic.log"
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as f:
                f.write(text)
        except Exception:  # logging must never break a cell
            pass
        return len(text)

    def flush(self) -> None:
        pass


_STATE_FILE = StateFileStream()


def _in_jupyter_kernel() -> bool:
    mod = sys.modules.get("IPython.core.getipython")
    if mod is None:
        return False
    ip = mod.get_ipython()
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def _default_stream() -> Any:
    return _STATE_FILE if _in_jupyter_kernel() else sys.stderr


def _iso_now() -> str:
    """UTC ISO-8601 with milliseconds, like Node's ``new Date().toISOString()``."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def _emit(level: str, msg: str, ctx: dict[str, Any] | None) -> None:
    record: dict[str, Any] = {"ts": _iso_now(), "level": level, "msg": msg}
    if ctx:
        try:
            json.dumps(ctx, default=str)
            record["ctx"] = ctx
        except (TypeError, ValueError):
            record["ctx"] = {"note": "unserializable"}
    try:
        line = json.dumps(record, default=str, ensure_ascii=False)
    except (TypeError, ValueError):  # circular references and friends
        line = json.dumps(
            {"ts": record["ts"], "level": level, "msg": msg, "ctx": {"note": "unserializable"}}
        )
    stream = _stream or _default_stream()
    try:
        stream.write(redact(line) + "\n")
        stream.flush()
    except (OSError, ValueError):
        pass


def log(level: str, msg: str, **ctx: Any) -> None:
    if _LEVELS.get(level, 20) >= _threshold():
        _emit(level, msg, ctx or None)


def debug(msg: str, **ctx: Any) -> None:
    log("debug", msg, **ctx)


def info(msg: str, **ctx: Any) -> None:
    log("info", msg, **ctx)


def warn(msg: str, **ctx: Any) -> None:
    log("warn", msg, **ctx)


def error(msg: str, **ctx: Any) -> None:
    log("error", msg, **ctx)


def audit(msg: str, **ctx: Any) -> None:
    _emit("audit", msg, ctx or None)


def preview(text: str | None, n: int = 80) -> str | None:
    if text is None:
        return None
    return text if len(text) <= n else text[:n] + "…"
