"""``~`` in a save_path or an input path means the home directory, as in a shell, and is then
sandboxed like any other path: it works when the root contains home, and is the usual coded
``UNSAFE_PATH`` naming the expanded path when it does not. Never a literal ``~`` folder under the
root, never a way out of it, and a refusal costs nothing (no request)."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from or_magic.config import Settings
from or_magic.double._media import png
from or_magic.errors import ErrorCode, ToolError
from or_magic.safety.paths import resolve_input_path, resolve_output_path
from or_magic.tools.api import call_tool
from tests.tools._helpers import inproc_double_fixture

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX home directories")

double = inproc_double_fixture()
NO_SUCH_USER = "or_magic_no_such_user_zz"


@pytest.fixture
def roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """``(root, elsewhere)``: the sandbox root for inputs and outputs, and a directory beside it."""
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    monkeypatch.setenv("OPENROUTER_OUTPUT_DIR", str(root))
    monkeypatch.setenv("OPENROUTER_INPUT_DIR", str(root))
    return root, elsewhere


def _home(monkeypatch: pytest.MonkeyPatch, home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    return Path(os.path.realpath(home))


def _refusal(fn, *args) -> ToolError:
    with pytest.raises(ToolError) as ei:
        fn(*args)
    return ei.value


def test_home_inside_the_root_is_where_tilde_goes(roots, monkeypatch):
    root, _ = roots
    home = _home(monkeypatch, root / "home" / "me")
    s = Settings(output_dir=root, input_dir=root)
    assert resolve_output_path("~/pics/x.png", s) == home / "pics" / "x.png"
    (home / "photo.jpg").write_bytes(b"\xff\xd8\xff" + b"x" * 50)
    assert resolve_input_path("~/photo.jpg", s) == home / "photo.jpg"
    assert not (root / "~").exists()


def test_home_outside_the_root_is_the_usual_refusal_naming_the_expanded_path(roots, monkeypatch):
    root, elsewhere = roots
    home = _home(monkeypatch, elsewhere / "me")
    (home / "photo.jpg").write_bytes(b"\xff\xd8\xff" + b"x" * 50)
    s = Settings(output_dir=root, input_dir=root)
    out = _refusal(resolve_output_path, "~/x.png", s)
    assert out.code is ErrorCode.UNSAFE_PATH and out.details["reason"] == "outside_output_root"
    assert str(home / "x.png") in out.message and out.details["path"] == str(home / "x.png")
    assert "OPENROUTER_OUTPUT_DIR" in out.message
    inp = _refusal(resolve_input_path, "~/photo.jpg", s)
    assert inp.code is ErrorCode.UNSAFE_PATH and inp.details["reason"] == "outside_input_root"
    assert str(home / "photo.jpg") in inp.message
    assert not (root / "~").exists() and not (home / "x.png").exists()


def test_tilde_user_is_that_users_home(roots):
    root, _ = roots
    me = pwd.getpwuid(os.getuid())
    s = Settings(output_dir=root, input_dir=root)
    err = _refusal(resolve_output_path, f"~{me.pw_name}/x.png", s)
    assert err.code is ErrorCode.UNSAFE_PATH
    assert err.details["path"] == os.path.join(me.pw_dir, "x.png")


def test_what_a_shell_leaves_alone_stays_literal(roots):
    """``~draft.png`` (no such user) and ``./~/x.png`` are names inside the root, as in a shell."""
    root, _ = roots
    s = Settings(output_dir=root, input_dir=root)
    real = Path(os.path.realpath(root))
    assert resolve_output_path(f"~{NO_SUCH_USER}.png", s) == real / f"~{NO_SUCH_USER}.png"
    assert resolve_output_path("./~/x.png", s) == real / "~" / "x.png"
    assert resolve_output_path("a/~/x.png", s) == real / "a" / "~" / "x.png"


def test_the_bypass_expands_tilde_too(roots, monkeypatch):
    root, elsewhere = roots
    home = _home(monkeypatch, elsewhere / "me")
    s = Settings(output_dir=root, input_dir=root, allow_unsafe_paths=True)
    assert resolve_output_path("~/x.png", s) == home / "x.png"


# ---- through the tools: a save_path and an input path ---------------------------------------------


@pytest.mark.anyio
async def test_a_tool_saves_to_tilde_inside_the_root(double, roots, monkeypatch):
    root, _ = roots
    home = _home(monkeypatch, root / "home" / "me")
    r = await call_tool("generate_image", {"prompt": "a fox", "save_path": "~/fox.png"})
    assert r.ok, r.text
    assert r.media[0].path == str(home / "fox.png") and (home / "fox.png").is_file()
    assert not (root / "~").exists()


@pytest.mark.anyio
async def test_a_tool_refuses_tilde_outside_the_root_before_any_request(double, roots, monkeypatch):
    root, elsewhere = roots
    home = _home(monkeypatch, elsewhere / "me")
    (home / "photo.png").write_bytes(png(4, 4, b"\x03" * 48))
    save = await call_tool("generate_image", {"prompt": "a fox", "save_path": "~/fox.png"})
    read = await call_tool("analyze_image", {"image_path": "~/photo.png", "question": "what?"})
    for r, path in ((save, home / "fox.png"), (read, home / "photo.png")):
        assert r.code == "UNSAFE_PATH" and str(path) in r.text, r.text
    assert double.requests == []  # refused for free
    assert not (root / "~").exists() and not (home / "fox.png").exists()


@pytest.mark.anyio
async def test_a_tool_reads_tilde_inside_the_root(double, roots, monkeypatch):
    root, _ = roots
    home = _home(monkeypatch, root / "home" / "me")
    (home / "photo.png").write_bytes(png(4, 4, b"\x03" * 48))
    r = await call_tool("analyze_image", {"image_path": "~/photo.png", "question": "what?"})
    assert r.ok, r.text
    assert len(double.requests) == 1


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["~", "~/", "."])
async def test_an_input_path_naming_the_root_itself_is_a_coded_refusal(
    double, roots, monkeypatch, path
):
    """With home *being* the root, ``~`` names the root directory: INVALID_INPUT, for free (it
    crashed the tool with an AttributeError, as ``.`` did)."""
    root, _ = roots
    monkeypatch.setenv("HOME", str(root))
    err = _refusal(resolve_input_path, path, Settings(output_dir=root, input_dir=root))
    assert err.code is ErrorCode.INVALID_INPUT and err.details["reason"] == "input_root"
    r = await call_tool("analyze_image", {"image_path": path, "question": "what?"})
    assert r.code == "INVALID_INPUT" and "input root itself" in r.text, r.text
    assert double.requests == []


@pytest.mark.anyio
async def test_a_user_name_no_system_can_encode_is_a_coded_refusal_for_free(double, roots):
    """``~`` + a lone surrogate (JSON can carry one): the user lookup cannot encode it, so it
    stays literal and the shape check refuses it (it escaped as a UnicodeEncodeError)."""
    root, _ = roots
    s = Settings(output_dir=root, input_dir=root)
    for fn in (resolve_output_path, resolve_input_path):
        err = _refusal(fn, "~\ud800/x.png", s)
        assert err.code is ErrorCode.INVALID_INPUT and err.details["reason"] == "bad_character"
    save = await call_tool("generate_image", {"prompt": "a fox", "save_path": "~\ud800/x.png"})
    read = await call_tool("analyze_image", {"image_path": "~\ud800/x.png", "question": "what?"})
    for r in (save, read):
        assert r.code == "INVALID_INPUT", r.text
    assert double.requests == []
