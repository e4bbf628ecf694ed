"""The SQLite files in the state directory (``jobs.sqlite3``, ``calls.sqlite3``, the local cache):
one way to create, open and write them.

Several kernels and MCP servers share these files, so every one is in WAL mode with a busy
timeout, and each process keeps one store object per file (``OnePerFile``), so the schema is
checked once and a store's own locks and threads are not duplicated. Kept apart from the job
registry (``jobs``), the call log (``calllog``) and the cache (``response_cache``) that use it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


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


def open_db(path: Path, *, timeout_s: float = 10.0, any_thread: bool = False) -> sqlite3.Connection:
    """An autocommit connection that waits ``timeout_s`` for another process's lock instead of
    failing at once. ``any_thread``: the connection may be used from a thread other than the
    one that opened it (a long-lived connection behind the caller's own lock or thread)."""
    conn = sqlite3.connect(
        path, timeout=timeout_s, isolation_level=None, check_same_thread=not any_thread
    )
    try:
        conn.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
        conn.execute("PRAGMA synchronous=NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def connect(path: Path, *, timeout_s: float = 10.0) -> Iterator[sqlite3.Connection]:
    """A short-lived autocommit connection with a busy timeout (rows as ``sqlite3.Row``)."""
    conn = open_db(path, timeout_s=timeout_s)
    try:
        conn.row_factory = sqlite3.Row
        yield conn
    finally:
        conn.close()


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` on ``conn``: committed when the block ends, rolled back on any
    exception (KeyboardInterrupt included), so a group of rows is written whole or not at all."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def insert_sql(table: str, columns: Collection[str], *, replace: bool = False) -> str:
    """``INSERT INTO table (a, b) VALUES (?,?)``: the placeholders counted from the columns, so
    a column added to the list cannot be left without its value slot."""
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    return f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({','.join('?' * len(columns))})"


def insert_row(
    conn: sqlite3.Connection, table: str, row: Mapping[str, object], *, replace: bool = False
) -> sqlite3.Cursor:
    """Insert ``row`` (column -> value): each value written next to its column's name."""
    return conn.execute(insert_sql(table, row, replace=replace), tuple(row.values()))


class OnePerFile(Generic[T]):
    """One store per database file in this process, made by ``factory(path)`` on first use."""

    def __init__(self, factory: Callable[[Path], T]) -> None:
        self._factory = factory
        self._made: dict[Path, T] = {}
        self._lock = threading.Lock()

    def get(self, path: Path) -> T:
        with self._lock:
            store = self._made.get(path)
            if store is None:
                store = self._made[path] = self._factory(path)
            return store

    def clear(self) -> None:
        """Forget every store (tests that play "a new process")."""
        with self._lock:
            self._made.clear()
