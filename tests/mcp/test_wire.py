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


def test_ids_the_sdk_never_answers_are_not_waited_for():
    # The SDK's RequestId is a strict int or a string: a float or boolean id makes the line a
    # notification, an object or array id is refused; a batch, a line without "jsonrpc": "2.0"
    # or with non-object params is refused too. None of them is ever answered.
    p = PendingRequests()
    for rid in (1.5, 2.0, True, {"a": 1}, [1]):
        p.read(_req(rid))
    p.read(json.dumps([json.loads(_req(9)), json.loads(_req(10))]))  # a batch
    p.read(json.dumps({"id": 15, "method": "ping"}))  # no "jsonrpc"
    p.read(json.dumps({"jsonrpc": "2.0", "id": 16, "method": "ping", "params": [1]}))
    assert len(p) == 0
    p.read(_req(10**30))  # a big int is still an int
    p.read(json.dumps({"jsonrpc": "2.0", "id": 3, "method": "ping", "params": None}))
    assert len(p) == 2


def test_an_unhashable_cancelled_id_is_ignored_and_the_reader_lives_on():
    p = PendingRequests()
    p.read(_req(7))
    for rid in ({"a": 1}, [7], None):
        cancel = {
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": rid},
        }
        p.read(json.dumps(cancel))  # raised TypeError (unhashable) in the reader thread
    assert len(p) == 1
    p.answered(json.dumps({"jsonrpc": "2.0", "id": {"a": 1}, "result": {}}))
    assert len(p) == 1


def test_a_reused_id_is_waited_for_until_each_request_with_it_is_answered():
    p = PendingRequests()
    p.read(_req(5))
    p.read(_req(5))  # the SDK answers both
    p.answered(_sdk_answer(5))
    assert len(p) == 1
    p.answered(_sdk_answer(5))
    assert len(p) == 0


def test_a_fault_in_the_bookkeeping_does_not_stop_the_stdin_reader():
    class Broken(PendingRequests):
        def read(self, line):
            raise TypeError("boom")

    from or_magic.mcp._stdio import StdinLines

    r, w = os.pipe()
    os.write(w, b"a\nb\n")
    os.close(w)

    async def main():
        return [line async for line in StdinLines(r, Broken())]

    assert asyncio.run(asyncio.wait_for(main(), 10)) == ["a\n", "b\n"]
