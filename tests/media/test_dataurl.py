"""Data URLs: strict shape and alphabet, size cap before decoding, declared vs sniffed type."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from or_magic.errors import ErrorCode, ToolError
from or_magic.media.blob import Blob
from or_magic.media.dataurl import is_data_url, parse_data_url, split_data_url, to_data_url

FIX = Path(__file__).resolve().parents[1] / "fixtures"
PNG = (FIX / "diagram.png").read_bytes()
MP3 = (FIX / "speech.mp3").read_bytes()
MP4 = (FIX / "clip.mp4").read_bytes()
CAP = 1 << 20


def durl(data: bytes, mime: str = "image/png", params: str = "", b64: str = ";base64") -> str:
    return f"data:{mime}{params}{b64}," + base64.b64encode(data).decode()


def err(url: str, **kw) -> ToolError:
    with pytest.raises(ToolError) as ei:
        parse_data_url(url, max_bytes=kw.pop("max_bytes", CAP), **kw)
    return ei.value


def test_roundtrip_png() -> None:
    b = parse_data_url(durl(PNG), max_bytes=CAP)
    assert (b.mime, b.read_bytes(), b.size) == ("image/png", PNG, len(PNG))
    assert b.in_memory


def test_params_and_uppercase_base64() -> None:
    b = parse_data_url(
        durl(PNG, "IMAGE/PNG", ";name=diagram.png;charset=binary", ";BASE64"), max_bytes=CAP
    )
    assert b.read_bytes() == PNG
    mime, params, _ = split_data_url("data:audio/ogg;codecs=opus;base64,AAAA")
    assert (mime, params) == ("audio/ogg", ["codecs=opus"])


def test_whitespace_tolerated() -> None:
    payload = base64.encodebytes(PNG).decode()  # 76-column lines with \n
    b = parse_data_url("data:image/png;base64," + payload, max_bytes=CAP)
    assert b.read_bytes() == PNG


def test_missing_padding_accepted() -> None:
    data = PNG[:100]  # 100 % 3 == 1 -> two '=' of padding
    url = durl(data).rstrip("=")
    assert parse_data_url(url, max_bytes=CAP).read_bytes() == data


@pytest.mark.parametrize(
    "payload,fragment",
    [
        ("iVBORw0K!GgoAAAA", "invalid base64 character '!'"),
        ("iVBORw0K-_goAAAA", "base64url"),
        ("iVBORw0KGgo%3D", "'%'"),
        ("iVBO=w0KGgoAAAA", "padding in the middle"),
        ("iVBORw0KG", "4n+1"),
    ],
)
def test_bad_alphabet(payload: str, fragment: str) -> None:
    e = err("data:image/png;base64," + payload)
    assert e.code == ErrorCode.INVALID_INPUT
    assert fragment in e.message
    assert payload not in e.message  # never echo the payload


def test_over_cap_rejected_before_decoding(monkeypatch) -> None:
    # 64 MB of "A" against a 1 MiB cap: the size comes from the length alone; nothing may decode
    # the payload or run a regex over it (each would cost a 64 MB pass).
    import or_magic.media.dataurl as dataurl

    class Untouchable:
        def __init__(self, real):
            self.real = real

        def __getattr__(self, name):
            def guarded(text, *a, **k):
                assert len(text) <= 4 * CAP, f"{name}() ran over the whole {len(text)}-char payload"
                return getattr(self.real, name)(text, *a, **k)

            return guarded

    for name in ("_WS_RE", "_BAD_RE"):
        monkeypatch.setattr(dataurl, name, Untouchable(getattr(dataurl, name)))
    monkeypatch.setattr(dataurl.base64, "b64decode", Untouchable(base64).b64decode)
    huge = "data:video/mp4;base64," + "A" * 64_000_000
    e = err(huge)
    assert e.code == ErrorCode.RESOURCE_TOO_LARGE
    assert e.details["limit_bytes"] == CAP  # type: ignore[index]
    assert e.details["size_bytes"] == 48_000_000  # type: ignore[index]


def test_just_over_cap_exact() -> None:
    data = PNG + b"\0" * (CAP - len(PNG) + 1)
    e = err(durl(data))
    assert e.code == ErrorCode.RESOURCE_TOO_LARGE
    assert e.details["size_bytes"] == CAP + 1  # type: ignore[index]
    ok = PNG + b"\0" * (CAP - len(PNG))
    assert parse_data_url(durl(ok), max_bytes=CAP).size == CAP


def test_empty_payload() -> None:
    e = err("data:image/png;base64,")
    assert e.code == ErrorCode.INVALID_INPUT and "empty" in e.message


def test_not_base64_data_url() -> None:
    e = err("data:image/svg+xml,%3Csvg%3E%3C/svg%3E")
    assert e.code == ErrorCode.INVALID_INPUT and "base64" in e.message
    e = err("data:image/png;base64;charset=x,AAAA")  # base64 must be the last parameter
    assert e.code == ErrorCode.INVALID_INPUT


@pytest.mark.parametrize(
    "url", ["http://x/y.png", "data:image/png;base64", "data:ima ge/png;base64,AAAA"]
)
def test_malformed(url: str) -> None:
    assert err(url).code == ErrorCode.INVALID_INPUT


def test_declared_type_mismatch() -> None:
    e = err(durl(MP3, "image/png"))
    assert e.code == ErrorCode.UNSUPPORTED_FORMAT
    assert "declared image/png but the payload is audio/mpeg" in e.message
    e = err(durl(b"hello world, just text", "image/png"))
    assert e.code == ErrorCode.UNSUPPORTED_FORMAT and "plain text" in e.message


def test_subtype_difference_within_family_is_fine() -> None:
    # Declared JPEG, really PNG: same family, the sniffed type wins.
    assert parse_data_url(durl(PNG, "image/jpeg"), max_bytes=CAP).mime == "image/png"


def test_dual_containers_follow_declared_family() -> None:
    assert parse_data_url(durl(MP4, "audio/mp4"), max_bytes=CAP).mime == "audio/mp4"
    m4a = (FIX / "speech.m4a").read_bytes()
    assert parse_data_url(durl(m4a, "video/mp4"), max_bytes=CAP).mime == "video/mp4"


def test_octet_stream_or_no_type_means_sniff() -> None:
    assert parse_data_url(durl(MP3, "application/octet-stream"), max_bytes=CAP).mime == "audio/mpeg"
    assert parse_data_url(durl(MP3, ""), max_bytes=CAP).mime == "audio/mpeg"


def test_required_kind() -> None:
    e = err(durl(MP3, "audio/mpeg"), kind="image")
    assert e.code == ErrorCode.UNSUPPORTED_FORMAT
    assert (
        parse_data_url(durl(MP4, "video/mp4"), max_bytes=CAP, kind=("audio", "video")).mime
        == "video/mp4"
    )


def test_large_payload_spooled_to_temp_file(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    data = MP4 + bytes(range(256)) * 2000
    b = parse_data_url(durl(data, "video/mp4"), max_bytes=CAP, spool_bytes=10_000, spool_dir=spool)
    assert not b.in_memory and b.path is not None and b.path.parent == spool
    assert b.read_bytes() == data and b.mime == "video/mp4"
    b.close()
    assert not list(spool.iterdir())


def test_spool_chunking_is_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from or_magic.media import dataurl

    monkeypatch.setattr(dataurl, "_CHUNK_CHARS", 8)  # many chunk boundaries
    data = MP3[:1001]
    with parse_data_url(
        durl(data, "audio/mpeg"), max_bytes=CAP, spool_bytes=10, spool_dir=tmp_path
    ) as b:
        assert b.read_bytes() == data


def test_to_data_url_and_is_data_url() -> None:
    url = to_data_url(Blob("image/png", data=PNG))
    assert url.startswith("data:image/png;base64,") and is_data_url(url)
    assert parse_data_url(url, max_bytes=CAP).read_bytes() == PNG
    assert is_data_url("DATA:x") and not is_data_url("https://x") and not is_data_url(b"data:")
