"""Middleware: the access log, and Django's stock middleware made cheap under ASGI.

``AccessLogMiddleware`` writes one line per request to ``logs/access.log`` (method, path, status,
duration ms). The classes after it are Django's own middleware with an async mode that does not
hand every hook to a thread (see the comment above ``_InlineHooks``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.contrib.messages import middleware as messages_middleware
from django.contrib.sessions import middleware as sessions_middleware
from django.http import HttpRequest, HttpResponse
from django.middleware import clickjacking, common, csrf, security
from django.utils.deprecation import MiddlewareMixin
from whitenoise.middleware import WhiteNoiseMiddleware

access_logger = logging.getLogger("sigmasight.access")


class AccessLogMiddleware:
    """Logs ``<method> <path> <status> <ms>ms user=<id|->``; never the query string (it may hold a token).

    Sync and async capable, so under daphne the request stays on the event loop until the view:
    a sync-only outermost middleware would cost two thread hops per request.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self._acall(request)
        started = time.perf_counter()
        response = self.get_response(request)
        self._log(request, response, started)  # type: ignore[arg-type]
        return response  # type: ignore[return-value]

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = await self.get_response(request)  # type: ignore[misc]
        self._log(request, response, started)
        return response

    @staticmethod
    def _log(request: HttpRequest, response: HttpResponse, started: float) -> None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        user = getattr(request, "user", None)
        # Only an already-resolved user is named: resolving a lazy user here would be a query (and,
        # under ASGI, a synchronous one on the event loop).
        resolved = getattr(user, "_wrapped", user) if user is not None else None
        user_id = (
            getattr(resolved, "pk", None)
            if resolved is not None and getattr(resolved, "is_authenticated", False)
            else None
        )
        access_logger.info(
            "%s %s %s %.1fms user=%s", request.method, request.path, response.status_code, elapsed_ms, user_id or "-"
        )


# --- Django's stock middleware, without a thread hop per hook under ASGI ----------------------
#
# Django's stock middleware classes are ``MiddlewareMixin`` subclasses: under an ASGI server each
# of their hooks is run through ``sync_to_async`` (a hand-off to the request's thread and back),
# because a hook *may* do blocking I/O. With the seven below that was 13 hand-offs per request,
# most of an API request's cost on the event loop. Almost every hook only reads the request or
# sets headers, though; the few that can touch the database (a session being saved, a CSRF secret
# kept in the session, flash messages being stored, a CSRF check reading a form body) are known.
# The classes below run a hook on the event loop when it cannot block and fall back to Django's
# hand-off when it might. Synchronous mode (WSGI, the test client) is Django's code unchanged.


class _InlineHooks(MiddlewareMixin):
    """``MiddlewareMixin`` whose async mode runs the hooks inline unless ``*_blocks`` says otherwise."""

    def request_blocks(self, request: HttpRequest) -> bool:
        """True when ``process_request`` may do blocking I/O for this request."""
        return False

    def response_blocks(self, request: HttpRequest, response: HttpResponse) -> bool:
        """True when ``process_response`` may do blocking I/O for this response."""
        return False

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        response = None
        process_request = getattr(self, "process_request", None)
        if process_request is not None:
            if self.request_blocks(request):
                response = await sync_to_async(process_request, thread_sensitive=True)(request)
            else:
                response = process_request(request)
        response = response or await self.get_response(request)  # type: ignore[misc]
        process_response = getattr(self, "process_response", None)
        if process_response is not None:
            if self.response_blocks(request, response):
                response = await sync_to_async(process_response, thread_sensitive=True)(request, response)
            else:
                response = process_response(request, response)
        return response


class SecurityMiddleware(_InlineHooks, security.SecurityMiddleware):
    """Django's: redirects and security headers only."""


class CommonMiddleware(_InlineHooks, common.CommonMiddleware):
    """Django's: user-agent check, slash/www redirects (URL resolution), Content-Length."""


class XFrameOptionsMiddleware(_InlineHooks, clickjacking.XFrameOptionsMiddleware):
    """Django's: the ``X-Frame-Options`` header."""


class AuthenticationMiddleware(_InlineHooks, auth_middleware.AuthenticationMiddleware):
    """Django's: ``request.user`` is lazy; the session and user are read only when something asks."""


class SessionMiddleware(_InlineHooks, sessions_middleware.SessionMiddleware):
    """Django's: the session store is created lazily (no query); it is saved in a thread when needed."""

    def response_blocks(self, request: HttpRequest, response: HttpResponse) -> bool:
        session = getattr(request, "session", None)
        return session is not None and (settings.SESSION_SAVE_EVERY_REQUEST or bool(getattr(session, "modified", True)))


class MessageMiddleware(_InlineHooks, messages_middleware.MessageMiddleware):
    """Django's: the message storage is stored (cookie or session) in a thread when it was used."""

    def response_blocks(self, request: HttpRequest, response: HttpResponse) -> bool:
        storage = getattr(request, "_messages", None)
        return storage is not None and (getattr(storage, "used", True) or getattr(storage, "added_new", True))


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class CsrfViewMiddleware(_InlineHooks, csrf.CsrfViewMiddleware):
    """Django's. The secret is a cookie (unless ``CSRF_USE_SESSIONS``: then every hook may read the
    session and keeps the hand-off); the check itself runs in a thread only when it enforces, i.e.
    for an unsafe method on a view that is not ``csrf_exempt``, because it may read a form body."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]]) -> None:
        super().__init__(get_response)
        if self.async_mode:
            # The handler adapts ``process_view`` by whether it is a coroutine function: this one is.
            self.process_view = self._aprocess_view  # type: ignore[method-assign]

    def request_blocks(self, request: HttpRequest) -> bool:
        return settings.CSRF_USE_SESSIONS

    def response_blocks(self, request: HttpRequest, response: HttpResponse) -> bool:
        return settings.CSRF_USE_SESSIONS

    async def _aprocess_view(
        self, request: HttpRequest, callback: Callable[..., Any], callback_args: Any, callback_kwargs: Any
    ) -> HttpResponse | None:
        process_view = super().process_view
        if (
            getattr(request, "csrf_processing_done", False)
            or getattr(callback, "csrf_exempt", False)
            or request.method in _SAFE_METHODS
        ):
            return process_view(request, callback, callback_args, callback_kwargs)
        return await sync_to_async(process_view, thread_sensitive=True)(
            request, callback, callback_args, callback_kwargs
        )


# --- static files ------------------------------------------------------------------------------


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, able to run on the event loop under daphne.

    WhiteNoise's own middleware is sync-only: under ASGI Django would hand *every* request to a
    thread and back for it. Here a request that is not a static file costs one dictionary lookup
    on the event loop; a static file is opened on a thread and its (synchronous) file iterator is
    drained there, as Django's ``ASGIStaticFilesHandler`` does. Files collected under
    ``STATIC_ROOT`` (with their compressed copies) win over the apps' originals found by the
    finders; files added to an app since the last ``collectstatic`` are still served.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        super().__init__(get_response)
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def add_files(self, root: Any, prefix: str | None = None) -> None:
        if root and not os.path.isdir(root):
            return  # `collectstatic` has not run (development, tests): the finders serve the apps' files
        super().add_files(root, prefix)

    def add_files_from_finders(self) -> None:
        collected = dict(self.files)
        super().add_files_from_finders()
        self.files.update(collected)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        static_file = self.find_file(request.path_info) if self.autorefresh else self.files.get(request.path_info)
        if static_file is None:
            return await self.get_response(request)
        response = await sync_to_async(self.serve, thread_sensitive=False)(static_file, request)
        if response.streaming and not response.is_async:
            chunks = await sync_to_async(list, thread_sensitive=False)(response.streaming_content)
            response.streaming_content = _async_chunks(chunks)
        return response


async def _async_chunks(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
