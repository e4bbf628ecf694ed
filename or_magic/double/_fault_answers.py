"""The answer a preempting ``Fault`` stands for: an error of some vintage, HTML, junk, a hang.

Chosen instead of the handler's answer (``Fault.preempts``); faults that only shape how an answer
is sent (delay, truncation, slow bodies) are applied by ``_wire.py``.
"""

from __future__ import annotations

from ._http import Resp, json_resp, sse_headers
from .faults import USER_ID, Fault, error_body, rate_limit_headers

_GATEWAY_PAGE = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>"
    b"<h1>Bad gateway</h1><p>cloudflare (or_magic offline double)</p></body></html>"
)
_CUT_JSON = b'{"id":"gen-malformed","choices":[{"message":{"content":"unterminated'


def fault_response(f: Fault, model: str | None) -> Resp:
    """What the double answers for ``f`` (``model`` is named in errors that carry one)."""
    if f.drop:
        return Resp(drop=True)
    if f.hang is not None:
        return Resp(200, sse_headers())  # _wire keeps it open (see its _hang)
    if f.html:
        return Resp(200, {"Content-Type": "text/html; charset=UTF-8"}, body=_GATEWAY_PAGE)
    if f.malformed:
        return Resp(200, {"Content-Type": "application/json"}, body=_CUT_JSON)
    if f.error_in_200:
        status = f.status if f.status and f.status >= 400 else 502
        body = error_body(status, f.message, shape=f.shape, model=model)
        body.setdefault("user_id", USER_ID)
        return json_resp(body, 200)
    headers: dict[str, str] = {}
    if f.body is not None:
        status = f.status or 200
        if isinstance(f.body, (dict, list)):
            return json_resp(f.body, status)
        raw = f.body.encode() if isinstance(f.body, str) else bytes(f.body)
        return Resp(status, {"Content-Type": "application/json"}, body=raw)
    status = f.status or 500
    if status == 429 and f.shape is None:
        headers.update(rate_limit_headers())
    if f.retry_after is not None:
        headers["Retry-After"] = str(f.retry_after)
    meta = {"headers": rate_limit_headers()} if status == 429 and f.shape is None else None
    body = error_body(
        status, f.message, shape=f.shape, retry_after=f.retry_after, model=model, metadata=meta
    )
    return json_resp(body, status, headers)
