"""Route the SDK's and uvicorn's stdlib logging into or_magic's JSON lines on stderr.

Only the command-line server configures logging (the process is ours); an in-kernel server leaves
the kernel's logging alone and only keeps uvicorn from installing its own handlers.
"""

from __future__ import annotations

import logging
import warnings

from or_magic import log

_STD_LEVEL = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING}
_OUR_LEVEL = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warn",
    logging.ERROR: "error",
    logging.CRITICAL: "error",
}
# Chatty at INFO and of no use to someone reading an MCP host's server log.
_QUIET = (
    "uvicorn.access",
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
    "mcp.server.lowlevel.server",
)


class JsonLinesHandler(logging.Handler):
    """A stdlib handler writing through ``or_magic.log`` (JSON, redacted, stderr)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = _OUR_LEVEL.get(record.levelno, "error" if record.levelno > 40 else "info")
            ctx: dict[str, object] = {"logger": record.name}
            if record.exc_info and record.exc_info[0] is not None:
                exc_type, exc, tb = record.exc_info
                ctx["exception"] = exc_type.__name__
                ctx["error"] = str(exc)[:500]
                if logging.getLogger().isEnabledFor(logging.DEBUG):
                    import traceback

                    ctx["traceback"] = "".join(traceback.format_tb(tb, limit=8))[-2000:]
            log.log(level, record.getMessage(), **ctx)
        except Exception:  # pragma: no cover - logging must never raise
            pass


def configure_process_logging(level_name: str) -> None:
    """Root logger → JSON lines at ``OPENROUTER_LOG_LEVEL``; noisy libraries at WARNING."""
    level = _STD_LEVEL.get(level_name, logging.ERROR if level_name == "error" else logging.INFO)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(JsonLinesHandler())
    root.setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    for name in ("uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    logging.captureWarnings(True)
    warnings_logger = logging.getLogger("py.warnings")
    warnings_logger.setLevel(max(level, logging.WARNING))
    # The SDK's deprecation warnings are silenced by ``build_server`` (``quiet_warnings``): not
    # here, which runs before the stdio fast path and must not import the SDK.


def quiet_warnings() -> None:
    from mcp import MCPDeprecationWarning

    warnings.filterwarnings("ignore", category=MCPDeprecationWarning)
