"""The API key in the OS keyring (``%openrouter key --save``), when the optional ``keyring``
package is installed.

Why: pasting the key into every new kernel is tedious, and writing it into the notebook or the
state directory would leak it (notebooks get shared, the state dir is plain files). The OS keyring
(macOS Keychain, Windows Credential Locker, Secret Service) is where such secrets belong.

Lookup order for the key (``config.load_settings``): ``%openrouter key`` / ``set_api_key`` for this
process, then ``OPENROUTER_API_KEY``, then the keyring. Without the package everything here is a
no-op; a keyring backend that fails is treated as "no key there" (never raised).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

SERVICE = "or_magic"
last_error: str | None = None  # why the last read failed (for debugging)
USERNAME = "OPENROUTER_API_KEY"


def _keyring() -> Any | None:
    """The ``keyring`` module, or None when it is not installed (imported only when asked)."""
    import sys

    if "keyring" not in sys.modules and importlib.util.find_spec("keyring") is None:
        return None
    try:
        return importlib.import_module("keyring")
    except Exception:
        return None


def available() -> bool:
    return _keyring() is not None


def get_key() -> str | None:
    kr = _keyring()
    if kr is None:
        return None
    try:
        value = kr.get_password(SERVICE, USERNAME)
    except Exception as exc:  # a locked or missing backend: as if nothing were stored
        # Not logged: the logger reads the settings, which are being built from this very call.
        global last_error
        last_error = type(exc).__name__
        return None
    return value.strip() if isinstance(value, str) and value.strip() else None


def save_key(key: str) -> None:
    """Store ``key``; raises ``RuntimeError`` with a readable reason when it cannot."""
    kr = _keyring()
    if kr is None:
        raise RuntimeError("the optional 'keyring' package is not installed (pip install keyring)")
    try:
        kr.set_password(SERVICE, USERNAME, key)
    except Exception as exc:
        raise RuntimeError(f"the OS keyring refused it ({type(exc).__name__})") from None


def delete_key() -> bool:
    """Remove the stored key; False when there was none (or no keyring)."""
    kr = _keyring()
    if kr is None:
        return False
    try:
        kr.delete_password(SERVICE, USERNAME)
    except Exception:  # keyring.errors.PasswordDeleteError: nothing stored
        return False
    return True
