"""Template context shared by every page (``TEMPLATES`` context processor)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest

from portfolios.selectors import portfolios_for_user


def navigation(request: HttpRequest) -> dict[str, Any]:
    """``nav_portfolios``: the signed-in user's portfolios for the switcher. A callable, so the query
    runs only on pages whose template reads it (never on the login page or the API)."""
    user = getattr(request, "user", None)

    def portfolios() -> list[Any]:
        if user is None or not user.is_authenticated:
            return []
        return list(portfolios_for_user(user=user))

    nav: Callable[[], list[Any]] = portfolios
    return {"nav_portfolios": nav}
