"""Bearer-token (JWT) authentication for async views, with DRF's ``JWTAuthentication`` as the truth.

DRF views are synchronous: under daphne each runs on a thread. An ``async def`` view that answers
the common case on the event loop needs the same authentication decisions without DRF's request
wrapper. These helpers reuse simplejwt's own parsing, validation and user checks, and answer
``None`` whenever the answer would not be a plain success — the caller then hands the request to
the DRF view, which produces the 401 (or whatever else) in the API's one error format.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from rest_framework.exceptions import AuthenticationFailed as DRFAuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.tokens import Token

_jwt = JWTAuthentication()


def bearer_token_validated(request: HttpRequest) -> Token | None:
    """The request's validated access token (signature, expiry, type), or None when there is no
    well-formed ``Authorization: Bearer`` header or the token does not validate. No database."""
    header = _jwt.get_header(request)  # type: ignore[arg-type]
    if not header:
        return None
    try:
        raw = _jwt.get_raw_token(header)
        return None if raw is None else _jwt.get_validated_token(raw)
    except (InvalidToken, TokenError, DRFAuthenticationFailed):
        return None


def token_user(token: Token) -> Any | None:
    """The token's user if simplejwt would accept it (exists, active, password not changed when
    revocation is on), else None. One query; call it from a thread, not the event loop."""
    try:
        return _jwt.get_user(token)
    except (AuthenticationFailed, InvalidToken, DRFAuthenticationFailed):
        return None
