"""Allowed values and defaults of tool arguments, read from the tools' pydantic input models.

The input models are the one source of what a tool accepts: the magic parser's ``choices``, the
dashboard's dropdowns and the MCP schemas all come from them, so a value the tool accepts is never
refused by a front-end (and one it refuses is never offered). Importing this module is cheap; the
tool models (pydantic) are loaded on the first question.
"""

from __future__ import annotations

from typing import Any, Literal, get_args, get_origin


def literals(tp: Any) -> list[Any]:
    """Every ``Literal`` value inside an annotation (``Literal[...] | None``, ``list[Literal]``)."""
    if get_origin(tp) is Literal:
        return list(get_args(tp))
    out: list[Any] = []
    for arg in get_args(tp):
        for v in literals(arg):
            if v not in out:
                out.append(v)
    return out


def input_model(tool: str) -> Any | None:
    """The pydantic input model of ``tool`` (None for a tool that is not registered)."""
    from .registry import get_tool

    spec = get_tool(tool)
    return spec.input_model if spec is not None else None


def has_field(tool: str, field: str) -> bool:
    model = input_model(tool)
    return model is not None and field in model.model_fields


def allowed_values(tool: str, field: str) -> tuple[Any, ...]:
    """The ``Literal`` values of ``tool``'s ``field``, in the model's order; ``()`` when the field
    takes free values (or the tool or field does not exist)."""
    model = input_model(tool)
    if model is None or field not in model.model_fields:
        return ()
    return tuple(literals(model.model_fields[field].annotation))


def field_default(tool: str, field: str, fallback: Any = None) -> Any:
    """The model's default for ``field`` (``fallback`` when it has none or it is ``None``)."""
    model = input_model(tool)
    if model is None or field not in model.model_fields:
        return fallback
    d = model.model_fields[field].default
    return fallback if d is None or type(d).__name__ == "PydanticUndefinedType" else d
