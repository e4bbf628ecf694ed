"""The rows of ``%openrouter jobs``: this notebook's jobs, each once (``--all``: every job).

Why: the listing showed every job ever run by the user on the machine (the registry is shared by
all kernels and MCP servers), and a background video twice (once as the kernel's ``jN`` job, once
as its registry row). Now the default is this kernel session's jobs — the kernel's own background
jobs plus the registry rows this process created — and a kernel job and its registry row share
one row (both ids: ``wait`` takes the first, ``status`` the second), so each job appears once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

Row = tuple[str, str, str, str, str, str]


def job_rows(
    kernel_jobs: Iterable[Any],
    store_jobs: Iterable[Any],
    *,
    pid: int,
    include_all: bool = False,
    now: float | None = None,
) -> list[Row]:
    """``(id, tool, status, age/started, prompt, where)`` rows, newest kernel jobs first.

    A registry row created by this process for the same tool while a kernel job ran (from its
    start to its end) is that job's upstream record: one row shows both ids (``jN · ID``).
    """
    now = time.time() if now is None else now
    store = list(store_jobs)
    mine = [j for j in store if j.owner_pid == pid]
    rows: list[Row] = []
    used: set[str] = set()
    for k in reversed(list(kernel_jobs)):
        end = (k.finished_at or now) + 1.0
        twin = next(
            (
                s
                for s in mine
                if s.id not in used
                and s.tool == k.tool
                and k.created_at - 1.0 <= s.created_at <= end
            ),
            None,
        )
        if twin is not None:
            used.add(twin.id)
            row = _store_row(twin, where="this kernel")
            rows.append((f"{k.id} · {twin.id}", *row[1:]))  # `wait jN` and `status ID` both work
        else:
            rows.append((k.id, k.tool, k.status, f"{k.elapsed:.0f}s", k.label[:50], "this kernel"))
    rows += [_store_row(s, where="this kernel") for s in mine if s.id not in used]
    if include_all:  # then everyone else's (other kernels, MCP servers, earlier sessions)
        rows += [_store_row(s, where=s.backend) for s in store if s.owner_pid != pid]
    return rows


def _store_row(j: Any, *, where: str) -> Row:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(j.created_at))
    return (j.id, j.tool, j.status, when, (j.prompt or "")[:50].replace("\n", " "), where)
