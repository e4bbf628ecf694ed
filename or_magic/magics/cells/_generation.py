"""What the generation modes (image, audio, speech, video) share: a required prompt, a progress
panel instead of a stream, and ``--background``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from .. import _run

if TYPE_CHECKING:  # pragma: no cover
    from .._core import OpenRouterMagics


def need_prompt(m: OpenRouterMagics, cell: str, opts: Any, mode: str) -> str:
    prompt = m._prompt(cell, opts.raw).strip()
    if not prompt:
        raise UsageError(f"%%openrouter {mode}: write the prompt in the cell body")
    return prompt


def run_generation(
    m: OpenRouterMagics, tool: str, args: dict[str, Any], opts: Any, *, title: str, prompt: str
) -> Any:
    """Call ``tool`` with a progress panel (or start it as a background job)."""
    if opts.background:
        return _run.background(m, tool, args, title=title, label=prompt[:60], out=opts.out)
    panel = _run.cell_panel(mode=m._panel_mode(), title=title)
    raw = _run.call(m, tool, args, panel=panel)
    m._store(opts.out, m._wrap(raw, "markdown", prompt))
    _run.show(m, raw, "markdown", panel=panel, quiet=opts.quiet)
    return None
