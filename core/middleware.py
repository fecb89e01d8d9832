"""Middleware: the access log.

``AccessLogMiddleware`` writes one line per request to ``logs/access.log`` (method, path, status,
duration ms). The rest of the stack is Django's stock middleware (settings.MIDDLEWARE).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

access_logger = logging.getLogger("sigmasight.access")


class AccessLogMiddleware:
    """Logs ``<method> <path> <status> <ms>ms user=<id|->``; never the query string (it may hold a token).

    Sync and async capable, so under daphne the request stays on the event loop until the view:
    a sync-only outermost middleware would cost two thread hops per request.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return self._acall(request)
        started = time.perf_counter()
        response = self.get_response(request)
        assert isinstance(response, HttpResponseBase)  # synchronous mode: a response (maybe streaming)
        self._log(request, response, started)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = await self.get_response(request)  # type: ignore[misc]
        self._log(request, response, started)
        return response

    @staticmethod
    def _log(request: HttpRequest, response: HttpResponseBase, started: float) -> None:
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
