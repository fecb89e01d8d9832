"""A cache of rendered answers for the read endpoints, correct across processes.

:class:`CachedReadMixin` goes before ``APIView`` in a read view's bases (the portfolios, positions and
every result endpoint: ``analytics.api.views.ResultView``). For a GET it runs DRF's ``initial()`` as
usual — authentication, permissions, throttles, content negotiation — then looks the answer up under

    (the database's change counter, the user, the negotiated media type, today's date, path + query)

and, on a hit, answers the stored bytes without running the view. On a miss the view runs and its
200 answer is stored. The counter (``core.datachange``) is read from the database *before* the data
and moves after every committed write to the served data, by any process and through any path, so
an entry is only ever found while the data it was built from is unchanged; entries of earlier
counter values are simply never asked for again and expire (``RESPONSE_CACHE_SECONDS``).

Not cached: anything but a GET, errors (404, 400, ...), the browsable API (its HTML carries a CSRF
token and forms), requests inside a transaction (``ATOMIC_REQUESTS``, tests' transactions: the
connection may see its own uncommitted writes) and everything when ``RESPONSE_CACHE_SECONDS`` is 0.
The cache is Django's ``default`` cache: locmem (per process) without Redis, Redis with
``REDIS_URL`` (shared by every process). Either way correctness comes from the counter, which is in
the database; sharing only raises the hit rate.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.datachange import data_version

KEY_PREFIX = "sigmasight:response:"


class _CachedAnswer(Exception):
    """Raised by ``initial()`` on a hit: DRF's dispatch hands it to ``handle_exception``, which answers it."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__()
        self.response = response


def response_cache_key(request: Request) -> str | None:
    """The cache key of a negotiated GET, or None when its answer must not be cached (see module doc)."""
    seconds: int = settings.RESPONSE_CACHE_SECONDS
    if seconds <= 0 or request.method != "GET" or not request.user.is_authenticated:
        return None
    renderer = getattr(request, "accepted_renderer", None)
    if renderer is None or renderer.format != "json":
        return None
    version = data_version()
    if version is None:
        return None
    # today's date: an answer valued "at the latest close on or before today" may change at midnight
    parts = "\x1f".join(
        (
            str(version),
            str(request.user.pk),
            str(request.accepted_media_type),
            timezone.localdate().isoformat(),
            request.get_full_path(),
        )
    )
    return KEY_PREFIX + hashlib.blake2b(parts.encode(), digest_size=20).hexdigest()


class CachedReadMixin(APIView):
    """Serve a read view's GET answers from the response cache (module doc). Put it before ``APIView``."""

    _response_cache_key: str | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self._response_cache_key = None
        key = response_cache_key(request)
        if key is None:
            return
        hit = cache.get(key)
        if hit is not None:
            content, content_type = hit
            raise _CachedAnswer(HttpResponse(content, content_type=content_type))
        self._response_cache_key = key

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, _CachedAnswer):
            return exc.response  # type: ignore[return-value]  # DRF's dispatch takes any HttpResponse
        return super().handle_exception(exc)

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        key, self._response_cache_key = self._response_cache_key, None
        if key is not None and isinstance(response, Response) and response.status_code == 200:
            response.render()
            cache.set(key, (response.content, response["Content-Type"]), settings.RESPONSE_CACHE_SECONDS)
        return response
