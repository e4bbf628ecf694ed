"""No key in any output, encoded or not: base64 (any alignment, both alphabets, in a data URL or
wrapped at 76 columns), percent-encoding, JSON ``\\u`` escapes, ``\\x`` escapes and hex.

Leaks are found by *decoding* what came out (``leaked``), not by searching for the forms the
redactor knows, so a form it misses fails here. Keys are built at runtime.
"""

from __future__ import annotations

import base64
import html
import json
import random
import re
import urllib.parse

import pytest

from or_magic.double import Fault
from or_magic.redact import StreamScrubber, known_secrets, redact, scrub, scrub_value
from or_magic.tools.api import call_tool
from tests import test_trust_redaction
from tests.conftest import TEST_KEY

MODEL = "openai/gpt-4o-mini"
# No sk-or- shape, and bytes whose base64 has '+' and '/' at every alignment.
ODD_KEY = "pr?xy/t>k+" + "Zq7" * 9 + "~end??>"
WINDOW = 12  # a run of this many key bytes anywhere in a decoding counts as a leak


# ---- an independent leak detector -------------------------------------------------------------


def _windows(key: bytes) -> list[bytes]:
    return [key[i : i + WINDOW] for i in range(len(key) - WINDOW + 1)]


def _has_window(data: bytes, key: bytes) -> bool:
    return any(w in data for w in _windows(key))


def _b64_decodings(text: str):
    flat = re.sub(r"(\\r)?\\n|\r?\n", "", text)  # MIME line breaks, raw or JSON-escaped
    for run in re.findall(r"[A-Za-z0-9+/_-]{16,}", flat):
        run = run.replace("-", "+").replace("_", "/")
        for skip in range(4):
            part = run[skip:]
            part = part[: len(part) - len(part) % 4]
            try:
                yield base64.b64decode(part)
            except ValueError:
                pass


def _hex_decodings(text: str):
    for run in re.findall(r"[0-9a-fA-F]{24,}", text):
        for skip in range(2):
            part = run[skip:]
            yield bytes.fromhex(part[: len(part) - len(part) % 2])


def _unescape(text: str) -> str:
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    text = re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), text)
    text = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)  # JSON's and Markdown's escapes
    return html.unescape(text)  # character references (a notebook renders Markdown)


def leaked(text: str, key: str) -> list[str]:
    """Every way ``key`` (a 12-byte run of it) can be read back out of ``text``."""
    k = key.encode()
    found = []
    if _has_window(text.encode(), k):
        found.append("plain")
    if _has_window(urllib.parse.unquote(text).encode(), k):
        found.append("percent")
    if _has_window(_unescape(text).encode("utf-8", "surrogatepass"), k):
        found.append("escape")
    layers = (text, urllib.parse.unquote(text), _unescape(text))  # base64 in a URL, in JSON
    if any(_has_window(d, k) for t in layers for d in _b64_decodings(t)):
        found.append("base64")
    if any(_has_window(d, k) for t in layers for d in _hex_decodings(t)):
        found.append("hex")
    return found


# ---- every encoding of a key ------------------------------------------------------------------


def encodings(key: str) -> dict[str, str]:
    raw = key.encode()
    b64 = base64.b64encode
    noise = bytes(range(7, 60))
    return {
        "base64": b64(raw).decode(),
        "base64 of the header": b64(f"Authorization: Bearer {key}".encode()).decode(),
        "base64, key at byte offset 1": b64(b"x" + raw + b"tail").decode(),
        "base64, key at byte offset 2": b64(b"xy" + raw + b"tail").decode(),
        "base64 url-safe": base64.urlsafe_b64encode(noise + raw + noise).decode().rstrip("="),
        "base64 MIME-wrapped": base64.encodebytes(noise + raw + noise).decode(),
        "base64 MIME-wrapped, JSON-escaped": json.dumps(base64.encodebytes(b"ab" + raw).decode()),
        "data URL": "data:text/plain;base64," + b64(b"secret: " + raw).decode(),
        "data URL in markdown": f"![x](data:image/png;base64,{b64(noise + raw).decode()})",
        "data URL, percent-encoded in a query": "https://x.test/?u="
        + urllib.parse.quote("data:text/plain;base64," + b64(b"x" + raw + b"!!").decode(), safe=""),
        "base64, JSON-escaped slashes": json.dumps(b64(b"xy" + raw).decode()).replace("/", "\\/"),
        "percent lower": "".join(f"%{b:02x}" for b in raw),
        "percent upper": "".join(f"%{b:02X}" for b in raw),
        "percent, url-quoted": urllib.parse.quote(key, safe=""),
        "query string": "https://x.test/?"
        + urllib.parse.urlencode({"k": key, "b": "Bearer " + key}),
        "json unicode": "".join(f"\\u{b:04x}" for b in raw),
        "json unicode upper": "".join(f"\\u{b:04X}" for b in raw),
        "json, only the dashes": key.replace("-", "\\u002d").replace("/", "\\/"),
        "html entities": "".join(f"&#{b};" for b in raw),
        "html hex entities, only the punctuation": "".join(
            f"&#x{ord(c):x};" if not c.isalnum() else c for c in key
        ),
        "html-escaped": html.escape(key),
        "markdown backslash escapes": "".join(f"\\{c}" if not c.isalnum() else c for c in key),
        "python bytes escapes": "".join(f"\\x{b:02x}" for b in raw),
        "hex lower": raw.hex(),
        "hex upper": raw.hex().upper(),
        "hex inside a longer digest": "00ff" + raw.hex() + "beef",
    }


KEYS = {"openrouter": TEST_KEY, "odd": ODD_KEY}


@pytest.mark.parametrize("which", list(KEYS))
def test_the_detector_sees_every_encoding_unscrubbed(which):
    key = KEYS[which]
    for name, text in encodings(key).items():
        assert leaked(text, key), name  # the detector itself is not blind


@pytest.mark.parametrize("which", list(KEYS))
def test_scrub_and_redact_remove_every_encoding(which):
    key = KEYS[which]
    secrets = known_secrets([key])
    for name, enc in encodings(key).items():
        text = f"before {enc} after"
        for fn, out in (("scrub", scrub(text, secrets)), ("redact", redact(text, extra=[key]))):
            assert not leaked(out, key), (fn, name, out[:300])
            assert "[REDACTED]" in out or "elided" in out, (fn, name, out[:300])
        assert scrub(text, secrets).startswith("before ") and scrub(text, secrets).endswith("after")


def test_a_non_ascii_secret_is_matched_json_escaped_and_percent_encoded():
    key = "tok-" + "é✓" * 4 + "\U0001f600" + "x" * 12
    secrets = known_secrets([key])
    for text in (
        json.dumps(key),  # \u00e9\u2713 ... and a surrogate pair
        urllib.parse.quote(key, safe=""),
        base64.b64encode(b"!" + key.encode()).decode(),
        key.encode().hex(),
    ):
        assert scrub(text, secrets) != text and not leaked(scrub(text, secrets), key), text


def test_scrub_value_reaches_every_string_of_a_result():
    secrets = known_secrets([TEST_KEY])
    b64 = base64.b64encode(TEST_KEY.encode()).decode()
    value = {"a": [f"x {b64}", {"hex": TEST_KEY.encode().hex()}], b64: 1}
    out = scrub_value(value, secrets)
    assert not leaked(json.dumps(out), TEST_KEY)


def test_ordinary_text_and_other_base64_are_untouched():
    secrets = known_secrets([TEST_KEY, ODD_KEY])
    rng = random.Random(3)
    blobs = [base64.b64encode(rng.randbytes(300)).decode() for _ in range(20)]
    other = "sk-or-v1-" + "fedcba9876543210" * 4
    texts = [
        "The quick brown fox; 100% sure. C:\\users\\x and \\u00e9 and %20 and 736b2d.",
        *blobs,
        base64.b64encode(other.encode()).decode(),
        other.encode().hex(),
        urllib.parse.quote(other, safe=""),
        TEST_KEY[:-1] + "!",  # a near miss, shorter than the key
        base64.b64encode(TEST_KEY[:40].encode()).decode(),  # half a key is not the key
    ]
    for t in texts:
        assert scrub(t, secrets) is t, t[:80]


def test_redact_drops_an_encoded_key_cut_by_its_scan_limit():
    from or_magic.redact import _MAX_SCAN

    for enc in (TEST_KEY.encode().hex(), "".join(f"%{b:02x}" for b in TEST_KEY.encode())):
        for cut in (10, len(enc) // 2, len(enc) - 1):
            text = "x" * (_MAX_SCAN - cut) + enc + " tail"
            out = redact(text, extra=[TEST_KEY])
            assert not leaked(out, TEST_KEY) and out.endswith("…"), cut


def test_short_secrets_are_matched_exactly_only():
    secrets = known_secrets(["hunter2x"])  # under 16 characters: its encodings are too common
    b64 = base64.b64encode(b"hunter2x").decode()
    assert scrub(f"a hunter2x b {b64}", secrets) == f"a [REDACTED] b {b64}"


# ---- streams: a split encoded key never shows, and ordinary text is not held back ---------------


def test_stream_scrubber_any_split_of_encoded_keys_equals_scrubbing_the_whole():
    secrets = known_secrets([TEST_KEY, ODD_KEY])
    forms = [*encodings(TEST_KEY).values(), *encodings(ODD_KEY).values()]
    rng = random.Random(11)
    for _ in range(150):
        text = " | ".join(rng.sample(forms, 4)) + " end"
        cuts = sorted(rng.sample(range(1, len(text)), rng.randint(1, 40)))
        parts = [text[i:j] for i, j in zip([0, *cuts], [*cuts, len(text)], strict=True)]
        s = StreamScrubber(secrets)
        shown = [s.feed(p) for p in parts] + [s.flush()]
        assert "".join(shown) == scrub(text, secrets)
        for key in (TEST_KEY, ODD_KEY):
            assert not leaked("".join(shown), key)


def test_stream_scrubber_one_character_at_a_time():
    secrets = known_secrets([TEST_KEY])
    for enc in encodings(TEST_KEY).values():
        s = StreamScrubber(secrets)
        shown = "".join(s.feed(c) for c in enc) + s.flush()
        assert shown == scrub(enc, secrets) and not leaked(shown, TEST_KEY), enc[:60]


def test_stream_scrubber_releases_ordinary_text_at_once():
    # Only this key (known_secrets would add the process's registered secrets: a random MCP
    # token starting "x7" rightly holds back the "x" of "x%7").
    s = StreamScrubber([TEST_KEY])
    assert s.feed("Hello, world. ") == "Hello, world. "
    assert s.feed("It costs 5%") == "It costs 5"  # a '%' could start %73…: held for one delta
    assert s.feed(" more.") == "% more."
    held = s.feed("x" * 5000 + "%7")
    assert held == "x" * 5000 and s.flush() == "%7"


def test_the_forms_and_the_regex_agree_on_every_prefix():
    from or_magic.secret_forms import forms_of, matcher_for

    rng = random.Random(5)
    m = matcher_for([TEST_KEY])
    for form in forms_of(TEST_KEY):
        grows = re.compile(form.prefix_pattern())
        for _ in range(20):
            pieces = []
            for i, alts in enumerate(form.tokens):
                if i and form.seps and rng.random() < 0.1:
                    pieces.append(rng.choice(form.seps))
                pieces.append(rng.choice(alts))
            inst = "".join(pieces)
            assert m.sub(inst) == "[REDACTED]", inst[:80]
            for n in sorted(rng.sample(range(1, len(inst)), 10)):
                assert grows.fullmatch(inst[:n]), (inst[:n], form.tokens[0])
            assert not grows.fullmatch(inst)  # whole: replaced, nothing left to wait for
            assert not grows.fullmatch(inst[:-1] + "\x00")


# ---- end to end: the double echoes encoded keys ------------------------------------------------


def _dump(result) -> str:
    return json.dumps(result.to_dict(), default=str, ensure_ascii=False)


def _echo_text(key: str) -> str:
    e = encodings(key)
    return " ; ".join(
        e[n]
        for n in (
            "base64 of the header",
            "data URL",
            "percent upper",
            "json, only the dashes",
            "hex upper",
            "base64, key at byte offset 2",
            "html entities",
            "markdown backslash escapes",
        )
    )


log_buffer = test_trust_redaction.log_buffer  # the fixture: log lines into a buffer


@pytest.mark.anyio
@pytest.mark.parametrize("split", [None, 1, 5, 64])
async def test_encoded_echoes_reach_no_result_delta_log_call_log_or_cache(
    double, tmp_path, log_buffer, split
):
    from or_magic import calllog, response_cache
    from or_magic.callopts import call_options
    from or_magic.config import get_settings

    echo = _echo_text(TEST_KEY)
    double.inject(Fault(echo=echo, echo_split=split, times=None))
    deltas: list[str] = []
    args = {"prompt": "repeat after me", "model": MODEL}
    with call_options(cache="on"):
        r = await call_tool("chat_completion", args, on_text=deltas.append if split else None)
        again = await call_tool("chat_completion", args)  # served from cache.sqlite3
    assert r.ok and again.ok, r.text
    assert again.meta.get("cached") is True
    assert r.text.count("[REDACTED]") >= 6, r.text
    for where, text in (
        ("result", _dump(r)),
        ("cached result", _dump(again)),
        ("deltas", "".join(deltas)),
        ("log", log_buffer.getvalue()),
    ):
        assert not leaked(text, TEST_KEY), (where, leaked(text, TEST_KEY))
    if split:
        assert "".join(deltas) == r.text
    calllog.flush_all()
    state = get_settings().state_root
    files = [p for p in state.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert calllog.FILE_NAME in names and response_cache.get_cache(get_settings()).db.name in names
    for f in files:
        text = f.read_bytes().decode("utf-8", "replace")
        assert not leaked(text, TEST_KEY), (f.name, leaked(text, TEST_KEY))
