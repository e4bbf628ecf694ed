"""Settings from the environment, validated once per distinct environment.

``get_settings()`` is called on every tool call, so it re-parses only when a relevant variable,
the key override or the working directory changed. The pieces, each in its module:

- ``settings``: the ``Settings`` dataclass, every variable declared with its field (``ENV_VARS``,
  the README's table), the default model ids;
- ``parsing``: one variable's text to its typed value (a malformed one is a ``ConfigError``);
- ``secret``: ``Secret`` (a key that never shows itself) and ``check_secret``;
- ``roots``: the sandbox root when no ``OPENROUTER_OUTPUT_DIR`` / ``OPENROUTER_INPUT_DIR`` is set;
- here: ``load_settings`` and the process-wide state, the settings cache and the key set at run
  time (``set_api_key``), which ``load_settings`` and the cache both read.

Import every name from ``or_magic.config``: the modules are its layout, not its interface.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from .parsing import FALSE_WORDS, TRUE_WORDS, env_values, parse_value
from .roots import default_root, unsuitable_cwd, user_data_root
from .secret import Secret, check_secret
from .settings import (
    DEFAULT_AUDIO_GEN_MODEL,
    DEFAULT_AUDIO_MODEL,
    DEFAULT_BASE_URL,
    DEFAULT_CHAT_MODEL,
    DEFAULT_EMBED_MODEL,
    DEFAULT_IMAGE_GEN_MODEL,
    DEFAULT_REFERER,
    DEFAULT_RERANK_MODEL,
    DEFAULT_STT_MODEL,
    DEFAULT_TITLE,
    DEFAULT_TTS_MODEL,
    DEFAULT_VIDEO_GEN_MODEL,
    DEFAULT_VIDEO_MODEL,
    DEFAULT_VISION_MODEL,
    ENV_VARS,
    LOG_LEVELS,
    PROVIDER_SORTS,
    EnvVar,
    MiB,
    Settings,
    env_table_markdown,
)

__all__ = [
    "DEFAULT_AUDIO_GEN_MODEL",
    "DEFAULT_AUDIO_MODEL",
    "DEFAULT_BASE_URL",
    "DEFAULT_CHAT_MODEL",
    "DEFAULT_EMBED_MODEL",
    "DEFAULT_IMAGE_GEN_MODEL",
    "DEFAULT_REFERER",
    "DEFAULT_RERANK_MODEL",
    "DEFAULT_STT_MODEL",
    "DEFAULT_TITLE",
    "DEFAULT_TTS_MODEL",
    "DEFAULT_VIDEO_GEN_MODEL",
    "DEFAULT_VIDEO_MODEL",
    "DEFAULT_VISION_MODEL",
    "ENV_VARS",
    "FALSE_WORDS",
    "LOG_LEVELS",
    "PROVIDER_SORTS",
    "TRUE_WORDS",
    "EnvVar",
    "MiB",
    "Secret",
    "Settings",
    "check_secret",
    "default_root",
    "env_table_markdown",
    "env_values",
    "get_settings",
    "load_settings",
    "parse_value",
    "set_api_key",
    "unsuitable_cwd",
    "user_data_root",
]


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build ``Settings`` from ``env`` (default ``os.environ``). Raises ``ConfigError``."""
    env = os.environ if env is None else env
    values = env_values(env)
    if _KEY_OVERRIDE is not None:
        values["api_key"] = _KEY_OVERRIDE
    elif "api_key" not in values and env is os.environ:  # last: the OS keyring, when installed
        from ..keyring_store import get_key

        stored = get_key()
        if stored:
            from ..redact import register_secret

            register_secret(stored)
            values["api_key"] = Secret(stored)
    valid = {f.name for f in fields(Settings)}
    kept = {k: v for k, v in values.items() if k in valid}
    return Settings(**kept, explicit=frozenset(kept))


# ---- process-wide cache and runtime overrides ----------------------------------------------------

_KEY_OVERRIDE: Secret | None = None
_KEY_GENERATION = 0  # bumped when the key changes anywhere (keyring saved or cleared)
_cache_lock = threading.Lock()
_cache: tuple[tuple, Settings] | None = None
_NAMES = tuple({n for v in ENV_VARS for n in (v.name, *v.aliases)})


# ``os.environ`` keeps its raw (bytes on POSIX) mapping in ``_data``; reading that skips the
# per-name encode/decode of ``os.environ.get``, which made this snapshot the largest part of a
# warm, cheap tool call (61 names).
_RAW_ENV: Any = getattr(os.environ, "_data", None)
_RAW_NAMES = (
    tuple(
        os.environ.encodekey(n)
        for n in _NAMES  # type: ignore[attr-defined]
    )
    if _RAW_ENV is not None and hasattr(os.environ, "encodekey")
    else ()
)


def _snapshot() -> tuple:
    raw = _RAW_ENV
    if _RAW_NAMES and raw is os.environ._data:  # type: ignore[attr-defined]
        values = tuple(map(raw.get, _RAW_NAMES))
    else:
        env = os.environ
        values = tuple(env.get(n) for n in _NAMES)
    return (values, id(_KEY_OVERRIDE), _KEY_GENERATION, os.getcwd())


def get_settings() -> Settings:
    """Current settings; re-parsed only when a relevant variable changed (cheap to call often)."""
    global _cache
    snap = _snapshot()
    cached = _cache
    if cached is not None and cached[0] == snap:
        return cached[1]
    with _cache_lock:
        settings = load_settings()
        _cache = (snap, settings)
        return settings


def set_api_key(key: str | None, *, source: str = "set_api_key") -> None:
    """Use ``key`` for this process only (``%openrouter key``); ``None`` clears it.

    A malformed key raises ``ConfigError`` naming ``source`` (the setter the user called).
    """
    global _KEY_OVERRIDE, _KEY_GENERATION
    _KEY_GENERATION += 1
    if key is not None:
        key = key.strip()
        if not key:
            key = None
        else:
            check_secret(source, key)
    _KEY_OVERRIDE = Secret(key) if key else None
    if key:
        from ..redact import register_secret

        register_secret(key)
