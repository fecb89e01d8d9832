"""Bearer-token authentication: simplejwt's, with every malformed token a 401.

simplejwt looks the user up by the token's ``user_id`` claim; a token signed with the right key but
whose ``user_id`` is not a UUID (or not a string) made that lookup raise a ``ValidationError`` — a
500. Here any claim that cannot name a user is an invalid token (401 ``token_not_valid``).

Revocation (issue 17.5) is simplejwt's, configured in ``settings.SIMPLE_JWT``: a token carries a
digest of its user's password hash (``pwd``), checked on every request, so a password change ends
every earlier token; an inactive user's tokens are refused; refresh tokens rotate and are
blacklisted on use and on logout (``portfolios.api.auth``).

One statement per request: the user's row is fetched with the database's change counter alongside it
(a scalar subquery, ``core.datachange.version_expression``), and the counter is kept on the
authenticator (:attr:`JWTAuthentication.data_version`) for the response cache and its ASGI front
(``core.response_cache.request_data_version``), which then need no read of their own. The user's row is
still read on every request — authentication is never cached — and the counter is read in the same
statement, so in the same snapshot, as that row and before any served data: a cached answer keyed by it
is correct (``core.datachange``'s module doc).
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Model, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication as SimpleJWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import get_md5_hash_password

from core.datachange import version_expression, version_read

# The annotation that carries the change counter on the user's row (removed once read: see get_user).
_VERSION_ANNOTATION = "sigmasight_data_version"


@functools.cache
def users_with_version(user_model: type[Model]) -> QuerySet[Any]:
    """The user model's rows with the change counter annotated (``core.datachange.version_expression``),
    built once per model: annotating resolves the expression, about 0.08 ms per request on SQLite — more than
    the counter's own read. Never evaluated itself: ``get()`` and ``filter()`` work on clones."""
    return user_model._default_manager.annotate(**{_VERSION_ANNOTATION: version_expression()})


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
    """simplejwt's authentication, answering 401 (not 500) for a ``user_id`` that is not a UUID, and reading
    the change counter in the same statement as the user's row (module doc).

    ``data_version``: that counter, under ``core.datachange.data_version``'s rules (None inside a
    transaction or before the first counted write), once :meth:`get_user` has returned a user; None
    before. DRF makes one authenticator per request, so it is this request's."""

    data_version: int | None = None

    def get_user(self, validated_token: Any) -> Any:
        """simplejwt's checks, in its order and with its errors: the user found (else ``user_not_found``),
        active (``CHECK_USER_IS_ACTIVE``, else ``user_inactive``), the token issued for the current password
        (``CHECK_REVOKE_TOKEN``: its ``REVOKE_TOKEN_CLAIM`` against the digest of the password hash, else
        ``password_changed``); a ``user_id`` that is not a UUID is an invalid token. One SELECT: the user's
        row and the change counter, kept in :attr:`data_version`."""
        self.data_version = None
        user_id = token_user_id(validated_token)
        try:
            user = users_with_version(self.user_model).get(**{api_settings.USER_ID_FIELD: user_id})
        except self.user_model.DoesNotExist as exc:
            raise AuthenticationFailed(_("User not found"), code="user_not_found") from exc
        version = user.__dict__.pop(_VERSION_ANNOTATION)  # kept here, not on the user object
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            api_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed(_("The user's password has been changed."), code="password_changed")
        self.data_version = version_read(version, using=user._state.db or DEFAULT_DB_ALIAS)
        return user


class JWTScheme(SimpleJWTScheme):
    """The OpenAPI security scheme of this class: simplejwt's (``jwtAuth``, a Bearer header)."""

    target_class = "core.authentication.JWTAuthentication"
