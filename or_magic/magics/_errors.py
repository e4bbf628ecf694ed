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


class OpenRouterCellError(Exception):
    """``[CODE] message`` plus suggestions; ``.code``, ``.suggestions``, ``.result`` for code."""

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
        self.suggestions = list(suggestions or [])
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
