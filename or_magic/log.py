"""JSON-lines logging on stderr, redacted, never on stdout (stdout belongs to MCP stdio).

``audit`` lines are always written whatever ``OPENROUTER_LOG_LEVEL`` says; they carry previews,
never full prompts, keys or file contents.
"""

from __future__ import annotations

import json
import math
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


_VALUE_CHARS = 2000  # one string value in a log line, after redaction
_ITEMS = 50  # entries kept per dict / list
_DEPTH = 6  # nesting kept


def _clean(value: Any, depth: int = 0) -> Any:
    """A JSON-safe, redacted, bounded copy of ``value``.

    Values are cut *before* encoding, so the encoded line is always complete JSON however long
    or non-ASCII the values are (cutting the encoded line cut strings in half).
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -(10**30) < value < 10**30 else "<huge int>"
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth >= _DEPTH:
        return "…"
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for i, (k, v) in enumerate(value.items()):
            if i >= _ITEMS:
                out["…"] = f"{len(value) - _ITEMS} more"
                break
            out[redact(k, limit=200)] = _clean(v, depth + 1)
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
        cleaned = [_clean(v, depth + 1) for v in items[:_ITEMS]]
        if len(items) > _ITEMS:
            cleaned.append(f"… {len(items) - _ITEMS} more")
        return cleaned
    try:
        text = value if isinstance(value, str) else str(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return redact(text, limit=_VALUE_CHARS)


def _emit(level: str, msg: str, ctx: dict[str, Any] | None) -> None:
    record: dict[str, Any] = {"ts": _iso_now(), "level": level, "msg": _clean(msg)}
    if ctx:
        record["ctx"] = _clean(ctx)
    line = json.dumps(record, ensure_ascii=False, allow_nan=False, default=str)
    stream = _stream or _default_stream()
    try:
        stream.write(line + "\n")
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
    """The first ``n`` characters of ``text`` for a log line, with secrets removed *before* the cut.

    Cutting first would leave a key that straddles the cut as a fragment too short for any
    pattern to recognise. The window scrubbed is bounded (a key's longest encoded form is a
    few hundred characters), so a huge prompt costs no more than a short one.
    """
    if text is None:
        return None
    from .redact import redact

    window = redact(text[: n + 2048])
    return window if len(window) <= n and len(text) <= n + 2048 else window[:n] + "…"
