"""Display bundles of the line commands: ``(data, metadata)`` pairs with a Markdown and a
plain-text rendering each, so the terminal never shows Markdown markup.

Result bundles of tool calls (text, media) are ``or_magic.display``'s job; this module holds
the tables of ``models``, ``info``, ``usage``, ``jobs``, ``config`` and the ``mcp`` card.
"""

from __future__ import annotations

from typing import Any


def md_cell(v: Any) -> str:
    """One Markdown table cell: escaped, no pipes, one line."""
    from ..display import md_escape

    return md_escape(str(v)).replace("|", "\\|").replace("\n", " ")


def table_bundle(
    header: tuple[str, ...], rows: list[tuple[Any, ...]], empty: str, *, bold_last: bool = False
) -> Any:
    """Markdown and plain-text renderings of one table (``bold_last``: a totals row, bold in
    Markdown only, so the terminal never shows ``**``)."""
    if not rows:
        return ({"text/markdown": empty or "(none)", "text/plain": empty or "(none)"}, {})
    md = ["| " + " | ".join(md_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(md_cell(c) for c in r) + " |" for r in rows]
    if bold_last:
        md[-1] = "| " + " | ".join(f"**{md_cell(c)}**" for c in rows[-1]) + " |"
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    plain = [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in (header, *rows)
    ]
    return ({"text/markdown": "\n".join(md), "text/plain": "\n".join(plain)}, {})


def text_bundle(md: str, plain: str | None = None, meta: dict[str, Any] | None = None) -> Any:
    """A bundle of one Markdown text (and its plain fallback)."""
    return ({"text/markdown": md, "text/plain": md if plain is None else plain}, meta or {})


def _price(p: Any) -> str:
    try:
        v = float(p)
    except (TypeError, ValueError):
        return "?"
    return "free" if v == 0 else f"${v * 1e6:.2f}"


def models_table(raw: Any) -> Any:
    """``search_models`` as a table: id, modalities, context, prices per million tokens."""
    data = raw.data or {}
    rows = []
    for m in data.get("results", []):
        arch = m.get("architecture") or {}
        ins = "+".join(arch.get("input_modalities") or []) or "?"
        outs = "+".join(arch.get("output_modalities") or []) or "?"
        pricing = m.get("pricing") or {}
        rows.append(
            (
                m.get("id"),
                f"{ins} → {outs}",
                m.get("context_length") or "",
                _price(pricing.get("prompt")),
                _price(pricing.get("completion")),
            )
        )
    total = data.get("total", len(rows))
    bundle = table_bundle(
        ("model", "modalities", "context", "in $/M tok", "out $/M tok"),
        rows,
        empty="No models match.",
    )
    note = f"\n\n<sub>{len(rows)} of {total} shown</sub>" + (
        " **`offline`**" if raw.offline else ""
    )
    bundle[0]["text/markdown"] += note
    bundle[0]["text/plain"] += f"\n{len(rows)} of {total} shown" + (
        " (offline)" if raw.offline else ""
    )
    return bundle


def info_bundle(raw: Any) -> Any:
    """``get_model_info`` as a heading, the core's text and the (escaped) description."""
    m = raw.data or {}
    md = f"### {md_cell(m.get('id', ''))}\n\n{md_cell(m.get('name', ''))}\n\n```text\n{raw.text}\n```"
    desc = m.get("description")
    if desc:
        import html

        md += "\n\n" + html.escape(str(desc)[:1500], quote=False)
    if raw.offline:
        md += "\n\n**`offline`**"
    return ({"text/markdown": md, "text/plain": raw.text}, {"or_magic": {"tool": "get_model_info"}})


def usage_bundle(rows: list[Any], total: Any) -> Any:
    """This session's spend per model (most expensive first) with a bold totals row."""
    from ..display import format_spend

    def row(u: Any, name: str) -> tuple[Any, ...]:
        cost = format_spend(u.cost_usd, u.simulated_cost_usd) or "$0"
        return (name, u.calls, u.prompt_tokens, u.completion_tokens, cost, u.offline_calls)

    order = sorted(rows, key=lambda u: (-u.cost_usd, -u.simulated_cost_usd))
    table = [row(u, u.model) for u in order]
    if table:
        table.append(row(total, "total"))
    return table_bundle(
        ("model", "calls", "prompt tokens", "completion tokens", "cost", "offline calls"),
        table,
        empty="No calls yet in this session.",
        bold_last=bool(table),
    )


def mcp_bundle(handle: Any) -> Any:
    """The in-kernel MCP server's URL and client configuration (a persistent token masked)."""
    import json

    if hasattr(handle, "client_config"):
        cfg = handle.client_config()
    else:  # pragma: no cover - older handle
        cfg = {"mcpServers": {"or-magic": {"type": "http", "url": handle.url}}}
        if getattr(handle, "token", None):
            cfg["mcpServers"]["or-magic"]["headers"] = {"Authorization": f"Bearer {handle.token}"}
    text = json.dumps(cfg, indent=2)
    from ..config import get_settings

    persistent = get_settings().mcp_token
    token = getattr(handle, "token", None)
    if token and persistent is not None and persistent.get() == token:
        # A token from OR_MAGIC_MCP_TOKEN outlives this kernel: never write it into the notebook.
        text = text.replace(token, "$OR_MAGIC_MCP_TOKEN")
        note = "the bearer token is the value of `OR_MAGIC_MCP_TOKEN`"
    else:
        note = (
            "contains this kernel's one-off bearer token, valid only while this kernel runs; "
            "it is not your OpenRouter key"
        )
    md = (
        f"MCP server running at `{handle.url}` (stop with `%openrouter mcp stop`).\n\n"
        f"Client configuration ({note}):\n\n```json\n" + text + "\n```"
    )
    return (
        {"text/markdown": md, "text/plain": f"MCP server running at {handle.url}\n{text}"},
        {"or_magic": {"part": "mcp"}},
    )
