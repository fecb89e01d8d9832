"""Throttles: login budgets per client IP and per email, counted in a cache every process shares.

Both login throttles count every attempt, successful or not, so that a password-guessing run is
slowed whether it sprays one account from many addresses or many accounts from one address. The
API login, the web login form and the admin login (``login_throttled``) spend the same budgets.

Counters live in the ``throttle`` cache (``settings.CACHES``): the database cache by default
(its table made by ``migrate``, see ``core.apps``), Redis when ``REDIS_URL`` is set — never a
per-process memory cache, so running two daphne processes does not double a limit.

The client IP is ``REMOTE_ADDR`` unless the deployment says how many proxies it runs behind
(``TRUSTED_PROXY_COUNT``) or which addresses they have (``TRUSTED_PROXY_CIDRS``); only then is
``X-Forwarded-For`` read, from the right, so a client cannot choose its address by sending one.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any, cast

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.utils.connection import ConnectionProxy
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

THROTTLE_CACHE = "throttle"
throttle_cache: Any = ConnectionProxy(caches, THROTTLE_CACHE)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def client_ip(
    meta: Mapping[str, Any],
    *,
    proxy_count: int | None = None,
    proxy_networks: list[Network] | None = None,
) -> str:
    """The client's address for throttling and logs.

    ``proxy_networks`` (``TRUSTED_PROXY_CIDRS``): walk ``REMOTE_ADDR`` then ``X-Forwarded-For``
    from the right, skipping trusted proxies; the first other address is the client. Else
    ``proxy_count`` (``TRUSTED_PROXY_COUNT``) > 0: the address that many hops before
    ``REMOTE_ADDR``. Else (the default) ``REMOTE_ADDR``: the header is ignored. A hop that is not
    an IP address stops the walk at the last trusted one.
    """
    count = settings.TRUSTED_PROXY_COUNT if proxy_count is None else proxy_count
    networks = settings.TRUSTED_PROXY_NETWORKS if proxy_networks is None else proxy_networks
    remote = str(meta.get("REMOTE_ADDR") or "")
    if not networks and count <= 0:
        return remote
    forwarded = [hop.strip() for hop in str(meta.get("HTTP_X_FORWARDED_FOR") or "").split(",") if hop.strip()]
    chain = [*forwarded, remote]  # the nearest hop last
    if networks:
        client = remote
        for hop in reversed(chain):
            address = _ip(hop)
            if address is None:
                return client
            client = str(address)
            if not any(address in network for network in networks):
                return client
        return client  # every hop is a trusted proxy: the farthest one
    hops = chain[-(count + 1) :]
    address = _ip(hops[0])
    return str(address) if address is not None else remote


class SharedCacheThrottle(SimpleRateThrottle):
    """A rate throttle counted in the shared ``throttle`` cache, keyed by the trusted client IP."""

    cache = throttle_cache

    def get_ident(self, request: Request) -> str:
        return client_ip(request.META)


class LoginIPThrottle(SharedCacheThrottle):
    """Login attempts per client IP (rate ``DEFAULT_THROTTLE_RATES["login_ip"]``)."""

    scope = "login_ip"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginEmailThrottle(SharedCacheThrottle):
    """Login attempts per email address, case-insensitive (rate ``DEFAULT_THROTTLE_RATES["login_email"]``)."""

    scope = "login_email"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        data = request.data
        email = data.get("email") if hasattr(data, "get") else None
        if not isinstance(email, str) or not email.strip():
            return None  # nothing to count; the login serializer rejects the request
        # Hash so that the cache never holds an email address in clear.
        ident = hashlib.sha256(email.strip().lower().encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}


def login_throttle_wait(request: HttpRequest, *, email_field: str = "username") -> float | None:
    """Seconds to wait when this form login attempt is over the login budget (per IP, per email),
    else None. Counts the attempt, as the API login does.

    The API's throttle classes read ``request.META`` (the client address) and ``request.data["email"]``;
    a form's field is ``username``, so they are given a view of the request with that name."""
    probe: Any = SimpleNamespace(
        META=request.META, headers=request.headers, data={"email": request.POST.get(email_field, "")}
    )
    waits = []
    for throttle in (LoginIPThrottle(), LoginEmailThrottle()):
        if not throttle.allow_request(probe, cast(Any, None)):  # no view: the rate is per request, not per view
            waits.append(throttle.wait() or 1.0)
    return max(waits) if waits else None


def login_throttled(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap a form login view (the admin's): a POST over the login budget is a 429 with
    ``Retry-After``, and the view never sees it (nor checks the password)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST":
            wait = login_throttle_wait(request)
            if wait is not None:
                retry_after = max(1, int(wait + 0.999))
                response = HttpResponse(
                    f"Too many login attempts. Try again in {retry_after} seconds.\n",
                    status=429,
                    content_type="text/plain; charset=utf-8",
                )
                response["Retry-After"] = str(retry_after)
                return response
        return view(request, *args, **kwargs)

    return wrapped
