"""A minimal JSON-Schema instance generator for ``response_format: json_schema`` and tool calls.

Good enough for the shapes clients send (objects, arrays, enums, refs, combinators, bounds); the
result validates against the schema so structured-output code paths can be tested offline.
"""

from __future__ import annotations

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


def instance_for(schema: Any, hint: str = "offline", _root: Any = None, _depth: int = 0) -> Any:
    """A small value valid under ``schema``; ``hint`` seeds string values (property name)."""
    root = schema if _root is None else _root
    if _depth > 24 or not isinstance(schema, dict):
        return hint if schema is not False else None
    if "$ref" in schema:
        target = _resolve(schema["$ref"], root)
        return instance_for(target, hint, root, _depth + 1)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        opts = schema.get(key)
        if isinstance(opts, list) and opts:
            non_null = [o for o in opts if not (isinstance(o, dict) and o.get("type") == "null")]
            return instance_for((non_null or opts)[0], hint, root, _depth + 1)
    if isinstance(schema.get("allOf"), list):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            if isinstance(part, dict):
                part = _resolve(part["$ref"], root) if "$ref" in part else part
                for k, v in part.items():
                    if k == "properties" and isinstance(v, dict):
                        merged.setdefault("properties", {}).update(v)
                    elif k == "required" and isinstance(v, list):
                        merged.setdefault("required", []).extend(v)
                    else:
                        merged.setdefault(k, v)
        rest = {k: v for k, v in schema.items() if k != "allOf"}
        return instance_for({**merged, **rest}, hint, root, _depth + 1)

    typ = schema.get("type")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), typ[0] if typ else None)
    if typ is None:
        if "properties" in schema:
            typ = "object"
        elif "items" in schema:
            typ = "array"
        else:
            typ = "string"

    if typ == "object":
        props = schema.get("properties") or {}
        out: dict[str, Any] = {}
        for name, sub in props.items():
            out[name] = instance_for(sub, name, root, _depth + 1)
        for name in schema.get("required") or []:
            if name not in out:
                out[name] = hint
        extra = schema.get("minProperties")
        if isinstance(extra, int) and len(out) < extra:
            addl = schema.get("additionalProperties")
            for i in range(extra - len(out)):
                out[f"key{i}"] = instance_for(
                    addl if isinstance(addl, dict) else {}, "value", root, _depth + 1
                )
        return out
    if typ == "array":
        items = schema.get("items")
        prefix = schema.get("prefixItems")
        if isinstance(prefix, list) and prefix:
            return [instance_for(p, hint, root, _depth + 1) for p in prefix]
        n = max(1, int(schema.get("minItems") or 1))
        max_items = schema.get("maxItems")
        if isinstance(max_items, int):
            n = min(n, max_items)
        item = instance_for(items if isinstance(items, dict) else {}, hint, root, _depth + 1)
        if schema.get("uniqueItems") and n > 1 and isinstance(item, (int, float)):
            return [item + i for i in range(n)]
        if schema.get("uniqueItems") and n > 1 and isinstance(item, str):
            return [f"{item}{i}" if i else item for i in range(n)]
        return [item for _ in range(n)]
    if typ in ("number", "integer"):
        return _number(schema, typ)
    if typ == "boolean":
        return True
    if typ == "null":
        return None
    # string
    fmt = schema.get("format")
    value = _FORMATS.get(fmt, f"offline {hint}") if isinstance(fmt, str) else f"offline {hint}"
    min_len = schema.get("minLength")
    max_len = schema.get("maxLength")
    if isinstance(min_len, int) and len(value) < min_len:
        value = value + "x" * (min_len - len(value))
    if isinstance(max_len, int) and len(value) > max_len:
        value = value[:max_len]
    return value


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
