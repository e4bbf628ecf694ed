"""docs/DESIGN.md names only things that exist: every backticked path, dotted ``or_magic.*`` name,
module file and code identifier is checked against the tree, so a rename that forgets the design
document fails here instead of misleading the next reader."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "DESIGN.md").read_text(encoding="utf-8")
SOURCE = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "or_magic").rglob("*.py"))
WORDS = set(re.findall(r"\w+", SOURCE))

TICKED = [t.strip() for t in re.findall(r"`([^`\n]+)`", DOC)]
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


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


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
