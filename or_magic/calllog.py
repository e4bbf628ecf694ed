"""The call log: every tool call, one row in ``calls.sqlite3`` in the state directory.

Why: a notebook is re-run and its kernel dies; the log is the memory that survives both (search
old answers, see what a run cost, continue a conversation in a new kernel). The schema is
documented in the README so any SQLite tool can open the file.

How it stays out of the way:

- ``record`` only builds a small dict and puts it on a queue; one daemon thread writes the rows
  (hashing saved media there too), so a slow or locked database never delays a call.
- Nothing here raises into a call: a failed write is logged (``call_log.write_failed``) and the
  row dropped. A database that is not SQLite any more is moved aside (``…corrupt-<time>``) and a
  new one started.
- Every stored string goes through ``redact`` (keys, bearer tokens, data URLs, base64 runs), and
  media are stored as a path plus a SHA-256, never as bytes.
- WAL mode, the retrying first open and the connections are the state dir's (``statedb``), as
  for the job registry, so kernels and MCP servers can write the same file at once.

Off switch: ``OR_MAGIC_LOG=0`` (or ``call_options(log=False)`` around a call).
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import sqlite3
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import log
from .statedb import OnePerFile, connect, init_db, insert_sql, open_db, transaction

if TYPE_CHECKING:  # pragma: no cover
    from .config import Settings
    from .result import ToolResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    tool TEXT NOT NULL,
    model TEXT,
    chat TEXT,
    notebook TEXT,
    session TEXT,
    pid INTEGER,
    prompt TEXT,
    messages TEXT,
    params TEXT,
    answer TEXT,
    media TEXT,
    usage TEXT,
    cost_usd REAL,
    latency_ms REAL,
    offline INTEGER NOT NULL DEFAULT 0,
    cache_hit INTEGER NOT NULL DEFAULT 0,
    is_error INTEGER NOT NULL DEFAULT 0,
    code TEXT,
    meta TEXT
);
CREATE INDEX IF NOT EXISTS calls_ts ON calls(ts);
CREATE INDEX IF NOT EXISTS calls_chat ON calls(chat, id);
CREATE INDEX IF NOT EXISTS calls_session ON calls(session, id);
"""

FTS_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS calls_fts USING fts5(
    prompt, answer, content='calls', content_rowid='id'
);
CREATE TRIGGER IF NOT EXISTS calls_fts_insert AFTER INSERT ON calls BEGIN
    INSERT INTO calls_fts(rowid, prompt, answer) VALUES (new.id, new.prompt, new.answer);
END;
"""

FILE_NAME = "calls.sqlite3"
COALESCE_S = 0.05  # the writer waits this long after a row so that a burst is one batch
_PROMPT_KEYS = ("messages", "prompt", "question", "text", "input", "query")
_META_SKIP = {"usage", "latency_ms", "offline", "model", "cost_usd"}

_SESSION = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"


def session_id() -> str:
    """This kernel's id when running in a Jupyter kernel (from its connection file), otherwise
    one id per process: what ``%openrouter jobs``/``log`` mean by "this notebook"."""
    if "ipykernel" in sys.modules:
        try:
            from ipykernel.connect import get_connection_file

            name = Path(get_connection_file()).stem
            return name.removeprefix("kernel-") or _SESSION
        except Exception:
            pass
    return _SESSION


def notebook_name() -> str | None:
    """The notebook's path when the Jupyter server told the kernel (``JPY_SESSION_NAME``)."""
    return os.environ.get("JPY_SESSION_NAME") or None


# ---- building a row (on the call path: cheap) ---------------------------------------------------


def _scrub(value: Any, extra: list[str] | None = None) -> Any:
    """Every string redacted (patterns, registered secrets and ``extra``, the settings' own
    secrets); bytes never stored."""
    from .redact import redact

    if isinstance(value, str):
        return redact(value, extra=extra)
    if isinstance(value, dict):
        return {str(k): _scrub(v, extra) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v, extra) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if value is None or isinstance(value, (int, float, bool)):
        return value
    return _scrub(str(value), extra)


def _last_user_text(args: dict[str, Any]) -> str | None:
    msgs = args.get("messages")
    if isinstance(msgs, list):
        for m in reversed(msgs):
            if isinstance(m, dict) and m.get("role") == "user":
                c = m.get("content")
                if isinstance(c, str):
                    return c
                if isinstance(c, list):
                    return " ".join(
                        str(p.get("text")) for p in c if isinstance(p, dict) and p.get("text")
                    )
    for key in ("prompt", "question", "text", "query", "input"):
        if isinstance(args.get(key), str):
            return args[key]
    return None


def build_row(
    tool: str,
    args: dict[str, Any],
    result: ToolResult,
    *,
    chat: str | None = None,
) -> dict[str, Any]:
    """The row for one call (values still raw; the writer thread scrubs and hashes)."""
    meta = result.meta or {}
    usage = meta.get("usage") if isinstance(meta.get("usage"), dict) else None
    if usage is None and isinstance(meta.get("cached_usage"), dict):
        usage = meta["cached_usage"]
    return {
        "ts": time.time(),
        "tool": tool,
        "model": meta.get("model") or args.get("model"),
        "chat": chat,
        "notebook": notebook_name(),
        "session": session_id(),
        "pid": os.getpid(),
        "prompt": _last_user_text(args),
        "messages": args.get("messages"),
        "params": {k: v for k, v in args.items() if k != "messages" and v is not None},
        "answer": result.text,
        "media": list(result.media),
        "usage": usage,
        "cost_usd": result.cost,
        "latency_ms": meta.get("latency_ms"),
        "offline": 1 if result.offline else 0,
        "cache_hit": 1 if meta.get("cached") else 0,
        "is_error": 1 if result.is_error else 0,
        "code": result.code,
        "meta": {k: v for k, v in meta.items() if k not in _META_SKIP},
    }


def _sha256_of(item: Any) -> str | None:
    h = hashlib.sha256()
    try:
        if item.data is not None:
            h.update(item.data)
        elif item.path:
            with open(item.path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        else:
            return None
    except OSError:
        return None
    return h.hexdigest()


def _media_json(items: list[Any]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        out.append(
            {
                "kind": item.kind,
                "mime": item.mime,
                "path": item.path,
                "size_bytes": item.size_bytes,
                "sha256": item.meta.get("sha256") or _sha256_of(item),
            }
        )
    return out


def _dumps(value: Any, extra: list[str] | None = None) -> str | None:
    if value is None:
        return None
    return json.dumps(_scrub(value, extra), ensure_ascii=False, default=str)


def _text(value: Any, extra: list[str] | None = None) -> str | None:
    from .redact import redact

    return None if value is None else redact(value, extra=extra)


# ---- the store ----------------------------------------------------------------------------------


def _open(path: Path) -> sqlite3.Connection:
    """A long-lived connection of the writer thread (or of one ``CallLog.write``)."""
    return open_db(path, timeout_s=10.0, any_thread=True)


def _values(row: dict[str, Any]) -> list[Any]:
    values = dict(row)
    extra = values.pop("_secrets", None) or None
    values["media"] = _dumps(_media_json(row.get("media") or []), extra)
    for col in ("messages", "params", "usage", "meta"):
        values[col] = _dumps(row.get(col), extra)
    for col in ("prompt", "answer"):
        values[col] = _text(row.get(col), extra)
    return [values.get(col) for col in _COLUMNS]


_COLUMNS = [
    "ts",
    "tool",
    "model",
    "chat",
    "notebook",
    "session",
    "pid",
    "prompt",
    "messages",
    "params",
    "answer",
    "media",
    "usage",
    "cost_usd",
    "latency_ms",
    "offline",
    "cache_hit",
    "is_error",
    "code",
    "meta",
]


class _Writer:
    """One daemon thread writing every call log's rows, in batches (one transaction per database
    per batch), over connections only it uses. A failed batch is logged and dropped, and its
    connection reopened next time. Registered once to flush at exit, so a script's last calls
    are kept."""

    MAX_CONNECTIONS = 4

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[CallLog, dict[str, Any]]] = queue.Queue(maxsize=10_000)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def put(self, target: CallLog, row: dict[str, Any]) -> bool:
        try:
            self._queue.put_nowait((target, row))
        except queue.Full:
            return False
        with self._lock:
            if self._thread is None:
                import atexit

                atexit.register(self.flush, 3.0)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._drain, name="or_magic-call-log", daemon=True
                )
                self._thread.start()
        return True

    def flush(self, timeout_s: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def _drain(self) -> None:
        conns: dict[Path, sqlite3.Connection] = {}
        while True:
            batch = [self._queue.get()]
            # Let a burst of calls finish first: one transaction for all of them, and the
            # redaction and SQLite work do not compete with the calls for the GIL.
            time.sleep(COALESCE_S)
            while len(batch) < 500:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            by_log: dict[int, tuple[CallLog, list[dict[str, Any]]]] = {}
            for target, row in batch:
                by_log.setdefault(id(target), (target, []))[1].append(row)
            try:
                for target, rows in by_log.values():
                    self._write(target, rows, conns)
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _write(
        self, target: CallLog, rows: list[dict[str, Any]], conns: dict[Path, sqlite3.Connection]
    ) -> None:
        conn = conns.get(target.path)
        try:
            if conn is None:
                target.ensure()
                while len(conns) >= self.MAX_CONNECTIONS:
                    conns.pop(next(iter(conns))).close()
                conn = conns[target.path] = _open(target.path)
            target._insert(conn, rows)
        except Exception as exc:  # the log must never break anything
            target.dropped += len(rows)
            log.warn(
                "call_log.write_failed",
                path=str(target.path),
                rows=len(rows),
                error=type(exc).__name__,
                message=str(exc)[:200],
            )
            stale = conns.pop(target.path, None)
            if stale is not None:
                stale.close()


class CallLog:
    """One database file; rows are written by the shared writer thread (``_Writer``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fts = False
        self._ready = False
        self._ready_lock = threading.Lock()
        self.dropped = 0

    # -- opening
    def ensure(self) -> None:
        """Create the file and schema (once); a file that is not a database is moved aside."""
        with self._ready_lock:
            if self._ready:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                init_db(self.path, SCHEMA)
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError):
                    raise
                aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
                log.warn("call_log.corrupt", path=str(self.path), moved_to=str(aside))
                for suffix in ("", "-wal", "-shm"):
                    p = Path(str(self.path) + suffix)
                    if p.exists():
                        os.replace(p, Path(str(aside) + suffix))
                init_db(self.path, SCHEMA)
            try:
                init_db(self.path, FTS_SCHEMA)
                self.fts = True
            except sqlite3.OperationalError:  # SQLite built without FTS5: LIKE search instead
                self.fts = False
            self._ready = True

    # -- writing
    def submit(self, row: dict[str, Any]) -> None:
        """Queue a row (never blocks, never raises)."""
        if not _WRITER.put(self, row):
            self.dropped += 1

    def _insert(self, conn: sqlite3.Connection, rows: list[dict[str, Any]]) -> int:
        sql = insert_sql("calls", _COLUMNS)
        last = 0
        with transaction(conn):
            for row in rows:
                cur = conn.execute(sql, _values(row))
                last = int(cur.lastrowid or 0)
        return last

    def write(self, row: dict[str, Any]) -> int:
        """Insert one row now, on a connection of its own (tests and one-off tools)."""
        self.ensure()
        conn = _open(self.path)
        try:
            return self._insert(conn, [row])
        finally:
            conn.close()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until queued rows are written (readers call this first); False on timeout."""
        return _WRITER.flush(timeout_s)

    # -- reading
    def query(
        self,
        query: str | None = None,
        *,
        n: int = 20,
        chat: str | None = None,
        session: str | None = None,
        tool: str | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first. ``query`` is full-text (FTS5 syntax) when available, else a substring."""
        self.flush()
        if not self.path.exists():
            return []
        self.ensure()
        where, args = [], []
        if query:
            if self.fts:
                where.append("id IN (SELECT rowid FROM calls_fts WHERE calls_fts MATCH ?)")
                args.append(_fts_query(query))
            else:
                where.append("(prompt LIKE ? ESCAPE '\\' OR answer LIKE ? ESCAPE '\\')")
                like = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                args += [like + "%", like + "%"]
        for col, val in (("chat", chat), ("session", session), ("tool", tool)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        sql = "SELECT * FROM calls" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(max(int(n), 0))
        with connect(self.path) as c:
            rows = c.execute(sql, args).fetchall()
        return [_decode(r) for r in rows]


def _fts_query(text: str) -> str:
    """Plain words are ANDed phrase tokens (no FTS syntax errors from user punctuation)."""
    words = [w for w in text.replace('"', " ").split() if w]
    return " ".join(f'"{w}"' for w in words) or '""'


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    d = dict(row)
    for col in ("messages", "params", "media", "usage", "meta"):
        raw = d.get(col)
        try:
            d[col] = json.loads(raw) if raw else None
        except ValueError:
            pass
    for col in ("offline", "cache_hit", "is_error"):
        d[col] = bool(d.get(col))
    return d


class CallRows(list):
    """Rows of the call log (dicts, newest first); ``.to_pandas()`` when pandas is installed."""

    def to_pandas(self) -> Any:
        import pandas as pd  # imported only here

        return pd.DataFrame(list(self))


_WRITER = _Writer()
_logs: OnePerFile[CallLog] = OnePerFile(CallLog)


def get_call_log(settings: Settings) -> CallLog:
    return _logs.get(settings.state_root / FILE_NAME)


def flush_all(timeout_s: float = 10.0) -> bool:
    """Wait for every call log's queued rows (tests, and before reading the file elsewhere)."""
    return _WRITER.flush(timeout_s)


def record(
    settings: Settings,
    tool: str,
    args: dict[str, Any],
    result: ToolResult,
    *,
    chat: str | None = None,
) -> None:
    """Log one finished call; never raises (called from the core's call path)."""
    try:
        if not settings.call_log:
            return
        row = build_row(tool, args, result, chat=chat)
        row["_secrets"] = settings.secrets()  # used for redaction by the writer, never stored
        get_call_log(settings).submit(row)
    except Exception as exc:
        log.warn("call_log.record_failed", error=type(exc).__name__)


def calls(
    query: str | None = None,
    *,
    n: int = 20,
    chat: str | None = None,
    session: str | None = None,
    tool: str | None = None,
) -> CallRows:
    """``or_magic.call_log(...)``: rows of the call log, newest first (``query`` searches the
    prompt and the answer). ``session="this"`` keeps this kernel's calls."""
    from .config import get_settings

    if session == "this":
        session = session_id()
    rows = get_call_log(get_settings()).query(query, n=n, chat=chat, session=session, tool=tool)
    return CallRows(rows)


def conversation(chat: str, *, max_exchanges: int = 50) -> list[dict[str, str]]:
    """The logged exchanges of conversation ``chat`` (oldest first) as chat messages, for
    ``--chat NAME --resume`` in a new kernel."""
    rows = calls(n=max_exchanges, chat=chat, tool="chat_completion")
    msgs: list[dict[str, str]] = []
    for r in reversed(rows):
        if r["is_error"] or not r.get("prompt") or r.get("answer") is None:
            continue
        msgs += [
            {"role": "user", "content": r["prompt"]},
            {"role": "assistant", "content": r["answer"]},
        ]
    return msgs
