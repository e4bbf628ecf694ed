"""rerank against the double: order and limits, and validation that costs nothing."""

from __future__ import annotations

import pytest

from or_magic.tools.api import call_tool
from tests.tools._helpers import inproc_double_fixture, requests_to

pytestmark = pytest.mark.anyio


double = inproc_double_fixture()


async def test_rerank_orders_and_limits(double):
    docs = [
        "Cats sleep most of the day.",
        "The moon's gravity causes ocean tides.",
        "Tides rise and fall twice daily.",
    ]
    r = await call_tool(
        "rerank_documents",
        {"query": "ocean tides moon", "documents": docs, "top_n": 2, "return_documents": True},
    )
    assert r.ok, r.text
    res = r.data["results"]
    assert len(res) == 2
    assert res[0]["score"] >= res[1]["score"]
    assert 0 not in {x["index"] for x in res}  # the cat document is least relevant
    assert res[0]["document"] == docs[res[0]["index"]]
    (req,) = requests_to(double, "/rerank")
    assert req.json["model"] == "cohere/rerank-v3.5" and req.json["top_n"] == 2
    nodocs = await call_tool(
        "rerank_documents", {"query": "x", "documents": docs, "return_documents": False}
    )
    assert all("document" not in x for x in nodocs.data["results"])
    # like the Node server, documents are omitted unless asked for
    default = await call_tool("rerank_documents", {"query": "x", "documents": docs})
    assert default.ok and all("document" not in x for x in default.data["results"])
    assert "return_documents" not in double.requests[-1].json  # not a field of the spec


@pytest.mark.parametrize(
    "args",
    [
        {"query": " ", "documents": ["a"]},
        {"query": "q", "documents": []},
        {"query": "q", "documents": ["a", ""]},
        {"query": "q", "documents": ["a"] * 1001},
        {"query": "q", "documents": ["a"], "top_n": 0},
    ],
)
async def test_rerank_validation_costs_nothing(double, args):
    r = await call_tool("rerank_documents", args)
    assert r.is_error and r.code == "INVALID_INPUT"
    assert double.requests == []
