"""A cache of rendered answers for the read endpoints, correct across processes.

:class:`CachedReadMixin` goes before ``APIView`` in a read view's bases (the portfolios, positions and
every result endpoint: ``analytics.api.views.ResultView``). For a GET it runs DRF's ``initial()`` as
usual — authentication, permissions, throttles, content negotiation — then looks the answer up under

    (the database's change counter, the user, the negotiated media type, today's date, path + query)

and, on a hit, answers the stored bytes without running the view. On a miss the view runs and its
200 answer is stored. The counter (``core.datachange``) is read from the database *before* the data
and moves after every committed write to the served data, by any process and through any path, so
an entry is only ever found while the data it was built from is unchanged; entries of earlier
counter values are simply never asked for again and expire (``RESPONSE_CACHE_SECONDS``). For a
request with a bearer token the counter is the one read in the authentication's own statement, with
the user's row (``core.authentication``): no read of its own (:func:`request_data_version`).

Not cached: anything but a GET, errors (404, 400, ...), the browsable API (its HTML carries a CSRF
token and forms), requests inside a transaction (``ATOMIC_REQUESTS``, tests' transactions: the
connection may see its own uncommitted writes) and everything when ``RESPONSE_CACHE_SECONDS`` is 0.
The cache is Django's ``default`` cache: locmem (per process) without Redis, Redis with
``REDIS_URL`` (shared by every process). Either way correctness comes from the counter, which is in
the database; sharing only raises the hit rate.

The ASGI front (``core.response_front``) answers a repeated GET before Django. This mixin is what feeds it:
when an answer may be served there (:func:`front_recordable`), it names in the ASGI scope the *front key* —
built only from the raw request (:func:`front_inputs`), the authenticated user, the counter read above and
the date (:func:`front_key`) — and the front stores Django's complete answer (status, headers, body) under it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any, cast

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny, IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from core.authentication import JWTAuthentication
from core.datachange import data_version

KEY_PREFIX = "sigmasight:response:"
FRONT_KEY_PREFIX = "sigmasight:front:"
# The ASGI scope entry in which a view names the front key its answer may be stored under (core.response_front).
SCOPE_FRONT_KEY = "sigmasight.front_key"
# Permission classes whose decision depends on nothing but the user (who is in the front key, and whose
# every change moves the counter: the user table is watched). A view with another one is never front-served.
USER_ONLY_PERMISSIONS: frozenset[type] = frozenset({AllowAny, IsAuthenticated, IsAdminUser})

FrontInputs = tuple[Any, ...]


class _CachedAnswer(Exception):
    """Raised by ``initial()`` on a hit: DRF's dispatch hands it to ``handle_exception``, which answers it."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__()
        self.response = response


def today() -> dt.date:
    """The date in both keys: an answer valued "at the latest close on or before today" may change at midnight."""
    return timezone.localdate()


def _digest(*parts: object) -> str:
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=20).hexdigest()


def response_cacheable(request: Request) -> bool:
    """Whether a negotiated request's answer may be cached at all: an authenticated GET answered in JSON,
    the cache on (the counter decides the rest: :func:`response_cache_key`)."""
    if settings.RESPONSE_CACHE_SECONDS <= 0 or request.method != "GET" or not request.user.is_authenticated:
        return False
    renderer = getattr(request, "accepted_renderer", None)
    return renderer is not None and renderer.format == "json"


def request_data_version(request: Request) -> int | None:
    """The change counter for an authenticated request's cache keys (None: not cacheable). When
    ``core.authentication.JWTAuthentication`` authenticated it, the counter that class read in the same
    statement as the user's row — no second read; otherwise (a session, a forced test user) a read of its
    own, ``data_version()``. Either way it was read before any served data (``core.datachange``)."""
    authenticator = request.successful_authenticator  # authenticates, if DRF has not yet
    if isinstance(authenticator, JWTAuthentication):
        return authenticator.data_version
    return data_version()


def response_cache_key(request: Request, *, version: int | None = None) -> str | None:
    """The cache key of a negotiated GET, or None when its answer must not be cached (see module doc).
    ``version``: the change counter when the caller has it already (else :func:`request_data_version`)."""
    if not response_cacheable(request):
        return None
    if version is None:
        version = request_data_version(request)
    if version is None:
        return None
    return KEY_PREFIX + _digest(
        version, request.user.pk, request.accepted_media_type, today().isoformat(), request.get_full_path()
    )


def _header_name(meta_name: str) -> bytes:
    """``HTTP_X_FORWARDED_PROTO`` → ``b"x-forwarded-proto"``."""
    return meta_name.removeprefix("HTTP_").replace("_", "-").lower().encode("latin1")


def keyed_headers() -> tuple[bytes, ...]:
    """The request headers (ASGI's lower-case names) a read answer may depend on besides the user: ``Accept``
    (negotiation), ``Host`` (host validation, absolute links), and those the settings make Django read —
    the proxy's scheme/host/port headers when trusted, the ``User-Agent`` when some are refused."""
    names = [b"accept", b"host"]
    if settings.SECURE_PROXY_SSL_HEADER:
        names.append(_header_name(settings.SECURE_PROXY_SSL_HEADER[0]))
    if settings.USE_X_FORWARDED_HOST:
        names.append(b"x-forwarded-host")
    if settings.USE_X_FORWARDED_PORT:
        names.append(b"x-forwarded-port")
    if settings.DISALLOWED_USER_AGENTS:
        names.append(b"user-agent")
    return tuple(names)


def front_inputs(scope: Mapping[str, Any]) -> FrontInputs | None:
    """The raw inputs of an ASGI request that its answer may depend on, besides the user, the counter and the
    date: scheme, server, path, query string and the :func:`keyed_headers` values. None when the request is
    not one the front serves: not a GET, no ``Authorization`` header (the front authenticates bearer tokens
    only), any cookie (session authentication, CSRF and session cookies are Django's), a body, or a keyed
    header (or ``Authorization``) sent twice."""
    if scope.get("type") != "http" or scope.get("method") != "GET":
        return None
    keyed = keyed_headers()
    values: dict[bytes, bytes | None] = dict.fromkeys(keyed)
    authorization = None
    for raw_name, value in scope.get("headers", ()):
        name = bytes(raw_name).lower()
        if name == b"cookie" or name == b"transfer-encoding":
            return None
        if name == b"content-length" and value.strip() != b"0":
            return None
        if name == b"authorization":
            if authorization is not None:
                return None
            authorization = value
        elif name in values:
            if values[name] is not None:
                return None
            values[name] = bytes(value)
    if authorization is None:
        return None
    server = scope.get("server")
    return (
        scope.get("scheme", "http"),
        tuple(server) if server else None,
        scope.get("root_path", ""),
        scope["path"],
        bytes(scope.get("query_string", b"")),
        tuple(values.items()),
    )


def front_key(*, inputs: FrontInputs, version: int, user_id: object, date: dt.date) -> str:
    """The front's cache key of a complete answer: the counter, the user, the date and the raw inputs."""
    return FRONT_KEY_PREFIX + _digest(version, user_id, date.isoformat(), repr(inputs))


def default_authentication_classes() -> list[type[BaseAuthentication]]:
    """DRF's ``DEFAULT_AUTHENTICATION_CLASSES``, imported (the setting names them; DRF imports them)."""
    return list(cast(list[type[BaseAuthentication]], api_settings.DEFAULT_AUTHENTICATION_CLASSES))


def front_recordable(view: APIView, request: Request) -> bool:
    """Whether the front, given the same raw inputs, would reach exactly this view's decisions: it runs
    DRF's default authentication classes (so must the view, and they must have authenticated the user),
    it runs no throttle (the view has none) and no permission but one that depends on the user alone."""
    authenticators = getattr(request, "authenticators", None) or ()
    return (
        [type(a) for a in authenticators] == default_authentication_classes()
        and request.successful_authenticator is not None
        and not view.get_throttles()
        and all(type(permission) in USER_ONLY_PERMISSIONS for permission in view.get_permissions())
    )


class CachedReadMixin(APIView):
    """Serve a read view's GET answers from the response cache (module doc). Put it before ``APIView``."""

    _response_cache_key: str | None = None
    _front_key: str | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self._response_cache_key = self._front_key = None
        if not response_cacheable(request):
            return
        version = request_data_version(request)
        if version is None:
            return
        key = response_cache_key(request, version=version)
        if key is None:
            return
        self._front_key = self._front_key_for(request, version=version)
        hit = cache.get(key)
        if hit is not None:
            content, content_type = hit
            raise _CachedAnswer(HttpResponse(content, content_type=content_type))
        self._response_cache_key = key

    def _front_key_for(self, request: Request, *, version: int) -> str | None:
        """The front key of this request when the front may serve its answer (module doc), else None."""
        scope = getattr(request._request, "scope", None)  # an ASGI request's
        if scope is None or not front_recordable(self, request):
            return None
        inputs = front_inputs(scope)
        if inputs is None:
            return None
        return front_key(inputs=inputs, version=version, user_id=request.user.pk, date=today())

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, _CachedAnswer):
            return exc.response  # type: ignore[return-value]  # DRF's dispatch takes any HttpResponse
        return super().handle_exception(exc)

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        key, self._response_cache_key = self._response_cache_key, None
        front, self._front_key = self._front_key, None
        if response.status_code != 200:
            return response
        if key is not None and isinstance(response, Response):
            response.render()
            cache.set(key, (response.content, response["Content-Type"]), settings.RESPONSE_CACHE_SECONDS)
        if front is not None:
            # The front stores the answer as the client receives it, once every middleware has had its say.
            getattr(request._request, "scope", {})[SCOPE_FRONT_KEY] = front
        return response
