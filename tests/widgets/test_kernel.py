"""The dashboard in a real kernel (nbclient): widget view displayed, runs, key absent from saved state."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import import_jupyter_stack

pytestmark = pytest.mark.notebook

nbformat: Any = None
nbclient: Any = None


@pytest.fixture(autouse=True, scope="module")
def _jupyter_stack() -> None:
    global nbformat, nbclient
    nbformat, nbclient = import_jupyter_stack()


KEY = "sk-or-v1-" + "5eed" * 16


def test_dashboard_in_a_kernel(monkeypatch, tmp_path):
    from jupyter_client.kernelspec import KernelSpecManager

    if "python3" not in KernelSpecManager().find_kernel_specs():
        pytest.skip("no python3 kernel spec")
    monkeypatch.setenv("OPENROUTER_OFFLINE", "1")  # the key below must not reach the network
    monkeypatch.setenv("OPENROUTER_OUTPUT_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("DASH_TEST_KEY", KEY)
    cells = [
        "import or_magic\nd = or_magic.Dashboard()\nd",
        "await d.ready()\nprint('ready', d.image.model.value)",
        "d.image.prompt.value = 'a cat'\nd.image.run_button.click()\nr = await d.image.task\n"
        "print('image', r.ok, type(d.image.gallery.widgets()[0]).__name__)",
        # the key comes from the environment so the notebook's source never holds it
        "import os\nd.key_input.value = os.environ.pop('DASH_TEST_KEY')\n"
        "print('key', repr(d.key_input.value), d.key_status.value)",
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3").execute()

    first = nb.cells[0].outputs
    assert len(first) == 1
    assert "application/vnd.jupyter.widget-view+json" in first[0]["data"]
    text = "".join(
        o.get("text", "") for c in nb.cells[1:] for o in c.outputs if o["output_type"] == "stream"
    )
    assert "ready google/gemini-2.5-flash-image" in text
    assert "image True Image" in text
    assert "key '' " in text and "key set for this kernel" in text
    saved = nbformat.writes(nb)
    assert nb.metadata["widgets"]  # widget state was saved ...
    assert KEY not in saved  # ... without the key
    assert KEY not in json.dumps(nb.metadata["widgets"])
    assert KEY[-16:] not in saved
