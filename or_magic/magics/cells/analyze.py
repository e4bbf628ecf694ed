"""``%%openrouter analyze SOURCE...``: the cell is the question about images, audio or video.

A source is a path, URL or notebook variable (``magics/_sources.py``); the number and kinds of
the sources choose the tool (``analysis_call``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from .. import _parsing as P
from .. import _run
from .._common import KIND_ARG, KIND_TOOL, cell_error, drop_none

if TYPE_CHECKING:  # pragma: no cover
    from .._core import OpenRouterMagics


def run(m: OpenRouterMagics, words: list[str], cell: str) -> Any:
    opts = P.parse(P.analyze_parser(), words)
    question = m._prompt(cell, opts.raw).strip() or None
    if opts.each:
        return each(m, opts, question)
    if not opts.sources:
        raise UsageError(
            "%%openrouter analyze needs at least one SOURCE (path, URL or variable name)"
        )
    model = m._model(opts.model, "default_model") if opts.model else None
    sources = [m._source(w, opts.kind or "image") for w in opts.sources]
    if opts.kind:
        for s in sources:
            s.kind = opts.kind
    fmt = m._fmt(opts.format)
    tool, args, label = analysis_call(m, sources, question, model)
    if opts.background:
        return _run.background(
            m, tool, args, title=f"analyze {label}", fmt=fmt, label=label, out=opts.out
        )
    view = _run.stream_view(
        rich=m._rich(),
        fmt=fmt,
        throttle_s=m.stream_throttle_ms / 1000,
        label=f"analyzing {label}",
    )
    raw = _run.call(m, tool, args, view=view, stream=m.streaming)
    m._store(opts.out, m._wrap(raw, fmt, question))
    _run.show(m, raw, fmt, view=view, quiet=opts.quiet)
    return None


def _trait(kind: str) -> str:
    return "vision_model" if kind == "image" else f"{kind}_model"


def analysis_call(
    m: OpenRouterMagics, sources: list[Any], question: str | None, model: str | None
) -> tuple[str, dict[str, Any], str]:
    """(tool, args, label): one call, whatever the number of sources.

    One source → ``analyze_<kind>``; several images → ``analyze_image`` with ``image_paths``;
    mixed media → ``analyze_media`` (each source is detected from its content).
    """
    label = ", ".join(s.label for s in sources)
    kinds = {s.kind for s in sources}
    media = (
        "analyze_media",
        drop_none({"sources": [s.value for s in sources], "question": question, "model": model}),
        label,
    )
    if len(kinds) != 1:
        return media
    kind = next(iter(kinds))
    if len(sources) > 1 and kind != "image":
        return media
    args: dict[str, Any] = {
        KIND_ARG[kind]: sources[0].value,
        "question": question,
        "model": model or m._model(None, _trait(kind)),
    }
    if len(sources) > 1:
        args["image_paths"] = [s.value for s in sources[1:]]
    return KIND_TOOL[kind], drop_none(args), label


def each(m: OpenRouterMagics, opts: Any, question: str | None) -> Any:
    """``--each VAR``: the same question about every item (all of one media kind)."""
    from .._sources import to_source
    from ._each import each_items, run_batch

    items = each_items(m, opts.each)
    arg_list = []
    for i in range(len(items)):
        try:
            src = to_source(f"{opts.each}[{i}]", m.ns, default_kind=opts.kind or "image")
        except Exception as exc:
            raise cell_error(exc, prefix=f"{opts.each}[{i}]") from None
        kind = opts.kind or src.kind
        args = {
            KIND_ARG[kind]: src.value,
            "question": question,
            "model": m._model(opts.model, _trait(kind)),
        }
        arg_list.append((KIND_TOOL[kind], drop_none(args)))
    tools = {t for t, _ in arg_list}
    if len(tools) == 1:
        return run_batch(m, tools.pop(), [a for _, a in arg_list], opts, m._fmt(opts.format))
    raise UsageError("--each: all items must be the same kind of media (or pass --kind)")
