"""Bearer-token authentication: simplejwt's, with every malformed token a 401.

simplejwt looks the user up by the token's ``user_id`` claim; a token signed with the right key but
whose ``user_id`` is not a UUID (or not a string) made that lookup raise a ``ValidationError`` — a
500. Here any claim that cannot name a user is an invalid token (401 ``token_not_valid``).

Revocation (issue 17.5) is simplejwt's, configured in ``settings.SIMPLE_JWT``: a token carries a
digest of its user's password hash (``pwd``), checked on every request, so a password change ends
every earlier token; an inactive user's tokens are refused; refresh tokens rotate and are
blacklisted on use and on logout (``portfolios.api.auth``).
"""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication as SimpleJWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings


def token_user_id(payload: Any) -> uuid.UUID:
    """The user id a token names, or ``InvalidToken`` when its ``user_id`` claim is not a UUID."""
    value = payload.get(api_settings.USER_ID_CLAIM) if hasattr(payload, "get") else None
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        raise InvalidToken("Token contained no recognizable user identification")
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise InvalidToken("Token contained no recognizable user identification") from exc


class JWTAuthentication(SimpleJWTAuthentication):
    """simplejwt's authentication, answering 401 (not 500) for a ``user_id`` that is not a UUID."""

    def get_user(self, validated_token: Any) -> Any:
        token_user_id(validated_token)
        return super().get_user(validated_token)


class JWTScheme(SimpleJWTScheme):
    """The OpenAPI security scheme of this class: simplejwt's (``jwtAuth``, a Bearer header)."""

    target_class = "core.authentication.JWTAuthentication"
