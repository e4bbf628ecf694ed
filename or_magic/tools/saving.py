"""Where generated media goes, and what the result says about it.

Shared by the generation tools (and any other tool that returns media):

* ``resolve_save(save_path, settings)`` runs **before** any paid request, so traversal, absolute
  paths outside ``OPENROUTER_OUTPUT_DIR`` and symlinks fail with ``UNSAFE_PATH`` for free.
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
from ..errors import ErrorCode, ToolError
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


def resolve_save(save_path: str | None, settings: Settings) -> Path | None:
    """The checked destination for ``save_path`` (None when not given). Raises ``UNSAFE_PATH``."""
    if save_path is None:
        return None
    from ..safety.paths import resolve_output_path

    return resolve_output_path(save_path, settings)


def auto_save_path(tool: str, ext: str, settings: Settings) -> Path:
    """A fresh file name under ``<output root>/or_magic-output/`` for media too big to inline."""
    from ..safety.paths import resolve_output_path

    ext = ext if ext.startswith(".") or not ext else "." + ext
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = f"{tool}-{stamp}-{secrets.token_hex(3)}{ext}"
    return resolve_output_path(f"{AUTO_DIR}/{name}", settings)


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

    @property
    def path(self) -> str | None:
        return self.item.path


def _saved_text(noun: str, requested: Path, final: Path, corrected: bool) -> str:
    if corrected:
        ext = ext_label(final.suffix)
        return f"{noun} saved to: {requested} (detected {ext}, saved as {final})"
    return f"{noun} saved to: {final}"


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
) -> Delivered:
    """Save and/or inline ``data`` following the rules in the module docstring."""
    from ..safety.atomic import atomic_write

    size = len(data)
    ceiling = inline_ceiling(kind, settings)
    fits = size <= ceiling
    meta: dict[str, Any] = {}
    if save_path is not None:
        final, corrected = correct_extension(save_path, ext, settings)
        _write(atomic_write, final, data)
        meta["save_path"] = str(final)
        if corrected:
            meta["requested_save_path"] = str(save_path)
            meta["extension_corrected"] = True
        item = MediaItem(
            kind,
            mime,
            data=data if fits else None,
            path=str(final),
            size_bytes=size,
            name=name or final.name,
            meta=dict(item_meta or {}),
        )
        return Delivered(item, _saved_text(noun, save_path, final, corrected), meta)
    if fits:
        item = MediaItem(
            kind, mime, data=data, size_bytes=size, name=name, meta=dict(item_meta or {})
        )
        return Delivered(item, f"{noun} generated ({mime}, {size} bytes).", meta)
    final = auto_save_path(tool, ext, settings)
    _write(atomic_write, final, data)
    meta.update(save_path=str(final), auto_saved=True)
    item = MediaItem(
        kind, mime, path=str(final), size_bytes=size, name=final.name, meta=dict(item_meta or {})
    )
    text = (
        f"{noun} ({mime}, {size} bytes) is larger than the inline limit of {ceiling} bytes; "
        f"saved to: {final}"
    )
    return Delivered(item, text, meta)


def _write(atomic_write: Any, path: Path, data: bytes) -> None:
    try:
        atomic_write(path, data)
    except ToolError:
        raise
    except OSError as exc:
        raise ToolError(
            ErrorCode.INTERNAL,
            f"Write: cannot write {path}: {exc.strerror or exc}",
            details={"path": str(path)},
            suggestions=["Check free space and permissions of OPENROUTER_OUTPUT_DIR"],
        ) from None


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
        self.file = AtomicFile(path)
        self.file.open()

    @property
    def size(self) -> int:
        return self.file.size

    def write(self, chunk: bytes) -> int:
        return self.file.write(chunk)

    def head(self, n: int = HEAD) -> bytes:
        tmp = self.file.tmp_path
        if tmp is None:
            return b""
        with open(tmp, "rb") as f:
            return f.read(n)

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
            tmp = self.file.tmp_path
            assert tmp is not None
            data = Path(tmp).read_bytes()
            self.file.abort()
            item = MediaItem(
                self.kind, mime, data=data, size_bytes=size, meta=dict(item_meta or {})
            )
            return Delivered(item, f"{noun} generated ({mime}, {size} bytes).", meta)
        requested = self.file.path
        final, corrected = correct_extension(requested, ext, self.settings)
        if final.parent != requested.parent:  # never: with_extension keeps the directory
            raise ToolError(ErrorCode.INTERNAL, "corrected path left the directory")
        data = None
        if fits:
            tmp = self.file.tmp_path
            assert tmp is not None
            data = Path(tmp).read_bytes()
        self.file.path = final
        try:
            self.file.commit()
        except OSError as exc:
            raise ToolError(
                ErrorCode.INTERNAL,
                f"Write: cannot write {final}: {exc.strerror or exc}",
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
    """A ``MediaItem`` for a file already on disk (inline bytes too when under the ceiling)."""
    p = Path(path)
    size = p.stat().st_size
    data = p.read_bytes() if size <= inline_ceiling(kind, settings) else None
    return MediaItem(kind, mime, data=data, path=str(p), size_bytes=size, name=p.name)
