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
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Settings

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
"""

TERMINAL = frozenset({"completed", "failed", "cancelled", "expired", "interrupted"})
PROMPT_MAX = 4000


@dataclass
class Job:
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


def _row_to_job(row: sqlite3.Row) -> Job:
    d = dict(row)
    for col in _JSON_COLS:
        raw = d.get(col)
        d[col] = json.loads(raw) if raw else ({} if col == "params" else None)
    return Job(**d)


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


def init_db(path: Path, schema: str, *, timeout_s: float = 15.0) -> None:
    """Schema and WAL mode, once per database file. WAL is a property of the file, so connections
    never switch journal modes again; several processes opening a fresh database at the same
    moment can still collide on that one switch, which SQLite reports without waiting for
    the busy timeout, so it is retried here. Shared by every SQLite file in the state dir."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with connect(path) as c:
                if c.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    c.execute("PRAGMA journal_mode=WAL")
                c.executescript(schema)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def connect(path: Path, *, timeout_s: float = 10.0) -> Iterator[sqlite3.Connection]:
    """A short-lived autocommit connection with a busy timeout (rows as ``sqlite3.Row``)."""
    conn = sqlite3.connect(path, timeout=timeout_s, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
        conn.execute("PRAGMA synchronous=NORMAL")
        yield conn
    finally:
        conn.close()


class JobStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._init_db()

    def _init_db(self) -> None:
        init_db(self.path, SCHEMA)

    def _conn(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return connect(self.path)

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
    ) -> Job:
        now = time.time()
        with self._conn() as c:
            c.execute(
                "INSERT INTO jobs (id, kind, tool, model, prompt, save_path, status, backend, created_at,"
                " updated_at, polling_url, params, owner_pid) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    id,
                    kind,
                    tool,
                    model,
                    (prompt or "")[:PROMPT_MAX] or None,
                    save_path,
                    status,
                    backend,
                    now,
                    now,
                    polling_url,
                    json.dumps(params or {}, default=str),
                    os.getpid(),
                ),
            )
        job = self.get(id)
        assert job is not None
        return job

    def update(self, id: str, **fields: Any) -> Job | None:
        if not fields:
            return self.get(id)
        allowed = set(Job.__dataclass_fields__) - {"id", "created_at"}
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"unknown job fields: {sorted(bad)}")
        cols, vals = [], []
        for k, v in fields.items():
            cols.append(f"{k} = ?")
            vals.append(json.dumps(v, default=str) if k in _JSON_COLS and v is not None else v)
        cols.append("updated_at = ?")
        vals.append(time.time())
        vals.append(id)
        with self._conn() as c:
            c.execute(f"UPDATE jobs SET {', '.join(cols)} WHERE id = ?", vals)
        return self.get(id)

    def get(self, id: str) -> Job | None:
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
    ) -> list[Job]:
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

    def _reconcile(self, job: Job) -> Job:
        """A background chat whose process died can never finish: say so instead of 'running'."""
        if job.kind == "chat" and not job.terminal and not _pid_alive(job.owner_pid):
            err = {
                "code": "JOB_FAILED",
                "message": "The process running this job exited before it finished; start it again.",
            }
            self.update(job.id, status="interrupted", error=err)
            job.status, job.error = "interrupted", err
        return job


_stores: dict[Path, JobStore] = {}
_lock = threading.Lock()


def get_job_store(settings: Settings) -> JobStore:
    path = settings.state_root / "jobs.sqlite3"
    with _lock:
        store = _stores.get(path)
        if store is None:
            store = JobStore(path)
            _stores[path] = store
        return store


def backend_label(settings: Settings) -> str:
    return "offline" if settings.offline else settings.base_url
