"""Sandbox matrix (input and output roots) and atomic writes."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from or_magic.config import Settings, load_settings
from or_magic.errors import ErrorCode, ToolError
from or_magic.safety.atomic import AtomicFile, atomic_write, with_extension
from or_magic.safety.paths import check_input_size, resolve_input_path, resolve_output_path

posix_only = pytest.mark.skipif(
    sys.platform == "win32", reason="symlinks need privileges on Windows"
)


@pytest.fixture
def sandbox(tmp_path: Path) -> tuple[Path, Path, Settings]:
    """An input root with a file in it, a secret outside it, and settings pointing there."""
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    (root / "photo.jpg").write_bytes(b"\xff\xd8\xff" + b"x" * 100)
    (root / "sub" / "clip.wav").write_bytes(b"RIFF" + b"y" * 40)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("top secret")
    return root, outside, Settings(input_dir=root)


def code_of(fn, *a, **kw) -> ToolError:
    with pytest.raises(ToolError) as ei:
        fn(*a, **kw)
    return ei.value


# ---- input sandbox ----------------------------------------------------------------------------------


def test_relative_and_absolute_inside_are_fine(sandbox) -> None:
    root, _, s = sandbox
    real_root = Path(os.path.realpath(root))
    assert resolve_input_path("photo.jpg", s) == real_root / "photo.jpg"
    assert resolve_input_path("sub/clip.wav", s) == real_root / "sub" / "clip.wav"
    assert resolve_input_path("sub/../photo.jpg", s) == real_root / "photo.jpg"
    assert resolve_input_path(root / "photo.jpg", s) == real_root / "photo.jpg"
    assert resolve_input_path(str(root / "sub" / "clip.wav").encode(), s).name == "clip.wav"


@pytest.mark.parametrize(
    "rel",
    [
        "../outside/secret.txt",
        "sub/../../outside/secret.txt",
        "../outside/missing.txt",
        "../../../../../../etc/passwd",
    ],
)
def test_traversal_is_unsafe(sandbox, rel: str) -> None:
    err = code_of(resolve_input_path, rel, sandbox[2])
    assert err.code is ErrorCode.UNSAFE_PATH
    assert (
        "OPENROUTER_INPUT_DIR" in err.message and "OPENROUTER_ALLOW_UNSAFE_PATHS=1" in err.message
    )


def test_absolute_outside_is_unsafe_even_when_missing(sandbox) -> None:
    _, outside, s = sandbox
    for p in ("/etc/passwd", str(outside / "secret.txt"), str(outside / "nope.bin")):
        assert (
            code_of(resolve_input_path, p, s).code is ErrorCode.UNSAFE_PATH
        )  # probing says nothing


@posix_only
def test_symlinked_file_pointing_out_is_unsafe(sandbox) -> None:
    root, outside, s = sandbox
    (root / "link.jpg").symlink_to(outside / "secret.txt")
    (root / "dangling.jpg").symlink_to(outside / "not-there.jpg")
    err = code_of(resolve_input_path, "link.jpg", s)
    assert err.code is ErrorCode.UNSAFE_PATH and "symlink" in err.message
    assert code_of(resolve_input_path, "dangling.jpg", s).code is ErrorCode.UNSAFE_PATH


@posix_only
def test_symlinked_parent_pointing_out_is_unsafe(sandbox) -> None:
    root, outside, s = sandbox
    (root / "escape").symlink_to(outside, target_is_directory=True)
    assert code_of(resolve_input_path, "escape/secret.txt", s).code is ErrorCode.UNSAFE_PATH
    assert code_of(resolve_input_path, "escape/missing/x.jpg", s).code is ErrorCode.UNSAFE_PATH


@posix_only
def test_symlink_staying_inside_is_fine(sandbox) -> None:
    root, _, s = sandbox
    (root / "alias.jpg").symlink_to(root / "photo.jpg")
    assert resolve_input_path("alias.jpg", s).name == "photo.jpg"


def test_missing_file_directory_nul_and_empty(sandbox) -> None:
    _, _, s = sandbox
    err = code_of(resolve_input_path, "nope.jpg", s)
    assert err.code is ErrorCode.INVALID_INPUT and "file not found" in err.message
    assert code_of(resolve_input_path, "sub", s).code is ErrorCode.INVALID_INPUT
    assert code_of(resolve_input_path, "photo.jpg\x00.png", s).code is ErrorCode.UNSAFE_PATH
    assert code_of(resolve_input_path, "", s).code is ErrorCode.INVALID_INPUT


def test_a_folder_named_tilde_is_reached_with_dot_slash(sandbox) -> None:
    """``~/f.jpg`` is the home directory (tests/safety/test_home_paths.py); a folder that is
    really called ``~`` is ``./~``."""
    root, _, s = sandbox
    (root / "~").mkdir()
    (root / "~" / "f.jpg").write_bytes(b"abc")
    assert resolve_input_path("./~/f.jpg", s) == Path(os.path.realpath(root)) / "~" / "f.jpg"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_fifo_is_refused(sandbox) -> None:
    root, _, s = sandbox
    os.mkfifo(root / "pipe.wav")
    assert code_of(resolve_input_path, "pipe.wav", s).code is ErrorCode.INVALID_INPUT


def test_unsafe_bypass_reads_outside(sandbox) -> None:
    _, outside, s = sandbox
    bypass = s.replace(allow_unsafe_paths=True)
    assert resolve_input_path(outside / "secret.txt", bypass).name == "secret.txt"
    assert resolve_input_path("../outside/secret.txt", bypass).name == "secret.txt"  # root-relative
    assert resolve_input_path("photo.jpg", bypass).name == "photo.jpg"
    assert code_of(resolve_input_path, outside / "missing", bypass).code is ErrorCode.INVALID_INPUT


def test_input_root_falls_back_to_output_dir_then_cwd(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"a")
    cwd = Path.cwd()  # the conftest's per-test working directory
    (cwd / "b.png").write_bytes(b"b")
    s_out = load_settings({"OPENROUTER_OUTPUT_DIR": str(out)})
    assert resolve_input_path("a.png", s_out).name == "a.png"
    assert code_of(resolve_input_path, cwd / "b.png", s_out).code is ErrorCode.UNSAFE_PATH
    s_none = load_settings({})
    assert resolve_input_path("b.png", s_none).name == "b.png"
    s_in = load_settings({"OPENROUTER_OUTPUT_DIR": str(cwd), "OPENROUTER_INPUT_DIR": str(out)})
    assert resolve_input_path("a.png", s_in).name == "a.png"
    assert (
        code_of(resolve_input_path, "b.png", s_in).code is ErrorCode.INVALID_INPUT
    )  # not in INPUT_DIR
    assert code_of(resolve_input_path, cwd / "b.png", s_in).code is ErrorCode.UNSAFE_PATH


def test_check_input_size(tmp_path: Path) -> None:
    f = tmp_path / "x.bin"
    f.write_bytes(b"z" * 2000)
    assert check_input_size(f, 2000) == 2000
    err = code_of(check_input_size, f, 1999, variable="OPENROUTER_AUDIO_MAX_DOWNLOAD_BYTES")
    assert (
        err.code is ErrorCode.RESOURCE_TOO_LARGE
        and "OPENROUTER_AUDIO_MAX_DOWNLOAD_BYTES" in err.message
    )
    assert err.details == {"size_bytes": 2000, "limit_bytes": 1999}
    (tmp_path / "empty.wav").write_bytes(b"")
    assert code_of(check_input_size, tmp_path / "empty.wav", 10).code is ErrorCode.INVALID_INPUT


# ---- output sandbox ---------------------------------------------------------------------------------------


@pytest.fixture
def out_settings(tmp_path: Path) -> tuple[Path, Settings]:
    root = tmp_path / "results" / "deep"  # does not exist yet: must be created
    return root, Settings(output_dir=root)


def test_output_root_and_nested_dirs_are_created(out_settings) -> None:
    root, s = out_settings
    p = resolve_output_path("a/b/c/img.png", s)
    assert p == Path(os.path.realpath(root)) / "a" / "b" / "c" / "img.png"
    assert p.parent.is_dir() and not p.exists()
    assert resolve_output_path(root / "x.png", s).parent == Path(os.path.realpath(root))


def test_output_root_defaults_to_cwd() -> None:
    assert resolve_output_path("r.png", Settings()) == Path(os.path.realpath(Path.cwd())) / "r.png"


@pytest.mark.parametrize("bad", ["../x.png", "a/../../x.png", "/etc/cron.d/x", "/tmp/x.png"])
def test_output_traversal_and_absolute_outside(out_settings, bad: str) -> None:
    root, s = out_settings
    err = code_of(resolve_output_path, bad, s)
    assert err.code is ErrorCode.UNSAFE_PATH
    assert err.message.startswith(
        f"save_path resolves outside OPENROUTER_OUTPUT_DIR ({os.path.realpath(root)})."
    )
    assert "OPENROUTER_ALLOW_UNSAFE_PATHS=1 to disable this check." in err.message
    assert not (root.parent / "x.png").exists() and not (root / "a").exists()  # nothing was created


@posix_only
def test_output_symlinked_parent_and_final_component(out_settings, tmp_path: Path) -> None:
    root, s = out_settings
    resolve_output_path("seed.png", s)  # creates root
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root / "escape").symlink_to(outside, target_is_directory=True)
    err = code_of(resolve_output_path, "escape/new/x.png", s)
    assert err.code is ErrorCode.UNSAFE_PATH and "via symlink" in err.message
    assert not (outside / "new").exists()
    victim = outside / "victim.txt"
    victim.write_text("keep me")
    (root / "out.png").symlink_to(victim)
    err = code_of(resolve_output_path, "out.png", s)
    assert err.code is ErrorCode.UNSAFE_PATH and "symlink" in err.message
    (root / "dangling.png").symlink_to(outside / "nothing-yet.png")
    assert code_of(resolve_output_path, "dangling.png", s).code is ErrorCode.UNSAFE_PATH
    assert victim.read_text() == "keep me"


@posix_only
def test_output_root_itself_a_symlink_is_fine(tmp_path: Path) -> None:
    real = tmp_path / "real-out"
    real.mkdir()
    link = tmp_path / "out-link"
    link.symlink_to(real, target_is_directory=True)
    p = resolve_output_path("x.png", Settings(output_dir=link))
    assert p == Path(os.path.realpath(real)) / "x.png"


def test_output_bad_names(out_settings) -> None:
    _, s = out_settings
    assert code_of(resolve_output_path, "x\x00.png", s).code is ErrorCode.UNSAFE_PATH
    for bad in ("", "dir/", ".", ".."):
        assert code_of(resolve_output_path, bad, s).code in (
            ErrorCode.INVALID_INPUT,
            ErrorCode.UNSAFE_PATH,
        )
    resolve_output_path("d/x.png", s)
    assert (
        code_of(resolve_output_path, "d", s).code is ErrorCode.INVALID_INPUT
    )  # an existing directory


def test_output_unsafe_bypass(out_settings, tmp_path: Path) -> None:
    _, s = out_settings
    bypass = s.replace(allow_unsafe_paths=True)
    target = tmp_path / "anywhere" / "x.png"
    assert resolve_output_path(target, bypass) == target
    assert target.parent.is_dir()


# ---- atomic writes ----------------------------------------------------------------------------------------


def parts(d: Path) -> list[Path]:
    return [p for p in d.iterdir() if p.name.endswith(".part")]


def test_atomic_write_bytes_and_chunks(tmp_path: Path) -> None:
    p = tmp_path / "a.bin"
    assert atomic_write(p, b"hello") == p and p.read_bytes() == b"hello"
    atomic_write(p, (bytes([i]) * 10 for i in range(3)))
    assert p.read_bytes() == b"\x00" * 10 + b"\x01" * 10 + b"\x02" * 10
    assert parts(tmp_path) == []


def test_failed_overwrite_keeps_previous_content(tmp_path: Path) -> None:
    p = tmp_path / "a.bin"
    p.write_bytes(b"old")

    def chunks():
        yield b"new-part-1"
        raise OSError("disk on fire")

    with pytest.raises(OSError):
        atomic_write(p, chunks())
    assert p.read_bytes() == b"old" and parts(tmp_path) == []


def test_keyboard_interrupt_mid_write(tmp_path: Path) -> None:
    p = tmp_path / "k.bin"
    with pytest.raises(KeyboardInterrupt), AtomicFile(p) as f:
        f.write(b"half")
        assert f.tmp_path is not None and f.tmp_path.name.startswith(".k.bin.")
        raise KeyboardInterrupt
    assert not p.exists() and parts(tmp_path) == []


def test_cancellation_mid_async_write(tmp_path: Path) -> None:
    p = tmp_path / "v.mp4"
    p.write_bytes(b"previous")
    started = asyncio.Event()

    async def writer() -> None:
        async with AtomicFile(p) as f:
            for _ in range(1000):
                f.write(b"x" * 1024)
                started.set()
                await asyncio.sleep(0.01)

    async def main() -> None:
        t = asyncio.ensure_future(writer())
        await started.wait()
        assert len(parts(tmp_path)) == 1
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t

    asyncio.run(main())
    assert p.read_bytes() == b"previous" and parts(tmp_path) == []


def test_explicit_open_commit_abort(tmp_path: Path) -> None:
    p = tmp_path / "e.bin"
    f = AtomicFile(p).open()
    f.write(b"abc")
    assert not p.exists()
    assert f.commit() == p and p.read_bytes() == b"abc" and f.committed
    g = AtomicFile(p).open()
    g.write(b"zzz")
    g.abort()
    g.abort()  # twice is harmless
    assert p.read_bytes() == b"abc" and parts(tmp_path) == []


@posix_only
def test_commit_replaces_a_symlink_instead_of_writing_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    link = tmp_path / "out.png"
    link.symlink_to(victim)
    atomic_write(link, b"png")
    assert victim.read_text() == "keep"
    assert not link.is_symlink() and link.read_bytes() == b"png"


@posix_only
def test_temp_file_is_created_exclusively(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import secrets as secrets_mod

    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    tokens = iter(["aaaaaaaaaaaa", "bbbbbbbbbbbb"])
    monkeypatch.setattr(secrets_mod, "token_hex", lambda n: next(tokens))
    (tmp_path / ".o.png.aaaaaaaaaaaa.part").symlink_to(victim)  # planted at the first guess
    atomic_write(tmp_path / "o.png", b"data")
    assert victim.read_text() == "keep" and (tmp_path / "o.png").read_bytes() == b"data"


def test_unwritable_directory_is_a_tool_error(tmp_path: Path) -> None:
    with pytest.raises(ToolError) as ei:
        atomic_write(tmp_path / "missing-dir" / "x.bin", b"x")
    assert ei.value.code is ErrorCode.INVALID_INPUT


@pytest.mark.parametrize(
    ("path", "ext", "expected"),
    [
        ("photo.png", "jpg", "photo.jpg"),
        ("photo.png", ".jpg", "photo.jpg"),
        ("photo.JPG", "jpg", "photo.JPG"),
        ("photo.jpeg", "jpg", "photo.jpeg"),
        ("clip.mp4", "mov", "clip.mov"),
        ("noext", "wav", "noext.wav"),
        ("trailing.", "wav", "trailing.wav"),
        (".hidden", "png", ".hidden.png"),
        (".hidden.gif", "png", ".hidden.png"),
        ("a/b.c/archive.tar.gz", "png", "a/b.c/archive.tar.png"),
        ("dir.v2/file", "png", "dir.v2/file.png"),
    ],
)
def test_with_extension(path: str, ext: str, expected: str) -> None:
    assert with_extension(path, ext) == Path(expected)


def test_missing_input_root_reports_not_found_not_a_symlink(tmp_path):
    from or_magic.config import load_settings
    from or_magic.safety.paths import resolve_input_path

    settings = load_settings({"OPENROUTER_OUTPUT_DIR": str(tmp_path / "not-yet")})
    with pytest.raises(ToolError) as ei:
        resolve_input_path("photo.png", settings)
    assert ei.value.code.value == "INVALID_INPUT" and "does not exist" in ei.value.message
    with pytest.raises(ToolError) as ei:
        resolve_input_path("../outside.png", settings)
    assert ei.value.code.value == "UNSAFE_PATH"


# ---- commit(keep_previous=True): a rollback gives back what a commit replaced ----------------


@pytest.fixture(params=["hard link", "moved aside"])
def keeping(request, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways the previous file is kept: a hard link, or (no hard links) a move aside."""
    if request.param == "moved aside":

        def no_links(*a, **k):
            raise PermissionError(1, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_links)
    return request.param


def test_undo_puts_the_replaced_file_back(tmp_path: Path, keeping: str) -> None:
    d = tmp_path / "out"
    d.mkdir()
    p = d / "m.png"
    p.write_bytes(b"OLD")
    f = AtomicFile(p, root=str(d)).open()
    f.write(b"NEW")
    f.commit(keep_previous=True)
    assert p.read_bytes() == b"NEW"
    f.undo()
    assert p.read_bytes() == b"OLD" and os.listdir(d) == ["m.png"]


def test_a_commit_that_fails_after_keeping_loses_nothing(
    tmp_path: Path, keeping: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = tmp_path / "out"
    d.mkdir()
    p = d / "m.png"
    p.write_bytes(b"OLD")
    f = AtomicFile(p, root=str(d)).open()
    f.write(b"NEW")
    real = AtomicFile._rename

    def failing(self, src: str, dst: str) -> None:
        if src.endswith(".part"):  # the temp file's rename into place fails
            raise OSError(5, "Input/output error")
        real(self, src, dst)

    monkeypatch.setattr(AtomicFile, "_rename", failing)
    with pytest.raises(OSError):
        f.commit(keep_previous=True)
    assert p.read_bytes() == b"OLD" and os.listdir(d) == ["m.png"]
