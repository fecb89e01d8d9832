"""The authenticated user of a request, as the project's ``User`` (not ``User | AnonymousUser``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from rest_framework.exceptions import NotAuthenticated

if TYPE_CHECKING:
    from portfolios.models import User


def request_user(request: Any) -> User:
    """``request.user`` of a request that passed ``IsAuthenticated`` (or a signed-in page); an anonymous
    user is refused with DRF's 401 rather than passed on to a selector that expects a user."""
    user = request.user
    if not getattr(user, "is_authenticated", False):
        raise NotAuthenticated()
    return cast("User", user)
