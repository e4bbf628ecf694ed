"""docs/DESIGN.md names only things that exist: every backticked path, dotted ``or_magic.*`` name,
module file and code identifier is checked against the tree, so a rename that forgets the design
document fails here instead of misleading the next reader."""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "DESIGN.md").read_text(encoding="utf-8")
SOURCE = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "or_magic").rglob("*.py"))
WORDS = set(re.findall(r"\w+", SOURCE))

PROSE = re.sub(r"```.*?```", "", DOC, flags=re.S)  # inline code may wrap; fenced blocks apart
TICKED = [" ".join(t.split()) for t in re.findall(r"`([^`]+)`", PROSE)]
HEADS = sorted({re.split(r"[(\s\[{=,]", t)[0] for t in TICKED} - {""})
IDENT = re.compile(r"[A-Za-z_]\w*")


def _code_like(name: str) -> bool:
    """A name a reader would look up: CamelCase, snake_case or ALL_CAPS (not a plain word)."""
    return bool(IDENT.fullmatch(name)) and (
        "_" in name
        or (
            name[0].isupper()
            and any(c.islower() for c in name[1:])
            and any(c.isupper() for c in name[1:])
        )
    )


_MISSING = object()


def _lookup(dotted: str) -> Any:
    """The object ``or_magic.a.b.C.d`` names (the longest importable module, then attributes)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr, _MISSING)
            if obj is _MISSING:
                return _MISSING
        return obj
    return _MISSING


def _resolves(dotted: str) -> bool:
    return _lookup(dotted) is not _MISSING


def test_the_doc_names_something():
    assert len(HEADS) > 100  # the extraction itself works


def test_every_backticked_path_exists():
    paths = [h.rstrip("/") for h in HEADS if re.match(r"(or_magic|tests|docs)/", h)]
    assert paths
    missing = [p for p in paths if not (ROOT / p).exists()]
    assert not missing, missing


def test_every_dotted_or_magic_name_resolves():
    dotted = [h for h in HEADS if re.fullmatch(r"or_magic(\.\w+)+", h)]
    assert len(dotted) > 20
    missing = [d for d in dotted if not _resolves(d)]
    assert not missing, missing


def test_every_module_file_exists():
    files = [h for h in HEADS if re.fullmatch(r"\w+\.py", h)]
    assert files
    names = {p.name for p in (ROOT / "or_magic").rglob("*.py")}
    missing = [f for f in files if f not in names]
    assert not missing, missing


def test_every_code_identifier_occurs_in_the_code():
    names = {
        part
        for h in HEADS
        if re.fullmatch(r"[\w.]+", h) and not h.startswith("or_magic.")
        for part in h.split(".")
    }
    idents = [n for n in names if _code_like(n)]
    assert len(idents) > 40
    missing = sorted(n for n in idents if n not in WORDS)
    assert not missing, missing


def test_a_stale_name_would_be_caught():
    assert not _resolves("or_magic.magics._live.Panel")  # renamed CellPanel
    assert "_core_has_no_such_helper" not in WORDS


# ---- where a name lives, what a signature says, which modules the layer list covers -------------

MODULES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "or_magic").rglob("*.py"))
LAYERS = DOC[DOC.index("## Layers") :].split("```")[1]  # the layer list's code block


@functools.cache
def _defined_in(path: Path) -> frozenset[str]:
    """Top-level names a module defines or imports, and each class's attributes as ``Cls.attr``."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            if isinstance(node, ast.ClassDef):
                for sub in ast.walk(node):
                    if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        names.add(f"{node.name}.{sub.name}")
                    elif isinstance(sub, ast.AnnAssign) and isinstance(sub.target, ast.Name):
                        names.add(f"{node.name}.{sub.target.id}")
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return frozenset(names)


def _files_named(ref: str) -> list[Path]:
    """``or_magic/x/y.py`` (or ``x/y.py`` below ``or_magic/``) is that file; a bare ``y.py`` is
    every module of that name."""
    if "/" in ref:
        return [f for f in (ROOT / ref, ROOT / "or_magic" / ref) if f.is_file()]
    return [ROOT / m for m in MODULES if m.rsplit("/", 1)[-1] == ref]


def test_layer_list_covers_every_module():
    named = set(re.findall(r"or_magic/[\w/]+(?:\.py|/)", LAYERS))
    stale = [n for n in named if not (ROOT / n).exists()]
    assert not stale, stale
    missing = [
        m
        for m in MODULES
        if m not in named and not any(m.startswith(n) for n in named if n.endswith("/"))
    ]
    assert not missing, f"not in DESIGN.md's layer list: {missing}"


def test_a_name_placed_in_a_file_is_defined_there():
    """ "`name(...)` (`or_magic/x/y.py`" and "`Name` (`y.py`)": the name lives in that file."""
    placed = re.findall(r"`(?:await )?([A-Za-z_][\w.]*)[^`/]*`\s*\(`([\w/]+\.py)`", DOC)
    assert len(placed) > 10
    ours = set().union(*(_defined_in(ROOT / m) for m in MODULES))
    wrong = []
    for name, ref in placed:
        if name not in ours:
            continue  # not defined by or_magic (``O_NOFOLLOW``)
        files = _files_named(ref)
        if not any(name in _defined_in(f) or name.split(".")[0] == f.stem for f in files):
            wrong.append(f"{name} not in {ref}")
    assert not wrong, wrong


def test_a_module_qualified_name_is_defined_in_that_module():
    """``module.name`` / ``Class.attr`` (not spelled from ``or_magic.``): found where it says."""
    stems = {Path(m).stem for m in MODULES} | {Path(m).parent.name for m in MODULES}
    checked, wrong = 0, []
    for head in HEADS:
        if not re.fullmatch(r"[A-Za-z_]\w*\.[A-Za-z_]\w*", head) or head.startswith("or_magic"):
            continue
        if head.endswith((".py", ".md", ".json", ".sqlite3")):
            continue  # a file name
        owner, attr = head.split(".")
        if owner in stems:
            files = [ROOT / m for m in MODULES if Path(m).stem == owner]
            files += [ROOT / m for m in MODULES if m.endswith(f"/{owner}/__init__.py")]
            ok = any(attr in _defined_in(f) for f in files)
        elif owner[0].isupper():
            defs = [f"{owner}.{attr}" in _defined_in(ROOT / m) for m in MODULES]
            if not any(owner in _defined_in(ROOT / m) for m in MODULES):
                continue  # not a class of ours (e.g. an SDK type)
            ok = any(defs)
        else:
            continue  # a variable (``ctx.text``, ``m._prompt``)
        checked += 1
        if not ok:
            wrong.append(head)
    assert checked > 10
    assert not wrong, wrong


def _definitions(name: str) -> list[Any]:
    """The one callable a signature in the doc can mean: a dotted path, or a unique name."""
    if name.startswith("or_magic."):
        return [obj] if (obj := _lookup(name)) is not _MISSING else []
    owner, _, attr = name.rpartition(".")
    found = []
    for m in MODULES:
        defs = _defined_in(ROOT / m)
        key = name if owner else attr
        if key in defs and (owner or f"{name}" in defs):
            mod = importlib.import_module(m[:-3].replace("/", ".").removesuffix(".__init__"))
            obj = mod
            for part in key.split("."):
                obj = getattr(obj, part, None)
            if obj is not None and getattr(obj, "__module__", mod.__name__) == mod.__name__:
                found.append(obj)
    return found


SIGNATURE = re.compile(r"(?:await )?([A-Za-z_][\w.]*)\((.*?)\)(?:\s*->.*)?")


def _doc_params(text: str) -> list[tuple[str, str | None]] | None:
    """``a, b=None, *, c=...`` as (name, default text); None when it is a call, not a signature."""
    params = []
    for raw in (p.strip() for p in text.split(",")) if text.strip() else []:
        if raw in ("*", "/", "..."):
            params.append((raw, None))
            continue
        m = re.fullmatch(r"(\*{0,2}[A-Za-z_]\w*)(?::[^=]*)?(?:=(.+))?", raw)
        if m is None:
            return None  # "tool, items, engine="batch"" is fine, "f(x[0])" is not a signature
        params.append((m.group(1), m.group(2)))
    return params


def test_quoted_signatures_match_the_code():
    """Every ``name(params)`` the doc quotes for a callable it can pin down: the names in order
    (``...`` elides, ``*`` marks keyword-only), every required parameter present unless elided,
    and literal defaults equal. A renamed, reordered or dropped parameter fails here."""
    checked, wrong = 0, []
    for tick in TICKED:
        m = SIGNATURE.fullmatch(tick)
        if m is None or "(" in m.group(2):
            continue
        name, params = m.group(1), _doc_params(m.group(2))
        if params is None or not params or params[0][0] == "...":
            continue  # not a signature, or a call (``deliver_all(..., paid=True)``)
        declared = "->" in tick or any(n == "*" for n, _ in params)  # how signatures are written
        if not declared and any(d == "..." for _, d in params):
            continue  # a call: ``Blob(fd=...)``, ``call_tool(name, args, on_progress=...)``
        defs = _definitions(name)
        if len(defs) != 1 or not callable(defs[0]):
            continue  # unknown or ambiguous (``run(m, words, cell)`` is every cell mode's)
        try:
            sig = inspect.signature(defs[0])
        except (TypeError, ValueError):
            continue
        real = [p for p in sig.parameters.values() if p.name not in ("self", "cls")]
        names = [p.name for p in real]
        doc_names = [n.lstrip("*") for n, _ in params if n not in ("*", "/", "...")]
        it = iter(names)
        if not all(n in it for n in doc_names):  # an ordered subsequence
            wrong.append(f"{tick}: the code has ({', '.join(names)})")
            continue
        elided = any(n == "..." for n, _ in params)
        required = [
            p.name
            for p in real
            if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        if not elided and not set(required) <= set(doc_names):
            wrong.append(f"{tick}: required {required}")
            continue
        for n, default in params:
            p = sig.parameters.get(n.lstrip("*"))
            if (
                p is None
                or default is None
                or default == "..."
                or not (declared or default == "None")
            ):
                continue  # a call's argument (``engine="batch"``) is no default
            try:
                value = ast.literal_eval(default)
            except (ValueError, SyntaxError):
                continue  # a name (``PCM16_RATE``)
            if p.default != value:
                wrong.append(f"{tick}: {n} defaults to {p.default!r}")
        checked += 1
    assert checked > 15
    assert not wrong, wrong
