"""``OpenRouterClient(transport=...)`` and the test hook that hands new clients a transport."""

from __future__ import annotations

import httpx
import pytest

from or_magic.client import http
from or_magic.config import load_settings
from or_magic.errors import ErrorCode, ToolError
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.anyio


class _Body(httpx.AsyncByteStream):
    """A body the client streams like a socket's (``Response(json=...)`` is pre-read)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    async def __aiter__(self):
        yield self._data


def _json(status: int, obj: object) -> httpx.Response:
    import json

    return httpx.Response(
        status, headers={"content-type": "application/json"}, stream=_Body(json.dumps(obj).encode())
    )


def _settings():
    return load_settings({"OPENROUTER_API_KEY": TEST_KEY, "OPENROUTER_MAX_RETRIES": "0"})


async def test_a_given_transport_carries_every_request_with_the_client_headers():
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _json(200, {"data": [{"id": "m"}]})

    client = http.OpenRouterClient(
        _settings(),
        base_url="http://127.0.0.1:9/api/v1",
        api_key=TEST_KEY,
        offline=False,
        transport=httpx.MockTransport(answer),
    )
    try:
        got = await client.request_json("GET", "/models")
    finally:
        await client.aclose()
    assert got.data == {"data": [{"id": "m"}]}
    assert [r.url.path for r in seen] == ["/api/v1/models"]
    assert seen[0].headers["authorization"] == f"Bearer {TEST_KEY}"


async def test_errors_from_a_given_transport_are_classified_like_the_wire():
    client = http.OpenRouterClient(
        _settings(),
        base_url="http://127.0.0.1:9/api/v1",
        api_key=TEST_KEY,
        offline=False,
        transport=httpx.MockTransport(lambda r: _json(401, {"error": {"code": 401}})),
    )
    try:
        with pytest.raises(ToolError) as info:
            await client.request_json("GET", "/models")
    finally:
        await client.aclose()
    assert info.value.code == ErrorCode.INVALID_CREDENTIALS


async def test_the_factory_is_part_of_the_client_cache_key():
    settings = _settings()
    before = http.get_client(settings)
    old = http.set_transport_factory(lambda: httpx.MockTransport(lambda r: httpx.Response(204)))
    try:
        hooked = http.get_client(settings)
        assert hooked is not before
        assert hooked._transport is not None
        assert http.get_client(settings) is hooked
    finally:
        http.set_transport_factory(old)
    assert http.get_client(settings) is before
    assert before._transport is None
    await http.close_clients()


async def test_double_inproc_serves_without_a_socket(double_inproc):
    from or_magic.tools.api import call_tool

    result = await call_tool("chat_completion", {"prompt": "hi"})
    assert not result.is_error, result
    assert [r.path for r in double_inproc.requests_to("/chat/completions")]
    with pytest.raises(RuntimeError, match="not started"):
        _ = double_inproc.base_url


async def test_the_offline_backend_never_gets_the_factory_transport():
    offline = load_settings({})
    assert offline.offline
    old = http.set_transport_factory(lambda: httpx.MockTransport(lambda r: httpx.Response(500)))
    try:
        client = http.get_client(offline)
        assert client._transport is None
    finally:
        http.set_transport_factory(old)
        await http.close_clients()
