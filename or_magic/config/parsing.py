"""Environment text to typed values, one variable at a time.

Unlike the Node server, a malformed value is an error that names the variable (``ConfigError``)
instead of a silent fall-back, so a typo in ``OPENROUTER_VIDEO_MAX_WAIT_MS`` is caught at start-up.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .secret import Secret, check_secret
from .settings import ENV_VARS, EnvVar

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


def env_values(env: Mapping[str, str]) -> dict[str, Any]:
    """``Settings`` field -> parsed value, for every variable ``env`` sets to something other than
    blanks (the variable's own name first, then its aliases). Raises ``ConfigError``."""
    values: dict[str, Any] = {}
    for var in ENV_VARS:
        raw = env.get(var.name)
        if raw is None or not raw.strip():
            for alias in var.aliases:
                raw = env.get(alias)
                if raw is not None and raw.strip():
                    break
        if raw is None or not raw.strip():
            continue
        values[var.field] = parse_value(var, raw)
    return values


def parse_value(var: EnvVar, raw: str) -> Any:
    """The value of ``var`` from its raw text; a ``ConfigError`` naming the variable if malformed."""
    kind = var.kind
    s = raw.strip()
    if kind == "int":
        if not s.isdigit():
            bound = f" >= {var.min}" if var.min is not None else ""
            raise ConfigError(var.name, f"must be a whole number{bound}, got {raw!r}")
        n = int(s)
        if var.min is not None and n < var.min:
            raise ConfigError(var.name, f"must be >= {var.min}, got {n}")
        if var.max is not None and n > var.max:
            raise ConfigError(var.name, f"must be <= {var.max}, got {n}")
        return n
    if kind == "float":
        try:
            x = float(s)
        except ValueError:
            x = float("nan")
        if not (x >= 0 and x != float("inf")):
            raise ConfigError(var.name, f"must be a number >= 0, got {raw!r}")
        return x
    if kind == "bool":
        low = s.lower()
        if low in TRUE_WORDS:
            return True
        if low in FALSE_WORDS:
            return False
        raise ConfigError(var.name, f"must be one of 1/true/yes or 0/false/no, got {raw!r}")
    if kind == "choice":
        low = s.lower()
        assert var.choices is not None
        if low not in var.choices:
            raise ConfigError(
                var.name, f"must be one of {', '.join(sorted(var.choices))}, got {raw!r}"
            )
        return "warn" if low == "warning" else low
    if kind == "csv":
        return tuple(p.strip() for p in s.split(",") if p.strip())
    if kind == "order":
        if s.startswith("["):
            try:
                arr = json.loads(s)
            except ValueError as exc:
                raise ConfigError(var.name, f"is not a valid JSON array ({exc.msg})") from None
            if not isinstance(arr, list) or not all(isinstance(x, str) and x.strip() for x in arr):
                raise ConfigError(var.name, "must be a JSON array of non-empty strings")
            return tuple(x.strip() for x in arr)
        return tuple(p.strip() for p in s.split(",") if p.strip())
    if kind == "path":
        if "\x00" in s:
            raise ConfigError(var.name, "contains a NUL byte")
        return Path(s).expanduser()
    if kind == "url":
        from urllib.parse import urlsplit

        parts = urlsplit(s)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(var.name, f"must be an http(s) URL, got {raw!r}")
        return s.rstrip("/")
    if kind == "secret":
        from ..redact import register_secret

        register_secret(check_secret(var.name, s))  # log lines scrub it before any client exists
        return Secret(s)
    return s
