"""Background jobs started with ``--background``: a ``Job`` you can wait for, await or cancel.

In a Jupyter kernel the job is a task on the kernel's own event loop, so its display updates go to
the cell that started it and the loop keeps serving other cells. Elsewhere (plain IPython, scripts)
it runs on a daemon thread with its own loop. ``job.wait()`` blocks (nested run in a kernel, so
Stop buttons and other tasks keep working), ``await job`` waits without blocking, and
``%openrouter wait ID`` does the same from a magic.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from typing import Any

from ._errors import OpenRouterCancelled, OpenRouterCellError, OpenRouterInterrupted

_ids = itertools.count(1)
JOBS: OrderedDict[str, BackgroundJob] = OrderedDict()
_MAX_JOBS = 200


class _ThreadLoop:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._lock = threading.Lock()

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=loop.run_forever, name="or_magic-magic-jobs", daemon=True
                ).start()
                self._loop = loop
            return self._loop


_THREAD = _ThreadLoop()


class BackgroundJob:
    """A running (or finished) ``%%openrouter ... --background`` call."""

    def __init__(self, tool: str, label: str, *, wrap: Callable[[Any], Any] | None = None) -> None:
        self.id = f"j{next(_ids)}"
        self.tool = tool
        self.label = label
        self.created_at = time.time()
        self.finished_at: float | None = None
        self.status = "pending"
        self._wrap = wrap
        self._raw: Any = None  # ToolResult
        self._task: asyncio.Task | None = None
        self._future: Future | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self.panel: Any = None
        JOBS[self.id] = self
        while len(JOBS) > _MAX_JOBS:
            oldest = next(iter(JOBS))
            if not JOBS[oldest].done():
                break
            JOBS.pop(oldest)

    # -- starting
    def start(self, coro: Coroutine[Any, Any, Any]) -> BackgroundJob:
        self.status = "running"
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            self._loop = loop
            self._loop_thread = threading.get_ident()
            self._task = loop.create_task(self._run(coro), name=f"or_magic:{self.id}")
        else:
            self._loop = _THREAD.loop()
            self._future = asyncio.run_coroutine_threadsafe(self._run(coro), self._loop)
        return self

    async def _run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        try:
            result = await coro
        except asyncio.CancelledError:
            self.status = "cancelled"
            self.finished_at = time.time()
            raise
        except BaseException:
            self.status = "failed"
            self.finished_at = time.time()
            raise
        self._raw = result
        self.status = "failed" if getattr(result, "is_error", False) else "completed"
        self.finished_at = time.time()
        return result

    # -- state
    def done(self) -> bool:
        if self._task is not None:
            return self._task.done()
        if self._future is not None:
            return self._future.done()
        return False

    @property
    def elapsed(self) -> float:
        return (self.finished_at or time.time()) - self.created_at

    @property
    def raw(self) -> Any:
        """The ``ToolResult`` once finished (None before)."""
        return self._raw

    @property
    def result(self) -> Any:
        """The finished result (a ``RichResult``); raises if the job failed or is still running."""
        if not self.done():
            raise OpenRouterCellError(
                "JOB_STILL_RUNNING",
                f"Job {self.id} is still {self.status}",
                suggestions=[f"Wait with job.wait() or %openrouter wait {self.id}"],
            )
        return self._final()

    def _cancelled(self) -> bool:
        if self.status in ("cancelled", "cancelling"):
            return True
        return any(f is not None and f.done() and f.cancelled() for f in (self._task, self._future))

    def _final(self) -> Any:
        if self._cancelled():
            raise OpenRouterCancelled(
                f"Job {self.id} was cancelled",
                suggestions=["A video job stays resumable upstream: %openrouter status"]
                if "video" in self.tool
                else None,
            )
        exc = self._exception()
        if exc is not None:
            raise exc
        raw = self._raw
        if raw is None:
            raise OpenRouterCellError("INTERNAL", f"Job {self.id} ended without a result")
        if getattr(raw, "is_error", False):
            raise OpenRouterCellError.from_result(raw)
        return self._wrap(raw) if self._wrap is not None else raw

    def _exception(self) -> BaseException | None:
        try:
            if self._task is not None and self._task.done() and not self._task.cancelled():
                return self._task.exception()
            if self._future is not None and self._future.done() and not self._future.cancelled():
                return self._future.exception()
        except (asyncio.CancelledError, Exception):
            return None
        return None

    # -- waiting
    def wait(self, timeout: float | None = None) -> Any:
        """Block until the job ends and return its result (raises ``OpenRouterCellError``)."""
        if not self.done():
            if self._task is not None:
                from ..tools import run_sync

                async def _w() -> None:
                    await asyncio.wait_for(asyncio.shield(self._task), timeout)  # type: ignore[arg-type]

                try:
                    run_sync(_w())
                except (TimeoutError, asyncio.TimeoutError):
                    raise self._still_running(timeout) from None
                except asyncio.CancelledError:
                    pass
                except KeyboardInterrupt:
                    # only the waiting stops; the job goes on in the kernel
                    raise OpenRouterInterrupted(
                        f"waiting for job {self.id}",
                        f"The job goes on: %openrouter wait {self.id}",
                    ) from None
                except BaseException:
                    pass
            elif self._future is not None:
                import concurrent.futures

                try:
                    self._future.result(timeout)
                except concurrent.futures.TimeoutError:
                    raise self._still_running(timeout) from None
                except (concurrent.futures.CancelledError, Exception):
                    pass
        self._republish()
        return self._final()

    def _still_running(self, timeout: float | None) -> OpenRouterCellError:
        """What ``wait`` raises when ``timeout`` ran out first (the job goes on)."""
        return OpenRouterCellError(
            "JOB_STILL_RUNNING",
            f"Job {self.id} still running after {timeout} s",
            suggestions=[f"Wait again: %openrouter wait {self.id}"],
        )

    def _republish(self) -> None:
        """Kernel jobs: re-send the panel's final update from the waiting cell (see CellPanel)."""
        if self._task is not None and self.panel is not None:
            try:
                self.panel.republish()
            except Exception:  # pragma: no cover - display must not break waiting
                pass

    def __await__(self):
        return self._await().__await__()

    async def _await(self) -> Any:
        if self._task is not None:
            await _until_done(asyncio.shield(self._task), self._task)
            self._republish()
        elif self._future is not None:
            await _until_done(asyncio.wrap_future(self._future), self._future)
        return self._final()

    def cancel(self) -> bool:
        """Cancel the job (the upstream video job, if any, stays resumable by its id)."""
        if self.done():
            return False
        self.status = "cancelling"
        if self._task is not None and self._loop is not None:
            task = self._task
            if threading.get_ident() == self._loop_thread:
                return task.cancel()
            self._loop.call_soon_threadsafe(task.cancel)  # e.g. from the Stop button's thread
            return True
        if self._future is not None and self._loop is not None:
            fut = self._future
            self._loop.call_soon_threadsafe(fut.cancel)
            return True
        return False

    # -- display
    def summary(self) -> str:
        return f"Job {self.id} · {self.tool} · {self.status} · {self.elapsed:.1f}s · {self.label}"

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.tool} {self.status}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.summary())

    def _repr_markdown_(self) -> str:
        return (
            f"`{self.id}` **{self.tool}** — {self.status} ({self.elapsed:.1f}s). "
            f"Wait with `%openrouter wait {self.id}` or `await` the job."
        )


async def _until_done(waiting: Awaitable[Any], job: asyncio.Future[Any] | Future[Any]) -> None:
    """Await ``waiting`` until ``job`` has ended. How the job ended (a failure, a cancellation)
    is for ``_final`` to report; only the waiter's own cancellation, with the job still running,
    propagates."""
    try:
        await waiting
    except (asyncio.CancelledError, Exception):
        if not job.done():
            raise


def get_job(job_id: str) -> BackgroundJob | None:
    return JOBS.get(job_id)
