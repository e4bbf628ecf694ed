"""Redaction: keys, bearer tokens, data URLs and blobs, registered secrets of any shape."""

from __future__ import annotations

from or_magic.redact import redact, register_secret


def test_redact_removes_keys_bearers_data_urls_and_blobs():
    key = "sk-or-v1-" + "a1" * 32
    text = (
        f"key={key} Authorization: Bearer abc.def-123456 "
        "img=data:image/png;base64," + "A" * 300 + " blob " + "Q" * 400
    )
    out = redact(text)
    assert key not in out and "a1a1a1" not in out
    assert "abc.def-123456" not in out
    assert "AAAA" not in out and "QQQQ" not in out
    assert "data:image/png;base64," in out  # the mime stays: it is useful


def test_redact_registered_secret_of_any_shape_and_caps_length():
    register_secret("hunter2-super-secret")
    assert "hunter2" not in redact("password was hunter2-super-secret!")
    assert len(redact("x" * 100_000, limit=50)) <= 51
