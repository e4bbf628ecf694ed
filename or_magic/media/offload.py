"""CPU-bound media work (decode, resize, encode) off the event loop, on a small bounded pool.

Pillow releases the GIL while it decodes, resizes and encodes, so preparing images in threads lets
N concurrent analyses use every core while the loop keeps sending requests and reading answers.
The pool is bounded (about one worker per core) so 64 concurrent calls do not decode 64 large
images at once: memory stays at a few images' worth, and the queue is the semaphore.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def workers() -> int:
    """One per core, at least 2 and at most 8; ``OR_MAGIC_MEDIA_WORKERS`` overrides (0 = do the
    work in the caller's thread, on the event loop)."""
    raw = os.environ.get("OR_MAGIC_MEDIA_WORKERS", "").strip()
    if raw.isdigit():
        return int(raw)
    return max(2, min(8, os.cpu_count() or 2))


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(workers(), thread_name_prefix="or_magic-media")
    return _pool


async def run_cpu(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on the media pool; exceptions propagate as if called here.

    A cancelled caller stops waiting at once; the worker finishes its image and the result is
    dropped (nothing it returns holds a file or a socket).
    """
    if workers() == 0:
        return fn(*args)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor(), fn, *args)
