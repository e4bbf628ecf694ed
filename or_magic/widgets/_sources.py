"""A media input: a file upload, a path, a URL, or a notebook variable picked from a dropdown.

Uploads and variables become in-process ``object://`` handles (``register_object``); paths and
URLs are passed to the tool as typed, so the core's sandbox and SSRF guard decide about them.
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Callable
from typing import Any

import ipywidgets as W

from ..errors import ErrorCode, ToolError

SKIP_NAMES = frozenset({"In", "Out", "exit", "quit", "get_ipython"})
ACCEPT = {"image": "image/*", "audio": "audio/*", "video": "video/*"}
MODES = ("upload", "path", "url", "variable")


def _type_names(obj: Any) -> list[tuple[str, str]]:
    return [(c.__module__ or "", c.__name__) for c in type(obj).__mro__]


def object_kinds(obj: Any) -> set[str]:
    """Which media kinds a notebook object can be, judged without importing heavy modules."""
    names = _type_names(obj)
    mods = {m.split(".", 1)[0] for m, _ in names}
    if "PIL" in mods and any(n == "Image" for _, n in names):
        return {"image"}
    if any(m.startswith("matplotlib") and n == "Figure" for m, n in names):
        return {"image"}
    if any(m.startswith("IPython") for m, _ in names):
        for _m, n in names:
            if n in ("Image", "Audio", "Video"):
                return {n.lower()}
        return set()
    if any(m == "numpy" and n == "ndarray" for m, n in names):
        # Audio arrays need their sample rate: they are listed as (samples, rate) tuples only.
        ndim = getattr(obj, "ndim", 0)
        return {"image"} if ndim in (2, 3) and min(obj.shape) > 0 else set()
    if isinstance(obj, tuple) and len(obj) == 2:
        from ..media.sources import split_rate_tuple

        try:
            return {"audio"} if split_rate_tuple(obj)[1] is not None else set()
        except Exception:
            return set()
    head: bytes | None = None
    if isinstance(obj, (bytes, bytearray, memoryview)):
        head = bytes(obj[:8192])
    elif any(m in ("io", "_io") and n == "BytesIO" for m, n in names):
        head = obj.getvalue()[:8192]
    if head:
        from ..media.sniff import sniff

        s = sniff(head)
        return {s.kind} if s is not None else set()
    return set()


def _not_data(value: Any) -> bool:
    return isinstance(value, type) or inspect.ismodule(value) or inspect.isroutine(value)


def suitable_variables(ns: dict[str, Any], kind: str) -> list[tuple[str, str]]:
    """``(label, name)`` for the variables in ``ns`` that can be ``kind`` media."""
    out = []
    for name, value in list(ns.items()):
        if name.startswith("_") or name in SKIP_NAMES or _not_data(value):
            continue
        try:
            kinds = object_kinds(value)
        except Exception:
            continue
        if kind in kinds:
            out.append((f"{name} ({type(value).__name__})", name))
    out.sort()
    return out


class SourcePicker:
    """Upload / path / URL / variable, with the mode following whatever the user touched last."""

    def __init__(
        self,
        kind: str,
        namespace: Callable[[], dict[str, Any]],
        *,
        label: str = "Input",
        optional: bool = False,
        css: str = "or-magic-source",
    ) -> None:
        self.kind = kind
        self._namespace = namespace
        self.optional = optional
        modes = ("none", *MODES) if optional else MODES
        self.mode = W.ToggleButtons(
            options=[(m.capitalize(), m) for m in modes],
            value=modes[0],
            description=label,
            style={"button_width": "78px"},
        )
        self.mode.add_class("or-magic-source-mode")
        self.upload = W.FileUpload(accept=ACCEPT.get(kind, ""), multiple=False)
        self.upload.add_class("or-magic-upload")
        self.upload_info = W.HTML("")
        self.upload_info.add_class("or-magic-upload-info")
        self._file: tuple[str, bytes] | None = None
        self.path = W.Text(placeholder="path under the input root, e.g. data/photo.jpg")
        self.path.add_class("or-magic-path")
        self.url = W.Text(placeholder="https://…")
        self.url.add_class("or-magic-url")
        self.variable = W.Dropdown(options=[], description="")
        self.variable.add_class("or-magic-variable")
        self.rescan_button = W.Button(description="", icon="refresh", tooltip="Rescan variables")
        self.rescan_button.layout.width = "36px"
        self.rescan_button.on_click(lambda _b: self.rescan())
        self._rows = {
            "none": W.HTML(""),
            "upload": W.HBox([self.upload, self.upload_info]),
            "path": self.path,
            "url": self.url,
            "variable": W.HBox([self.variable, self.rescan_button]),
        }
        self.row = W.Box([self._rows[self.mode.value]])
        self.box = W.VBox([self.mode, self.row])
        self.box.add_class(css)
        self.mode.observe(self._mode_changed, names="value")
        self.upload.observe(self._uploaded, names="value")
        self.path.observe(lambda c: c["new"] and self._touch("path"), names="value")
        self.url.observe(lambda c: c["new"] and self._touch("url"), names="value")
        self.rescan()

    def _uploaded(self, change: dict[str, Any]) -> None:
        """Keep the file's bytes here and empty the widget, so the upload is not written into
        the notebook's saved widget state (nor sent back to the browser again)."""
        files = change["new"]
        if not files:
            return
        f = files[0]
        self._file = (str(f.get("name") or "upload"), bytes(f["content"]))
        self.upload.value = ()
        name, data = self._file
        self.upload_info.value = f"<small>{html.escape(name)} ({len(data):,} bytes)</small>"
        self._touch("upload")

    def _touch(self, mode: str) -> None:
        if self.mode.value != mode:
            self.mode.value = mode

    def _mode_changed(self, change: dict[str, Any]) -> None:
        self.row.children = [self._rows[change["new"]]]
        if change["new"] == "variable":
            self.rescan()

    def set_kind(self, kind: str) -> None:
        self.kind = kind
        self.upload.accept = ACCEPT.get(kind, "")
        self.rescan()

    def rescan(self) -> None:
        current = self.variable.value
        options = suitable_variables(self._namespace(), self.kind)
        self.variable.options = options
        if current in [v for _, v in options]:
            self.variable.value = current

    # ---- resolution ----------------------------------------------------------------------------

    def is_empty(self) -> bool:
        return self.mode.value == "none"

    def resolve(self, handles: list[str]) -> str | None:
        """The source string for the tool (``None`` for "none"); handles made are appended."""
        from ..media.sources import register_object

        mode = self.mode.value
        if mode == "none":
            return None
        if mode == "path":
            return self.path.value
        if mode == "url":
            return self.url.value
        if mode == "upload":
            if self._file is None:
                raise ToolError(
                    ErrorCode.INVALID_INPUT,
                    f"No {self.kind} file uploaded yet",
                    suggestions=["Press Upload and choose a file, or pick another input mode"],
                )
            data = self._file[1]
            handle = register_object(data, kind_hint=self.kind)
            handles.append(handle)
            return handle
        name = self.variable.value
        ns = self._namespace()
        if not name or name not in ns:
            raise ToolError(
                ErrorCode.INVALID_INPUT,
                f"No notebook variable holding {self.kind} media is selected",
                suggestions=["Create one (e.g. a PIL image, numpy array, bytes), then press ⟳"],
            )
        handle = register_object(ns[name], kind_hint=self.kind)
        handles.append(handle)
        return handle
