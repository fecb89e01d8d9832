"""The response cache's ASGI front: a repeated read GET answered before Django, in one thread hop.

A cache hit through Django still pays for its ASGI handler, about ten middleware hooks and DRF's
``initial()`` (3–5 ms of CPU); under daphne, with the hand-offs between the event loop and the request
thread, about 10 ms. :class:`ResponseFront` wraps the Django application (inside the pooled request
threads, ``sigmasight/asgi.py``) and answers a GET from the cache without entering Django, but only
with an answer Django itself sent for the same inputs:

- **What is stored.** When Django answers a GET that ``core.response_cache.CachedReadMixin`` marked
  (a 200 JSON answer of a read view that the front can reach the same decisions for: see
  ``front_recordable``), the front records the complete answer as sent — status, every header, body —
  under the *front key* the view named: the change counter the view read before its data, the
  authenticated user, today's date, and only raw request inputs (``front_inputs``: scheme, server,
  path, query string, the ``Accept`` and ``Host`` headers and whatever the settings make Django read).
  The front never negotiates, resolves or renders anything itself. Not recorded: an answer that sets a
  cookie, or whose ``Vary`` names a header outside the key.
- **What is served.** A GET with a bearer ``Authorization`` header, no cookie and no body; in one hop to
  one of the front's own threads (:class:`FrontThreads`: on its persistent database connection, between
  Django's own ``request_started`` and ``request_finished`` signals): the caller is authenticated by DRF's own code
  with the project's authentication classes (``DEFAULT_AUTHENTICATION_CLASSES``: the JWT's signature,
  expiry, type, user found and active, password-change revocation) — whose user query also reads the
  counter (``core.authentication``), so that a hit costs one database statement — and the entry under the
  resulting key is looked up. Anything else — no entry, no token, an invalid or expired one, an inactive
  user, any error — goes to Django unchanged, which answers as it always does (a 401, a 404, the view).
- **One statement, health check included.** That statement also stands in for Django's per-request
  connection health check (``CONN_HEALTH_CHECKS``: a ``SELECT 1`` before the first query), see
  :func:`health_check_by_lookup`: a broken connection makes the lookup fail, Django answers, and Django's
  own error handling has closed the connection by then, so Django's request reconnects.
- **Its own threads.** A few per process (``RESPONSE_FRONT_THREADS``, 2), shared by every request in a
  first-come queue, not the request's pooled thread (``core.asgi``): a hit is half a millisecond of Python
  between two waits (the statement's round trip, the event loop), and on the thread of each request in flight
  (8 per process under 16 connections) it competed with all the others for the interpreter lock, so a hit
  waited out their turns — p99 46–106 ms on PostgreSQL at 1,300–1,750 requests/s, against 20–30 ms on two
  front threads (BENCHMARKS.md). The requests that reach Django still run on the pooled threads.
- **Per request.** Headers listed in :data:`PER_REQUEST_HEADERS` are made afresh for each answer (none
  of Django's answers carries one today; daphne adds its own ``Date`` and ``Server`` after us); the access
  log records a front hit like Django's line, with ``cache=front`` at its end.

Correctness is the response cache's: the counter moves after every committed write to the served data,
by any process, so an entry is found only while the data it was built from is unchanged; the user's
own row is served data too (deactivation, a password change, staff status move the counter), and is
re-read on every request by the authentication anyway. Off with ``RESPONSE_CACHE_SECONDS=0``.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import io
import logging
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from queue import SimpleQueue
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.core import signals
from django.core.cache import cache
from django.core.handlers.asgi import ASGIHandler, ASGIRequest
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils.http import http_date
from rest_framework.request import Request

from core.asgi import app_close
from core.middleware import access_log
from core.response_cache import (
    SCOPE_FRONT_KEY,
    FrontInputs,
    default_authentication_classes,
    front_inputs,
    front_key,
    keyed_headers,
    request_data_version,
    today,
)

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Response headers that differ per request (ASGI's lower-case names): stored without their value and made
# afresh by these functions on every front answer.
PER_REQUEST_HEADERS: dict[bytes, Callable[[], bytes]] = {b"date": lambda: http_date().encode("latin1")}
# How many paths (portfolios × read endpoints) a process remembers as served by read views (ResponseFront).
FRONT_PATHS_MAX = 100_000

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class StoredAnswer:
    """Django's complete answer as the client received it; a ``None`` header value is a per-request header."""

    status: int
    headers: tuple[tuple[bytes, bytes | None], ...]
    body: bytes

    def messages(self) -> tuple[Message, Message]:
        """The ASGI messages that send this answer, per-request headers made afresh."""
        headers = [
            (name, PER_REQUEST_HEADERS[name.lower()]() if value is None else value) for name, value in self.headers
        ]
        return (
            {"type": "http.response.start", "status": self.status, "headers": headers},
            {"type": "http.response.body", "body": self.body, "more_body": False},
        )


def answer_storable(start: Message, body: list[bytes]) -> StoredAnswer | None:
    """Django's answer as a :class:`StoredAnswer`, or None when the front must not replay it: not a 200,
    a cookie set, or a ``Vary`` on a request header the front key does not hold (a cookie, which a front
    request never has, excepted)."""
    if start.get("status") != 200 or start.get("trailers"):
        return None
    allowed_vary = {name.decode("latin1") for name in keyed_headers()} | {"cookie"}
    headers: list[tuple[bytes, bytes | None]] = []
    for raw_name, value in start.get("headers", ()):
        name = bytes(raw_name).lower()
        if name == b"set-cookie":
            return None
        if name == b"vary":
            varied = {part.strip().lower() for part in bytes(value).decode("latin1").split(",") if part.strip()}
            if not varied <= allowed_vary:
                return None
        headers.append((bytes(raw_name), None if name in PER_REQUEST_HEADERS else bytes(value)))
    return StoredAnswer(status=200, headers=tuple(headers), body=b"".join(body))


def request_authenticated(scope: Scope) -> tuple[Any, int] | None:
    """The primary key of the user DRF's default authentication classes authenticate for this request and
    the change counter for its key (``core.response_cache.request_data_version``: for a bearer token, the one
    read in the same statement as the user's row), or None (no user, no usable counter, or DRF refuses the
    credentials: Django will answer that request itself). Runs the classes through DRF's own
    ``Request.user``, on a Django request built from the scope as Django would."""
    django_request = ASGIRequest(scope, io.BytesIO())
    request = Request(django_request, authenticators=[cls() for cls in default_authentication_classes()])
    user = request.user  # raises for a bad token or an inactive user: the caller falls through to Django
    if not user.is_authenticated or request.successful_authenticator is None:
        return None
    version = request_data_version(request)
    return None if version is None else (user.pk, version)


def health_check_by_lookup(connection: BaseDatabaseWrapper) -> None:
    """Let the front lookup's own statement stand in for Django's per-request health check of ``connection``.

    With ``CONN_HEALTH_CHECKS``, ``request_started`` marks an open persistent connection's check as pending
    (``health_check_done = False``, in ``close_if_unusable_or_obsolete``) and its next cursor first runs
    ``is_usable()`` (PostgreSQL: ``SELECT 1``, a round trip of its own). For the lookup the check buys
    nothing: on a broken connection its statement raises, :class:`ResponseFront` lets Django answer, and by
    then Django's ``errors_occurred`` handling (``close_if_unusable_or_obsolete`` at the lookup's
    ``request_finished``) has closed the connection, so Django's own request opens a new one. Called after
    ``request_started``; only an open connection is marked (connecting marks a new one checked), and the
    next ``request_started`` — Django's own request's included — marks the check pending again."""
    # Django's attributes since 4.1 (``BaseDatabaseWrapper.__init__``), not in django-stubs: hence the ignores.
    if connection.connection is not None and connection.health_check_enabled:  # type: ignore[attr-defined]
        connection.health_check_done = True  # type: ignore[attr-defined]


def front_lookup(scope: Scope, inputs: FrontInputs) -> tuple[StoredAnswer, Any] | None:
    """On a front thread: the stored answer for this request and its user's id, or None (a miss).

    Bracketed by Django's ``request_started``/``request_finished`` signals, as a request through Django is:
    its connection handling (``close_old_connections``: ``CONN_MAX_AGE``, errors) applies alike, the health
    check being the lookup's statement itself (:func:`health_check_by_lookup`). The counter is read in the
    authentication's statement, with the user's row; the front reads no served data, only the cache entry
    keyed by that counter, which Django stored from data read after the counter (module doc)."""
    signals.request_started.send(sender=ASGIHandler, scope=scope)
    try:
        health_check_by_lookup(connections[DEFAULT_DB_ALIAS])
        authenticated = request_authenticated(scope)
        if authenticated is None:
            return None
        user_id, version = authenticated
        stored = cache.get(front_key(inputs=inputs, version=version, user_id=user_id, date=today()))
        return (stored, user_id) if isinstance(stored, StoredAnswer) else None
    finally:
        signals.request_finished.send(sender=ASGIHandler)


def front_store(key: str, answer: StoredAnswer) -> None:
    """Store an answer under its front key (on a front thread: the cache may be Redis)."""
    cache.set(key, answer, settings.RESPONSE_CACHE_SECONDS)


class FrontThreads(Executor):
    """The threads the front's lookups and stores run on (module doc, "Its own threads"): ``size`` per
    process, started on first use, taking calls from one queue in the order they come; each keeps its own
    persistent database connection, handled by Django's signals around every lookup as a request thread's is,
    and closes it itself when the threads are stopped.

    A pool of its own rather than a ``ThreadPoolExecutor``: that one starts a thread on a call whenever it has
    not yet counted an idle one, which it does only after the previous call's result is out, so a ``close()``
    right after a call could be taken by a new thread and leave the old thread's connection open."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = size
        self._lock = threading.Lock()
        self._calls: SimpleQueue[_FrontCall | None] = SimpleQueue()
        self._threads: list[threading.Thread] = []

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        """Queue ``fn(*args, **kwargs)`` for the next free front thread (``concurrent.futures.Executor``)."""
        future: Future[R] = Future()
        with self._lock:
            if not self._threads:
                self._threads = [
                    threading.Thread(
                        target=_serve_front_calls, args=(self._calls,), name=f"response-front-{n}", daemon=True
                    )
                    for n in range(self.size)
                ]
                for thread in self._threads:
                    thread.start()
            self._calls.put(_FrontCall(future, fn, args, kwargs))
        return future

    async def run(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """``fn(*args, **kwargs)`` on a front thread, in a copy of the caller's context variables (as asgiref's
        ``sync_to_async`` runs a call)."""
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self, call)

    def close(self) -> None:
        """Stop the threads once the calls queued before are done; each closes its database connections on its
        way out (a graceful exit; tests, whose database cannot be dropped while a connection is open). The next
        call starts new threads, on a queue of their own."""
        with self._lock:
            threads, calls = self._threads, self._calls
            self._threads, self._calls = [], SimpleQueue()
        for _ in threads:
            calls.put(None)
        for thread in threads:
            thread.join()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """``close()`` (``concurrent.futures.Executor``)."""
        self.close()


@dataclass(frozen=True)
class _FrontCall:
    future: Future[Any]
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


def _serve_front_calls(calls: SimpleQueue[_FrontCall | None]) -> None:
    """A front thread: run calls until told to stop (``None``), then close this thread's connections."""
    try:
        while (call := calls.get()) is not None:
            if not call.future.set_running_or_notify_cancel():
                continue
            try:
                result = call.fn(*call.args, **call.kwargs)
            except BaseException as exc:  # the caller's to handle, as an executor does
                call.future.set_exception(exc)
            else:
                call.future.set_result(result)
            del call
    finally:
        connections.close_all()


class ResponseFront:
    """ASGI middleware: answer a read GET from the response cache before Django when it can (module doc).

    Only paths that a read view of this process has named a front key for are looked up (a bounded set,
    emptied when full): a bearer GET of any other endpoint (``/api/v1/auth/me``, the agent's, the prices)
    goes straight to Django instead of paying for an authentication and a lookup that cannot hit. Lookups and
    stores run on the front's own ``threads``."""

    def __init__(self, app: ASGIApp, *, threads: int, max_paths: int = FRONT_PATHS_MAX) -> None:
        self.app = app
        self.threads = FrontThreads(threads)
        self.max_paths = max_paths
        self._paths: set[str] = set()  # touched on the event loop only

    def close(self) -> None:
        """Close the front's threads and the wrapped application (their database connections)."""
        self.threads.close()
        app_close(self.app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        inputs = front_inputs(scope) if settings.RESPONSE_CACHE_SECONDS > 0 else None
        if inputs is None:
            await self.app(scope, receive, send)
            return
        if scope["path"] not in self._paths:
            await self._through_django(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            found = await self.threads.run(front_lookup, scope, inputs)
        except Exception:  # any doubt: Django answers (and reports its own errors)
            logger.debug("response front: lookup failed, Django answers", exc_info=True)
            found = None
        if found is None:
            await self._through_django(scope, receive, send)
            return
        answer, user_id = found
        start, body = answer.messages()
        await send(start)
        await send(body)
        elapsed_ms = (time.perf_counter() - started) * 1000
        access_log(
            method="GET", path=scope.get("root_path", "") + scope["path"], status=answer.status,
            elapsed_ms=elapsed_ms, user_id=user_id, cache="front",
        )  # fmt: skip

    async def _through_django(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Let Django answer; store its answer when the view named a front key for it."""
        start: Message | None = None
        body: list[bytes] = []
        complete = False

        async def recording_send(message: Message) -> None:
            nonlocal start, complete
            kind = message["type"]
            if kind == "http.response.start":
                start = message
            elif kind == "http.response.body":
                body.append(bytes(message.get("body", b"")))
                complete = not message.get("more_body", False)
            await send(message)

        await self.app(scope, receive, recording_send)
        key = scope.get(SCOPE_FRONT_KEY)
        if key is None or start is None or not complete:
            return
        answer = answer_storable(start, body)
        if answer is None:
            return
        if len(self._paths) >= self.max_paths:
            self._paths.clear()
        self._paths.add(scope["path"])
        try:
            await self.threads.run(front_store, key, answer)
        except Exception:  # the answer has gone out; a failed store only costs a later miss
            logger.warning("response front: could not store an answer", exc_info=True)
