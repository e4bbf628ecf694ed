"""SQLite registry of long jobs (background chats, video generations) that survives restarts.

One small database in the state directory (``OR_MAGIC_STATE_DIR``, default the user cache dir).
WAL mode and a busy timeout let several kernels and MCP servers share it; every operation uses a
short-lived connection, so threads never share one. A job still marked running whose owner process
is gone is reported as ``interrupted`` (chat) — video jobs stay resumable because the upstream keeps
them.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Settings
from .statedb import OnePerFile, connect, init_db, insert_row, insert_sql, transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    tool TEXT NOT NULL,
    model TEXT,
    prompt TEXT,
    save_path TEXT,
    status TEXT NOT NULL,
    backend TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    cost REAL,
    polling_url TEXT,
    upstream_status TEXT,
    progress REAL,
    result TEXT,
    error TEXT,
    params TEXT,
    owner_pid INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_kind_created ON jobs(kind, created_at);
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    model TEXT,
    backend TEXT NOT NULL,
    status TEXT NOT NULL,
    total INTEGER NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    counts TEXT,
    params TEXT,
    error TEXT,
    owner_pid INTEGER
);
CREATE INDEX IF NOT EXISTS batches_created ON batches(created_at);
CREATE TABLE IF NOT EXISTS batch_chunks (
    upstream_id TEXT PRIMARY KEY,
    batch_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    first_index INTEGER NOT NULL,
    count INTEGER NOT NULL,
    status TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS batch_chunks_batch ON batch_chunks(batch_id, seq);
CREATE TABLE IF NOT EXISTS batch_items (
    batch_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    custom_id TEXT NOT NULL,
    upstream_id TEXT,
    label TEXT,
    preview TEXT,
    ok INTEGER,
    result TEXT,
    PRIMARY KEY (batch_id, idx)
);
"""

TERMINAL = frozenset({"completed", "failed", "cancelled", "expired", "interrupted"})
PROMPT_MAX = 4000


@dataclass
class JobRecord:
    id: str
    kind: str
    tool: str
    status: str
    backend: str
    created_at: float
    updated_at: float
    model: str | None = None
    prompt: str | None = None
    save_path: str | None = None
    cost: float | None = None
    polling_url: str | None = None
    upstream_status: str | None = None
    progress: float | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    owner_pid: int | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


_JSON_COLS = ("result", "error", "params")


def _row_to_job(row: sqlite3.Row) -> JobRecord:
    d = dict(row)
    for col in _JSON_COLS:
        raw = d.get(col)
        d[col] = json.loads(raw) if raw else ({} if col == "params" else None)
    return JobRecord(**d)


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _new_row(params: dict[str, Any] | None, **columns: Any) -> dict[str, Any]:
    """A new row of ``jobs`` or ``batches``: ``columns`` plus what both tables keep about a new
    entry (created and updated now, by this process, its ``params`` as JSON). ``owner_pid`` is
    what tells a later process whether the entry's owner is still alive."""
    now = time.time()
    return {
        **columns,
        "created_at": now,
        "updated_at": now,
        "params": json.dumps(params or {}, default=str),
        "owner_pid": os.getpid(),
    }


def _check_fields(fields: dict[str, Any], allowed: set[str], what: str) -> None:
    bad = set(fields) - allowed
    if bad:
        raise ValueError(f"unknown {what} fields: {sorted(bad)}")


def _update_by_id(c: sqlite3.Connection, table: str, id: str, values: dict[str, Any]) -> None:
    """Set ``values`` (column -> value, already encoded) on row ``id``, and ``updated_at`` now."""
    sets = [f"{k} = ?" for k in values] + ["updated_at = ?"]
    c.execute(
        f"UPDATE {table} SET {', '.join(sets)} WHERE id = ?", [*values.values(), time.time(), id]
    )


class JobStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._init_db()

    def _init_db(self) -> None:
        init_db(self.path, SCHEMA)

    def _conn(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return connect(self.path)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A connection inside ``statedb.transaction``, so a batch is never half-registered."""
        with self._conn() as c, transaction(c):
            yield c

    def create(
        self,
        *,
        id: str,
        kind: str,
        tool: str,
        backend: str,
        status: str = "pending",
        model: str | None = None,
        prompt: str | None = None,
        save_path: str | None = None,
        polling_url: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> JobRecord:
        row = _new_row(
            params,
            id=id,
            kind=kind,
            tool=tool,
            model=model,
            prompt=(prompt or "")[:PROMPT_MAX] or None,
            save_path=save_path,
            status=status,
            backend=backend,
            polling_url=polling_url,
        )
        with self._conn() as c:
            insert_row(c, "jobs", row)
        job = self.get(id)
        assert job is not None
        return job

    def update(self, id: str, **fields: Any) -> JobRecord | None:
        if not fields:
            return self.get(id)
        _check_fields(fields, set(JobRecord.__dataclass_fields__) - {"id", "created_at"}, "job")
        values = {
            k: json.dumps(v, default=str) if k in _JSON_COLS and v is not None else v
            for k, v in fields.items()
        }
        with self._conn() as c:
            _update_by_id(c, "jobs", id, values)
        return self.get(id)

    def get(self, id: str) -> JobRecord | None:
        with self._conn() as c:
            row = c.execute("SELECT * FROM jobs WHERE id = ?", (id,)).fetchone()
        if row is None:
            return None
        return self._reconcile(_row_to_job(row))

    def list(
        self,
        *,
        kind: str | None = None,
        backend: str | None = None,
        owner_pid: int | None = None,
        limit: int = 50,
    ) -> list[JobRecord]:
        """Newest first; ``owner_pid`` keeps the jobs one process (a kernel session) started."""
        q, args = "SELECT * FROM jobs", []
        where = []
        if owner_pid is not None:
            where.append("owner_pid = ?")
            args.append(owner_pid)
        if kind:
            where.append("kind = ?")
            args.append(kind)
        if backend:
            where.append("backend = ?")
            args.append(backend)
        if where:
            q += " WHERE " + " AND ".join(where)
        q += " ORDER BY created_at DESC LIMIT ?"
        args.append(limit)
        with self._conn() as c:
            rows = c.execute(q, args).fetchall()
        return [self._reconcile(_row_to_job(r)) for r in rows]

    def _reconcile(self, job: JobRecord) -> JobRecord:
        """A background chat whose process died can never finish: say so instead of 'running'."""
        if job.kind == "chat" and not job.terminal and not _pid_alive(job.owner_pid):
            err = {
                "code": "JOB_FAILED",
                "message": "The process running this job exited before it finished; start it again.",
            }
            self.update(job.id, status="interrupted", error=err)
            job.status, job.error = "interrupted", err
        return job

    # ---- Batch API batches (tables ``batches``, ``batch_chunks``, ``batch_items``) -------------
    # One row per ``or_magic.map(..., engine="batch")`` call; its items are split into upstream
    # batches (chunks). Each item keeps its ``custom_id``, the upstream batch it went to, its
    # pandas index label and, once collected, its result, so any process can reattach.

    def create_batch(
        self,
        *,
        id: str,
        tool: str,
        endpoint: str,
        model: str | None,
        backend: str,
        items: list[tuple[int, str, str | None, str | None]],
        params: dict[str, Any] | None = None,
        status: str = "submitting",
    ) -> None:
        """Register a batch and its items ``(index, custom_id, label_json, preview)`` at once."""
        row = _new_row(
            params,
            id=id,
            tool=tool,
            endpoint=endpoint,
            model=model,
            backend=backend,
            status=status,
            total=len(items),
            counts="{}",
        )
        with self._transaction() as c:
            insert_row(c, "batches", row)
            c.executemany(
                insert_sql("batch_items", ("batch_id", "idx", "custom_id", "label", "preview")),
                [(id, i, cid, label, preview) for i, cid, label, preview in items],
            )

    def add_batch_chunk(
        self, batch_id: str, upstream_id: str, seq: int, indices: list[int], status: str
    ) -> None:
        """Record one submitted upstream batch and the items (by index) it carries."""
        with self._transaction() as c:
            chunk = {
                "upstream_id": upstream_id,
                "batch_id": batch_id,
                "seq": seq,
                "first_index": indices[0],
                "count": len(indices),
                "status": status,
                "updated_at": time.time(),
            }
            insert_row(c, "batch_chunks", chunk, replace=True)
            c.executemany(
                "UPDATE batch_items SET upstream_id = ? WHERE batch_id = ? AND idx = ?",
                [(upstream_id, batch_id, i) for i in indices],
            )

    def update_batch(self, id: str, **fields: Any) -> None:
        _check_fields(fields, {"status", "counts", "error", "params", "model"}, "batch")
        values = {
            k: json.dumps(v, default=str) if k in ("counts", "error", "params") else v
            for k, v in fields.items()
        }
        with self._conn() as c:
            _update_by_id(c, "batches", id, values)

    def update_batch_chunk(self, upstream_id: str, status: str) -> None:
        with self._conn() as c:
            c.execute(
                "UPDATE batch_chunks SET status = ?, updated_at = ? WHERE upstream_id = ?",
                (status, time.time(), upstream_id),
            )

    def save_batch_results(self, batch_id: str, results: list[tuple[int, bool, str]]) -> None:
        """Store collected per-item results ``(index, ok, result_json)`` in one transaction."""
        with self._transaction() as c:
            c.executemany(
                "UPDATE batch_items SET ok = ?, result = ? WHERE batch_id = ? AND idx = ?",
                [(int(ok), r, batch_id, i) for i, ok, r in results],
            )

    def get_batch(self, id: str) -> dict[str, Any] | None:
        with self._conn() as c:
            row = c.execute("SELECT * FROM batches WHERE id = ?", (id,)).fetchone()
            if row is None:
                row = c.execute(
                    "SELECT b.* FROM batches b JOIN batch_chunks k ON k.batch_id = b.id"
                    " WHERE k.upstream_id = ?",
                    (id,),
                ).fetchone()
        return _batch_row(row) if row is not None else None

    def list_batches(self, *, limit: int = 50) -> list[dict[str, Any]]:
        with self._conn() as c:
            rows = c.execute(
                "SELECT * FROM batches ORDER BY created_at DESC LIMIT ?", (limit,)
            ).fetchall()
        return [_batch_row(r) for r in rows]

    def batch_chunks(self, batch_id: str) -> list[dict[str, Any]]:
        with self._conn() as c:
            rows = c.execute(
                "SELECT * FROM batch_chunks WHERE batch_id = ? ORDER BY seq", (batch_id,)
            ).fetchall()
        return [dict(r) for r in rows]

    def batch_item_counts(self, batch_id: str) -> dict[str, int]:
        """Items by state: ``pending`` (not submitted), ``in_progress``, ``completed``, ``failed``."""
        with self._conn() as c:
            rows = c.execute(
                "SELECT upstream_id IS NULL AS unsent, ok, COUNT(*) FROM batch_items"
                " WHERE batch_id = ? GROUP BY 1, 2",
                (batch_id,),
            ).fetchall()
        out = {"pending": 0, "in_progress": 0, "completed": 0, "failed": 0}
        for unsent, ok, n in rows:
            if ok is None:
                out["pending" if unsent else "in_progress"] += n
            else:
                out["completed" if ok else "failed"] += n
        return out

    def batch_items(self, batch_id: str, *, with_results: bool = True) -> list[sqlite3.Row]:
        cols = "idx, custom_id, upstream_id, label, preview" + (", result" if with_results else "")
        with self._conn() as c:
            return c.execute(
                f"SELECT {cols} FROM batch_items WHERE batch_id = ? ORDER BY idx", (batch_id,)
            ).fetchall()


def _batch_row(row: sqlite3.Row) -> dict[str, Any]:
    d = dict(row)
    for col in ("counts", "params", "error"):
        d[col] = json.loads(d[col]) if d.get(col) else ({} if col != "error" else None)
    return d


_stores: OnePerFile[JobStore] = OnePerFile(JobStore)


def get_job_store(settings: Settings) -> JobStore:
    return _stores.get(settings.state_root / "jobs.sqlite3")


def backend_label(settings: Settings) -> str:
    return "offline" if settings.offline else settings.base_url
