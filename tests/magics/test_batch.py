"""``%%openrouter --each VAR --batch``, ``%openrouter batches`` and ``wait orb_…`` in a shell."""

from __future__ import annotations

import pytest

from or_magic.double import get_offline_double
from or_magic.double.faults import BatchScript
from tests.magics._helpers import offline_magics_shell, run_cell

pd = pytest.importorskip("pandas")


@pytest.fixture
def ip():
    with offline_magics_shell() as (shell, _):
        yield shell


run = run_cell


def test_each_batch_submits_waits_and_aligns_to_the_frame(ip):
    ip.user_ns["t_df"] = pd.DataFrame({"text": ["tea", "coffee", "water"]}, index=[7, 8, 9])
    cap, res = run(
        ip, "%%openrouter --each t_df.text --batch --batch-size 2 -o t_h\nOne word for {{item}}"
    )
    assert res.error_in_exec is None and res.error_before_exec is None, cap.stdout
    h = ip.user_ns["t_h"]
    assert h.done and h.progress["completed"] == 3
    assert "Submitted orb_" in cap.stdout
    df = h.to_pandas()
    assert list(df.index) == [7, 8, 9] and "coffee" in df.loc[8, "text"]
    double = get_offline_double()
    sent = [r for r in double.requests if r.method == "POST" and r.path.endswith("/batches")]
    assert [len(r.json["requests"]) for r in sent] == [2, 1]

    cap, _ = run(ip, "%openrouter batches")
    shown = cap.stdout + "".join(str(o.data) for o in cap.outputs)
    assert h.id in shown and "completed" in shown


def test_engine_trait_and_wait_by_id(ip):
    get_offline_double().app.batch_api.script(
        BatchScript(statuses=["validating", "in_progress", "completed"], fail_custom_ids={"i1"})
    )
    ip.user_ns["t_items"] = ["a", "b"]
    run(ip, "%config OpenRouterMagics.engine = 'batch'")
    cap, res = run(ip, "%%openrouter --each t_items -o t_h -q\nSay {{item}}")
    assert res.error_in_exec is None, cap.stdout
    h = ip.user_ns["t_h"]
    assert [r.ok for r in h.results()] == [True, False]
    cap, res = run(ip, f"%openrouter wait {h.id} -o t_w")
    assert res.error_in_exec is None
    assert ip.user_ns["t_w"].id == h.id
    cap, res = run(ip, "%openrouter wait orb_unknown")
    shown = cap.stdout + cap.stderr + str(res.error_in_exec)
    assert "Unknown batch: orb_unknown" in shown


def test_batch_flag_without_each_runs_the_single_prompt_now(ip):
    _cap, res = run(ip, "%%openrouter --batch -q -o t_r\nhello")
    assert res.error_in_exec is None and ip.user_ns["t_r"].ok
    reqs = get_offline_double().requests
    assert any(r.path.endswith("/chat/completions") for r in reqs)
    assert not any(r.path.endswith("/batches") for r in reqs)


def test_cancel_by_batch_id(ip):
    get_offline_double().app.batch_api.script(
        BatchScript(statuses=["validating", "in_progress", "in_progress", "completed"])
    )
    from or_magic.batch import map_tool

    h = map_tool("chat_completion", ["a", "b", "c"], engine="batch", progress=False)
    cap, res = run(ip, f"%openrouter cancel {h.id}")
    assert res.error_in_exec is None and f"Cancelling {h.id}" in cap.stdout
    h.wait(progress=False)
    assert h.progress["status"] == "cancelled"
