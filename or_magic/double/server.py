"""``OpenRouterDouble``: the double's ASGI app served by uvicorn on a loopback socket.

The server runs in a daemon thread with its own event loop, so sync tests, async tests and
notebooks can all talk to it over real HTTP. uvicorn is imported only on ``start()``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

from .app import DoubleApp, DoubleConfig
from .faults import Fault, RecordedRequest

_T = TypeVar("_T")


class _LiveSetting(Generic[_T]):
    """A ``DoubleConfig`` field shown as an ``OpenRouterDouble`` attribute.

    The app reads its config on every request, so setting one on a running double takes effect
    at once; ``coerce`` checks and normalises what is set (a bad value raises, nothing changes).
    """

    def __init__(self, coerce: Callable[[Any], _T]) -> None:
        self.coerce = coerce

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> _LiveSetting[_T]: ...
    @overload
    def __get__(self, obj: OpenRouterDouble, objtype: type | None = None) -> _T: ...
    def __get__(self, obj: OpenRouterDouble | None, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        return getattr(obj.app.config, self.name)

    def __set__(self, obj: OpenRouterDouble, value: Any) -> None:
        setattr(obj.app.config, self.name, self.coerce(value))


def _video_size(n: int | None) -> int | None:
    """``n`` when the clip can be padded to it (``None``: serve the clip as shipped)."""
    if n is None:
        return None
    from ._media import asset_bytes

    floor = len(asset_bytes("clip.mp4"))
    if n != floor and n < floor + 8:
        raise ValueError(f"video_content_bytes must be {floor} or at least {floor + 8}")
    return n


def _key_set(keys: set[str] | None) -> set[str] | None:
    """A copy of the accepted keys (``None``: any non-empty key)."""
    return set(keys) if keys is not None else None


class OpenRouterDouble:
    """A faithful local stand-in for the OpenRouter HTTP API (see ``or_magic/double/app.py``).

    ``valid_keys=None`` accepts any non-empty bearer token; a set accepts only those keys.
    ``require_auth=False`` (the offline backend) accepts requests without any key.
    """

    def __init__(
        self,
        *,
        valid_keys: set[str] | None = None,
        require_auth: bool = True,
        video_polls_to_complete: int = 2,
        video_content_bytes: int | None = None,
        crlf: bool = False,
        keepalive_comments: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.app = DoubleApp(
            DoubleConfig(
                valid_keys=_key_set(valid_keys),
                require_auth=require_auth,
                video_polls_to_complete=video_polls_to_complete,
                video_content_bytes=_video_size(video_content_bytes),
                crlf=crlf,
                keepalive_comments=keepalive_comments,
            )
        )
        self._host = host
        self._port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._bound_port: int | None = None
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    # ---- lifecycle --------------------------------------------------------------------------
    def start(self) -> OpenRouterDouble:
        """Bind, start serving in a daemon thread, and return once requests are accepted."""
        with self._lock:
            if self._thread is not None:
                return self
            import uvicorn

            # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only when
            # the proto says TCP; without it every response body waits ~40 ms (Nagle).
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._host, self._port))
            sock.listen(128)
            self._sock = sock
            self._bound_port = sock.getsockname()[1]
            config = uvicorn.Config(
                self.app,
                host=self._host,
                port=self._bound_port,
                log_level="warning",
                log_config=None,
                lifespan="off",
                access_log=False,
                http="h11",
                ws="none",
                loop="asyncio",
                proxy_headers=False,
                server_header=False,
                timeout_graceful_shutdown=1,
                timeout_keep_alive=5,
            )
            server = uvicorn.Server(config)
            self._server = server

            def run() -> None:
                loop = asyncio.new_event_loop()
                asyncio.set_event_loop(loop)
                try:
                    loop.run_until_complete(server.serve(sockets=[sock]))
                except BaseException as exc:  # surfaced by start() / stop()
                    self._error = exc
                finally:
                    loop.close()

            thread = threading.Thread(
                target=run, name=f"or-magic-double:{self._bound_port}", daemon=True
            )
            self._thread = thread
            thread.start()
            # generous: on a loaded machine the thread may wait seconds for the CPU
            deadline = time.monotonic() + 60
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    self._thread = None
                    sock.close()
                    raise RuntimeError(f"OpenRouter double failed to start: {self._error!r}")
                time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop serving and join the thread (idempotent)."""
        with self._lock:
            server, thread = self._server, self._thread
            self._thread = None
            self._server = None
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout=3)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=3)
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> OpenRouterDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ---- addresses --------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._bound_port is None:
            raise RuntimeError("the double is not started; call start() first")
        return self._bound_port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + "/api/v1"

    # ---- live settings (read per request, so tests may flip them on a running double) -------
    crlf = _LiveSetting(bool)
    keepalive_comments = _LiveSetting(bool)
    video_polls_to_complete = _LiveSetting(int)
    video_content_bytes = _LiveSetting(_video_size)
    valid_keys = _LiveSetting(_key_set)

    # ---- test controls ----------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received, oldest first."""
        with self.app.lock:
            return list(self.app.requests)

    def requests_to(self, path_suffix: str) -> list[RecordedRequest]:
        suffix = path_suffix.rstrip("/")
        return [r for r in self.requests if r.path.rstrip("/").endswith(suffix)]

    def inject(self, fault: Fault) -> Fault:
        """Queue a fault; faults are matched in the order they were injected."""
        with self.app.lock:
            self.app.faults.append(fault)
        return fault

    @property
    def pending_faults(self) -> list[Fault]:
        with self.app.lock:
            return list(self.app.faults)

    def reset(self) -> None:
        """Forget requests, faults, video jobs and scripts, cache, generations, key usage and revocations."""
        self.app.reset()

    def revoke(self, key: str) -> None:
        """From now on ``key`` gets 401 "User not found." everywhere (incl. ``/key``)."""
        self.app.account_api.revoke(key)

    def set_key_info(self, key: str, **fields: Any) -> None:
        """Override fields of ``GET /key`` for ``key`` (e.g. ``limit_remaining=0.01``)."""
        self.app.account_api.override(key, fields)

    def script_video(self, statuses: list[str], error: str | None = None) -> None:
        """The next submitted video job walks through ``statuses`` (one per poll) instead.

        Unknown statuses are served as given (clients must treat them as non-terminal).
        ``error`` is the job's error string when it ends ``failed`` (default "Video generation
        failed"), and is also shown on ``cancelled``/``expired`` when given. Scripts queue up:
        each submitted job takes the oldest one.
        """
        if not statuses:
            raise ValueError("statuses must not be empty")
        self.app.video_api.script(statuses, error)

    def video_job(self, job_id: str) -> dict[str, Any] | None:
        """The double's view of a video job (status, polls, script), or None."""
        return self.app.video_api.job(job_id)

    def __repr__(self) -> str:
        where = self.base_url if self._bound_port is not None else "not started"
        return f"OpenRouterDouble({where})"


_offline: OpenRouterDouble | None = None
_offline_lock = threading.Lock()


def get_offline_double() -> OpenRouterDouble:
    """The process-wide offline backend: lazily started, no auth, fast video jobs."""
    global _offline
    double = _offline
    if double is not None and double.running:
        return double
    with _offline_lock:
        if _offline is None or not _offline.running:
            _offline = OpenRouterDouble(
                valid_keys=None, require_auth=False, video_polls_to_complete=1
            ).start()
        return _offline
