"""A minimal JSON-Schema instance generator for ``response_format: json_schema`` and tool calls.

Good enough for the shapes clients send (objects, arrays, enums, refs, combinators, bounds); the
result validates against the schema so structured-output code paths can be tested offline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_FORMATS = {
    "date-time": "2025-01-01T00:00:00Z",
    "date": "2025-01-01",
    "time": "00:00:00",
    "email": "offline@example.com",
    "uri": "https://example.com/offline",
    "url": "https://example.com/offline",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
    "hostname": "example.com",
}


_NOT_COMBINED = object()  # _combined's "no anyOf/oneOf/allOf here" (a chosen option may be None)


def instance_for(schema: Any, hint: str = "offline", _root: Any = None, _depth: int = 0) -> Any:
    """A small value valid under ``schema``; ``hint`` seeds string values (property name).

    Steps, in precedence order: follow ``$ref``; a ``const`` or the first ``enum`` value; narrow a
    combinator (``anyOf``/``oneOf`` pick, ``allOf`` merge) and recurse; else build a value of the
    schema's type with the ``_BY_TYPE`` table (strings when the type is unknown).
    """
    root = schema if _root is None else _root
    if _depth > 24 or not isinstance(schema, dict):
        return hint if schema is not False else None
    if "$ref" in schema:
        return instance_for(_resolve(schema["$ref"], root), hint, root, _depth + 1)
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    narrowed = _combined(schema, root)
    if narrowed is not _NOT_COMBINED:
        return instance_for(narrowed, hint, root, _depth + 1)
    typ = _type_of(schema)
    build = _BY_TYPE.get(typ, _string) if isinstance(typ, str) else _string
    return build(schema, hint, root, _depth)


def _combined(schema: dict[str, Any], root: Any) -> Any:
    """The one schema an ``anyOf``/``oneOf`` (first non-null option) or ``allOf`` (merged) means."""
    for key in ("anyOf", "oneOf"):
        opts = schema.get(key)
        if isinstance(opts, list) and opts:
            non_null = [o for o in opts if not (isinstance(o, dict) and o.get("type") == "null")]
            return (non_null or opts)[0]
    if isinstance(schema.get("allOf"), list):
        return _merge_all_of(schema, root)
    return _NOT_COMBINED


def _merge_all_of(schema: dict[str, Any], root: Any) -> dict[str, Any]:
    """``allOf`` parts folded into one schema: properties and required lists unite, else first wins;
    the schema's own keys (besides ``allOf``) override the parts."""
    merged: dict[str, Any] = {}
    for part in schema["allOf"]:
        if not isinstance(part, dict):
            continue
        part = _resolve(part["$ref"], root) if "$ref" in part else part
        for k, v in part.items():
            if k == "properties" and isinstance(v, dict):
                merged.setdefault("properties", {}).update(v)
            elif k == "required" and isinstance(v, list):
                merged.setdefault("required", []).extend(v)
            else:
                merged.setdefault(k, v)
    rest = {k: v for k, v in schema.items() if k != "allOf"}
    return {**merged, **rest}


def _type_of(schema: dict[str, Any]) -> Any:
    """The declared type (first non-null of a list), else inferred from properties/items, else string."""
    typ = schema.get("type")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), typ[0] if typ else None)
    if typ is not None:
        return typ
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


def _object(schema: dict[str, Any], hint: str, root: Any, depth: int) -> dict[str, Any]:
    """Every property, then any missing required names, then filler keys up to ``minProperties``."""
    out: dict[str, Any] = {}
    for name, sub in (schema.get("properties") or {}).items():
        out[name] = instance_for(sub, name, root, depth + 1)
    for name in schema.get("required") or []:
        if name not in out:
            out[name] = hint
    extra = schema.get("minProperties")
    if isinstance(extra, int) and len(out) < extra:
        addl = schema.get("additionalProperties")
        for i in range(extra - len(out)):
            out[f"key{i}"] = instance_for(
                addl if isinstance(addl, dict) else {}, "value", root, depth + 1
            )
    return out


def _array(schema: dict[str, Any], hint: str, root: Any, depth: int) -> list[Any]:
    """``prefixItems`` one each; else ``minItems`` (at least 1, at most ``maxItems``) copies of one
    item, made distinct when ``uniqueItems`` asks and the item is a number or string."""
    prefix = schema.get("prefixItems")
    if isinstance(prefix, list) and prefix:
        return [instance_for(p, hint, root, depth + 1) for p in prefix]
    n = max(1, int(schema.get("minItems") or 1))
    max_items = schema.get("maxItems")
    if isinstance(max_items, int):
        n = min(n, max_items)
    items = schema.get("items")
    item = instance_for(items if isinstance(items, dict) else {}, hint, root, depth + 1)
    if schema.get("uniqueItems") and n > 1 and isinstance(item, (int, float)):
        return [item + i for i in range(n)]
    if schema.get("uniqueItems") and n > 1 and isinstance(item, str):
        return [f"{item}{i}" if i else item for i in range(n)]
    return [item for _ in range(n)]


def _string(schema: dict[str, Any], hint: str, root: Any, depth: int) -> str:
    """A sample for a known ``format``, else ``"offline <hint>"``, padded/cut to the length bounds."""
    fmt = schema.get("format")
    value = _FORMATS.get(fmt, f"offline {hint}") if isinstance(fmt, str) else f"offline {hint}"
    min_len = schema.get("minLength")
    max_len = schema.get("maxLength")
    if isinstance(min_len, int) and len(value) < min_len:
        value = value + "x" * (min_len - len(value))
    if isinstance(max_len, int) and len(value) > max_len:
        value = value[:max_len]
    return value


_BY_TYPE: dict[str, Callable[[dict[str, Any], str, Any, int], Any]] = {
    "object": _object,
    "array": _array,
    "number": lambda schema, *_: _number(schema, "number"),
    "integer": lambda schema, *_: _number(schema, "integer"),
    "boolean": lambda *_: True,
    "null": lambda *_: None,
}


def _number(schema: dict[str, Any], typ: str) -> int | float:
    lo = schema.get("minimum")
    hi = schema.get("maximum")
    xlo = schema.get("exclusiveMinimum")
    xhi = schema.get("exclusiveMaximum")
    value: float = 1
    if isinstance(lo, (int, float)):
        value = max(value, lo)
    if isinstance(xlo, (int, float)) and not isinstance(xlo, bool) and value <= xlo:
        value = xlo + 1
    if isinstance(hi, (int, float)):
        value = min(value, hi)
    if isinstance(xhi, (int, float)) and not isinstance(xhi, bool) and value >= xhi:
        value = xhi - (1 if typ == "integer" else 0.5)
    mult = schema.get("multipleOf")
    if isinstance(mult, (int, float)) and mult > 0:
        value = round(value / mult) * mult
        if isinstance(lo, (int, float)) and value < lo:
            value += mult
    if typ == "integer":
        return int(value)
    return value


def _resolve(ref: str, root: Any) -> Any:
    if not isinstance(ref, str) or not ref.startswith("#"):
        return {}
    node = root
    for part in ref[1:].split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return {}
    return node
