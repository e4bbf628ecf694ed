"""Differences from the Node server that its users would hit when switching, now aligned."""

from __future__ import annotations

import io
import json
import re
import time

from or_magic import log

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_log_and_audit_ts_is_iso_8601_utc_like_node():
    buf = io.StringIO()
    previous = log.set_stream(buf)
    try:
        before = time.time()
        log.audit("x.start", model="m")
        log.error("boom")
        after = time.time()
    finally:
        log.set_stream(previous)
    lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert [rec["level"] for rec in lines] == ["audit", "error"]
    for rec in lines:
        assert ISO.match(rec["ts"]), rec["ts"]
        parsed = time.mktime(time.strptime(rec["ts"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        assert before - 1 <= parsed <= after + 1


def test_unserializable_context_keeps_the_iso_ts():
    buf = io.StringIO()
    previous = log.set_stream(buf)
    loop: dict = {}
    loop["self"] = loop
    try:
        log.info("circular", ctx=loop)
    finally:
        log.set_stream(previous)
    rec = json.loads(buf.getvalue())
    assert ISO.match(rec["ts"])
    # the cycle is cut at the log's depth bound, so the line is still complete JSON
    assert "…" in json.dumps(rec["ctx"], ensure_ascii=False)
