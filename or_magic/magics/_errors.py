"""The one concise exception a failed ``%%openrouter`` cell raises.

IPython shows ``_render_traceback_()`` instead of a traceback when an exception defines it, so a
failure is three lines (code, message, suggestions), not 40 lines of httpx internals; and because
it is a real exception, "Run All", nbclient and CI see the cell fail. No global exception hook.
"""

from __future__ import annotations

from typing import Any

_RED = "\x1b[31m"
_BOLD = "\x1b[1m"
_DIM = "\x1b[2m"
_RESET = "\x1b[0m"


# What a notebook user types instead of the tool an MCP-worded suggestion names.
_MAGIC_FOR_TOOL = {
    "search_models": "Find a model id: %openrouter models QUERY (filters: --vision --image-out …)",
    "validate_model": "Check a model id: %openrouter info MODEL",
    "health_check": "See what the key can do: %openrouter health",
}


def magic_suggestions(suggestions: list[str] | None) -> list[str]:
    """The core's suggestions in magic terms: one naming a tool becomes the magic command."""
    from ..errors import SUGGESTION_TOOLS

    out: list[str] = []
    for s in suggestions or []:
        tool = SUGGESTION_TOOLS.get(s)
        said = _MAGIC_FOR_TOOL.get(tool, s) if tool else s
        if said not in out:
            out.append(said)
    return out


class OpenRouterCellError(Exception):
    """``[CODE] message`` plus suggestions; ``.code``, ``.suggestions``, ``.result`` for code.

    Suggestions are said in magic terms (``%openrouter models``, not the MCP tool
    ``search_models``); ``.result.suggestions`` keeps the core's wording.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        suggestions: list[str] | None = None,
        details: dict[str, Any] | None = None,
        result: Any = None,
    ) -> None:
        self.code = str(code)
        self.message = message
        self.suggestions = magic_suggestions(suggestions)
        self.details = details
        self.result = result
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"

    def __reduce__(self):  # picklable (ipyparallel, multiprocessing) without the result object
        return (_rebuild, (type(self), self.code, self.message, self.suggestions))

    def _render_traceback_(self) -> list[str]:
        red, bold, dim, reset = (_RED, _BOLD, _DIM, _RESET) if _colors() else ("", "", "", "")
        head = f"{red}{bold}{type(self).__name__}{reset}: {bold}[{self.code}]{reset} {self.message}"
        return [head] + [f"  {dim}→{reset} {s}" for s in self.suggestions]

    @classmethod
    def from_result(cls, result: Any) -> OpenRouterCellError:
        return cls(
            result.code or "INTERNAL",
            result.text,
            suggestions=result.suggestions,
            details=result.details,
            result=result,
        )


def _colors() -> bool:
    try:
        from IPython import get_ipython

        ip = get_ipython()
        return ip is None or str(getattr(ip, "colors", "")).lower() not in ("nocolor", "none")
    except Exception:  # pragma: no cover
        return True


def _rebuild(cls: type, code: str, message: str, suggestions: list[str]) -> OpenRouterCellError:
    return cls(code, message, suggestions=suggestions)


class OpenRouterCancelled(OpenRouterCellError):
    """The job was stopped (Stop button or ``job.cancel()``)."""

    def __init__(self, message: str, *, suggestions: list[str] | None = None) -> None:
        super().__init__("CANCELLED", message, suggestions=suggestions)


class OpenRouterInterrupted(KeyboardInterrupt):
    """Ctrl-C / the kernel's interrupt during a blocking cell, rendered as one line.

    Still a ``KeyboardInterrupt`` (so "Run All" stops and ``except KeyboardInterrupt`` works), but
    IPython shows ``_render_traceback_()``: the tool and how to resume, not the 80-line trip
    through the event loop that happened to be running when the signal arrived.
    """

    def __init__(self, tool: str, hint: str = "") -> None:
        self.tool = tool
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.tool} interrupted" + (f". {self.hint}" if self.hint else "")

    def __reduce__(self):
        return (type(self), (self.tool, self.hint))

    def _render_traceback_(self) -> list[str]:
        red, bold, reset = (_RED, _BOLD, _RESET) if _colors() else ("", "", "")
        return [f"{red}{bold}KeyboardInterrupt{reset}: {self}"]
