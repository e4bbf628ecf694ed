"""Blob: in-memory vs file-backed, streaming base64, exact encoded length, temp-file cleanup."""

from __future__ import annotations

import base64
import gc
from pathlib import Path

import pytest

from or_magic.errors import ToolError
from or_magic.media.blob import Blob, base64_len


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 6, 7, 1000, 1001, 1002])
def test_base64_len_exact(n: int) -> None:
    assert base64_len(n) == len(base64.b64encode(b"x" * n))


@pytest.mark.parametrize("size", [0, 1, 2, 3, 10, 4097, 100_000])
@pytest.mark.parametrize("chunk", [1, 3, 4, 1000, 1 << 20])
def test_iter_base64_file_and_memory(tmp_path: Path, size: int, chunk: int) -> None:
    payload = bytes((i * 7 + 3) % 256 for i in range(size))
    p = tmp_path / "f.bin"
    p.write_bytes(payload)
    want = base64.b64encode(payload)
    for blob in (Blob("application/octet-stream", path=p), Blob("x/y", data=payload)):
        got = b"".join(blob.iter_base64(chunk))
        assert got == want
        assert blob.base64_len() == len(want)
        assert b"".join(blob.iter_chunks(max(chunk, 1))) == payload
        assert blob.size == size


def test_iter_chunks_exact_sizes(tmp_path: Path) -> None:
    p = tmp_path / "f.bin"
    p.write_bytes(b"a" * 10)
    assert [len(c) for c in Blob("x/y", path=p).iter_chunks(4)] == [4, 4, 2]
    assert [len(c) for c in Blob("x/y", data=b"a" * 10).iter_chunks(4)] == [4, 4, 2]


def test_head_reads_only_prefix(tmp_path: Path) -> None:
    p = tmp_path / "f.bin"
    p.write_bytes(b"0123456789")
    b = Blob("x/y", path=p)
    assert b.head(4) == b"0123"
    assert b.read_bytes() == b"0123456789"
    assert Blob("x/y", data=b"abc").head(10) == b"abc"


def test_cleanup_on_close_and_context_manager(tmp_path: Path) -> None:
    p = tmp_path / "tmp.bin"
    p.write_bytes(b"abc")
    b = Blob("x/y", path=p, cleanup=True)
    b.close()
    assert not p.exists()
    b.close()  # twice is fine
    p.write_bytes(b"abc")
    with Blob("x/y", path=p, cleanup=True) as b2:
        assert b2.read_bytes() == b"abc"
    assert not p.exists()


def test_no_cleanup_keeps_file(tmp_path: Path) -> None:
    p = tmp_path / "keep.bin"
    p.write_bytes(b"abc")
    with Blob("x/y", path=p):
        pass
    assert p.exists()


def test_cleanup_on_garbage_collection(tmp_path: Path) -> None:
    p = tmp_path / "gc.bin"
    p.write_bytes(b"abc")
    b = Blob("x/y", path=p, cleanup=True)
    del b
    gc.collect()
    assert not p.exists()


def test_exactly_one_source(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Blob("x/y")
    p = tmp_path / "f"
    p.write_bytes(b"a")
    with pytest.raises(ValueError):
        Blob("x/y", data=b"a", path=p)


def test_data_url_and_limit() -> None:
    b = Blob("image/png", data=b"\x89PNG")
    assert b.data_url() == "data:image/png;base64," + base64.b64encode(b"\x89PNG").decode()
    with pytest.raises(ToolError) as ei:
        Blob("video/mp4", data=b"x" * 100).data_url(limit=10)
    assert ei.value.code.value == "RESOURCE_TOO_LARGE"


def test_bytearray_is_frozen_and_repr_hides_data() -> None:
    ba = bytearray(b"secret-bytes")
    b = Blob("x/y", data=ba)
    ba[:] = b"changed!!!!!"
    assert b.read_bytes() == b"secret-bytes"
    assert "secret" not in repr(b)
    assert b.kind == "x"
    assert len(b) == 12


def test_missing_file_is_invalid_input(tmp_path: Path) -> None:
    for make in (
        lambda: Blob("x/y", path=tmp_path / "nope"),
        lambda: Blob.from_path(tmp_path / "nope"),
    ):
        with pytest.raises(ToolError) as ei:
            make()
        assert ei.value.code.value == "INVALID_INPUT"
        assert str(tmp_path) not in ei.value.message  # only the file name


def test_from_bytes_and_from_path_sniff(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(40)
    assert Blob.from_bytes(png).mime == "image/png"
    assert Blob.from_bytes(b"???").mime == "application/octet-stream"
    p = tmp_path / "x.bin"
    p.write_bytes(png)
    b = Blob.from_path(p)
    assert (b.mime, b.name, b.size, b.in_memory) == ("image/png", "x.bin", len(png), False)
