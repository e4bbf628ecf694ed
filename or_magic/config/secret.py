"""API keys and tokens as values: ``Secret`` hides itself, ``check_secret`` refuses what no HTTP
header can carry, with a message that says where the bad character is and never what the key is."""

from __future__ import annotations

from ..errors import ConfigError


class Secret:
    """A string that never shows itself in repr/str/format."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self):  # never pickle a key into a file by accident
        raise TypeError("Secret values cannot be pickled")


def check_secret(variable: str, value: str) -> str:
    """``value`` if it can travel in an HTTP header; else a ``ConfigError`` naming ``variable``.

    A key with non-ASCII letters (a pasted typographic dash), whitespace or control characters
    inside would otherwise fail deep in the HTTP layer as INTERNAL. The message says where, never
    what: the value is a secret.
    """
    for i, ch in enumerate(value):
        if not 0x21 <= ord(ch) <= 0x7E:
            what = (
                "a non-ASCII character"
                if ord(ch) > 0x7E
                else "whitespace"
                if ch.isspace()
                else "a control character"
            )
            raise ConfigError(
                variable,
                f"contains {what} at position {i + 1} of {len(value)}; a key is printable "
                "ASCII without spaces (re-copy it from https://openrouter.ai/settings/keys)",
            )
    return value
