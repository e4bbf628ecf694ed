"""Both sandboxes hold under a race: a swapper thread turns a directory (or the file) inside the
root into a symlink pointing outside, over and over, while writes and reads run. No byte may land
outside the root and no byte of the outside canary may be read (issue 10).

Each race runs for at most ``BUDGET_S`` seconds or ``ITERATIONS`` calls, whichever comes first;
the swapper (its own process, so truly parallel) signals readiness with an event (no sleeps). Against the old check-then-open-by-path
code these tests fail within a few hundred iterations.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from or_magic.config import Settings
from or_magic.double._media import png
from or_magic.errors import ToolError

# Same condition as safety.dirfd.DIR_FD_SUPPORTED (spelled out so this file also runs, and
# fails, against the old check-then-open code).
pytestmark = pytest.mark.skipif(
    os.name != "posix" or os.open not in os.supports_dir_fd,
    reason="the race-free guarantee needs dir_fd (README, Security)",
)

BUDGET_S = 2.0
ITERATIONS = 5000
HOLD = 30  # lstat calls the swapper keeps each state (real dir / symlink) in place for


def _dir_swapper(sub: Path, outside: Path, stop: Any, ready: Any) -> None:
    """Replace the real directory ``sub`` by a symlink to ``outside`` and back, forever."""
    aside = sub.with_name(sub.name + ".aside")
    while not stop.is_set():
        try:
            os.rename(sub, aside)
            os.symlink(outside, sub, target_is_directory=True)
            ready.set()
            for _ in range(HOLD):  # keep the symlink in place a while (syscalls, not sleeps)
                os.lstat(sub)
            os.unlink(sub)
            os.rename(aside, sub)
            for _ in range(HOLD):  # and the real directory (so checks pass, then the swap bites)
                os.lstat(sub)
        except OSError:  # a writer re-created `sub` meanwhile: put the real one back
            try:
                if sub.is_symlink():
                    os.unlink(sub)
                elif sub.is_dir() and aside.is_dir():
                    shutil.rmtree(sub, ignore_errors=True)
                if aside.is_dir() and not sub.exists():
                    os.rename(aside, sub)
            except OSError:
                pass


def _file_swapper(target: Path, good: bytes, canary: Path, stop: Any, ready: Any) -> None:
    """Replace the regular file ``target`` by a symlink to ``canary`` and back (atomic renames)."""
    link = target.with_name(".swap-link")
    fresh = target.with_name(".swap-file")
    while not stop.is_set():
        try:
            if link.is_symlink():
                os.unlink(link)
            os.symlink(canary, link)
            os.replace(link, target)
            ready.set()
            fresh.write_bytes(good)
            os.replace(fresh, target)
        except OSError:
            pass


def _race(swapper: Callable[..., None], args: tuple, call: Callable[[int], None]) -> int:
    """Run ``call(i)`` while ``swapper`` runs in another *process* (no GIL in common: it flips
    as fast as the kernel allows, truly in parallel); returns how many iterations ran."""
    ctx = multiprocessing.get_context("spawn")
    stop, ready = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=swapper, args=(*args, stop, ready), daemon=True)
    proc.start()
    try:
        assert ready.wait(30), "the swapper did not start"
        deadline = time.monotonic() + BUDGET_S
        i = 0
        while i < ITERATIONS and time.monotonic() < deadline:
            call(i)
            i += 1
        return i
    finally:
        stop.set()
        proc.join(10)
        if proc.is_alive():  # pragma: no cover - only our own child
            proc.terminate()
            proc.join(5)


def _acceptable(err: ToolError) -> bool:
    """A refusal, or a write that failed because the swapper removed the directory under it."""
    if err.code.value in ("UNSAFE_PATH", "INVALID_INPUT"):
        return True
    return err.code.value == "INTERNAL" and err.message.startswith("Write: cannot write")


def _files_under(d: Path) -> list[Path]:
    return [Path(r) / f for r, _, fs in os.walk(d) for f in fs]


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Settings]:
    # fsync is irrelevant to the race and costs milliseconds: more iterations fit the budget.
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    return root, outside, Settings(output_dir=root, input_dir=root)


# ---- output sandbox -----------------------------------------------------------------------------


def test_deliver_bytes_never_writes_outside_while_a_parent_is_swapped(tree) -> None:
    from or_magic.tools.saving import resolve_save
    from tests.conftest import deliver_png

    root, outside, s = tree
    data = png(4, 4, b"\x01" * 32)
    outcomes = {"saved": 0, "refused": 0}

    def call(i: int) -> None:
        try:
            target = resolve_save(f"sub/img-{i}.png", s)
            deliver_png(data, s, target)
            outcomes["saved"] += 1
        except ToolError as err:  # refusing is fine; landing outside is not
            assert _acceptable(err), err.message
            outcomes["refused"] += 1

    n = _race(_dir_swapper, (root / "sub", outside), call)
    assert n > 50, n
    assert _files_under(outside) == [], f"{len(_files_under(outside))} files escaped in {n} calls"
    assert outcomes["saved"] + outcomes["refused"] == n


def test_streamed_download_never_writes_outside_while_a_parent_is_swapped(tree) -> None:
    """The video path: StreamTarget streams into a temp file, then commits."""
    from or_magic.tools.saving import StreamTarget, resolve_save

    root, outside, s = tree
    chunk = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 1000

    def call(i: int) -> None:
        target = None
        try:
            save = resolve_save(f"sub/clip-{i}.mp4", s)
            target = StreamTarget(
                tool="t", kind="video", settings=s, save_path=save, default_ext=".mp4"
            )
            for _ in range(3):
                target.write(chunk)
            target.finish(mime="video/mp4", ext=".mp4", noun="Video")
        except ToolError as err:
            assert _acceptable(err), err.message
            if target is not None:
                target.abort()

    n = _race(_dir_swapper, (root / "sub", outside), call)
    assert n > 50, n
    escaped = _files_under(outside)
    assert escaped == [], f"{len(escaped)} files (finished or .part) escaped in {n} calls"


# ---- input sandbox ------------------------------------------------------------------------------

GOOD = png(4, 4, b"\x02" * 32)
CANARY = png(4, 4, b"\xca" * 32)  # unique content outside the root


def _load(path: str, s: Settings) -> bytes:
    import anyio

    from or_magic.media.sources import load_source

    async def go() -> bytes:
        blob = await load_source(path, kind="image", settings=s)
        try:
            return blob.read_bytes()
        finally:
            blob.close()

    return anyio.run(go)


def _reader(s: Settings, path: str, seen: dict[str, int]) -> Callable[[int], None]:
    def call(i: int) -> None:
        try:
            got = _load(path, s)
        except ToolError as err:
            assert err.code.value in ("UNSAFE_PATH", "INVALID_INPUT", "UNSUPPORTED_FORMAT"), (
                err.message
            )
            seen["refused"] += 1
            return
        assert got != CANARY, f"read the outside canary on call {i}"
        assert got == GOOD
        seen["good"] += 1

    return call


def test_input_parent_swapped_for_a_symlink_never_reads_outside(tree) -> None:
    root, outside, s = tree
    (root / "sub" / "pic.png").write_bytes(GOOD)
    (outside / "pic.png").write_bytes(CANARY)
    seen = {"good": 0, "refused": 0}
    n = _race(_dir_swapper, (root / "sub", outside), _reader(s, "sub/pic.png", seen))
    assert n > 50 and seen["good"] + seen["refused"] == n


def test_input_file_swapped_for_a_symlink_never_reads_outside(tree) -> None:
    root, outside, s = tree
    target = root / "sub" / "pic.png"
    target.write_bytes(GOOD)
    canary = outside / "canary.png"
    canary.write_bytes(CANARY)
    seen = {"good": 0, "refused": 0}
    n = _race(_file_swapper, (target, GOOD, canary), _reader(s, "sub/pic.png", seen))
    assert n > 50 and seen["good"] + seen["refused"] == n


def test_reads_go_through_the_checked_descriptor_only(tree) -> None:
    """Once loaded, replacing the file at that name (by a symlink to the canary, or new bytes)
    changes nothing that is later read for the request."""
    import anyio

    from or_magic.media.sources import load_source

    root, outside, s = tree
    target = root / "sub" / "pic.png"
    target.write_bytes(GOOD)
    (outside / "canary.png").write_bytes(CANARY)

    async def go() -> tuple[bytes, bytes, list[bytes]]:
        blob = await load_source("sub/pic.png", kind="image", settings=s)
        try:
            os.unlink(target)
            target.symlink_to(outside / "canary.png")
            return blob.head(64), blob.read_bytes(), list(blob.iter_chunks(7))
        finally:
            blob.close()

    head, data, chunks = anyio.run(go)
    assert data == GOOD and head == GOOD[:64] and b"".join(chunks) == GOOD
