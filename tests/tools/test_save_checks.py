"""Everything about a save_path that can be checked locally is checked before the paid request,
hostile shapes get a specific code (never INTERNAL / RecursionError), several outputs are saved
all-or-nothing, and the default sandbox root is never the whole filesystem (issue 10)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from or_magic import config
from or_magic.config import Settings
from or_magic.errors import ErrorCode, ToolError
from or_magic.tools import video_catalog
from or_magic.tools.api import call_tool
from tests.tools._helpers import GEN_TOOLS, inproc_double_fixture

pytestmark = pytest.mark.anyio


double = inproc_double_fixture()


@pytest.fixture
def out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    video_catalog.reset()
    root = tmp_path / "out"
    root.mkdir()
    monkeypatch.setenv("OPENROUTER_OUTPUT_DIR", str(root))
    monkeypatch.setenv("OPENROUTER_INPUT_DIR", str(tmp_path / "work"))
    return root


def bad_names(root: Path) -> dict[str, tuple[str, str]]:
    (root / "taken-dir.png").mkdir()
    (root / "file.txt").write_text("x")
    return {
        "300-character name": ("n" * 300 + ".png", "name_too_long"),
        "name that leaves no room for -2/extension": ("n" * 250 + ".png", "name_too_long"),
        "deeply nested": ("a/" * 100_000 + "x.png", "path_too_long"),
        "too many levels": ("a/" * 70 + "x.png", "too_deep"),
        "long directory name": ("d" * 256 + "/x.png", "name_too_long"),
        "control character": ("bad\nname.png", "bad_character"),
        "existing directory": ("taken-dir.png", None),
        "a file as the parent": ("file.txt/x.png", "not_a_directory"),
    }


@pytest.mark.parametrize("tool", list(GEN_TOOLS))
async def test_names_the_filesystem_refuses_are_invalid_input_before_any_request(double, out, tool):
    for case, (path, reason) in bad_names(out).items():
        r = await call_tool(tool, {**GEN_TOOLS[tool], "save_path": path})
        assert r.code == "INVALID_INPUT", (tool, case, r.code, r.text[:200])
        if reason is not None:
            assert r.details.get("reason") == reason, (tool, case, r.details)
        assert double.requests == [], f"{tool}: {case} was refused only after a request"
    assert not (out / "a").exists() and not (out / ("d" * 10)).exists()


async def test_a_long_but_valid_name_is_written(double, out):
    """A name at NAME_MAX minus the reserve works: the temp name (``.<name>.<hex>.part``) is
    shortened, so it does not overflow NAME_MAX after the request was paid for."""
    name = "n" * (255 - 12 - 4) + ".png"
    r = await call_tool("generate_image", {"prompt": "a fox", "save_path": name})
    assert r.ok, r.text
    assert (out / name).is_file() and [p for p in out.iterdir() if p.name.endswith(".part")] == []


async def test_unwritable_directory_is_refused_before_any_request(double, out):
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("root can write anywhere")
    (out / "ro").mkdir()
    (out / "ro").chmod(0o555)
    try:
        r = await call_tool("generate_image", {"prompt": "x", "save_path": "ro/x.png"})
    finally:
        (out / "ro").chmod(0o755)
    assert r.code == "INVALID_INPUT" and r.details["reason"] == "not_writable"
    assert double.requests == []


async def test_every_numbered_target_is_checked_before_any_request(double, out):
    (out / "m-2.png").mkdir()  # the second of n=3 would land on a directory
    r = await call_tool("generate_image_dedicated", {"prompt": "x", "n": 3, "save_path": "m.png"})
    assert r.code == "INVALID_INPUT", r.text
    assert double.requests == []
    assert sorted(p.name for p in out.iterdir()) == ["m-2.png"]


async def test_several_outputs_are_all_or_nothing(double, out, monkeypatch):
    """The second image fails to write (disk full): the first must not remain either, and the
    paid images are kept in the result with the error's code (saving.py, ``paid``)."""
    from or_magic.safety import atomic

    real_write = atomic.AtomicFile.write
    calls = {"n": 0}

    def failing_write(self, chunk):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return real_write(self, chunk)

    monkeypatch.setattr(atomic.AtomicFile, "write", failing_write)
    r = await call_tool("generate_image_dedicated", {"prompt": "x", "n": 3, "save_path": "m.png"})
    assert r.code == "INTERNAL" and "No space left" in r.text
    assert r.meta["saved"] is False and len(r.media) == 3
    assert all(m.path is None and m.data.startswith(b"\x89PNG") for m in r.media)
    assert list(out.iterdir()) == [], sorted(p.name for p in out.iterdir())


def fail_the_third_commit(monkeypatch) -> None:
    """The third rename of a save fails (an I/O error), after two have gone through."""
    from or_magic.safety import atomic

    real_commit = atomic.AtomicFile.commit
    calls = {"n": 0}

    def failing_commit(self, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            self.abort()
            raise OSError(5, "Input/output error")
        return real_commit(self, **kw)

    monkeypatch.setattr(atomic.AtomicFile, "commit", failing_commit)


async def test_several_outputs_roll_back_when_a_rename_fails(double, out, monkeypatch):
    fail_the_third_commit(monkeypatch)
    r = await call_tool("generate_image_dedicated", {"prompt": "x", "n": 3, "save_path": "m.png"})
    assert r.code == "INTERNAL" and r.meta["saved"] is False  # kept in the result, not saved
    assert all(m.path is None and m.data for m in r.media) and len(r.media) == 3
    assert list(out.iterdir()) == [], sorted(p.name for p in out.iterdir())


async def test_a_rollback_puts_back_the_files_the_group_had_replaced(double, out, monkeypatch):
    """Saving over existing files, the third rename fails: the two the call had already renamed
    over the user's files must give those files back, not delete them."""
    (out / "m.png").write_bytes(b"the user's first picture")
    (out / "m-2.png").write_bytes(b"the user's second picture")
    fail_the_third_commit(monkeypatch)
    r = await call_tool("generate_image_dedicated", {"prompt": "x", "n": 3, "save_path": "m.png"})
    assert r.code == "INTERNAL" and r.meta["saved"] is False and len(r.media) == 3
    assert sorted(p.name for p in out.iterdir()) == ["m-2.png", "m.png"]  # no temp or kept file
    assert (out / "m.png").read_bytes() == b"the user's first picture"
    assert (out / "m-2.png").read_bytes() == b"the user's second picture"


async def test_a_group_saved_over_existing_files_leaves_no_kept_copies(double, out):
    (out / "m.png").write_bytes(b"old")
    r = await call_tool("generate_image_dedicated", {"prompt": "x", "n": 2, "save_path": "m.png"})
    assert r.ok and r.meta.get("saved") is not False, r.text
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 2 and not any(n.startswith(".") for n in names), names
    assert (out / "m.png").read_bytes().startswith(b"\x89PNG")


def test_hostile_shapes_are_coded_errors_not_recursion(tmp_path: Path):
    from or_magic.safety.paths import resolve_input_path, resolve_output_path

    s = Settings(output_dir=tmp_path / "o", input_dir=tmp_path)
    for bad in ("a/" * 100_000 + "x.png", "a/" * 2000 + "x.png", "/" * 50_000 + "x"):
        with pytest.raises(ToolError) as ei:
            resolve_output_path(bad, s)
        assert ei.value.code is ErrorCode.INVALID_INPUT, bad[:20]
        with pytest.raises(ToolError) as ei:
            resolve_input_path(bad, s)
        assert ei.value.code in (ErrorCode.INVALID_INPUT, ErrorCode.UNSAFE_PATH), bad[:20]


# ---- input files: type and link policy ----------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
async def test_a_fifo_is_refused_without_blocking(tmp_path: Path):
    """Opening a FIFO for reading would block forever; the sandbox opens non-blocking, fstat-s
    and refuses anything that is not a regular file."""
    from or_magic.media.sources import load_source

    os.mkfifo(tmp_path / "pipe.png")
    with pytest.raises(ToolError) as ei:
        await load_source("pipe.png", kind="image", settings=Settings(input_dir=tmp_path))
    assert ei.value.code is ErrorCode.INVALID_INPUT and "not a regular file" in ei.value.message


@pytest.mark.skipif(not hasattr(os, "link"), reason="needs hard links")
async def test_hard_links_inside_the_root_are_files_inside_the_root(tmp_path: Path):
    """The documented policy (README, Security): a hard link is accepted like any file."""
    from or_magic.double._media import png
    from or_magic.media.sources import load_source

    root = tmp_path / "root"
    root.mkdir()
    data = png(3, 3, b"\x05" * 32)
    (tmp_path / "elsewhere.png").write_bytes(data)
    os.link(tmp_path / "elsewhere.png", root / "linked.png")
    blob = await load_source("linked.png", kind="image", settings=Settings(input_dir=root))
    try:
        assert blob.read_bytes() == data
    finally:
        blob.close()


# ---- the default root ---------------------------------------------------------------------------


@pytest.fixture
def fresh_notice(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setattr(config.roots, "_notice_shown", False)  # the notice is said once
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr("sys.platform", "linux")
    return tmp_path / "xdg" / "or_magic" / "files"


@pytest.mark.skipif(os.name != "posix", reason="POSIX system directories")
@pytest.mark.parametrize("cwd", ["/", "/etc", "/usr/lib", "/proc/self"])
def test_system_working_directory_uses_the_per_user_root(fresh_notice, monkeypatch, capsys, cwd):
    if not os.path.isdir(cwd):
        pytest.skip(f"{cwd} missing here")
    monkeypatch.chdir(cwd)
    s = Settings()
    assert s.output_root == fresh_notice and s.input_root == fresh_notice
    assert s.output_root == fresh_notice  # asked twice ...
    err = capsys.readouterr().err
    assert err.count("not a project folder") == 1 and str(fresh_notice) in err  # ... said once
    assert fresh_notice.is_dir()


@pytest.mark.skipif(os.name != "posix", reason="POSIX paths")
def test_from_slash_nothing_outside_the_per_user_root_is_readable(fresh_notice, monkeypatch):
    from or_magic.safety.paths import resolve_input_path, resolve_output_path

    monkeypatch.chdir("/")
    s = Settings()
    for path in ("/etc/passwd", "etc/passwd"):
        with pytest.raises(ToolError) as ei:
            resolve_input_path(path, s)
        assert ei.value.code in (ErrorCode.UNSAFE_PATH, ErrorCode.INVALID_INPUT)
        assert "/etc/passwd" not in str(ei.value.details.get("root", ""))
    with pytest.raises(ToolError) as ei:
        resolve_output_path("/etc/or_magic-test.png", s)
    assert ei.value.code is ErrorCode.UNSAFE_PATH
    assert resolve_output_path("x.png", s) == Path(os.path.realpath(fresh_notice)) / "x.png"


def test_a_project_folder_stays_the_root(fresh_notice, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert Settings().output_root == tmp_path
    assert Settings(output_dir=Path("/")).output_root == Path("/")  # explicit is explicit
    assert capsys.readouterr().err == ""


async def test_a_tool_started_in_slash_saves_under_the_per_user_root(
    double, fresh_notice, monkeypatch
):
    monkeypatch.chdir("/")
    r = await call_tool("generate_image", {"prompt": "a fox", "save_path": "fox.png"})
    assert r.ok, r.text
    assert (fresh_notice / "fox.png").is_file()


# ---- the weaker fallback of platforms without dir_fd ---------------------------------------------


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
async def test_the_no_dir_fd_fallback_still_reads_writes_and_refuses(tmp_path, monkeypatch):
    """Windows has no dir_fd: the path-based fallback (realpath re-check, inode identity) must
    still work and still refuse the static escapes."""
    from or_magic.double._media import png
    from or_magic.media.sources import load_source
    from or_magic.safety import dirfd
    from or_magic.safety.paths import resolve_output_path
    from or_magic.tools.saving import resolve_save
    from tests.conftest import deliver_png

    monkeypatch.setattr(dirfd, "DIR_FD_SUPPORTED", False)
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "out").symlink_to(outside, target_is_directory=True)
    s = Settings(output_dir=root, input_dir=root)
    data = png(2, 2, b"\x07" * 32)
    d = deliver_png(data, s, resolve_save("a/b/x.png", s))
    assert Path(d.path).read_bytes() == data and Path(d.path).parent == root / "a" / "b"
    blob = await load_source("a/b/x.png", kind="image", settings=s)
    with blob:
        assert blob.read_bytes() == data
    with pytest.raises(ToolError) as ei:
        resolve_output_path("out/x.png", s)
    assert ei.value.code is ErrorCode.UNSAFE_PATH
    (outside / "x.png").write_bytes(data)
    with pytest.raises(ToolError) as ei:
        await load_source("out/x.png", kind="image", settings=s)
    assert ei.value.code is ErrorCode.UNSAFE_PATH
