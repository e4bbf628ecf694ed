"""The lazy tool registry: its map matches the modules, and one tool imports only its family."""

from __future__ import annotations

import pytest

from tests.conftest import run_python

pytestmark = pytest.mark.anyio


def test_the_lazy_registry_map_matches_the_modules():
    import importlib.util

    from or_magic.tools import registry

    real = {name: spec.handler.__module__ for name, spec in registry.all_tools().items()}
    mapped = {  # a family module not in this tree (yet) is skipped, as the registry skips it
        n: m for n, m in registry.TOOL_MODULES.items() if importlib.util.find_spec(m) is not None
    }
    assert real == mapped, "update registry.TOOL_MODULES for new or moved tools"
    assert list(real) == list(mapped)  # listing order too


def test_one_tool_imports_only_its_family(tmp_path):
    import os

    code = (
        "import sys\n"
        "from or_magic.tools.registry import get_tool\n"
        "assert get_tool('search_models').name == 'search_models'\n"
        "print(sorted(m for m in sys.modules if m.startswith('or_magic.tools.') and "
        "m.rsplit('.', 1)[1] in ('chat','analyze','models','image_gen','audio_gen','video_gen',"
        "'rerank','health')))\n"
    )
    out = run_python(code, env={**os.environ, "OR_MAGIC_STATE_DIR": str(tmp_path)}, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "['or_magic.tools.models']"
