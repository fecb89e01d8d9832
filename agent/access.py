"""Personal access tokens: create (shown once), revoke, list, and authenticate a presented token.

A token reads ``ssa_<43 url-safe characters>`` (256 random bits). Only its SHA-256 is stored; the
lookup is by that hash (a unique index), so verifying costs one query and no secret ever sits in
the database. A token authenticates its user while the user is active, the token is not revoked
and not past ``expires_at``; a token restricted to some portfolios sees only those (the others are
"not found", as another user's would be).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from agent.models import AccessToken
from core.exceptions import ApplicationError, NotFoundError
from portfolios.models import Portfolio, User

TOKEN_PREFIX = "ssa_"  # noqa: S105  (a public marker, not a secret)
PREFIX_SHOWN = 12  # "ssa_" and 8 characters: enough to tell tokens apart in a list


def token_hash(raw: str) -> str:
    """Hex SHA-256 of a presented token (what is stored and looked up)."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenIdentity:
    """Who a valid token acts for, and the portfolios it may read (``None``: all the user's)."""

    user: User
    token_id: uuid.UUID
    portfolio_ids: frozenset[uuid.UUID] | None


@transaction.atomic
def access_token_create(
    *,
    user: User,
    name: Any,
    expires_at: dt.datetime | None = None,
    portfolio_ids: Iterable[uuid.UUID] | None = None,
) -> tuple[AccessToken, str]:
    """A new token and its raw value (returned this once, never stored). 400 naming the field on bad input."""
    if not isinstance(name, str) or not name.strip():
        raise ApplicationError("name must be a non-empty string.", code="invalid", details={"field": "name"})
    if len(name) > 100:
        raise ApplicationError("name is longer than 100 characters.", code="invalid", details={"field": "name"})
    if expires_at is not None and expires_at <= timezone.now():
        raise ApplicationError("expires_at must be in the future.", code="invalid", details={"field": "expires_at"})
    wanted = list(dict.fromkeys(portfolio_ids or []))
    portfolios = list(Portfolio.objects.filter(user=user, id__in=wanted))
    if len(portfolios) != len(wanted):
        missing = sorted(str(p) for p in set(wanted) - {p.id for p in portfolios})
        raise NotFoundError(f"Portfolio {missing[0]} not found.")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = AccessToken.objects.create(
        user=user, name=name.strip(), prefix=raw[:PREFIX_SHOWN], token_hash=token_hash(raw), expires_at=expires_at
    )
    if portfolios:
        token.portfolios.set(portfolios)
    return token, raw


def access_tokens_for_user(*, user: User) -> QuerySet[AccessToken]:
    return AccessToken.objects.filter(user=user).prefetch_related("portfolios").order_by("-created_at", "id")


def access_token_revoke(*, user: User, token_id: Any) -> AccessToken:
    """Revoke one of the user's tokens (idempotent); another user's token is a 404."""
    try:
        token = AccessToken.objects.get(pk=uuid.UUID(str(token_id)), user=user)
    except (AccessToken.DoesNotExist, ValueError):
        raise NotFoundError(f"Token {str(token_id)[:64]} not found.") from None
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def access_token_authenticate(raw: str | None) -> TokenIdentity | None:
    """The identity of a presented token, or ``None`` (unknown, revoked, expired, inactive user)."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    token = (
        AccessToken.objects.select_related("user").filter(token_hash=token_hash(raw), revoked_at__isnull=True).first()
    )
    now = timezone.now()
    if token is None or not token.user.is_active or (token.expires_at is not None and token.expires_at <= now):
        return None
    # last_used_at to the minute: one write per token per minute, not per call.
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        AccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
    restricted = frozenset(token.portfolios.values_list("id", flat=True))
    return TokenIdentity(user=token.user, token_id=token.pk, portfolio_ids=restricted or None)
