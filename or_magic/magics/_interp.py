"""Explicit, safe prompt interpolation: ``{{name}}`` only.

- Single braces are never touched, so code with ``{}``, f-strings, dicts and JSON is sent verbatim.
- ``{{name}}``, ``{{obj.attr}}``, ``{{seq[0]}}``, ``{{d['key']}}``, ``{{In[3]}}`` are looked up in
  the user namespace by a tiny walker (no ``eval``); anything that does not resolve stays verbatim.
- One pass: a value containing braces (or ``{{...}}``) is inserted as is and never re-parsed.
- Interpolation never raises.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from typing import Any

_SEGMENT = r"(?:\.[A-Za-z_]\w*|\[\s*-?\d+\s*\]|\[\s*'[^'\]]*'\s*\]|\[\s*\"[^\"\]]*\"\s*\])"
_PATTERN = re.compile(r"\{\{\s*([A-Za-z_]\w*" + _SEGMENT + r"*)\s*\}\}")
_PART = re.compile(
    r"\.([A-Za-z_]\w*)|\[\s*(-?\d+)\s*\]|\[\s*'([^'\]]*)'\s*\]|\[\s*\"([^\"\]]*)\"\s*\]"
)
_MISSING = object()


def resolve(expr: str, ns: Mapping[str, Any]) -> Any:
    """Value of ``name.attr[0]['k']`` in ``ns``; ``_MISSING`` when any step fails."""
    m = re.match(r"[A-Za-z_]\w*", expr)
    if not m or m.group(0) not in ns:
        return _MISSING
    value = ns[m.group(0)]
    pos = m.end()
    try:
        for part in _PART.finditer(expr, pos):
            if part.start() != pos:
                return _MISSING
            pos = part.end()
            attr, idx, sq, dq = part.groups()
            if attr is not None:
                if attr.startswith("__"):
                    return _MISSING
                value = getattr(value, attr)
            elif idx is not None:
                value = value[int(idx)]
            else:
                value = value[sq if sq is not None else dq]
    except Exception:
        return _MISSING
    if pos != len(expr):
        return _MISSING
    if inspect.isroutine(value):  # a method or function: its repr is never what was meant
        return _MISSING
    return value


def is_missing(value: Any) -> bool:
    return value is _MISSING


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return str(value)
    except Exception:
        return repr(value)


def interpolate(text: str, ns: Mapping[str, Any]) -> tuple[str, list[str]]:
    """``text`` with each resolvable ``{{expr}}`` replaced by ``str(value)``; names used."""
    used: list[str] = []

    def sub(m: re.Match[str]) -> str:
        value = resolve(m.group(1), ns)
        if value is _MISSING:
            return m.group(0)
        used.append(m.group(1))
        return _text_of(value)

    try:
        return _PATTERN.sub(sub, text), used
    except Exception:  # pragma: no cover - defensive: interpolation must never break a cell
        return text, []
