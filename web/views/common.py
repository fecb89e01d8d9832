"""What every page view shares: login, the owner-only lookups, and the HTML 404 page.

Lookups go through the same selectors as the API, scoped to ``request.user``: another user's
portfolio or position (or a malformed id) is the same 404 page as a missing one — never a 403 —
whatever the caller's role, staff included, exactly as in the API.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.exceptions import NotFoundError
from portfolios.models import Portfolio, Position
from portfolios.selectors import portfolio_get_for_user, position_get_for_user

PortfolioView = Callable[..., HttpResponse]


def not_found_page(request: HttpRequest, message: str = "") -> HttpResponse:
    """The web app's 404: an HTML page with a way back (the API keeps its JSON 404)."""
    return render(request, "web/404.html", {"message": message}, status=404)


def portfolio_page(view: PortfolioView) -> Callable[..., HttpResponse]:
    """A page of one portfolio: signed-in users only; ``view(request, portfolio, …)``; 404 page for
    a portfolio that is not the caller's."""

    @login_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, portfolio_id: str, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            portfolio: Portfolio = portfolio_get_for_user(user=request.user, portfolio_id=portfolio_id)  # type: ignore[arg-type]
        except NotFoundError:
            return not_found_page(request, "No such portfolio among yours.")
        return view(request, portfolio, *args, **kwargs)

    return wrapper


def position_page(view: PortfolioView) -> Callable[..., HttpResponse]:
    """A page of one position: signed-in users only; ``view(request, position, …)``; 404 page for a
    position that is not in one of the caller's portfolios."""

    @login_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, position_id: str, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            if parse_uuid(position_id) is None:
                raise NotFoundError(position_id)
            position: Position = position_get_for_user(user=request.user, position_id=position_id)  # type: ignore[arg-type]
        except NotFoundError:
            return not_found_page(request, "No such position in your portfolios.")
        return view(request, position, *args, **kwargs)

    return wrapper


def parse_uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None
