"""Where generated media goes, and what the result says about it.

Shared by the generation tools (and any other tool that returns media):

* ``resolve_save(save_path, settings, count=n)`` runs **before** any paid request, in every tool
  that saves: traversal, absolute paths outside ``OPENROUTER_OUTPUT_DIR`` and symlinks fail with
  ``UNSAFE_PATH``, and names the filesystem would refuse (too long, too deep, control characters,
  an existing directory, an unwritable directory) with ``INVALID_INPUT``, for free. The name keeps
  ``NAME_RESERVE`` bytes free and all ``count`` numbered targets are checked, so what is written
  later cannot fail on its name.
* ``deliver_all(...)`` (several outputs) is all-or-nothing: every target is checked and every
  temp file written before the first rename; a failure removes every temp file, and every target
  this call already renamed into place is rolled back: the file it replaced comes back
  (``AtomicFile.commit(keep_previous=True)`` / ``undo``), or it is removed when there was none.
* ``paid=True`` (the generation tools: the bytes were paid for) keeps them when that save fails
  *after* the request, e.g. because the folder was swapped for a symlink or made unwritable while
  the request was in flight. The write still fails safely (nothing followed, nothing
  half-written, as above), but instead of raising, every item comes back with its bytes inline,
  or, over the inline ceiling (MCP drops big inline media), as a rescue copy under
  ``<output root>/or_magic-output/``, or in the output root itself when that folder cannot take
  it (``_rescue``; inline after all if both fail); ``meta`` says
  ``saved: false`` and ``save_error`` (code, message, path), the text says what happened and
  where the bytes are, and ``save_failure_code`` gives the tool the code for its result. Error
  results carry no media in any front-end (MCP sends an error's text only, a magic raises), so
  that result is a *success* carrying the save error's ``code`` (as ``JOB_STILL_RUNNING`` does):
  the image shows, and a program sees it was not saved. Video downloads stream to disk instead:
  a failed save there stays an error naming the ``video_id``, and ``get_video_status`` downloads
  the finished video again at no cost.
* ``deliver_bytes(...)`` writes atomically (temp file in the same directory, then rename), corrects
  the extension to the detected type (and re-checks the corrected path), and decides inline versus
  saved: with ``save_path`` the file is written and the item carries its ``path`` (plus ``data``
  when under the per-kind inline ceiling, so notebooks can show it; MCP sends only the link).
  Without ``save_path`` media under the ceiling is inline; over it, it is saved under
  ``<output root>/or_magic-output/`` and the path returned: never silently dropped.
* ``StreamTarget`` does the same for streamed downloads (video): bytes go straight to a temp file
  next to the final path, so memory stays at one chunk and a failed or cancelled download leaves
  nothing at the save path.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import ErrorCode, ToolError, os_error
from ..result import MediaItem, MediaKind

AUTO_DIR = "or_magic-output"
HEAD = 8192


def inline_ceiling(kind: str, settings: Settings) -> int:
    """The largest item of ``kind`` returned inline (0 = never)."""
    if kind == "image":
        return settings.image_inline_ceiling
    if kind == "audio":
        return settings.audio_inline_ceiling
    if kind == "video":
        return settings.video_inline_max_bytes
    return min(settings.image_inline_ceiling, settings.audio_inline_ceiling)


def resolve_save(save_path: str | None, settings: Settings, *, count: int = 1) -> Path | None:
    """The checked destination for ``save_path`` (None when not given), before any request.

    Raises ``UNSAFE_PATH`` / ``INVALID_INPUT``. ``count`` > 1 also checks the numbered names
    (``cat-2.png``...) the later outputs will get.
    """
    if save_path is None:
        return None
    from ..safety.paths import NAME_RESERVE, resolve_output_path

    first = resolve_output_path(save_path, settings, reserve=NAME_RESERVE)
    for i in range(1, max(1, count)):
        resolve_output_path(numbered(first, i), settings)
    return first


def _root(settings: Settings) -> str | None:
    from ..safety.paths import output_sandbox_root

    return output_sandbox_root(settings)


def auto_save_path(tool: str, ext: str, settings: Settings, *, folder: str = AUTO_DIR) -> Path:
    """A fresh file name under ``<output root>/or_magic-output/`` for media too big to inline
    (``folder=""``: in the output root itself, the paid rescue's last resort: ``_rescue``)."""
    from ..safety.paths import resolve_output_path

    ext = ext if ext.startswith(".") or not ext else "." + ext
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = f"{tool}-{stamp}-{secrets.token_hex(3)}{ext}"
    return resolve_output_path(f"{folder}/{name}" if folder else name, settings)


def correct_extension(path: Path, ext: str, settings: Settings) -> tuple[Path, bool]:
    """``path`` with the extension of the detected type; the new name is checked again
    (a symlink may sit at the corrected name). Returns ``(path, changed)``."""
    from ..safety.atomic import with_extension
    from ..safety.paths import resolve_output_path

    if not ext:
        return path, False
    new = with_extension(path, ext)
    if new == path:
        return path, False
    return resolve_output_path(new, settings), True


def numbered(path: Path, index: int) -> Path:
    """``cat.png`` → ``cat-2.png`` for the second of several images."""
    if index == 0:
        return path
    return path.with_name(f"{path.stem}-{index + 1}{path.suffix}")


def ext_label(ext: str) -> str:
    return ext.lstrip(".").upper() or "?"


@dataclass
class Delivered:
    """One media item plus the line of text and the meta keys that describe where it went."""

    item: MediaItem
    text: str
    meta: dict[str, Any] = field(default_factory=dict)
    save_error: ToolError | None = None  # a paid item that could not be saved (``paid``)

    @property
    def path(self) -> str | None:
        return self.item.path


def _saved_text(noun: str, requested: Path, final: Path, corrected: bool) -> str:
    if corrected:
        ext = ext_label(final.suffix)
        return f"{noun} saved to: {requested} (detected {ext}, saved as {final})"
    return f"{noun} saved to: {final}"


@dataclass
class Output:
    """One generated item waiting to be delivered (``deliver_all``)."""

    data: bytes
    kind: MediaKind
    mime: str
    ext: str
    save_path: Path | None
    name: str | None = None
    item_meta: dict[str, Any] | None = None


def deliver_bytes(
    data: bytes,
    *,
    kind: MediaKind,
    mime: str,
    ext: str,
    settings: Settings,
    tool: str,
    save_path: Path | None,
    noun: str,
    name: str | None = None,
    item_meta: dict[str, Any] | None = None,
    paid: bool = False,
) -> Delivered:
    """Save and/or inline ``data`` following the rules in the module docstring."""
    out = Output(data, kind, mime, ext, save_path, name=name, item_meta=item_meta)
    return deliver_all([out], settings=settings, tool=tool, noun=noun, paid=paid)[0]


def deliver_all(
    outputs: list[Output], *, settings: Settings, tool: str, noun: str, paid: bool = False
) -> list[Delivered]:
    """Deliver several items at once, all-or-nothing on disk (module docstring).

    A failed save raises its ``ToolError``; with ``paid`` nothing is saved at the requested
    places either, but every item is kept (``_kept``) instead of being lost with the error.
    """
    try:
        return _deliver_all(outputs, settings=settings, tool=tool, noun=noun)
    except (ToolError, OSError) as exc:
        if not paid:
            raise
        err = exc if isinstance(exc, ToolError) else _write_error(exc, "the output")
        from .. import log

        log.warn("save.failed_after_payment", tool=tool, code=err.code.value, message=err.message)
        return [_kept(o, i, err, settings, tool, noun) for i, o in enumerate(outputs)]


def save_failure_code(delivered: list[Delivered]) -> str | None:
    """The code a tool's result carries when a paid item could not be saved (else ``None``)."""
    return next((d.save_error.code.value for d in delivered if d.save_error), None)


def _kept(
    o: Output, index: int, err: ToolError, settings: Settings, tool: str, noun: str
) -> Delivered:
    """A paid item whose save failed: inline, or as a rescue copy when too big to inline."""
    size = len(o.data)
    rescued = _rescue(o, settings, tool, noun) if size > inline_ceiling(o.kind, settings) else None
    where = str(o.save_path) if o.save_path is not None else f"{AUTO_DIR}/"
    meta: dict[str, Any] = {
        "saved": False,
        "save_error": {"code": err.code.value, "message": err.message, "path": where},
    }
    text = f"{noun} generated ({o.mime}, {size} bytes) but NOT saved to {where}: {err.message}"
    if rescued is not None:
        meta.update(rescued.meta)
        text += f" A copy was saved to: {rescued.item.path}"
        return Delivered(rescued.item, text, meta, save_error=err)
    text += f" It is kept in this result only (media[{index}]): save it from there."
    item = MediaItem(
        o.kind, o.mime, data=o.data, size_bytes=size, name=o.name, meta=dict(o.item_meta or {})
    )
    return Delivered(item, text, meta, save_error=err)


def _rescue(o: Output, settings: Settings, tool: str, noun: str) -> Delivered | None:
    """A rescue copy of a paid item too big to inline (MCP drops big inline media): under
    ``or_magic-output/`` (an ordinary auto-save), else, when that folder cannot take it (a file,
    FIFO or symlink out planted at that name, made unwritable), a fresh name in the output root
    itself. Both go through the same checked, race-free write; ``None`` when neither works."""
    import dataclasses

    for folder in (AUTO_DIR, ""):
        try:
            path = auto_save_path(tool, o.ext, settings, folder=folder)
            copy = dataclasses.replace(o, save_path=path)
            return _deliver_all([copy], settings=settings, tool=tool, noun=noun)[0]
        except (ToolError, OSError):  # that place cannot take it: the next, then inline
            continue
    return None


def _deliver_all(
    outputs: list[Output], *, settings: Settings, tool: str, noun: str
) -> list[Delivered]:
    from ..safety.atomic import AtomicFile

    root = _root(settings)
    plans: list[tuple[Output, Path | None, bool, bool]] = []  # (output, final, corrected, auto)
    for o in outputs:  # 1. every target checked before any byte is written
        fits = len(o.data) <= inline_ceiling(o.kind, settings)
        if o.save_path is not None:
            from ..safety.paths import resolve_output_path

            resolve_output_path(o.save_path, settings)  # numbered names too: symlink, dir...
            final, corrected = correct_extension(o.save_path, o.ext, settings)
            plans.append((o, final, corrected, False))
        elif fits:
            plans.append((o, None, False, False))
        else:
            plans.append((o, auto_save_path(tool, o.ext, settings), False, True))
    finals = [str(p[1]) for p in plans if p[1] is not None]
    if len(set(finals)) != len(finals):
        raise ToolError(
            ErrorCode.INVALID_INPUT,
            "two outputs would be saved under the same name",
            details={"reason": "duplicate_target"},
        )
    files: list[AtomicFile] = []
    committed: list[AtomicFile] = []
    try:
        for o, final, _, _ in plans:  # 2. every temp file written
            if final is None:
                continue
            f = AtomicFile(final, root=root)
            files.append(f)
            _guard(final, f.open)
            _guard(final, f.write, o.data)
        for f in files:  # 3. commit (rename) them all, each keeping what it replaces
            _guard(f.path, lambda f=f: f.commit(keep_previous=True))
            committed.append(f)
    except BaseException:
        for f in reversed(committed):  # 4. roll back: the previous files come back
            f.undo()
        for f in files:
            f.abort()
        raise
    for f in committed:
        f.finish()
    return [
        _delivered(o, final, corrected, auto, settings, noun) for o, final, corrected, auto in plans
    ]


def _guard(path: Path, fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except ToolError:
        raise
    except OSError as exc:
        raise _write_error(exc, path) from None


def _write_error(exc: OSError, path: object) -> ToolError:
    return ToolError(
        ErrorCode.INTERNAL,
        f"Write: cannot write {path}: {exc.strerror or exc}",
        details={"path": str(path)},
        suggestions=["Check free space and permissions of OPENROUTER_OUTPUT_DIR"],
    )


def _delivered(
    o: Output, final: Path | None, corrected: bool, auto: bool, settings: Settings, noun: str
) -> Delivered:
    size = len(o.data)
    ceiling = inline_ceiling(o.kind, settings)
    fits = size <= ceiling
    meta: dict[str, Any] = {}
    if final is None:
        item = MediaItem(
            o.kind, o.mime, data=o.data, size_bytes=size, name=o.name, meta=dict(o.item_meta or {})
        )
        return Delivered(item, f"{noun} generated ({o.mime}, {size} bytes).", meta)
    meta["save_path"] = str(final)
    if auto:
        meta["auto_saved"] = True
        item = MediaItem(
            o.kind,
            o.mime,
            path=str(final),
            size_bytes=size,
            name=final.name,
            meta=dict(o.item_meta or {}),
        )
        text = (
            f"{noun} ({o.mime}, {size} bytes) is larger than the inline limit of {ceiling} "
            f"bytes; saved to: {final}"
        )
        return Delivered(item, text, meta)
    assert o.save_path is not None
    if corrected:
        meta["requested_save_path"] = str(o.save_path)
        meta["extension_corrected"] = True
    item = MediaItem(
        o.kind,
        o.mime,
        data=o.data if fits else None,
        path=str(final),
        size_bytes=size,
        name=o.name or final.name,
        meta=dict(o.item_meta or {}),
    )
    return Delivered(item, _saved_text(noun, o.save_path, final, corrected), meta)


class StreamTarget:
    """A streamed download's destination: an ``AtomicFile`` at ``save_path`` or an auto path.

    ``write`` appends a chunk; ``head()`` reads the first bytes back (to sniff the type);
    ``finish(...)`` corrects the extension and commits (or, without ``save_path`` and under the
    ceiling, reads the bytes back for inline use and drops the temp file); ``abort()`` removes the
    temp file. Memory stays at one chunk whatever the size.
    """

    def __init__(
        self,
        *,
        tool: str,
        kind: MediaKind,
        settings: Settings,
        save_path: Path | None,
        default_ext: str,
    ) -> None:
        from ..safety.atomic import AtomicFile

        self.tool = tool
        self.kind: MediaKind = kind
        self.settings = settings
        self.save_path = save_path
        self.auto = save_path is None
        path = save_path if save_path is not None else auto_save_path(tool, default_ext, settings)
        self.file = AtomicFile(path, root=_root(settings))
        self.file.open()

    @property
    def size(self) -> int:
        return self.file.size

    def write(self, chunk: bytes) -> int:
        return self.file.write(chunk)

    def head(self, n: int = HEAD) -> bytes:
        if self.file.tmp_path is None:
            return b""
        return self.file.read_back(n)

    def abort(self) -> None:
        self.file.abort()

    def finish(
        self,
        *,
        mime: str,
        ext: str,
        noun: str,
        item_meta: dict[str, Any] | None = None,
    ) -> Delivered:
        size = self.file.size
        ceiling = inline_ceiling(self.kind, self.settings)
        fits = size <= ceiling
        meta: dict[str, Any] = {}
        if self.auto and fits:
            data = self.file.read_back()
            self.file.abort()
            item = MediaItem(
                self.kind, mime, data=data, size_bytes=size, meta=dict(item_meta or {})
            )
            return Delivered(item, f"{noun} generated ({mime}, {size} bytes).", meta)
        requested = self.file.path
        final, corrected = correct_extension(requested, ext, self.settings)
        if final.parent != requested.parent:  # never: with_extension keeps the directory
            raise ToolError(ErrorCode.INTERNAL, "corrected path left the directory")
        data = self.file.read_back() if fits else None
        self.file.path = final
        try:
            self.file.commit()
        except OSError as exc:
            raise os_error(
                ErrorCode.INTERNAL,
                f"Write: cannot write {final}",
                exc,
                details={"path": str(final)},
            ) from None
        meta["save_path"] = str(final)
        if self.auto:
            meta["auto_saved"] = True
            text = (
                f"{noun} ({mime}, {size} bytes) is larger than the inline limit of {ceiling} "
                f"bytes; saved to: {final}"
            )
        else:
            if corrected:
                meta["requested_save_path"] = str(requested)
                meta["extension_corrected"] = True
            text = _saved_text(noun, requested, final, corrected)
        item = MediaItem(
            self.kind,
            mime,
            data=data,
            path=str(final),
            size_bytes=size,
            name=final.name,
            meta=dict(item_meta or {}),
        )
        return Delivered(item, text, meta)


def file_item(
    path: str | os.PathLike[str], *, kind: MediaKind, mime: str, settings: Settings
) -> MediaItem:
    """A ``MediaItem`` for a file already on disk (inline bytes too when under the ceiling).

    Inside the output sandbox the file is opened below the root descriptor without following
    symlinks (``open_input`` with the output root), so a directory swapped since the file was
    written cannot make this return outside bytes.
    """
    from ..safety.paths import open_input

    p = Path(path)
    root = _root(settings)
    f = open_input(p, settings.replace(input_dir=Path(root)) if root else settings)
    try:
        size = f.size
        data = None
        if size <= inline_ceiling(kind, settings):
            from ..media.blob import Blob

            with Blob(mime, fd=os.dup(f.fd), size=size) as b:
                data = b.read_bytes()
    finally:
        f.close()
    return MediaItem(kind, mime, data=data, path=str(p), size_bytes=size, name=p.name)
