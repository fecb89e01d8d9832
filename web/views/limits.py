"""The limits page (each limit with its latest stored status, create / edit / delete, the alerts with
acknowledge-with-note) and the portfolio settings page (name, description, equity balance, benchmark).

Writes go through ``web.settings_forms`` — the API's serializers and services — so a limit set here obeys
exactly the rules of one sent to ``POST /api/v1/analytics/portfolios/{id}/limits`` (errors per field). The
status column is the portfolio's newest stored ``limits`` result: a limit made or changed since shows "not
evaluated yet" until the next batch. Another user's portfolio, limit or alert is the 404 page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from analytics import selectors
from analytics.models import Alert, RiskLimit
from analytics.results.limits import UNITS, limit_label
from analytics.services import limits as limit_services
from portfolios.models import Portfolio
from web.navigation import portfolio_tabs
from web.settings_forms import LimitForm, PortfolioSettingsForm
from web.views.common import not_found_page, parse_uuid, portfolio_page

ALERTS_SHOWN = 50


def _limits_url(portfolio_id: Any) -> str:
    return reverse("web:limits", kwargs={"portfolio_id": portfolio_id})


def limit_rows(portfolio: Portfolio) -> tuple[list[dict[str, Any]], Any]:
    """The portfolio's limits as set, each with its state in the newest stored ``limits`` result (or None)."""
    result = selectors.portfolio_result_latest(portfolio_id=portfolio.pk, kind="limits")
    states = {s["limit_id"]: s for s in (result.payload.get("limits", []) if result is not None else [])}
    rows = [
        {
            "limit": limit,
            "label": limit_label(limit),
            "unit": UNITS.get(limit.metric, "number").replace("_", " "),
            "state": states.get(str(limit.pk)),
        }
        for limit in selectors.risk_limits_for_portfolio(portfolio_id=portfolio.pk)
    ]
    return rows, result


@portfolio_page
@require_http_methods(["GET", "HEAD"])
def limits(request: HttpRequest, portfolio: Portfolio) -> HttpResponse:
    rows, result = limit_rows(portfolio)
    alerts = list(Alert.objects.filter(portfolio=portfolio).order_by("-as_of", "-created_at")[: ALERTS_SHOWN + 1])
    context = {
        "portfolio": portfolio,
        "tabs": portfolio_tabs(portfolio_id=portfolio.pk, active="limits"),
        "rows": rows,
        "result": result,
        "alerts": alerts[:ALERTS_SHOWN],
        "more_alerts": len(alerts) > ALERTS_SHOWN,
        "unacknowledged": sum(1 for a in alerts if a.acknowledged_at is None),
    }
    return render(request, "web/limits/list.html", context)


def _limit_page(request: HttpRequest, portfolio: Portfolio, context: dict[str, Any]) -> HttpResponse:
    context = {"portfolio": portfolio, "tabs": portfolio_tabs(portfolio_id=portfolio.pk, active="limits"), **context}
    return render(request, context.pop("template"), context)


def _limit_or_404(request: HttpRequest, limit_id: str) -> RiskLimit | None:
    key = parse_uuid(limit_id)
    return None if key is None else selectors.risk_limit_for_user(user=request.user, limit_id=key)


@portfolio_page
@require_http_methods(["GET", "HEAD", "POST"])
def limit_new(request: HttpRequest, portfolio: Portfolio) -> HttpResponse:
    form = LimitForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        limit = form.save(portfolio=portfolio)
        if limit is not None:
            messages.success(request, f"Set a limit on {limit_label(limit)}; the next batch evaluates it.")
            return redirect(_limits_url(portfolio.pk))
    return _limit_page(request, portfolio, {"template": "web/limits/form.html", "form": form, "title": "New limit"})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def limit_edit(request: HttpRequest, limit_id: str) -> HttpResponse:
    limit = _limit_or_404(request, limit_id)
    if limit is None:
        return not_found_page(request, "No such limit on your portfolios.")
    form = LimitForm(request.POST) if request.method == "POST" else LimitForm.for_limit(limit)
    if request.method == "POST" and form.is_valid():
        saved = form.save(limit=limit)
        if saved is not None:
            messages.success(request, f"Saved the limit on {limit_label(saved)}.")
            return redirect(_limits_url(saved.portfolio_id))
        limit.refresh_from_db()  # the refused change was set on the object, never saved
    context = {"template": "web/limits/form.html", "form": form, "limit": limit, "title": f"Edit {limit_label(limit)}"}
    return _limit_page(request, limit.portfolio, context)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def limit_delete(request: HttpRequest, limit_id: str) -> HttpResponse:
    limit = _limit_or_404(request, limit_id)
    if limit is None:
        return not_found_page(request, "No such limit on your portfolios.")
    if request.method == "POST":
        label, portfolio_id = limit_label(limit), limit.portfolio_id
        limit_services.limit_delete(limit=limit)
        messages.success(request, f"Deleted the limit on {label}; its alerts stay as history.")
        return redirect(_limits_url(portfolio_id))
    context = {"template": "web/limits/delete.html", "limit": limit, "label": limit_label(limit)}
    return _limit_page(request, limit.portfolio, context)


@portfolio_page
@require_http_methods(["GET", "HEAD", "POST"])
def portfolio_settings(request: HttpRequest, portfolio: Portfolio) -> HttpResponse:
    """Name, description, equity balance and benchmark, with the API's ``PATCH`` validation."""
    if request.method == "POST":
        form = PortfolioSettingsForm(request.POST)
        if form.is_valid() and form.save(portfolio=portfolio) is not None:
            messages.success(request, "Saved. Figures that depend on equity or the benchmark change at the next batch.")
            return redirect(reverse("web:settings", kwargs={"portfolio_id": portfolio.pk}))
        portfolio.refresh_from_db()  # a refused change leaves the stored portfolio (and the page title) as it was
    else:
        form = PortfolioSettingsForm.for_portfolio(portfolio)
    context = {
        "portfolio": portfolio,
        "tabs": portfolio_tabs(portfolio_id=portfolio.pk, active="settings"),
        "form": form,
    }
    return render(request, "web/portfolio_settings.html", context)
