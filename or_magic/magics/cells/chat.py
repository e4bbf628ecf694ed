"""``%%openrouter [chat]``: the cell is the prompt; named conversations keep context.

Flags → ``chat_completion`` arguments in ``chat_args`` (the only place they are mapped);
``--each`` runs the cell once per item (``cells/_each.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from .. import _parsing as P
from .. import _run
from .._common import FMT_HINTS, drop_none

if TYPE_CHECKING:  # pragma: no cover
    from .._core import OpenRouterMagics


def run(m: OpenRouterMagics, words: list[str], cell: str) -> Any:
    opts = P.parse(P.chat_parser(), words)
    if opts.each:
        return each(m, opts, cell)
    prompt = m._prompt(cell, opts.raw)
    if not prompt.strip():
        raise UsageError("%%openrouter: the cell is empty; write the prompt below the first line")
    fmt, response_format, model_cls = _answer_format(m, opts)
    chat_name = None if opts.no_history else (opts.chat or "default")
    args = chat_args(m, opts, prompt, fmt, response_format, chat_name)
    if opts.background:
        return _run.background(
            m,
            "chat_completion",
            args,
            title="chat",
            fmt=fmt,
            label=prompt[:60],
            out=opts.out,
            on_done=lambda r: remember(m, chat_name, prompt, r.text),
        )
    stream = m.streaming and not opts.no_stream and fmt in ("markdown", "text", "code")
    view = _run.stream_view(
        rich=m._rich(),
        fmt=fmt,
        throttle_s=m.stream_throttle_ms / 1000,
        label=args.get("model") or "waiting for the model",
    )
    if opts.quiet and not stream:
        view = None
    raw = _run.call(m, "chat_completion", args, view=view, stream=stream)
    remember(m, chat_name, prompt, raw.text)
    rich = m._wrap(raw, fmt, prompt)
    if model_cls is not None:
        try:
            rich.parsed = model_cls.model_validate(rich.value)
        except Exception:
            rich.parsed = None
    m._store(opts.out, rich)
    _run.show(m, raw, fmt, view=view, quiet=opts.quiet)
    return None


def each(m: OpenRouterMagics, opts: Any, cell: str) -> Any:
    """``--each VAR``: the cell as a template, one chat per item (``{{item}}``, ``{{index}}``)."""
    from ._each import each_items, run_batch

    items = each_items(m, opts.each)
    fmt, response_format, _ = _answer_format(m, opts)
    arg_list = []
    template = (cell or "").strip("\n").rstrip()
    for i, item in enumerate(items):
        ns = {**m.ns, "item": item, "index": i}
        text = template if opts.raw else m._prompt(template, False, ns)
        if "{{" not in template:  # no placeholder: the item follows the instructions
            text = f"{template}\n\n{item}"
        arg_list.append(chat_args(m, opts, text, fmt, response_format, None))
    return run_batch(m, "chat_completion", arg_list, opts, fmt)


def _answer_format(m: OpenRouterMagics, opts: Any) -> tuple[str, dict[str, Any] | None, Any]:
    """(display format, ``response_format``, pydantic class to parse the answer into)."""
    fmt = m._fmt(opts.format)
    if opts.schema:
        response_format, model_cls = schema(m, opts.schema)
        return ("json" if opts.format is None else fmt), response_format, model_cls
    if fmt == "json":
        return fmt, {"type": "json_object"}, None
    return fmt, None, None


def chat_args(
    m: OpenRouterMagics,
    opts: Any,
    prompt: str,
    fmt: str,
    response_format: dict[str, Any] | None,
    chat_name: str | None,
) -> dict[str, Any]:
    """The ``chat_completion`` arguments of one cell: flags → tool input, nothing validated here."""
    system_parts = [s for s in (m.system_prompt, opts.system, FMT_HINTS.get(fmt)) if s]
    messages = [*history(m, chat_name), {"role": "user", "content": prompt}]
    return drop_none(
        {
            "messages": messages,
            "system": "\n\n".join(system_parts) or None,
            "model": m._model(opts.model, "default_model"),
            "models": opts.fallback,
            "temperature": opts.temperature,
            "max_tokens": opts.max_tokens,
            "seed": opts.seed,
            "reasoning_effort": opts.reasoning,
            "online": True if opts.online else None,
            "response_format": response_format,
        }
    )


def history(m: OpenRouterMagics, name: str | None) -> list[dict[str, Any]]:
    """The last ``history_length`` exchanges of a named conversation."""
    if name is None or m.history_length <= 0:
        return []
    return m.chats.get(name, [])[-2 * m.history_length :]


def remember(m: OpenRouterMagics, name: str | None, prompt: str, answer: str) -> None:
    """Append one exchange (a bounded log: five times what is sent)."""
    if name is None:
        return
    log = m.chats.setdefault(name, [])
    log += [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
    keep = max(2 * m.history_length, 0) * 5 or 2
    del log[:-keep]


def schema(m: OpenRouterMagics, var: str) -> tuple[dict[str, Any], Any]:
    """``--schema VAR``: a dict, a JSON string or a pydantic class → ``response_format``."""
    from .._interp import is_missing, resolve

    value = resolve(var, m.ns)
    if is_missing(value):
        raise UsageError(f"--schema {var}: no such variable")
    model_cls = None
    if hasattr(value, "model_json_schema"):
        model_cls = value
        schema, name = value.model_json_schema(), getattr(value, "__name__", "answer")
    elif isinstance(value, dict):
        if value.get("type") == "json_schema" and "json_schema" in value:
            return value, None
        if "schema" in value and isinstance(value["schema"], dict) and "name" in value:
            return {"type": "json_schema", "json_schema": value}, None
        schema, name = value, str(value.get("title") or "answer")
    elif isinstance(value, str):
        try:
            import json

            schema, name = json.loads(value), "answer"
        except (ValueError, RecursionError):
            raise UsageError(f"--schema {var}: not valid JSON") from None
    else:
        raise UsageError(f"--schema {var}: give a dict, a JSON string or a pydantic model class")
    safe = "".join(c if c.isalnum() or c in "_-" else "_" for c in name)[:64] or "answer"
    return {
        "type": "json_schema",
        "json_schema": {"name": safe, "schema": schema, "strict": True},
    }, model_cls
