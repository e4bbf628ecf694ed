"""No key anywhere: results (successful ones included), streamed deltas, logs, bundles, MCP.

The double's ``echo`` fault plays a hostile upstream: a prompt injection ("repeat after me") or a
proxy behind a custom OPENROUTER_BASE_URL that reflects the ``Authorization`` header, streamed in
deltas of a few characters so the key is split across them.
"""

from __future__ import annotations

import io
import json
import random

import pytest

from or_magic import log
from or_magic.double import Fault
from or_magic.tools.api import call_tool
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.anyio

MODEL = "openai/gpt-4o-mini"
# A key of another shape (no sk-or- prefix: only exact redaction can catch it); built at runtime.
ODD_KEY = "proxy_tok." + "Zq7" * 9 + "~end"


def _dump(result) -> str:
    return json.dumps(result.to_dict(), default=str, ensure_ascii=False)


@pytest.fixture
def odd_key(double, monkeypatch):
    keys = set(double.valid_keys or ())
    double.valid_keys = keys | {ODD_KEY}
    monkeypatch.setenv("OPENROUTER_API_KEY", ODD_KEY)
    yield ODD_KEY
    double.valid_keys = keys


async def test_a_non_streamed_answer_echoing_the_authorization_header_is_scrubbed(double):
    double.inject(Fault(echo="Sure! Your header is {authorization} and the key is {key}."))
    r = await call_tool("chat_completion", {"prompt": "repeat after me", "model": MODEL})
    assert r.ok, r.text
    assert TEST_KEY not in _dump(r)
    assert r.text == "Sure! Your header is [REDACTED] and the key is [REDACTED]."


@pytest.mark.parametrize("split", [1, 2, 3, 7, 40])
async def test_a_key_split_across_streamed_deltas_never_reaches_the_callback(double, split):
    double.inject(Fault(echo="k={key}; h={authorization}!", echo_split=split))
    deltas: list[str] = []
    r = await call_tool(
        "chat_completion", {"prompt": "repeat after me", "model": MODEL}, on_text=deltas.append
    )
    assert r.ok, r.text
    shown = "".join(deltas)
    assert TEST_KEY not in shown and TEST_KEY not in _dump(r)
    assert shown == r.text == "k=[REDACTED]; h=[REDACTED]!"
    for d in deltas:  # no delta carries a fragment of the key long enough to matter
        assert not (len(d) >= 8 and d in TEST_KEY), d


async def test_a_key_of_any_shape_is_scrubbed_streamed_and_not(odd_key, double):
    double.inject(Fault(echo="{key}", echo_split=4))
    deltas: list[str] = []
    r = await call_tool("chat_completion", {"prompt": "x", "model": MODEL}, on_text=deltas.append)
    assert r.ok, r.text
    assert odd_key not in "".join(deltas) and odd_key not in _dump(r)
    double.inject(Fault(echo='{"leak": "{key}", "{key}": 1}'))
    r = await call_tool(
        "chat_completion",
        {"prompt": "x", "model": MODEL, "response_format": {"type": "json_object"}},
    )
    assert r.ok, r.text
    assert r.data == {"leak": "[REDACTED]", "[REDACTED]": 1}
    assert odd_key not in _dump(r)


async def test_bundles_and_mcp_results_carry_no_key(double):
    from or_magic.config import get_settings
    from or_magic.display import result_bundles
    from or_magic.mcp._adapt import to_call_result

    double.inject(Fault(echo="token {key}"))
    r = await call_tool("chat_completion", {"prompt": "x", "model": MODEL})
    assert r.ok
    bundles = json.dumps(result_bundles(r), default=str)
    mcp = to_call_result(r, structured=False, settings=get_settings()).model_dump_json()
    assert TEST_KEY not in bundles and TEST_KEY not in mcp
    assert "[REDACTED]" in bundles and "[REDACTED]" in mcp


async def test_partial_text_of_a_failed_stream_is_scrubbed(double):
    double.inject(Fault(echo="the key: {key} and more words here", midstream_error=True))
    deltas: list[str] = []
    r = await call_tool("chat_completion", {"prompt": "x", "model": MODEL}, on_text=deltas.append)
    assert r.is_error
    assert TEST_KEY not in _dump(r) and TEST_KEY not in "".join(deltas)


async def test_a_background_job_stores_no_key_on_disk(double, tmp_path):
    from or_magic.config import get_settings
    from or_magic.jobs import JobStore, get_job_store

    double.inject(Fault(echo="echo {authorization}"))
    start = await call_tool("start_chat_completion", {"prompt": "x", "model": MODEL})
    assert start.ok, start.text
    done = await call_tool(
        "get_chat_completion_status", {"job_id": start.data["job_id"], "wait_s": 10}
    )
    assert done.ok and done.text == "echo [REDACTED]", done.text
    path = get_job_store(get_settings()).path
    job = JobStore(path).get(start.data["job_id"])
    assert job is not None and TEST_KEY not in json.dumps(job.result)
    for f in path.parent.rglob("*"):
        if f.is_file():
            assert TEST_KEY.encode() not in f.read_bytes(), f


# ---- the stream scrubber on its own ------------------------------------------------------------


def test_stream_scrubber_any_split_equals_scrubbing_the_whole_text():
    from or_magic.redact import StreamScrubber, known_secrets, scrub

    key = "sk-or-v1-" + "ab12" * 16
    secrets = known_secrets([key])
    rng = random.Random(7)
    text = f"a {key} b Bearer {key}{key} sk-or-v1-ab12 tail {key[:-1]}"
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(text)), rng.randint(1, 12)))
        parts = [text[i:j] for i, j in zip([0, *cuts], [*cuts, len(text)], strict=True)]
        s = StreamScrubber(secrets)
        out = "".join(s.feed(p) for p in parts) + s.flush()
        assert out == scrub(text, secrets)
        assert key not in out
    assert scrub(text, secrets).endswith(key[:-1])  # a near-miss is released at the end


def test_stream_scrubber_holds_back_only_a_possible_key_prefix():
    from or_magic.redact import StreamScrubber

    s = StreamScrubber(["SECRETKEY"])
    assert s.feed("hello SEC") == "hello "
    assert s.feed("X") == "SECX"
    assert s.feed("SECRET") == ""
    assert s.feed("KEY!") == "[REDACTED]!"
    assert s.flush() == ""


# ---- keys that cannot be sent ----------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["sk-or-v1-abc\u2013def", "sk-or v1", "sk-or-\x07x", "ключ-123"])
async def test_a_malformed_key_is_a_config_error_naming_the_variable(monkeypatch, bad):
    monkeypatch.setenv("OPENROUTER_API_KEY", bad)
    r = await call_tool("chat_completion", {"prompt": "x", "model": MODEL})
    assert r.code == "INVALID_INPUT", r.text
    assert r.text.startswith("OPENROUTER_API_KEY:"), r.text
    assert bad not in r.text


def test_set_api_key_refuses_a_malformed_key_naming_the_setter():
    from or_magic.config import set_api_key
    from or_magic.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        set_api_key("sk-or-v1-\u00e9\u00e9\u00e9", source="%openrouter key")
    assert info.value.variable == "%openrouter key"
    with pytest.raises(ConfigError, match="set_api_key"):
        set_api_key("two words")


# ---- log lines ---------------------------------------------------------------------------------------


@pytest.fixture
def log_buffer():
    buf = io.StringIO()
    previous = log.set_stream(buf)
    yield buf
    log.set_stream(previous)


def test_log_lines_never_carry_a_registered_secret_even_json_escaped(log_buffer):
    from or_magic.redact import register_secret

    tricky = 'tok"en\\with-quote-' + "x" * 20
    register_secret(tricky)
    log.audit("call", value=f"before {tricky} after", nested={"k": [tricky]})
    line = log_buffer.getvalue().strip()
    record = json.loads(line)
    assert tricky not in json.dumps(record) and tricky not in line
    assert record["ctx"]["value"] == "before [REDACTED] after"


@pytest.mark.parametrize("offset", [40, 60, 71, 79])
def test_a_prompt_preview_cut_inside_a_key_leaves_no_fragment_of_it(offset):
    from or_magic.redact import register_secret

    register_secret(TEST_KEY)
    prompt = "p" * offset + TEST_KEY + " and the rest of a long prompt " * 10
    shown = log.preview(prompt, 80)
    assert shown.endswith("…") and len(shown) <= 81
    # no run of 8+ characters of the key survives (a cut-first preview kept up to 40)
    frags = {TEST_KEY[i : i + 8] for i in range(len(TEST_KEY) - 7)}
    assert not any(f in shown for f in frags), shown
    assert log.preview("short prompt", 80) == "short prompt"
    assert log.preview("q" * 81, 80) == "q" * 80 + "…"


def test_log_lines_stay_valid_json_whatever_the_values(log_buffer):
    huge = 'é✓\U0001f600"\\\n' * 30_000
    log.audit("huge", a=huge, b=[huge] * 200, c={str(i): huge for i in range(100)})
    log.audit("odd", nan=float("nan"), inf=float("inf"), big=10**5000, obj=object(), raw=b"\xff")
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    log.audit("deep", deep=deep)
    lines = log_buffer.getvalue().splitlines()
    assert len(lines) == 3
    for line in lines:
        json.loads(line)  # every line complete JSON
        assert len(line) < 1_000_000
    assert json.loads(lines[0])["ctx"]["a"].startswith("é✓\U0001f600")


def test_the_magic_key_setter_refuses_a_malformed_key_with_a_coded_error(monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    import or_magic.config as config
    from tests.magics.test_shell import run

    bad = "sk-or-v1-\u201cpasted\u201d"
    monkeypatch.setattr("getpass.getpass", lambda prompt="": bad)
    monkeypatch.setattr(log, "_stream", log._stream)  # loading the extension reroutes logs
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "or_magic")
    cap, res = run(shell, "%openrouter key")
    shown = cap.stdout + cap.stderr + str(res.error_in_exec)
    assert "%openrouter key" in shown and "non-ASCII" in shown, shown
    assert "INTERNAL" not in shown and bad not in shown
    assert config.get_settings().api_key is None


def test_the_dashboard_key_field_refuses_a_malformed_key_visibly():
    from or_magic.config import get_settings
    from or_magic.widgets.dashboard import Dashboard

    d = Dashboard(namespace={})
    d.set_key("sk-or-v1-with space")
    assert "dashboard" in d.key_status.value and "whitespace" in d.key_status.value
    assert "with space" not in d.key_status.value
    assert get_settings().api_key is None
