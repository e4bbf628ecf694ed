"""The closed error taxonomy shared by every front-end.

Thirteen codes, the same strings the Node server puts in ``_meta.code``, so agents that branch on
them keep working, plus ``BUDGET_EXCEEDED`` (ours: a call refused before sending because its
estimated cost would go over the budget; nothing was spent). Two kinds of *successful* result
carry a code: ``JOB_STILL_RUNNING`` (resume it with the status tool), and paid media whose save
failed after payment (the save error's code, ``meta.saved`` false, the bytes kept; see
``tools/saving.py``).
"""

from __future__ import annotations

from enum import Enum
from typing import Any


class ErrorCode(str, Enum):
    INVALID_INPUT = "INVALID_INPUT"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    UNSAFE_PATH = "UNSAFE_PATH"
    UPSTREAM_HTTP = "UPSTREAM_HTTP"
    UPSTREAM_TIMEOUT = "UPSTREAM_TIMEOUT"
    UPSTREAM_REFUSED = "UPSTREAM_REFUSED"
    UNSUPPORTED_FORMAT = "UNSUPPORTED_FORMAT"
    RESOURCE_TOO_LARGE = "RESOURCE_TOO_LARGE"
    ZDR_INCOMPATIBLE = "ZDR_INCOMPATIBLE"
    MODEL_NOT_FOUND = "MODEL_NOT_FOUND"
    JOB_FAILED = "JOB_FAILED"
    JOB_STILL_RUNNING = "JOB_STILL_RUNNING"
    BUDGET_EXCEEDED = "BUDGET_EXCEEDED"
    INTERNAL = "INTERNAL"

    def __str__(self) -> str:  # f-strings show the bare code
        return self.value


ALL_CODES: tuple[str, ...] = tuple(c.value for c in ErrorCode)


class ToolError(Exception):
    """A failure with a code from the taxonomy.

    Raised anywhere below a tool handler; the registry turns it into an error ``ToolResult``.
    The message must already be safe to show (no secrets): ``or_magic.redact`` runs over it again
    at the boundary, but callers should not rely on that.
    """

    def __init__(
        self,
        code: ErrorCode | str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        suggestions: list[str] | None = None,
        retry_after_seconds: float | None = None,
    ) -> None:
        self.code = ErrorCode(code)
        self.message = message
        self.details = details
        self.suggestions = list(suggestions or [])
        self.retry_after_seconds = retry_after_seconds
        super().__init__(message)

    def __str__(self) -> str:
        return f"[{self.code.value}] {self.message}"

    def __repr__(self) -> str:
        return f"ToolError({self.code.value!s}, {self.message!r})"

    def with_prefix(self, prefix: str) -> ToolError:
        """Same error, message prefixed with where it happened (``input_images[2]: ...``)."""
        self.message = f"{prefix}: {self.message}" if prefix else self.message
        self.args = (self.message,)
        return self


def os_error(code: ErrorCode, doing: str, exc: OSError, **kw: Any) -> ToolError:
    """A failed filesystem call as ``doing: <the OS's reason>`` ("Permission denied", "No space
    left on device"). ``strerror`` leaves out the errno and the raw path that ``str(exc)`` adds;
    the caller names the path itself, shortened and redacted. ``kw``: as for ``ToolError``."""
    return ToolError(code, f"{doing}: {exc.strerror or exc}", **kw)


class ConfigError(ToolError):
    """A malformed environment variable or setting; names the variable."""

    def __init__(self, variable: str, message: str) -> None:
        self.variable = variable
        super().__init__(
            ErrorCode.INVALID_INPUT,
            f"{variable}: {message}",
            details={"variable": variable},
            suggestions=[f"Fix or unset {variable}"],
        )


# Suggestions reused by several classifiers; kept here so wording stays consistent.
SUGGEST_SEARCH_MODELS = "Use search_models to discover valid model ids"
SUGGEST_VALIDATE_MODEL = "Use validate_model to pre-flight a model id"
SUGGEST_OTHER_MODEL = "Try another model (see search_models)"
SUGGEST_HEALTH_CHECK = "Run health_check to see what the key can do"
# Suggestions that point at another tool, and which. The wording is for MCP clients (an agent
# calls that tool); a front-end with its own commands looks the tool up here and says it its own
# way (the magics: `%openrouter models`), instead of naming tools its user cannot call.
SUGGESTION_TOOLS: dict[str, str] = {
    SUGGEST_SEARCH_MODELS: "search_models",
    SUGGEST_VALIDATE_MODEL: "validate_model",
    SUGGEST_OTHER_MODEL: "search_models",
    SUGGEST_HEALTH_CHECK: "health_check",
}
SUGGEST_ALLOWLIST = (
    "Private, loopback and link-local addresses are blocked; to allow an internal host on "
    "purpose, add it to OPENROUTER_URL_ALLOWLIST (host, IP or CIDR)"
)
