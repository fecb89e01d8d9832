"""Bearer-token (JWT) authentication for async views, with DRF's ``JWTAuthentication`` as the truth.

DRF views are synchronous: under daphne each runs on a thread. An ``async def`` view that answers
the common case on the event loop needs the same authentication decisions without DRF's request
wrapper. These helpers reuse simplejwt's own parsing, validation and user checks, and answer
``None`` whenever the answer would not be a plain success — the caller then hands the request to
the DRF view, which produces the 401 (or whatever else) in the API's one error format.

Verifying a token (base64, JSON, HMAC) is most of an authenticated request's cost on the event loop
once the view itself is cheap, and a client sends the same token for up to its lifetime. So a
token that verified is remembered, keyed by its exact bytes (a changed byte is another key and is
verified in full), and only its expiry — the one check whose answer changes with time — is run
again on each use. Off when simplejwt's blacklist app is installed (a revoked token must be
refused at once) or token classes other than the default are configured.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any
from urllib.parse import urlsplit

from channels.auth import get_user as channels_get_user
from django.conf import settings
from django.http import HttpRequest
from django.http.request import split_domain_port, validate_host
from rest_framework.exceptions import AuthenticationFailed as DRFAuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken, Token
from rest_framework_simplejwt.utils import aware_utcnow

_jwt = JWTAuthentication()
VERIFIED_TOKENS_MAX = 4096  # about 2 MB at most


class VerifiedTokens:
    """Tokens that passed simplejwt's full validation, by raw bytes (LRU); expiry re-checked on use."""

    def __init__(self, *, maxsize: int = VERIFIED_TOKENS_MAX) -> None:
        self.maxsize = maxsize
        self._tokens: OrderedDict[bytes, Token] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def enabled() -> bool:
        return "rest_framework_simplejwt.token_blacklist" not in settings.INSTALLED_APPS and list(
            api_settings.AUTH_TOKEN_CLASSES
        ) == [AccessToken]

    def validated(self, raw: bytes) -> Token:
        """simplejwt's ``get_validated_token(raw)``; raises as it does (or ``TokenError`` on expiry)."""
        if not self.enabled():
            return _jwt.get_validated_token(raw)
        with self._lock:
            token = self._tokens.get(raw)
            if token is not None:
                self._tokens.move_to_end(raw)
        if token is not None:
            try:
                token.check_exp(current_time=aware_utcnow())
            except TokenError:
                with self._lock:
                    self._tokens.pop(raw, None)
                raise
            return token
        token = _jwt.get_validated_token(raw)
        with self._lock:
            self._tokens[raw] = token
            while len(self._tokens) > self.maxsize:
                self._tokens.popitem(last=False)
        return token

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


verified_tokens = VerifiedTokens()


def bearer_token_validated(request: HttpRequest) -> Token | None:
    """The request's validated access token (signature, expiry, type), or None when there is no
    well-formed ``Authorization: Bearer`` header or the token does not validate. No database."""
    header = _jwt.get_header(request)  # type: ignore[arg-type]
    if not header:
        return None
    try:
        raw = _jwt.get_raw_token(header)
        return None if raw is None else verified_tokens.validated(raw)
    except (InvalidToken, TokenError, DRFAuthenticationFailed):
        return None


def token_user(token: Token) -> Any | None:
    """The token's user if simplejwt would accept it (exists, active, password not changed when
    revocation is on), else None. One query; call it from a thread, not the event loop."""
    try:
        return _jwt.get_user(token)
    except (AuthenticationFailed, InvalidToken, DRFAuthenticationFailed):
        return None


# --- websocket sessions ----------------------------------------------------------------------


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
