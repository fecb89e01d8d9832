"""JWT lifecycle: issue, rotate on refresh, revoke on logout, password change and deactivation.

Refresh tokens are recorded (simplejwt's ``token_blacklist`` app: ``OutstandingToken``) and
blacklisted when used or logged out, so each works once. Every token carries ``pwd``, a digest of
its user's password hash (``SIMPLE_JWT["CHECK_REVOKE_TOKEN"]``): after a password change (through
the API, the web page, the admin or ``changepassword``) no earlier access or refresh token is
accepted. Deactivating a user (``is_active=False`` saved through the model, as the admin does)
blacklists every refresh token they hold, so reactivating them later revives none; their access
tokens are refused while inactive and expire within ``ACCESS_TOKEN_MINUTES``.
"""

from __future__ import annotations

from typing import Any, cast

from django.db import transaction
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch, get_md5_hash_password

from core.authentication import token_user_id
from portfolios.models import User


class TokenRevoked(Exception):
    """The refresh token is invalid, expired, already used, logged out, or its user's credentials
    changed; ``code`` is the API error code."""

    def __init__(self, message: str, code: str = "token_not_valid") -> None:
        super().__init__(message)
        self.code = code


def token_pair_issue(*, user: User) -> RefreshToken:
    """A new refresh token for ``user`` (recorded as outstanding); ``.access_token`` is its access token."""
    return RefreshToken.for_user(user)


def _refresh_user(raw: str) -> tuple[RefreshToken, User]:
    try:
        refresh = RefreshToken(cast(Any, raw))  # checks signature, expiry, type and the blacklist
    except TokenError as exc:
        raise TokenRevoked("Refresh token is invalid, expired or revoked.") from exc
    try:
        user_id = token_user_id(refresh.payload)
    except TokenError as exc:
        raise TokenRevoked("Refresh token is invalid, expired or revoked.") from exc
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise TokenRevoked("No active account for this token.", code="no_active_account")
    if refresh.payload.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password):
        raise TokenRevoked("The password has changed since this token was issued.", code="password_changed")
    return refresh, user


@transaction.atomic
def refresh_token_rotate(*, raw: str) -> RefreshToken:
    """Use a refresh token once: blacklist it and return a new one (with its access token).

    Two requests racing with the same token: the blacklist row is unique per token, so only the
    first creates it; the second is refused like any reused token.
    """
    refresh, user = _refresh_user(raw)
    if not _blacklist(refresh, user):
        raise TokenRevoked("Refresh token is invalid, expired or revoked.")
    return token_pair_issue(user=user)


def refresh_token_revoke(*, raw: str, all_sessions: bool = False) -> int:
    """Log out: blacklist this refresh token, or with ``all_sessions`` every refresh token of its
    user. Returns the number of tokens revoked."""
    refresh, user = _refresh_user(raw)
    if all_sessions:
        return user_tokens_revoke(user=user)
    return int(_blacklist(refresh, user))


def _blacklist(refresh: RefreshToken, user: User) -> bool:
    """Blacklist ``refresh``; False when it already was (the unique row decides a race)."""
    outstanding, _ = OutstandingToken.objects.get_or_create(
        jti=refresh.payload[api_settings.JTI_CLAIM],
        defaults={
            "user": user,
            "created_at": refresh.current_time,
            "token": str(refresh),
            "expires_at": datetime_from_epoch(refresh.payload["exp"]),
        },
    )
    _, created = BlacklistedToken.objects.get_or_create(token=outstanding)
    return created


def user_tokens_revoke(*, user: User) -> int:
    """Blacklist every refresh token ``user`` holds that is not blacklisted yet; returns how many."""
    open_tokens = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
    created = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in open_tokens.only("id")], ignore_conflicts=True
    )
    return len(created)
