"""The stdio wire's bookkeeping: which requests read still wait for an answer (``mcp._wire``)."""

from __future__ import annotations

import asyncio
import json
import os

from or_magic.mcp._wire import PendingRequests, WireWriter


def _req(rid, method="tools/call"):
    return json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": {}}) + "\n"


def _sdk_answer(rid, key="result"):  # the SDK's own serialisation order
    return json.dumps({"jsonrpc": "2.0", "id": rid, key: {}}, separators=(",", ":")) + "\n"


def test_a_request_read_is_pending_until_its_answer_is_written():
    p = PendingRequests()
    p.read(_req(1))
    p.read(_req("a"))
    p.read(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))  # no answer due
    p.read(json.dumps({"jsonrpc": "2.0", "id": 9, "result": {}}))  # the host answering us
    p.read("not json\n")
    assert len(p) == 2
    p.answered(_sdk_answer(1))
    assert len(p) == 1
    p.answered(_sdk_answer("a", key="error"))
    assert len(p) == 0


def test_ids_compare_as_json_values_and_our_own_requests_answer_nothing():
    p = PendingRequests()
    p.read(_req(3))
    p.answered(_sdk_answer("3"))  # a string id is another request
    p.answered(json.dumps({"jsonrpc": "2.0", "id": 3, "method": "sampling/createMessage"}))
    assert len(p) == 1
    p.answered(json.dumps({"result": {"x": 1}, "id": 3, "jsonrpc": "2.0"}))  # other key order
    assert len(p) == 0


def test_a_cancelled_request_is_not_waited_for():
    p = PendingRequests()
    p.read(_req(7))
    cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7}}
    p.read(json.dumps(cancel))
    assert len(p) == 0


def test_settle_returns_once_the_last_answer_is_written():
    p = PendingRequests()
    r, w = os.pipe()

    async def main():
        out = WireWriter(w, p)  # given while still empty (and so falsy): the same one is used
        p.read(_req(1))
        waiter = asyncio.ensure_future(p.settle(timeout=60))
        await asyncio.sleep(0.05)
        assert not waiter.done()  # still owed an answer
        await out.write(_sdk_answer(1))
        await asyncio.wait_for(waiter, 30)
        await asyncio.wait_for(PendingRequests().settle(timeout=60), 5)  # nothing owed: at once

    try:
        asyncio.run(main())
        assert json.loads(os.read(r, 4096))["id"] == 1
    finally:
        os.close(r)
        os.close(w)


def test_a_dropped_reply_does_not_reach_the_wire():
    p = PendingRequests()
    r, w = os.pipe()
    try:
        out = WireWriter(w, p)
        out.drop_ids.add(1)
        asyncio.run(out.write(_sdk_answer(1)))
        out.send({"jsonrpc": "2.0", "id": 2, "result": {}})
        assert [json.loads(ln)["id"] for ln in os.read(r, 4096).splitlines()] == [2]
    finally:
        os.close(r)
        os.close(w)
