"""Websocket authentication by the web app's login session, for pages of this site only.

API clients authenticate the chat websocket with a token (``agent/consumers.py``); the web app's chat
page has only its session cookie, which Channels' session middleware (``sigmasight.asgi``) puts in the
scope. A cookie proves nothing about which page opened the socket, so the handshake's ``Origin`` must
be this site.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.auth import get_user as channels_get_user
from django.conf import settings
from django.http.request import split_domain_port, validate_host


def websocket_same_origin(scope: dict[str, Any]) -> bool:
    """True when a websocket handshake comes from a page of this site: its ``Origin`` is the
    ``Host`` it connected to (or one of ``CSRF_TRUSTED_ORIGINS``) and that host is allowed.

    Browsers send cookies with a websocket handshake whatever page opened it, and the same-origin
    policy does not apply to websockets: without this check any site a logged-in user visits could
    chat as that user (cross-site websocket hijacking). Token-authenticated clients need no check.
    """
    headers = {name.lower(): value for name, value in scope.get("headers") or []}
    origin = headers.get(b"origin", b"").decode("latin-1").strip()
    host = headers.get(b"host", b"").decode("latin-1").strip()
    if not origin or not host:
        return False
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    parsed = urlsplit(origin)
    return parsed.scheme in ("http", "https") and parsed.netloc.lower() == host.lower()


async def websocket_session_user(scope: dict[str, Any]) -> Any | None:
    """The active user logged in by the session cookie of a same-origin websocket handshake, else
    None. Needs Channels' session middleware in front (``sigmasight.asgi``); one query."""
    if scope.get("session") is None or not websocket_same_origin(scope):
        return None
    user = await channels_get_user(scope)
    return user if user.is_authenticated and user.is_active else None
