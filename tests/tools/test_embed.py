"""embed_texts: order across chunks, float32 rows, pandas alignment, the .npy through the output
sandbox, the batch engine giving the interactive vectors, and upstream faults, against the double."""

from __future__ import annotations

import base64
import json
import struct

import pytest

import or_magic
from or_magic.double import Fault
from or_magic.double._embed import vector
from or_magic.tools.api import call_tool, call_tool_sync
from tests.magics._helpers import offline_magics_shell, run_cell
from tests.tools._helpers import batch_row, finish_first_batch_with, requests_to

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")
pytestmark = pytest.mark.anyio

TEXTS = [f"review number {i}: the {'red' if i % 2 else 'green'} apple was fine" for i in range(11)]


def embed_calls(double) -> list:
    return requests_to(double, "/embeddings", method="POST")


def expected(texts: list[str], dims: int = 1536) -> np.ndarray:
    return np.array([vector(t, dims) for t in texts], dtype=np.float32)


async def test_rows_follow_input_order_across_chunks(double):
    double.inject(Fault(path="/embeddings", delay_s=0.3, times=1))  # one chunk answers last
    r = await call_tool("embed_texts", {"input": TEXTS, "chunk_size": 3, "npy": False})
    assert r.ok, r.text
    assert r.value.dtype == np.float32 and r.value.shape == (11, 1536)
    np.testing.assert_allclose(r.value, expected(TEXTS), atol=1e-6)
    sent = embed_calls(double)
    # 4 chunks sent concurrently (they may arrive in any order); every text exactly once
    assert sorted(len(q.json["input"]) for q in sent) == [2, 3, 3, 3]
    assert sorted(t for q in sent for t in q.json["input"]) == sorted(TEXTS)
    assert all(q.json["encoding_format"] == "base64" for q in sent)
    assert r.meta["model"] == "openai/text-embedding-3-small" and r.meta["dimensions"] == 1536
    assert r.meta["usage"]["prompt_tokens"] > 0 and r.meta["cost_usd"] > 0
    assert r.data["count"] == 11 and len(r.data["preview"]) == 3


async def test_one_string_is_one_row_and_dimensions_are_sent(double):
    r = await call_tool("embed_texts", {"input": "tides and the moon", "dimensions": 64})
    assert r.ok and r.value.shape == (1, 64)
    assert embed_calls(double)[0].json["dimensions"] == 64
    assert r.media[0].mime == "application/x-npy" and r.media[0].path is None  # small: inline


def test_chunks_respect_the_byte_limit():
    from or_magic.tools.embed import chunk_texts

    texts = ["a" * 600, "b" * 600, "c" * 10, "d" * 2000]
    assert chunk_texts(texts, 10, 1000) == [(0, 1), (1, 3), (3, 4)]
    assert chunk_texts(texts, 2, 10_000) == [(0, 2), (2, 4)]
    assert chunk_texts([], 5, 5) == []


async def test_a_series_keeps_its_order_and_map_aligns_to_its_index(double):
    s = pd.Series(TEXTS[:5], index=[f"k{i}" for i in (4, 2, 9, 0, 7)])
    r = await call_tool("embed_texts", {"input": s, "npy": False})
    assert r.ok and r.value.shape == (5, 1536)
    np.testing.assert_allclose(r.value, expected(TEXTS[:5]), atol=1e-6)

    res = or_magic.map("embed_texts", s, progress=False, dimensions=32)
    df = res.to_pandas()
    assert list(df.index) == list(s.index)
    np.testing.assert_allclose(
        np.stack(df.loc["k9", ["embedding"]].tolist()), [vector(TEXTS[2], 32)], atol=1e-6
    )
    assert res.to_numpy().shape == (5, 32)


async def test_the_npy_is_saved_through_the_sandbox(double, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setenv("OPENROUTER_OUTPUT_DIR", str(out))
    r = await call_tool("embed_texts", {"input": TEXTS[:4], "save_path": "vecs/reviews.npy"})
    assert r.ok, r.text
    saved = out / "vecs" / "reviews.npy"
    assert r.data["save_path"] == str(saved) and r.meta["save_path"] == str(saved)
    loaded = np.load(saved)
    assert loaded.dtype == np.float32 and loaded.shape == (4, 1536)
    np.testing.assert_array_equal(loaded, r.value)


@pytest.mark.parametrize("bad", ["../escape.npy", "/etc/or_magic_vectors.npy"])
async def test_a_save_path_outside_the_sandbox_is_refused_before_spending(
    double, tmp_path, monkeypatch, bad
):
    monkeypatch.setenv("OPENROUTER_OUTPUT_DIR", str(tmp_path / "out"))
    (tmp_path / "out").mkdir()
    r = await call_tool("embed_texts", {"input": ["x"], "save_path": bad})
    assert r.code == "UNSAFE_PATH", r.text
    assert not embed_calls(double)


@pytest.mark.parametrize(
    "inp",
    [[], "", "   ", ["ok", ""], ["ok", 3], ["ok", None], [["nested"]], 5],
    ids=["empty-list", "empty", "blank", "blank-item", "int-item", "none-item", "nested", "int"],
)
async def test_empty_and_non_string_inputs_are_refused_before_spending(double, inp):
    r = await call_tool("embed_texts", {"input": inp})
    assert r.code == "INVALID_INPUT", r.text
    assert not embed_calls(double)


def test_a_series_with_missing_values_is_refused():
    r = call_tool_sync("embed_texts", {"input": pd.Series(["a", None, "c"])})
    assert r.code == "INVALID_INPUT" and "input" in r.text


async def test_a_5xx_is_retried_then_reported_with_a_code(double):
    double.inject(Fault(path="/embeddings", status=503, times=1))
    r = await call_tool("embed_texts", {"input": TEXTS[:3], "npy": False})
    assert r.ok  # one transient 503: retried
    double.inject(Fault(path="/embeddings", status=500, times=None))
    r = await call_tool("embed_texts", {"input": TEXTS[:3], "npy": False})
    assert r.is_error and r.code == "UPSTREAM_HTTP", r.text


def _answer(n: int, dims: int = 4, **over) -> dict:
    vec = base64.b64encode(struct.pack(f"<{dims}f", *([0.5] * dims))).decode()
    body = {
        "object": "list",
        "model": "openai/text-embedding-3-small",
        "data": [{"object": "embedding", "index": i, "embedding": vec} for i in range(n)],
        "usage": {"prompt_tokens": n, "total_tokens": n},
    }
    body.update(over)
    return body


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (_answer(2), "count"),  # asked for 3
        (_answer(4), "count"),
        ({"object": "list"}, "shape"),
        (_answer(3, data=[{"index": 0, "embedding": "!!"}] * 3), "shape"),
        (_answer(3, data=[{"index": i, "embedding": [0.1]} for i in (0, 0, 1)]), "index"),
        (
            _answer(3, data=[{"index": i, "embedding": [0.1] * (i + 1)} for i in range(3)]),
            "dimensions",
        ),
        (_answer(3, data=[{"index": i, "embedding": ["x"]} for i in range(3)]), "shape"),
    ],
    ids=["too-few", "too-many", "no-data", "bad-base64", "dup-index", "ragged", "non-number"],
)
async def test_malformed_answers_are_coded_errors(double, body, reason):
    double.inject(Fault(path="/embeddings", status=200, body=body, times=None))
    r = await call_tool("embed_texts", {"input": ["a", "b", "c"]})
    assert r.is_error and r.code == "UPSTREAM_HTTP", r.text
    assert r.details["reason"] == reason


async def test_a_malformed_body_is_a_coded_error(double):
    double.inject(Fault(path="/embeddings", malformed=True, times=None))
    r = await call_tool("embed_texts", {"input": ["a"]})
    assert r.is_error and r.code in ("UPSTREAM_HTTP", "UPSTREAM_REFUSED"), r.text


async def test_float_answers_are_accepted_and_wrong_dimensions_refused(double):
    body = _answer(2, data=[{"index": i, "embedding": [0.25, 0.5]} for i in (1, 0)])
    double.inject(Fault(path="/embeddings", status=200, body=body, times=1))
    r = await call_tool("embed_texts", {"input": ["a", "b"], "npy": False})
    assert r.ok and r.value.tolist() == [[0.25, 0.5], [0.25, 0.5]]
    double.inject(Fault(path="/embeddings", status=200, body=body, times=1))
    r = await call_tool("embed_texts", {"input": ["a", "b"], "dimensions": 8})
    assert r.code == "UPSTREAM_HTTP" and r.details["reason"] == "dimensions"


def test_the_npy_writer_matches_numpy(tmp_path):
    from or_magic.tools.embed import npy_bytes

    a = np.arange(12, dtype="<f4").reshape(3, 4) / 7
    p = tmp_path / "x.npy"
    p.write_bytes(npy_bytes(a.tobytes(), 3, 4))
    np.testing.assert_array_equal(np.load(p), a)
    assert len(npy_bytes(a.tobytes(), 3, 4)) % 16 == 0


def test_the_batch_engine_gives_the_interactive_vectors(double):
    items = pd.Series(TEXTS[:7], index=list("gfedcba"))
    h = or_magic.map("embed_texts", items, engine="batch", batch_size=3, progress=False)
    h.wait(poll_s=0.01, progress=False)
    assert h.progress["status"] == "completed" and h.progress["completed"] == 7
    assert not embed_calls(double)  # nothing went through the interactive endpoint
    submits = requests_to(double, "/batches", method="POST")
    assert [s.json["endpoint"] for s in submits] == ["/v1/embeddings"] * 3
    interactive = call_tool_sync("embed_texts", {"input": TEXTS[:7], "npy": False}).value
    np.testing.assert_array_equal(h.to_numpy(), interactive)
    df = h.to_pandas()
    assert list(df.index) == list("gfedcba")
    np.testing.assert_array_equal(df.loc["d", "embedding"], interactive[3])
    assert h.total_cost > 0

    from or_magic import jobs

    jobs._stores.clear()  # a new process: vectors come back from the registry
    again = or_magic.batch(h.id)
    np.testing.assert_array_equal(again.to_numpy(), interactive)


def test_batch_items_that_fail_are_nan_rows_not_a_shifted_matrix(double):
    items = ["alpha", "", "gamma"]
    h = or_magic.map("embed_texts", items, engine="batch", progress=False, dimensions=16)
    h.wait(poll_s=0.01, progress=False)
    res = h.results()
    assert res[0].ok and res[2].ok and res[1].code == "INVALID_INPUT"
    m = h.to_numpy()
    assert m.shape == (3, 16) and np.isnan(m[1]).all()
    np.testing.assert_allclose(m[2], vector("gamma", 16), atol=1e-6)


def test_a_cancelled_embedding_batch_keeps_finished_rows_in_place(double):
    from or_magic.double.faults import BatchScript

    double.app.batch_api.script(
        BatchScript(
            statuses=["validating", "in_progress", "in_progress", "in_progress", "completed"]
        )
    )
    texts = [f"text {i}" for i in range(8)]
    h = or_magic.map("embed_texts", texts, engine="batch", progress=False, dimensions=8)
    h.status()
    h.cancel()
    h.wait(poll_s=0.01, progress=False)
    assert h.progress["status"] == "cancelled"
    m = h.to_numpy()
    res = h.results()
    kept = [i for i, r in enumerate(res) if r.ok]
    assert 0 < len(kept) < 8 and {r.code for r in res if not r.ok} == {"JOB_FAILED"}
    for i in range(8):  # a finished row is its own text's vector; the others are NaN
        if i in kept:
            np.testing.assert_allclose(m[i], vector(texts[i], 8), atol=1e-6)
        else:
            assert np.isnan(m[i]).all()


def test_forged_batch_answers_fail_their_item_with_a_code(double):
    """A wrong count or width inside one batch answer fails that row only, with a reason."""
    h = or_magic.map("embed_texts", ["a", "b", "c"], engine="batch", progress=False, dimensions=4)
    rows = [
        batch_row("i0", _answer(1, 4)),
        batch_row("i1", _answer(3)),
        batch_row("i2", _answer(1, 7)),
    ]
    finish_first_batch_with(double, h, rows)
    h.wait(poll_s=0.01, progress=False, timeout=30)
    res = h.results()
    assert res[0].ok and res[0].value.tolist() == [[0.5] * 4]
    assert res[1].code == "UPSTREAM_HTTP" and res[1].details["reason"] == "count"
    assert res[2].code == "UPSTREAM_HTTP" and res[2].details["reason"] == "dimensions"
    m = h.to_numpy()
    assert m.shape == (3, 4) and np.isnan(m[1:]).all()


def test_a_batch_item_with_many_texts_is_refused(double):
    h = or_magic.map("embed_texts", [{"input": ["a", "b"]}, "c"], engine="batch", progress=False)
    h.wait(poll_s=0.01, progress=False)
    r = h.results()
    assert r[0].code == "INVALID_INPUT" and "one text per batch item" in r[0].text and r[1].ok


async def test_mcp_submit_batch_accepts_embeddings(double):
    r = await call_tool("submit_batch", {"tool": "embed_texts", "items": ["a b", "c d"]})
    assert r.ok, r.text
    st = await call_tool(
        "get_batch_status", {"batch_id": r.data["batch_id"], "wait": True, "max_wait_ms": 20_000}
    )
    assert st.ok and st.data["counts"]["completed"] == 2, st.text
    stored = json.dumps(st.data)
    assert "vector_base64" in stored  # an agent can read the vectors back


async def test_search_models_finds_embedding_models(double):
    r = await call_tool("search_models", {"output_modalities": ["embeddings"]})
    assert r.ok
    ids = [m["id"] for m in r.data["results"]]
    assert ids == ["openai/text-embedding-3-small"]  # only embedding models
    assert all("embeddings" in m["architecture"]["output_modalities"] for m in r.data["results"])


# ---- the magic ------------------------------------------------------------------------------


@pytest.fixture
def ip():
    with offline_magics_shell() as (shell, _):
        yield shell


def run(shell, source: str):
    cap, result = run_cell(shell, source)
    shown = cap.stdout + "".join(str(o.data) for o in cap.outputs)
    return shown, result


def test_embed_cell_each_column_stores_the_array(ip):
    ip.user_ns["t_df"] = pd.DataFrame({"text": TEXTS[:5]}, index=[10, 20, 30, 40, 50])
    shown, res = run(ip, "%openrouter embed --each t_df.text --dimensions 48 -o t_vecs")
    assert res.error_in_exec is None and res.error_before_exec is None, shown
    v = ip.user_ns["t_vecs"].value
    assert v.shape == (5, 48) and v.dtype == np.float32
    np.testing.assert_allclose(v, expected(TEXTS[:5], 48), atol=1e-6)
    assert "5 × 48 float32" in shown and "openai/text-embedding-3-small" in shown


def test_embed_cell_body_is_one_text_and_interpolates(ip):
    ip.user_ns["t_fruit"] = "apple"
    shown, res = run(ip, "%%openrouter embed -o t_one\nred {{t_fruit}} pie")
    assert res.error_in_exec is None, shown
    np.testing.assert_allclose(
        ip.user_ns["t_one"].value, [vector("red apple pie", 1536)], atol=1e-6
    )


def test_embed_cell_body_is_a_template_for_each_item(ip):
    ip.user_ns["t_items"] = ["apple", "pear"]
    shown, res = run(ip, "%%openrouter embed --each t_items -o t_q\nquery: {{item}}")
    assert res.error_in_exec is None, shown
    want = expected(["query: apple", "query: pear"])
    np.testing.assert_allclose(ip.user_ns["t_q"].value, want, atol=1e-6)
    shown, res = run(ip, "%openrouter embed --each t_nothing")
    assert res.error_in_exec is not None and "no such variable" in str(res.error_in_exec)


def test_embed_cell_refuses_an_empty_body_and_batch_without_each(ip):
    _, res = run(ip, "%%openrouter embed\n   \n")
    assert res.error_in_exec is not None and "write the text" in str(res.error_in_exec)
    _, res = run(ip, "%%openrouter embed --batch\nhello")
    assert res.error_in_exec is not None and "--each" in str(res.error_in_exec)


def test_embed_cell_each_batch_stores_the_handle(ip):
    ip.user_ns["t_s"] = pd.Series(TEXTS[:4], index=list("wxyz"))
    shown, res = run(ip, "%%openrouter embed --each t_s --batch --dimensions 24 -o t_h\n{{item}}")
    assert res.error_in_exec is None, shown
    h = ip.user_ns["t_h"]
    assert h.done and "Submitted orb_" in shown and "4 × 24 float32" in shown
    np.testing.assert_allclose(h.to_numpy(), expected(TEXTS[:4], 24), atol=1e-6)
    assert list(h.to_pandas().index) == list("wxyz")


def test_models_embed_flag_lists_embedding_models(ip):
    shown, res = run(ip, "%openrouter models --embed -o t_m")
    assert res.error_in_exec is None, shown
    assert "text-embedding-3-small" in shown and "gpt-4o" not in shown


# ---- MCP ------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::mcp.MCPDeprecationWarning")
async def test_mcp_gets_a_npy_and_a_preview(double, tmp_path, monkeypatch):
    import io

    from mcp import Client

    from or_magic.mcp import build_server

    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setenv("OPENROUTER_OUTPUT_DIR", str(out))
    async with Client(build_server(), mode="auto") as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
        spec = tools["embed_texts"]
        assert spec.output_schema and "input" in spec.input_schema["required"]
        r = await c.call_tool("embed_texts", {"input": ["red apple", "green pear"]})
        assert not r.is_error
        sc = r.structured_content
        assert sc["count"] == 2 and sc["dimensions"] == 1536 and len(sc["preview"]) == 2
        blobs = [b for b in r.content if b.type == "resource"]
        assert blobs and blobs[0].resource.mime_type == "application/x-npy"
        arr = np.load(io.BytesIO(base64.b64decode(blobs[0].resource.blob)))
        np.testing.assert_allclose(arr, expected(["red apple", "green pear"]), atol=1e-6)

        r = await c.call_tool("embed_texts", {"input": ["x"], "save_path": "v/x.npy"})
        links = [b for b in r.content if b.type == "resource_link"]
        assert links and (out / "v" / "x.npy").is_file()
        r = await c.call_tool("embed_texts", {"input": ["x"], "save_path": "../x.npy"})
        assert r.is_error and dict(r.meta or {})["code"] == "UNSAFE_PATH"
