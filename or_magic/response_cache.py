"""The local response cache: the same request again is answered from disk, instantly, for $0.

Why: "Run All" re-sends every cell. With ``OR_MAGIC_CACHE=on`` (or ``%%openrouter --cache``, or
``OpenRouterMagics.cache``) a request identical to one answered before is not sent again.
``deterministic`` caches only requests that ask for a repeatable answer (temperature 0 or a seed).
This is *not* OpenRouter's server-side cache (the ``cache`` / ``cache_ttl`` tool arguments and the
``X-OpenRouter-Cache`` header), which still costs a request; both can be used together.

The key is a SHA-256 over the tool, every validated argument (defaults included), the settings
that change a request (backend, default models, provider routing, image preparation) and, for
media inputs, their *content* (local files and notebook objects are hashed; a path is never the
key, so an edited file is a miss; a remote URL is keyed by the URL). Where the answer is written
(``save_path``) is not part of the key: a hit is written to the new ``save_path``.

Only whole successful answers are stored: never errors, truncated text, answers cut by
``max_tokens``, or jobs still running. Media are stored content-addressed under
``<state dir>/cache/blobs/``; an entry whose blob is gone is a miss. Entries live in
``cache.sqlite3`` next to the call log.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import log
from .statedb import OnePerFile, init_db, open_db

if TYPE_CHECKING:  # pragma: no cover
    from .config import Settings
    from .result import ToolResult

MODES = ("off", "on", "deterministic")

# Tools whose answer depends only on the request. Status lookups, catalogue queries, background
# starts and the health check are never cached.
CACHEABLE = frozenset(
    {
        "chat_completion",
        "analyze_image",
        "analyze_audio",
        "analyze_video",
        "analyze_media",
        "speech_to_text",
        "generate_image",
        "generate_image_dedicated",
        "generate_audio",
        "text_to_speech",
        "generate_video",
        "generate_video_from_image",
        "rerank_documents",
    }
)

# Arguments that say where to put the answer, not what it is.
_DESTINATIONS = frozenset({"save_path"})
_SETTINGS_IN_KEY = (
    "base_url",
    "offline_forced",
    "max_tokens",
    "include_reasoning",
    "image_max_dimension",
    "image_jpeg_quality",
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    created_at REAL NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0,  -- reserved (not counted: a hit must not write)
    result TEXT NOT NULL,
    media TEXT NOT NULL
);
"""


def resolve_mode(settings: Settings, override: str | None) -> str:
    mode = (override or settings.local_cache or "off").lower()
    return mode if mode in MODES else "off"


def wants_cache(mode: str, tool: str, args: dict[str, Any]) -> bool:
    if mode == "off" or tool not in CACHEABLE:
        return False
    if mode == "deterministic":
        return args.get("temperature") == 0 or args.get("seed") is not None
    return True


# ---- the key ------------------------------------------------------------------------------------


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _chunks(path: Path, size: int = 1 << 20) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        yield from iter(lambda: fh.read(size), b"")


class Uncacheable(Exception):
    """An input whose content cannot be hashed (then the call is simply not cached)."""


def _object_digest(handle: str) -> str:
    from .errors import ToolError
    from .media.blob import Blob
    from .media.sources import peek

    try:
        obj = peek(handle)
    except ToolError:
        raise Uncacheable(handle) from None
    if isinstance(obj, Blob):  # what registering a notebook object made: hash its bytes
        h = hashlib.sha256()
        for chunk in obj.iter_chunks(1 << 20):
            h.update(chunk)
        return h.hexdigest()
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return hashlib.sha256(bytes(obj)).hexdigest()
    if hasattr(obj, "tobytes"):  # numpy arrays, PIL images
        h = hashlib.sha256(obj.tobytes())
        h.update(repr((getattr(obj, "shape", None), getattr(obj, "size", None))).encode())
        h.update(repr(getattr(obj, "mode", None) or getattr(obj, "dtype", None)).encode())
        return h.hexdigest()
    raise Uncacheable(type(obj).__name__)


def _content_of(value: str, settings: Settings) -> str:
    """A string argument as it goes into the key: local files and notebook objects by content."""
    from .media.sources import is_object_handle

    if is_object_handle(value):
        return "object-sha256:" + _object_digest(value.strip())
    if value.startswith("data:") and len(value) > 256:
        return "data-sha256:" + hashlib.sha256(value.encode()).hexdigest()
    if len(value) > 1024 or "\n" in value or "://" in value:
        return value
    try:
        p = Path(value).expanduser()
        if not p.is_absolute():
            p = settings.input_root / p
        if p.is_file():
            return "file-sha256:" + _file_digest(p)
    except (OSError, ValueError):
        pass
    return value


def _normalise(value: Any, settings: Settings) -> Any:
    if isinstance(value, str):
        return _content_of(value, settings)
    if isinstance(value, dict):
        return {str(k): _normalise(v, settings) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_normalise(v, settings) for v in value]
    return value


def request_key(tool: str, args: dict[str, Any], settings: Settings) -> str | None:
    """The cache key of a validated request, or None when an input cannot be hashed."""
    try:
        body = {k: v for k, v in args.items() if k not in _DESTINATIONS}
        env = {f.name: getattr(settings, f.name) for f in fields(settings)}
        knobs = {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in env.items()
            if k in _SETTINGS_IN_KEY or k.startswith(("default_", "provider_"))
        }
        blob = json.dumps(
            {
                "tool": tool,
                "args": _normalise(body, settings),
                "settings": knobs,
                "offline": settings.offline,  # an offline answer never serves a live request
                # one account's answers never serve another's (the key itself only inside this hash)
                "account": settings.api_key.get() if settings.api_key is not None else None,
                "v": 2,
            },
            sort_keys=True,
            default=str,
        )
    except Uncacheable:
        return None
    return hashlib.sha256(blob.encode()).hexdigest()


# ---- what may be stored -------------------------------------------------------------------------


def storable(result: ToolResult) -> bool:
    meta = result.meta or {}
    if result.is_error or result.code is not None:  # JOB_STILL_RUNNING is a success with a code
        return False
    if meta.get("result_truncated") or meta.get("finish_reason") == "length":
        return False
    if meta.get("cached"):
        return False
    return bool(result.text or result.media or result.data)


# ---- the store ----------------------------------------------------------------------------------


class ResponseCache:
    """Entries in ``cache.sqlite3`` over one long-lived connection (opening and closing SQLite per
    lookup cost more than the rest of a hit), used under a lock from any thread."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.db = root / "cache.sqlite3"
        self.blobs = root / "cache" / "blobs"
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._conn is None:
                self.root.mkdir(parents=True, exist_ok=True)
                init_db(self.db, SCHEMA)
                conn = open_db(self.db, timeout_s=5.0, any_thread=True)  # behind self._lock
                conn.row_factory = sqlite3.Row
                self._conn = conn
            try:
                yield self._conn
            except sqlite3.DatabaseError:
                self._conn.close()  # reopened (and re-checked) next time
                self._conn = None
                raise

    def blob_path(self, digest: str) -> Path:
        return self.blobs / digest[:2] / digest

    def _put_blob(self, item: Any) -> str:
        """Store a media item's bytes under their SHA-256 (a saved file is streamed, never read
        whole: a generated video can be hundreds of MiB)."""
        from .safety.atomic import atomic_write

        if item.data is not None:
            digest = hashlib.sha256(item.data).hexdigest()
            source: Any = item.data
        else:
            digest = _file_digest(Path(item.path))
            source = _chunks(Path(item.path))
        target = self.blob_path(digest)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, source)
        return digest

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored entry, or None (also when one of its media blobs was deleted)."""
        if self._conn is None and not self.db.exists():
            return None
        with self._db() as c:
            row = c.execute("SELECT * FROM entries WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            media = json.loads(row["media"])
            if any(not self.blob_path(m["sha256"]).is_file() for m in media):
                c.execute("DELETE FROM entries WHERE key = ?", (key,))
                return None
        return {
            "result": json.loads(row["result"]),
            "media": media,
            "created_at": row["created_at"],
        }

    def put(self, key: str, result: ToolResult) -> None:
        media = []
        for item in result.media:
            digest = self._put_blob(item)
            media.append(
                {
                    "sha256": digest,
                    "kind": item.kind,
                    "mime": item.mime,
                    "name": item.name,
                    "size_bytes": item.size_bytes,
                    "meta": item.meta,
                    "inline": item.data is not None,
                    "path": item.path,
                }
            )
        meta = {k: v for k, v in result.meta.items() if k not in ("latency_ms",)}
        stored = {"text": result.text, "data": result.data, "meta": meta}
        with self._db() as c:
            c.execute(
                "INSERT OR REPLACE INTO entries (key, tool, created_at, hits, result, media)"
                " VALUES (?,?,?,0,?,?)",
                (key, result.tool, time.time(), json.dumps(stored, default=str), json.dumps(media)),
            )

    def clear(self) -> int:
        """Forget every entry and delete the stored media; how many entries there were."""
        import shutil

        n = 0
        if self._conn is not None or self.db.exists():
            with self._db() as c:
                n = int(c.execute("DELETE FROM entries").rowcount or 0)
        shutil.rmtree(self.blobs, ignore_errors=True)
        return n

    def stats(self) -> dict[str, int]:
        """``{"entries", "blobs", "blob_bytes"}`` (for ``%openrouter cache``)."""
        entries = 0
        if self._conn is not None or self.db.exists():
            with self._db() as c:
                entries = int(c.execute("SELECT count(*) FROM entries").fetchone()[0])
        files = [p for p in self.blobs.rglob("*") if p.is_file()] if self.blobs.exists() else []
        return {
            "entries": entries,
            "blobs": len(files),
            "blob_bytes": sum(p.stat().st_size for p in files),
        }

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


_caches: OnePerFile[ResponseCache] = OnePerFile(ResponseCache)


def get_cache(settings: Settings) -> ResponseCache:
    """This process's one cache for the state dir (one connection and lock per file)."""
    return _caches.get(settings.state_root)


# ---- a hit as a result ----------------------------------------------------------------------------


def _numbered(path: Path, i: int) -> Path:
    return path if i == 0 else path.with_name(f"{path.stem}_{i + 1}{path.suffix}")


def rebuild(
    tool: str, entry: dict[str, Any], cache: ResponseCache, args: dict[str, Any], settings: Settings
) -> ToolResult:
    """The stored answer as a fresh result: costs nothing, says ``cached``; media from the blobs
    (written to this request's ``save_path`` when it has one)."""
    from .result import MediaItem, ToolResult

    stored = entry["result"]
    meta = dict(stored.get("meta") or {})
    usage = meta.pop("usage", None)
    if usage is not None:
        meta["cached_usage"] = usage
    meta.pop("cost_usd", None)
    meta["cost_usd"] = 0.0
    meta["cached"] = True
    meta["cached_at"] = entry.get("created_at")
    save = args.get("save_path")
    items = []
    moved: dict[str, str] = {}  # the first call's saved path -> where this hit wrote the copy
    for i, m in enumerate(entry["media"]):
        blob = cache.blob_path(m["sha256"])
        path: str | None = str(blob)
        if isinstance(save, str) and save:
            from .safety.atomic import atomic_write
            from .safety.paths import output_sandbox_root, resolve_output_path

            target = _numbered(resolve_output_path(save, settings), i)
            # inside the verified root descriptor, like every other write of a tool's output
            atomic_write(target, _chunks(blob), root=output_sandbox_root(settings))
            path = str(target)
            if m.get("path"):
                moved[str(m["path"])] = path
        data = blob.read_bytes() if m.get("inline") else None
        items.append(
            MediaItem(
                kind=m["kind"],
                mime=m["mime"],
                data=data,
                path=path if (save or not data) else None,
                size_bytes=m.get("size_bytes"),
                name=m.get("name"),
                meta=dict(m.get("meta") or {}),
            )
        )
    if isinstance(save, str) and save and items:
        meta["save_path"] = items[0].path
        if len(items) > 1:
            meta["save_paths"] = [it.path for it in items]
    text = stored.get("text") or ""
    for before, after in sorted(moved.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(before, after)  # "saved to …" names this call's file, not the first's
    return ToolResult(tool=tool, text=text, data=stored.get("data"), media=items, meta=meta)


def lookup(tool: str, key: str, args: dict[str, Any], settings: Settings) -> ToolResult | None:
    """A hit as a result, or None (a cache that cannot be read is a miss, logged)."""
    try:
        cache = get_cache(settings)
        entry = cache.get(key)
        if entry is None:
            return None
        return rebuild(tool, entry, cache, args, settings)
    except Exception as exc:
        if type(exc).__name__ == "ToolError":  # e.g. UNSAFE_PATH for the save_path: the caller's
            raise
        log.warn("response_cache.read_failed", error=type(exc).__name__, message=str(exc)[:200])
        return None


def store(key: str, result: ToolResult, settings: Settings) -> None:
    """Remember a result when it may be stored; never raises."""
    try:
        if storable(result):
            from .redact import known_secrets, scrub_result

            # scrubbed before it reaches the disk: an answer that echoed the key must not be
            # stored (or served later, to a process that does not know that key) in the clear
            scrub_result(result, known_secrets(settings.secrets()))
            get_cache(settings).put(key, result)
    except Exception as exc:
        log.warn("response_cache.write_failed", error=type(exc).__name__, message=str(exc)[:200])


__all__ = ["MODES", "ResponseCache", "get_cache", "lookup", "request_key", "store"]
