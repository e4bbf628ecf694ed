"""A per-backend value with a TTL whose concurrent cold callers share one fetch.

Used by the model catalog (``GET /models``) and the video capabilities (``GET /videos/models``):
N callers on a cold cache cause exactly one request per event loop; a caller whose fetch was
cancelled does not take the waiters down with it (they fetch themselves).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass
class Entry(Generic[T]):
    value: T | None = None
    fetched_at: float = 0.0  # monotonic; 0 = never
    fetch_count: int = 0
    inflight: dict[int, asyncio.Future[Any]] = field(default_factory=dict)  # per event loop

    def fresh(self, ttl_ms: int) -> bool:
        return self.fetched_at > 0 and (time.monotonic() - self.fetched_at) * 1000 < ttl_ms

    @property
    def age_s(self) -> float | None:
        return round(time.monotonic() - self.fetched_at, 1) if self.fetched_at else None


class CoalescingCache(Generic[T]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, Entry[T]] = {}

    def entry(self, key: str) -> Entry[T]:
        with self._lock:
            return self._entries.setdefault(key, Entry())

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()

    async def get(
        self,
        key: str,
        ttl_ms: int,
        fetch: Callable[[], Awaitable[T]],
        *,
        force: bool = False,
        merge: Callable[[T | None, T], T] | None = None,
    ) -> Entry[T]:
        """The entry, refreshed if stale (or ``force``); the fetch's error propagates."""
        e = self.entry(key)
        loop = asyncio.get_running_loop()
        while True:
            if not force and e.fresh(ttl_ms):
                return e
            fut = e.inflight.get(id(loop))
            if fut is None:
                break
            try:
                await asyncio.shield(fut)
            except asyncio.CancelledError:
                if fut.cancelled():  # the fetching caller was cancelled: fetch ourselves
                    continue
                raise
            return e
        fut = loop.create_future()
        e.inflight[id(loop)] = fut
        try:
            value = await fetch()
        except Exception as exc:
            e.inflight.pop(id(loop), None)
            fut.set_exception(exc)
            fut.exception()  # retrieved: waiters re-raise it, nobody logs "never retrieved"
            raise
        except BaseException:
            e.inflight.pop(id(loop), None)
            fut.cancel()
            raise
        e.inflight.pop(id(loop), None)
        e.value = merge(e.value, value) if merge is not None else value
        e.fetched_at = time.monotonic()
        e.fetch_count += 1
        fut.set_result(None)
        return e
