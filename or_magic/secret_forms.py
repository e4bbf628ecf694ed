"""The encoded forms of a secret, and one compiled matcher over all of them.

A hostile upstream (or a model told to "repeat the header") rarely has to echo the key verbatim
to leak it: base64 (inside a data URL or a longer blob), percent-encoding, JSON ``\\u`` escapes and
hex all carry it past an exact search. ``SecretMatcher`` finds every one of these forms of every
known secret with one compiled regex alternation; the forms are computed once per secret
(``forms_of`` is cached) and the matcher once per set of secrets (``matcher_for``).

Only *whole* encodings are matched, never fragments, so normal text is not touched:

* *escaped*: each character of the secret as itself, ``%XX`` (its UTF-8 bytes, either hex case),
  ``\\xXX`` or ``\\uXXXX`` (JSON; a surrogate pair above the BMP), an HTML character reference
  (``&#115;``, ``&#x73;``, ``&amp;``...), or ``\\`` + itself for ASCII punctuation (JSON's
  ``\\" \\\\ \\/``, Markdown's ``\\-``: a notebook renders these two as the key), in any mix:
  ``%73%6B…``, ``\\u0073\\u006b…``, ``sk\\u002dor\\u002dv1…`` and ``sk&#45;or&#45;v1…`` all match;
* *hex*: the UTF-8 bytes as two hex digits each, either case;
* *base64*: inside a longer base64 string the key's characters depend on where its bytes fall
  in the 3-byte groups, so each of the three alignments gives its own *stable core*: the run of
  base64 characters that depend on the key's bits only (at least 90% of the key for the 16+
  character secrets this applies to). Standard and URL-safe alphabets (``+``/``/`` also
  percent-encoded or JSON-escaped), with MIME line breaks (``\\n``, ``\\r\\n``, or their JSON
  escapes) allowed between characters.

Secrets shorter than ``MIN_ENCODED`` get their exact form only: the encoding of a short string is
short enough to occur in ordinary text or base64 by chance.

``SecretMatcher.partial_start`` serves streams: where the earliest suffix of a buffer starts that
could still grow into a match, so a caller holds it back until the next delta settles it.
"""

from __future__ import annotations

import base64
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

MIN_ENCODED = 16
"""Shortest secret whose encoded forms are matched (shorter ones: the exact form only)."""

# backslash + c: JSON's escapes of " \ / and Markdown's of any ASCII punctuation (a notebook
# renders it as c itself, so sk\-or\-... shows the key)
_BACKSLASHED = frozenset(string.punctuation)
_HTML_NAMED = {"&": ("&amp;",), "<": ("&lt;",), ">": ("&gt;",), '"': ("&quot;",), "'": ("&apos;",)}
_B64_SEPS = ("\n", "\r\n", "\\n", "\\r\\n")  # MIME line breaks, raw or JSON-escaped
_HEAD = 3  # characters of a candidate checked against every possible start (``heads``)


@dataclass(frozen=True)
class Form:
    """One way a secret can appear: per position, the strings it may take, in order.

    ``seps`` are strings allowed (at most once) between two positions (base64 line breaks).
    """

    tokens: tuple[tuple[str, ...], ...]
    seps: tuple[str, ...] = ()

    @property
    def max_len(self) -> int:
        longest_sep = max((len(s) for s in self.seps), default=0)
        return sum(max(map(len, t)) for t in self.tokens) + longest_sep * (len(self.tokens) - 1)

    def branches(self) -> list[str]:
        """This form as regex alternatives that each start with a literal character.

        One branch per first character, so the whole alternation starts with literals and the
        regex engine skips, in C, every position whose character cannot start any form.
        """
        rest = "".join(self._sep_then(_alternation(alts)) for alts in self.tokens[1:])
        firsts: dict[str, list[str]] = {}
        for alt in self.tokens[0]:
            firsts.setdefault(alt[0], []).append(alt[1:])
        return [re.escape(c) + _alternation(tails) + rest for c, tails in firsts.items()]

    def _sep_then(self, piece: str) -> str:
        if not self.seps:
            return piece
        return _optional(_alternation(list(self.seps))) + piece

    def heads(self, n: int) -> set[str]:
        """The first ``n`` characters of every match (whole matches when shorter)."""
        out: set[str] = set()
        last = len(self.tokens) - 1

        def walk(i: int, acc: str) -> None:
            if len(acc) >= n or i > last:
                out.add(acc[:n])
                return
            for alt in self.tokens[i]:
                walk(i + 1, acc + alt)
                if i < last:
                    for sep in self.seps:
                        walk(i + 1, acc + alt + sep)

        walk(0, "")
        return out

    def prefix_pattern(self) -> str:
        """A regex for every proper prefix of a match of this form (what a stream must hold back).

        Followed by ``\\Z`` it finds, in C, the earliest held-back tail a stream must keep; built
        from the last position backwards: after position ``i`` the text may end, end inside
        position ``i``, or go on (through a separator) into the prefixes of what follows.
        """
        seps = _alternation(list(self.seps)) if self.seps else ""
        sep_parts = _alternation(_proper_prefixes(self.seps)) if self.seps else ""
        tail = ""  # prefixes of tokens[i+1:] (none past the last position: that is a whole match)
        for i in range(len(self.tokens) - 1, -1, -1):
            alts = self.tokens[i]
            options = []
            if i < len(self.tokens) - 1:  # a whole last position would complete the form
                after = tail
                if seps:
                    # ``tail`` once per position (twice would double the pattern at each one)
                    after = (
                        f"(?:(?:{seps})?{tail}|{sep_parts})" if sep_parts else f"(?:{seps})?{tail}"
                    )
                options.append(_alternation(alts) + after)
            parts = _proper_prefixes(alts)
            if parts:
                options.append(_alternation(parts))
            tail = "(?:" + "|".join([*options, ""]) + ")"
        return tail


def _proper_prefixes(alts: Iterable[str]) -> list[str]:
    """The non-empty proper prefixes of ``alts`` (``"%7"`` of ``"%73"``), longest first."""
    out = {a[:k] for a in alts for k in range(1, len(a))}
    return sorted(out, key=len, reverse=True)


def _optional(piece: str) -> str:
    return f"(?:{piece})?" if piece else ""


def _alternation(alts: list[str] | tuple[str, ...]) -> str:
    """A regex matching exactly one of ``alts``, factored by common first characters (a trie:
    ``%6b|%6B`` becomes ``%6[bB]``), so each position costs one or two character tests."""
    alts = sorted(set(alts))
    if alts == [""]:
        return ""
    if len(alts) == 1:
        return re.escape(alts[0])
    optional = "" in alts
    nonempty = [a for a in alts if a]
    if all(len(a) == 1 for a in nonempty):
        body = "[" + "".join(re.escape(a) for a in nonempty) + "]"
        return body + "?" if optional else body
    groups: dict[str, list[str]] = {}
    for a in nonempty:
        groups.setdefault(a[0], []).append(a[1:])
    # longer tails first inside each group (a sorted trie already prefers the longer escape)
    body = "|".join(re.escape(c) + _alternation(t) for c, t in groups.items())
    if len(groups) == 1 and not optional:
        return body  # a chain (``\\u006``): no group needed
    return f"(?:{body})?" if optional else f"(?:{body})"


def _hex_cases(prefix: str, raw: bytes) -> tuple[str, ...]:
    """``raw`` as ``prefix`` + two hex digits per byte, lower and upper case (``%6b``, ``%6B``)."""
    low = "".join(f"{prefix}{b:02x}" for b in raw)
    up = "".join(f"{prefix}{b:02X}" for b in raw)
    return tuple(dict.fromkeys((low, up)))


def _escaped_alternatives(c: str) -> tuple[str, ...]:
    raw = c.encode("utf-8")
    alts = [c, *_hex_cases("%", raw), *_hex_cases("\\x", raw)]
    b = c.encode("utf-16-be")  # JSON escapes UTF-16 code units: a surrogate pair above the BMP
    units = [int.from_bytes(b[i : i + 2], "big") for i in range(0, len(b), 2)]
    alts += ["".join(f"\\u{u:04x}" for u in units), "".join(f"\\u{u:04X}" for u in units)]
    if c in _BACKSLASHED:
        alts.append("\\" + c)
    # HTML character references: a notebook renders a result as Markdown, where they show as c
    n = ord(c)
    alts += [f"&#{n};", f"&#x{n:x};", f"&#x{n:X};", f"&#X{n:x};", f"&#X{n:X};"]
    alts += _HTML_NAMED.get(c, ())
    return tuple(dict.fromkeys(alts))


def _escaped(secret: str) -> Form:
    return Form(tuple(_escaped_alternatives(c) for c in secret))


def _hex(secret: str) -> Form:
    return Form(tuple(_hex_cases("", bytes([b])) for b in secret.encode("utf-8")))


def base64_cores(raw: bytes) -> list[str]:
    """The standard-alphabet base64 characters that depend on ``raw`` only, at each of the three
    alignments of its first byte in a 3-byte group (offsets 0, 1, 2)."""
    cores = []
    for offset in range(3):
        enc = base64.b64encode(b"\0" * offset + raw + b"\0\0").decode("ascii")
        first = -(-8 * offset // 6)  # first character whose 6 bits all come from raw
        end = 8 * (offset + len(raw)) // 6  # one past the last such character
        cores.append(enc[first:end])
    return cores


# The two characters the alphabets disagree on, as they appear: URL-safe, percent-encoded (a
# data URL inside a query string), JSON-escaped.
_B64_SPECIAL = {"+": ("+", "-", "%2B", "%2b"), "/": ("/", "_", "%2F", "%2f", "\\/")}


def _base64(secret: str) -> list[Form]:
    forms = []
    for core in base64_cores(secret.encode("utf-8")):
        tokens = tuple(_B64_SPECIAL.get(c, (c,)) for c in core)
        forms.append(Form(tokens, _B64_SEPS))
    return forms


@lru_cache(maxsize=256)
def forms_of(secret: str) -> tuple[Form, ...]:
    """Every form of ``secret`` that is matched: exact only when short, else escaped (which
    includes exact), hex and the three base64 cores."""
    if len(secret) < MIN_ENCODED:
        return (Form(tuple((c,) for c in secret)),)
    return (_escaped(secret), _hex(secret), *_base64(secret))


class SecretMatcher:
    """All forms of a set of secrets: ``sub`` replaces them, ``partial_start`` serves streams.

    ``Bearer <secret>`` is matched whole too (its exact form: every encoding of it contains an
    encoding of the secret itself), so a reflected header becomes one ``[REDACTED]``.
    """

    def __init__(self, secrets: tuple[str, ...]) -> None:
        ordered = sorted({s for s in secrets if s}, key=len, reverse=True)
        forms: list[Form] = [Form(tuple((c,) for c in "Bearer " + s)) for s in ordered]
        for s in ordered:
            forms.extend(forms_of(s))
        self.forms = forms
        branches = [b for f in forms for b in f.branches()]
        self._re = re.compile("|".join(branches)) if branches else None
        self.max_len = max((f.max_len for f in forms), default=0)
        starts: dict[str, list[Form]] = {}
        for f in forms:
            for alt in f.tokens[0]:
                starts.setdefault(alt[0], []).append(f)
        self._starts = {c: tuple(dict.fromkeys(fs)) for c, fs in starts.items()}
        # Per first character, the proper prefixes of every form that can start with it, up to
        # the end of the text: one C match per candidate position, whatever the forms' length.
        # Compiled when a stream first needs that character (``sub`` alone never does).
        self._tails: dict[str, re.Pattern[str]] = {}  # built on first use (streams only)
        chars = "".join(re.escape(c) for c in sorted(starts))
        self._first = re.compile(f"[{chars}]") if chars else None
        # Every string of _HEAD characters a match can start with: a cheap test that turns
        # away most candidate positions (an "s" in ordinary text) before the exact one.
        self._heads = {h for f in forms for h in f.heads(_HEAD)}

    def sub(self, text: str, replacement: str = "[REDACTED]") -> str:
        """``text`` with every form replaced (the same object when nothing matched)."""
        if self._re is None:
            return text
        return self._re.sub(replacement, text)

    def partial_start(self, buf: str) -> int:
        """Index where the earliest suffix of ``buf`` that could still grow into a match begins
        (``len(buf)`` when none can): everything before it is safe to release."""
        if self._first is None:
            return len(buf)
        for hit in self._first.finditer(buf, max(0, len(buf) - self.max_len + 1)):
            p = hit.start()
            if len(buf) - p >= _HEAD and buf[p : p + _HEAD] not in self._heads:
                continue
            if self._tail_for(buf[p]).match(buf, p) is not None:
                return p
        return len(buf)

    def _tail_for(self, c: str) -> re.Pattern[str]:
        tail = self._tails.get(c)
        if tail is None:  # two threads may both compile it: the same pattern either way
            alts = "|".join(f.prefix_pattern() for f in self._starts[c])
            tail = self._tails[c] = re.compile(f"(?:{alts})\\Z")
        return tail


def matcher_for(secrets: Iterable[str]) -> SecretMatcher:
    """The cached matcher for ``secrets``, built once per set and reused by every call.

    ``Bearer <s>`` entries for an ``s`` of the set (``redact.known_secrets`` lists them) are
    dropped first: the matcher covers them, and ``redact`` and ``scrub`` then share one matcher.
    """
    base = {s for s in secrets if s}
    base -= {f"Bearer {s}" for s in base}
    return _matcher(tuple(sorted(base)))


@lru_cache(maxsize=64)
def _matcher(secrets: tuple[str, ...]) -> SecretMatcher:
    return SecretMatcher(secrets)
