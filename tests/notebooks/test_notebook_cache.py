"""Run All twice on the quickstart with the local cache on: the second run sends no paid request,
costs $0 and says ``cached``; the call log holds both runs (two kernel sessions)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.notebooks.test_notebooks import (  # noqa: F401  (kernel_spec_manager is a fixture)
    CELL_TIMEOUT_S,
    NOTEBOOK_DIR,
    _all_text,
    _kernel_env,
    _load,
    _outputs,
    kernel_spec_manager,
)

PROBE = """
import json
from or_magic import usage
from or_magic.double import get_offline_double
reqs = get_offline_double().requests
print("PROBE " + json.dumps({
    "paid": [f"{r.method} {r.path}" for r in reqs if r.method != "GET" or "/videos/" in r.path],
    "free": sorted({r.path for r in reqs if r.method == "GET" and "/videos/" not in r.path}),
    "cost": usage.totals().cost_usd,
    "simulated": usage.totals().simulated_cost_usd,
}))
"""


def _run(ksm, work: Path, state: Path):
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    nb = _load(NOTEBOOK_DIR / "quickstart.ipynb")
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    km = KernelManager(kernel_name="or_magic-test", kernel_spec_manager=ksm)
    client = NotebookClient(
        nb, km=km, timeout=CELL_TIMEOUT_S, startup_timeout=60, allow_errors=False
    )
    env = _kernel_env(work, state) | {"OR_MAGIC_CACHE": "on"}
    try:
        client.execute(env=env, cwd=str(work))
    finally:
        if client.kc is not None:
            client.kc.stop_channels()
        if km.has_kernel:
            km.shutdown_kernel(now=False)
    text = _all_text(nb)
    probe = json.loads(text.split("PROBE ", 1)[1].splitlines()[0])
    return nb, text, probe


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_run_all_twice_with_the_cache_on_costs_nothing_the_second_time(
    kernel_spec_manager,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    work, state = tmp_path / "nb-work", tmp_path / "nb-state"
    work.mkdir()
    state.mkdir()
    _, first_text, first = _run(kernel_spec_manager, work, state)
    # offline, what the double charges is counted apart as simulated spend (real spend stays $0)
    assert first["paid"] and first["simulated"] > 0 and first["cost"] == 0
    nb, second_text, second = _run(kernel_spec_manager, work, state)
    assert not [o for o in _outputs(nb) if o.get("output_type") == "error"]
    # only the free catalogue lookups of `health`, `models` and `info` reach the double
    assert second["paid"] == [], second
    assert {p.removeprefix("/api/v1") for p in second["free"]} <= {"/models", "/key"}, second
    assert second["cost"] == 0 and second["simulated"] == 0
    footers = second_text.count("· cached")
    assert footers >= 8, "every paid cell's footer says cached"
    assert "· cached" not in first_text
    with sqlite3.connect(state / "calls.sqlite3") as c:
        sessions = c.execute(
            "SELECT session, sum(cache_hit), count(*) FROM calls GROUP BY session ORDER BY min(id)"
        ).fetchall()
    assert len(sessions) == 2 and sessions[0][1] == 0 and sessions[1][1] >= 8, sessions
