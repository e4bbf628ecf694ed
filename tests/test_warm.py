"""The background warm-up started by %load_ext: the first cell after it does not pay for imports."""

from __future__ import annotations

import pytest

from tests.conftest import run_python

pytestmark = pytest.mark.anyio


def test_load_ext_warms_the_first_cell_after_its_own_cell(tmp_path):
    """``%load_ext`` itself stays cheap (nothing heavy during the load); once its cell is done a
    background thread imports what the first chat cell needs and builds the SSL context."""
    import os

    code = (
        "import sys, threading\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "ip.run_line_magic('load_ext', 'or_magic')\n"
        "heavy = ('httpx', 'pydantic', 'or_magic.tools.chat')\n"
        "assert not [m for m in heavy if m in sys.modules], 'imported during the load'\n"
        "ip.run_cell('x = 1')\n"
        "warm = [t for t in threading.enumerate() if t.name == 'or_magic-warm']\n"
        "assert warm, 'no warm-up thread after the cell'\n"
        "warm[0].join(120)\n"
        "from or_magic.client import transport\n"
        "assert transport._ssl_context is not None\n"
        "print(sorted(m for m in heavy + ('or_magic.display',) if m in sys.modules))\n"
    )
    out = run_python(
        code,
        env={**os.environ, "OR_MAGIC_STATE_DIR": str(tmp_path), "OPENROUTER_OFFLINE": "1"},
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "['httpx', 'or_magic.display', 'or_magic.tools.chat', 'pydantic']"
