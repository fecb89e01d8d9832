"""Middleware: the access log and static files.

``AccessLogMiddleware`` writes one line per request to ``logs/access.log`` (method, path, status,
duration ms); ``StaticFilesMiddleware`` is WhiteNoise able to run on the event loop. The rest of the
stack is Django's stock middleware (settings.MIDDLEWARE).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponseBase
from whitenoise.middleware import WhiteNoiseMiddleware

access_logger = logging.getLogger("sigmasight.access")


def access_log(
    *, method: str, path: str, status: int, elapsed_ms: float, user_id: object | None, cache: str | None = None
) -> None:
    """Write one access line: ``<method> <path> <status> <ms>ms user=<id|->``, and `` cache=<how>`` for an
    answer given without entering Django (``front``: ``core.response_front``). Never the query string."""
    suffix = "" if cache is None else f" cache={cache}"
    access_logger.info("%s %s %s %.1fms user=%s%s", method, path, status, elapsed_ms, user_id or "-", suffix)


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
        access_log(
            method=str(request.method), path=request.path, status=response.status_code, elapsed_ms=elapsed_ms,
            user_id=user_id,
        )  # fmt: skip


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

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        static_file = self.find_file(request.path_info) if self.autorefresh else self.files.get(request.path_info)
        if static_file is None:
            return await self.get_response(request)
        response = await sync_to_async(self.serve, thread_sensitive=False)(static_file, request)
        if response.streaming and not response.is_async:
            chunks = await sync_to_async(_drain, thread_sensitive=False)(response.streaming_content)
            response.streaming_content = _async_chunks(chunks)
        return response


def _drain(content: Iterable[bytes]) -> list[bytes]:
    return list(content)


async def _async_chunks(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
