"""The portfolio list and each portfolio's dashboard."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from analytics import selectors as analytics_selectors
from analytics.results import spec_for
from portfolios.models import Portfolio
from portfolios.selectors import portfolios_for_user
from web.dashboard import dashboard_present
from web.navigation import portfolio_tabs
from web.views.common import portfolio_page


@login_required
def portfolio_list(request: HttpRequest) -> HttpResponse:
    """The caller's portfolios with each one's headline figures (the API overview's)."""
    overview_spec = spec_for("overview")
    rows = []
    for portfolio in portfolios_for_user(user=request.user):  # type: ignore[arg-type]
        overview = analytics_selectors.portfolio_result_latest(portfolio_id=portfolio.pk, kind=overview_spec.name)
        body = None
        if overview is not None:
            overview.portfolio = portfolio
            body = {**overview_spec.api_extra(overview), "provenance": analytics_selectors.provenance(overview)}
        rows.append({"portfolio": portfolio, "overview": body})
    return render(request, "web/portfolio_list.html", {"rows": rows})


@portfolio_page
def dashboard(request: HttpRequest, portfolio: Portfolio) -> HttpResponse:
    context = {
        "portfolio": portfolio,
        "tabs": portfolio_tabs(portfolio_id=portfolio.pk, active="dashboard"),
        "d": dashboard_present(portfolio=portfolio),
    }
    return render(request, "web/dashboard.html", context)
