"""SSE decoding: comments, CRLF, multi-line data, split chunks, a trailing event."""

from __future__ import annotations

from or_magic.client.sse import SSEDecoder


def test_sse_comments_crlf_multiline_and_split_chunks():
    raw = ': OPENROUTER PROCESSING\r\n\r\ndata: {"a":1}\r\n\r\n: keepalive\n\ndata: line1\ndata: line2\n\ndata: [DONE]\n\n'
    dec = SSEDecoder()
    out: list[str] = []
    for i in range(0, len(raw), 3):  # tiny chunks split CRLF pairs and fields
        out += dec.feed(raw[i : i + 3])
    out += dec.flush()
    assert out == ['{"a":1}', "line1\nline2", "[DONE]"]


def test_sse_trailing_event_without_blank_line_is_flushed():
    dec = SSEDecoder()
    assert dec.feed("data: x") == []
    assert dec.flush() == ["x"]
