"""Strict validation of a JSON body against one of the official SDK's pydantic models.

The SDK's models ignore unknown fields and accept any string for an "open" enum (Speakeasy's
``UnrecognizedStr`` fallback), so ``model_validate`` alone proves little. ``problems()`` validates
first, then walks the dict alongside the validated instance: pydantic has already chosen the union
branch (discriminated or smart mode), so at every nested model the dict's keys must be fields of
*that* model (by alias or name), and no value may have fallen back to ``UnrecognizedStr``.
Anything else is reported, unless its dotted path is on the caller's allowlist.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openrouter.types.basemodel import UnrecognizedStr, Unset
from pydantic import BaseModel, TypeAdapter, ValidationError


def _field_keys(cls: type[BaseModel]) -> dict[str, str]:
    """Wire key → attribute name for every field of ``cls`` (alias and name both accepted)."""
    out: dict[str, str] = {}
    for name, f in cls.model_fields.items():
        out[name] = name
        for alias in (f.alias, f.validation_alias if isinstance(f.validation_alias, str) else None):
            if alias:
                out[alias] = name
    return out


def _norm(path: str) -> str:
    """``messages[3].content[0].cache_control`` → ``messages[].content[].cache_control``."""
    import re

    return re.sub(r"\[[^\]]*\]", "[]", path)


def problems(
    model: type[BaseModel], body: Any, *, allow: Iterable[str] = (), root: str = ""
) -> list[str]:
    """Every way ``body`` departs from ``model``: validation errors, unknown keys, open-enum misses.

    ``allow`` holds normalised dotted paths (``reasoning.max_tokens``, ``messages[].content[].x``)
    that are documented by OpenRouter but missing from the spec; a key on it is not reported (and
    not descended into).
    """
    allowed = set(allow)
    try:
        inst = model.model_validate(body)
    except ValidationError as e:
        return [
            f"{root}{'.'.join(map(str, err['loc']))}: {err['msg']} (input {err.get('input')!r:.80})"
            for err in e.errors()
        ]
    out: list[str] = []
    _walk(inst, body, root, allowed, out)
    return out


def _walk(inst: Any, raw: Any, path: str, allowed: set[str], out: list[str]) -> None:
    if isinstance(inst, BaseModel):
        if not isinstance(raw, dict):
            return  # built from a non-dict (e.g. a str coerced by a validator): nothing to compare
        keys = _field_keys(type(inst))
        for k, v in raw.items():
            sub = f"{path}.{k}" if path else k
            if _norm(sub) in allowed:
                continue
            name = keys.get(k)
            if name is None:
                if type(inst).model_config.get("extra") == "allow":
                    continue
                out.append(f"{sub}: not a field of {type(inst).__name__}")
                continue
            value = getattr(inst, name, None)
            if isinstance(value, Unset) and v is not None:
                # ``OptionalNullable[T]`` = ``T | None | Unset``; ``Unset`` (a model without
                # fields that ignores extras) swallows any dict that fails ``T``: say why.
                out.extend(_inner_errors(type(inst).model_fields[name].annotation, v, sub))
                continue
            _walk(value, v, sub, allowed, out)
        return
    if isinstance(inst, UnrecognizedStr):
        out.append(f"{path}: {str(inst)!r} is not one of the spec's values")
        return
    if isinstance(inst, (list, tuple)) and isinstance(raw, list) and len(inst) == len(raw):
        for i, (a, b) in enumerate(zip(inst, raw, strict=True)):
            _walk(a, b, f"{path}[{i}]", allowed, out)
        return
    if isinstance(inst, dict) and isinstance(raw, dict):
        for k, v in raw.items():
            if k in inst:
                _walk(inst[k], v, f"{path}[{k}]", allowed, out)


def _inner_errors(annotation: Any, raw: Any, path: str) -> list[str]:
    """Why ``raw`` fails the ``T`` of an ``OptionalNullable[T]`` field."""
    import typing

    args = [a for a in typing.get_args(annotation) if a is not Unset]
    for t in args or [annotation]:
        try:
            TypeAdapter(t).validate_python(raw)
        except ValidationError as e:
            return [
                f"{path}.{'.'.join(map(str, err['loc']))}: {err['msg']} "
                f"(input {err.get('input')!r:.80})"
                for err in e.errors()
            ]
        except Exception:  # an annotation TypeAdapter cannot build: report plainly
            break
    return [f"{path}: does not match the spec's type"]
