"""Pooled request threads for Django under an ASGI server (daphne).

Django's ``ASGIHandler`` runs the synchronous parts of each request — sync middleware hooks, sync
views, the ``request_started``/``request_finished`` signals, ``response.close()`` — in one thread
per request (an ``asgiref.sync.ThreadSensitiveContext``). That thread is created for the request
and joined (by a second, throw-away thread) when the request ends, so under ASGI:

- every request starts and joins two OS threads, on the event loop's time;
- every request opens a new database connection, because Django's connections are thread-local:
  ``CONN_MAX_AGE`` cannot work and SQLite runs its connection set-up (``PRAGMA``s) per request.

:class:`PooledRequestThreads` wraps the HTTP application and gives each request a single-thread
executor borrowed from a small pool instead (asgiref's ``ThreadSensitiveContext(executor=...)``:
Django's own per-request context inside it then does nothing). The threads live on, so a request
reuses the database connection an earlier request opened on the same thread, and Django's
``close_old_connections`` (connected to ``request_started``/``request_finished``, which run on that
thread) applies ``CONN_MAX_AGE`` and ``CONN_HEALTH_CHECKS`` exactly as under a threaded WSGI
server. The isolation between requests is unchanged: still one thread per in-flight request, never
two requests on one thread at once.

Bounds: at most ``size`` pooled threads (so at most ``size`` persistent connections per process).
A request that finds every pooled thread busy (e.g. many long SSE streams) gets a throw-away
executor, which is Django's default behaviour, so the pool never makes a request wait. An executor
is returned to the pool only when nothing is left running on it (a request cancelled while its sync
code still runs leaves that code behind); otherwise it is shut down without waiting.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class RequestExecutor(ThreadPoolExecutor):
    """A one-thread executor that knows whether work submitted to it is still pending."""

    def __init__(self, name: str) -> None:
        super().__init__(max_workers=1, thread_name_prefix=name)
        self._pending = 0
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._lock:
            self._pending += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _future: Future[Any]) -> None:
        with self._lock:
            self._pending -= 1

    @property
    def idle(self) -> bool:
        with self._lock:
            return self._pending == 0


def app_close(app: object) -> None:
    """Close an ASGI application that holds threads or connections (its ``close()``, when it has one): what a
    wrapping middleware's own ``close()`` calls for the application it wraps."""
    close = getattr(app, "close", None)
    if callable(close):
        close()


class PooledRequestThreads:
    """ASGI middleware: run each HTTP request's synchronous parts on a pooled thread (see module doc).

    Other scope types (websocket, lifespan) pass through untouched.
    """

    def __init__(self, app: ASGIApp, *, size: int) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.app = app
        self.size = size
        self._idle: list[RequestExecutor] = []
        self._created = 0
        self._lock = threading.Lock()

    def _acquire(self) -> tuple[RequestExecutor, bool]:
        """An idle pooled executor, a new pooled one while under ``size``, else a throw-away one."""
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
            if self._created < self.size:
                self._created += 1
                return RequestExecutor(f"request-{self._created}"), True
        return RequestExecutor("request-overflow"), False

    def _release(self, executor: RequestExecutor, pooled: bool) -> None:
        if pooled and executor.idle:
            with self._lock:
                self._idle.append(executor)
            return
        if pooled:
            with self._lock:
                self._created -= 1  # its replacement may be created later
        executor.shutdown(wait=False)  # a sync call left behind finishes, then the thread ends

    def close(self) -> None:
        """Close the database connections of the idle pooled threads and stop the threads: for a
        graceful exit, and for tests, whose test database cannot be dropped while a connection is open."""
        from django.db import connections

        with self._lock:
            idle, self._idle = self._idle, []
            self._created -= len(idle)
        for executor in idle:
            executor.submit(connections.close_all).result()
            executor.shutdown()

    async def __call__(
        self, scope: Scope, receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        executor, pooled = self._acquire()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.app(scope, receive, send)
        finally:
            self._release(executor, pooled)
