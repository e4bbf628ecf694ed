"""The double's Batch API, checked with the official ``openrouter`` SDK and raw HTTP."""

from __future__ import annotations

import httpx
import pytest

from or_magic.double import Fault
from or_magic.double.faults import BatchScript
from tests.conftest import TEST_KEY

openrouter = pytest.importorskip("openrouter")


def _reqs(n: int, prefix: str = "r") -> list[dict]:
    return [
        {
            "custom_id": f"{prefix}{i}",
            "body": {"messages": [{"role": "user", "content": f"hi {i}"}]},
        }
        for i in range(n)
    ]


@pytest.fixture
def sdk(double):
    with openrouter.OpenRouter(api_key=TEST_KEY, server_url=double.base_url) as client:
        yield client


def _http(double) -> httpx.Client:
    return httpx.Client(
        base_url=double.base_url, headers={"Authorization": f"Bearer {TEST_KEY}"}, timeout=30
    )


def test_sdk_creates_polls_lists_and_deletes(sdk, double):
    b = sdk.batch.create_batches(
        endpoint="/v1/chat/completions", model="openai/gpt-4o-mini", requests=_reqs(4)
    )
    assert b.status == "validating" and b.request_counts.total == 4 and b.results is None
    assert b.completion_window == "24h" and b.expires_at > b.created_at
    seen = [sdk.batch.get_batches(id=b.id) for _ in range(2)]
    assert [s.status for s in seen] == ["in_progress", "completed"]
    assert 0 < seen[0].request_counts.completed < 4  # progress grows over polls
    done = seen[-1]
    assert done.request_counts.completed == 4 and done.request_counts.failed == 0
    assert [r.custom_id for r in done.results] == ["r0", "r1", "r2", "r3"]
    body = done.results[2].response.body
    assert type(body).__name__ == "BodyChatCompletion" and "hi 2" in body.choices[0].message.content
    assert done.usage.total_tokens > 0 and done.finalized_at is not None

    b2 = sdk.batch.create_batches(
        endpoint="/v1/embeddings",
        model="openai/text-embedding-3-small",
        requests=[{"custom_id": "e0", "body": {"input": ["red apple", "green apple"]}}],
    )
    page = sdk.batch.list(limit=1)
    assert page.result.has_more is True and [x.id for x in page.result.data] == [b2.id]
    assert page.result.data[0].results is None  # list items are metadata only
    nxt = page.next()
    assert [x.id for x in nxt.result.data] == [b.id] and nxt.result.has_more is False

    with pytest.raises(openrouter.errors.OpenRouterError) as exc:
        sdk.batch.delete(id=b2.id)  # still validating: 409, not a silent delete
    assert exc.value.status_code == 409
    gone = sdk.batch.delete(id=b.id)
    assert gone.id == b.id and gone.deletion.openrouter == "deleted"
    with pytest.raises(openrouter.errors.OpenRouterError) as exc:
        sdk.batch.get_batches(id=b.id)
    assert exc.value.status_code == 404


def test_embedding_results_are_deterministic_and_similar_texts_are_near(sdk):
    b = sdk.batch.create_batches(
        endpoint="/v1/embeddings",
        model="openai/text-embedding-3-small",
        requests=[
            {"custom_id": "e", "body": {"input": ["red apple pie", "red apple tart", "tax law"]}}
        ],
    )
    for _ in range(2):
        done = sdk.batch.get_batches(id=b.id)
    vecs = [d.embedding for d in done.results[0].response.body.data]

    def cos(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cos(vecs[0], vecs[1]) > cos(vecs[0], vecs[2])
    from or_magic.double.endpoints.batches import embed_text

    assert embed_text("red apple pie") == vecs[0]


def test_partial_failures_expiry_and_cancellation(sdk, double):
    double.app.batch_api.script(BatchScript(fail_custom_ids={"r1"}, fail_status=503))
    b = sdk.batch.create_batches(
        endpoint="/v1/chat/completions", model="openai/gpt-4o-mini", requests=_reqs(3)
    )
    for _ in range(2):
        done = sdk.batch.get_batches(id=b.id)
    assert done.status == "completed"
    assert done.request_counts.completed == 2 and done.request_counts.failed == 1
    failed = next(r for r in done.results if r.custom_id == "r1")
    assert failed.response is None and failed.error.error_type == "provider_overloaded"

    double.app.batch_api.script(BatchScript(statuses=["validating", "in_progress", "expired"]))
    e = sdk.batch.create_batches(
        endpoint="/v1/chat/completions", model="openai/gpt-4o-mini", requests=_reqs(4)
    )
    for _ in range(2):
        done = sdk.batch.get_batches(id=e.id)
    assert done.status == "expired" and len(done.results) == 4
    assert 0 < done.request_counts.completed < 4  # what finished before expiry is kept
    assert {r.error.type for r in done.results if r.error} == {"batch_expired"}

    c = sdk.batch.create_batches(
        endpoint="/v1/chat/completions", model="openai/gpt-4o-mini", requests=_reqs(2)
    )
    with _http(double) as http:
        r = http.post(f"/batches/{c.id}/cancel")
        assert r.status_code == 200 and r.json()["status"] == "cancelling"
        assert sdk.batch.get_batches(id=c.id).status == "cancelled"
        assert http.post(f"/batches/{c.id}/cancel").status_code == 409


def test_submit_validation_and_injected_faults(double):
    with _http(double) as http:
        ok = {
            "endpoint": "/v1/chat/completions",
            "model": "openai/gpt-4o-mini",
            "requests": _reqs(1),
        }
        assert http.post("/batches", json={**ok, "endpoint": "/v1/nope"}).status_code == 400
        assert http.post("/batches", json={**ok, "model": "no/such-model"}).status_code == 400
        assert http.post("/batches", json={**ok, "requests": []}).status_code == 400
        dup = {**ok, "requests": _reqs(1) + _reqs(1)}
        assert "duplicate" in http.post("/batches", json=dup).json()["error"]["message"]
        bad_id = {**ok, "requests": [{"custom_id": "a b", "body": {}}]}
        assert http.post("/batches", json=bad_id).status_code == 400
        assert http.post("/batches", json={**ok, "completion_window": "1h"}).status_code == 400
        assert httpx.post(double.base_url + "/batches", json=ok).status_code == 401

        double.inject(Fault(path="/batches", method="POST", status=503))
        assert http.post("/batches", json=ok).status_code == 503
        created = http.post("/batches", json=ok)
        assert created.status_code == 202
        bid = created.json()["id"]
        double.inject(Fault(path=f"/batches/{bid}", method="GET", malformed=True))
        with pytest.raises(ValueError):
            http.get(f"/batches/{bid}").json()
        assert http.get(f"/batches/{bid}").json()["status"] == "in_progress"


def test_other_keys_cannot_see_a_batch(double):
    from tests.conftest import REVOCABLE_KEY

    with _http(double) as http:
        bid = http.post(
            "/batches",
            json={
                "endpoint": "/v1/chat/completions",
                "model": "openai/gpt-4o-mini",
                "requests": _reqs(1),
            },
        ).json()["id"]
    other = {"Authorization": f"Bearer {REVOCABLE_KEY}"}
    assert httpx.get(f"{double.base_url}/batches/{bid}", headers=other).status_code == 404
    assert httpx.get(f"{double.base_url}/batches", headers=other).json()["data"] == []


def test_a_bad_embedding_request_fails_alone(sdk):
    b = sdk.batch.create_batches(
        endpoint="/v1/embeddings",
        model="openai/text-embedding-3-small",
        requests=[
            {"custom_id": "ok", "body": {"input": "fine"}},
            {"custom_id": "bad", "body": {"input": []}},
        ],
    )
    for _ in range(2):
        done = sdk.batch.get_batches(id=b.id)
    by_id = {r.custom_id: r for r in done.results}
    assert by_id["ok"].error is None and by_id["bad"].response is None
    assert by_id["bad"].error.error_type == "invalid_request"
    assert done.request_counts.failed == 1
