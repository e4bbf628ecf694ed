"""``%%openrouter embed``: embeddings from a cell (thin: the tool is ``embed_texts`` in the core).

- ``%%openrouter embed`` with a body: the (interpolated) body is one text → a ``(1, dims)`` array.
- ``%openrouter embed --each df.text -o vecs`` (line form: IPython refuses a cell magic with an
  empty body): every item of the variable, in one ``embed_texts`` call (the tool chunks the
  requests), rows in the variable's order. In the cell form the body is a template for each item
  (``query: {{item}}``), as in chat's ``--each``.
- ``--batch`` (or ``OpenRouterMagics.engine = "batch"``): the items go through the Batch API
  engine instead; ``-o`` then stores the ``BatchHandle`` (``.to_numpy()``, ``.to_pandas()``).

``-o VAR`` stores the rich result, whose ``.value`` is the float32 array (``.raw`` the
``ToolResult``), as every other mode stores its result. The display is one line: shape, model,
dimensions and cost, never the vectors.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError

from . import _parsing as P
from . import _run
from ._run import show_bundles
from .cells._each import each_items


def embed_parser() -> P._Parser:
    p = P._Parser(
        "%%openrouter embed",
        description="Embed texts: the cell body is one text, or --each VAR embeds every item.",
    )
    p.add_argument(
        "-m", "--model", help="embeddings model (default: OPENROUTER_DEFAULT_EMBED_MODEL)"
    )
    p.add_argument("--dimensions", type=int, help="shorter vectors (models that support it)")
    p.add_argument("--each", metavar="VAR", help="embed every item of VAR (a list or df.column)")
    p.add_argument("--save", metavar="PATH", help="also save the vectors as .npy (output dir)")
    P._batch_flags(p)
    P._common_out(p)
    return p


def cell_embed(magics: Any, words: list[str], cell: str) -> None:
    opts = P.parse(embed_parser(), words)
    common = {
        k: v
        for k, v in {"model": opts.model, "dimensions": opts.dimensions}.items()
        if v is not None
    }
    if opts.each:
        items = each_items(magics, opts.each)
        if not items:
            raise UsageError(f"--each {opts.each}: nothing to embed (it is empty)")
        items = _templated(magics, items, cell, opts.raw)
        if opts.batch or magics.engine == "batch":
            return _batch(magics, items, opts, common)
        texts = items
    else:
        if opts.batch:
            raise UsageError("--batch needs --each VAR (the Batch API is for many texts)")
        text = magics._prompt(cell, opts.raw).strip()
        if not text:
            raise UsageError("%%openrouter embed: write the text in the cell body (or --each VAR)")
        texts = [text]
    args: dict[str, Any] = {"input": texts, **common, "npy": bool(opts.save)}
    if opts.save:
        args["save_path"] = opts.save
    from ._live import CellPanel

    panel = CellPanel(mode=magics._panel_mode(), title=f"embed ×{len(texts)}")
    raw = _run.call(magics, "embed_texts", args, panel=panel)
    magics._store(opts.out, magics._wrap(raw, "markdown"))
    if opts.quiet:
        panel.end("done")
        return None
    panel.finish([_bundle(summary(raw, opts.out))], rich=magics._rich())
    return None


def _templated(magics: Any, items: list[Any], cell: str, raw: bool) -> list[Any]:
    """With a cell body and ``--each``: the body is a template (``query: {{item}}``), as in
    chat's ``--each``; a body without a placeholder is prepended. No body: the items as they are
    (non-strings are left for the tool to refuse, with their index)."""
    template = (cell or "").strip()
    if not template:
        return items
    out = []
    for i, item in enumerate(items):
        if "{{" in template and not raw:
            out.append(magics._prompt(template, False, {**magics.ns, "item": item, "index": i}))
        else:
            out.append(f"{template}\n\n{item}")
    return out


def _batch(magics: Any, items: list[Any], opts: Any, common: dict[str, Any]) -> None:
    from ..batch import map_tool
    from ._batches import each_labels, wait_in_foreground

    labels = each_labels(opts.each, magics.ns)
    rich = magics._rich()
    handle = map_tool(
        "embed_texts",
        items,
        engine="batch",
        progress=rich,
        batch_size=opts.batch_size,
        labels=labels,
        **common,
    )
    magics._store(opts.out, handle)
    print(f"Submitted {handle.id} ({len(items)} texts). Later: %openrouter wait {handle.id}")
    if not wait_in_foreground(handle, progress=rich):
        return None
    if not opts.quiet:
        show_bundles([_bundle(batch_summary(handle, opts.out))], rich=rich)
    return None


def summary(raw: Any, out: str | None) -> str:
    """``11 × 1536 float32 · openai/text-embedding-3-small · $0.0000002 → vecs``."""
    from ..display import format_cost

    m = raw.meta
    shape = f"{m.get('count', '?')} × {m.get('dimensions', '?')} float32"
    parts = [shape, str(m.get("model") or "?"), format_cost(raw.cost) or "$0"]
    if m.get("save_path"):
        parts.append(f"saved to {m['save_path']}")
    tail = f" → `{out}.value`" if out else ""
    off = " · OFFLINE" if raw.offline else ""
    return "Embeddings: " + " · ".join(parts) + tail + off


def batch_summary(handle: Any, out: str | None) -> str:
    from ..display import format_cost

    br = handle.to_batch_result()
    ok = br.ok
    dims = ok[0].meta.get("dimensions", "?") if ok else "?"
    model = ok[0].meta.get("model", "?") if ok else "?"
    failed = f", {len(br.failed)} failed (NaN rows)" if br.failed else ""
    tail = f" → `{out}.to_numpy()`" if out else ""
    return (
        f"Embeddings batch {handle.id}: {len(br)} × {dims} float32{failed} · {model} · "
        f"{format_cost(br.total_cost) or '$0'}{tail}"
    )


def _bundle(line: str) -> tuple[dict[str, Any], dict[str, Any]]:
    from ..display import md_escape

    md = md_escape(line)
    return {"text/markdown": md, "text/plain": line.replace("`", "")}, {
        "or_magic": {"tool": "embed_texts", "part": "summary"}
    }
