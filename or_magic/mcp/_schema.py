"""JSON schemas and annotations for MCP, derived from the tool core's pydantic models.

Input schemas are made small and self-contained for the widest client support: ``$ref``s into
``$defs`` are inlined (recursive ones are kept), pydantic's auto-generated ``title`` keys are
dropped, and an optional argument's ``anyOf [X, null]`` with ``default: null`` becomes plain ``X``
(leaving it out is how a client says "not given"; the core still accepts an explicit null).
Everything that carries meaning stays: ``integer`` vs ``number``, ``enum``, ``minimum`` /
``maximum``, ``minItems`` / ``maxItems``, ``required``, ``additionalProperties: false``, descriptions
and real defaults.

Output schemas keep their nullable branches (the data may hold nulls and clients validate against
them) but are inlined and de-titled the same way.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from or_magic.tools import ToolSpec

# Keywords whose value is a single subschema, a list of subschemas, or a name → subschema map.
_ONE = ("items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else")
_MANY = ("anyOf", "oneOf", "allOf", "prefixItems")
_MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")


def input_schema(spec: ToolSpec) -> dict[str, Any]:
    raw = spec.input_model.model_json_schema()
    out = clean_schema(raw, collapse_optional=True)
    out.setdefault("type", "object")
    out.setdefault("properties", {})
    return out


def output_schema(spec: ToolSpec) -> dict[str, Any] | None:
    if spec.output_model is None:
        return None
    out = clean_schema(spec.output_model.model_json_schema(), collapse_optional=False)
    out.setdefault("type", "object")
    return out


def clean_schema(schema: dict[str, Any], *, collapse_optional: bool) -> dict[str, Any]:
    schema = copy.deepcopy(schema)
    defs: dict[str, Any] = dict(schema.pop("$defs", {}) or {})
    kept: dict[str, Any] = {}

    def deref(node: Any, stack: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [deref(n, stack) for n in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref[len("#/$defs/") :]
            if name in stack or name not in defs:  # recursive (or dangling): keep the reference
                if name in defs and name not in kept:
                    kept[name] = None  # placeholder; filled below
                return node
            target = deref(copy.deepcopy(defs[name]), (*stack, name))
            extra = {k: v for k, v in node.items() if k != "$ref"}
            if extra:  # sibling keywords (description, default) win over the definition's
                target = {**target, **{k: deref(v, stack) for k, v in extra.items()}}
            return target
        out: dict[str, Any] = {}
        for k, v in node.items():
            if k in _ONE and isinstance(v, dict):
                out[k] = deref(v, stack)
            elif k in _MANY and isinstance(v, list):
                out[k] = [deref(x, stack) for x in v]
            elif k in _MAP and isinstance(v, dict):
                out[k] = {name: deref(sub, stack) for name, sub in v.items()}
            else:
                out[k] = v
        return out

    result = deref(schema, ())
    # Recursive definitions stay in $defs (deref'd themselves, refs to each other kept).
    while any(v is None for v in kept.values()):
        for name in [n for n, v in kept.items() if v is None]:
            kept[name] = deref(copy.deepcopy(defs[name]), (name,))
    result = _tidy(result, collapse_optional=collapse_optional)
    if kept:
        result["$defs"] = {
            n: _tidy(v, collapse_optional=collapse_optional) for n, v in kept.items()
        }
    return result


def _tidy(node: Any, *, collapse_optional: bool) -> Any:
    """Drop auto titles; optionally collapse ``anyOf [X, null]`` + ``default: null`` to ``X``."""
    if isinstance(node, list):
        return [_tidy(n, collapse_optional=collapse_optional) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k == "title" and isinstance(v, str):
            continue
        if k in _ONE and isinstance(v, dict):
            out[k] = _tidy(v, collapse_optional=collapse_optional)
        elif k in _MANY and isinstance(v, list):
            out[k] = [_tidy(x, collapse_optional=collapse_optional) for x in v]
        elif k in _MAP and isinstance(v, dict):
            out[k] = {
                name: _tidy(sub, collapse_optional=collapse_optional) for name, sub in v.items()
            }
        else:
            out[k] = v
    if collapse_optional and "default" in out and out["default"] is None:
        branches = out.get("anyOf")
        if isinstance(branches, list):
            rest = [b for b in branches if b != {"type": "null"}]
            if len(rest) < len(branches):
                del out["default"]
                if len(rest) == 1 and isinstance(rest[0], dict):
                    del out["anyOf"]
                    merged = dict(rest[0])
                    merged.update(out)  # the field's own description etc. win
                    out = merged
                elif rest:
                    out["anyOf"] = rest
        elif out.get("type") == "null":
            pass
    return out


def annotations(spec: ToolSpec) -> dict[str, Any]:
    """The MCP annotation hints, corrected where a spec contradicts itself.

    A tool that writes a file when given ``save_path`` is not read-only (the Node server got
    ``get_video_status`` wrong); such a spec is exposed with ``readOnlyHint: false``.
    """
    a = spec.annotations
    read_only = bool(a.read_only)
    fields = getattr(spec.input_model, "model_fields", {}) or {}
    if read_only and "save_path" in fields:
        read_only = False
    return {
        "title": a.title or spec.title,
        "read_only_hint": read_only,
        "destructive_hint": False if read_only else bool(a.destructive),
        "idempotent_hint": bool(a.idempotent),
        "open_world_hint": bool(a.open_world),
    }
