"""The what-if page (a trade ticket and the before/after table) and the acknowledgement of limit alerts.

The page calls the same service as ``POST /api/v1/analytics/portfolios/{id}/what_if`` with the trades of
its ticket (validated by the API's trade serializer) and stores nothing. Another user's portfolio or alert
is the 404 page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from analytics.api.whatif import trades_parse
from analytics.services import whatif
from analytics.services.alerts import alert_acknowledge
from analytics.services.inputs import portfolio_info
from core.exceptions import ApplicationError, ConflictError, NotFoundError
from marketdata.factors import FACTOR_NAMES
from portfolios.models import Portfolio
from web.navigation import portfolio_tabs
from web.views.common import not_found_page, parse_uuid, portfolio_page

TICKET_ROWS = 5
TICKET_FIELDS = ("action", "symbol", "underlying", "strike", "expiration", "option_type", "quantity", "price")
# Labels of the before/after table's figures (``analytics.services.whatif.HEADLINES``); a figure without one (a
# kind registered later) is shown under its key.
LABELS = {
    "equity": "Equity",
    "market_value": "Net market value",
    "cash": "Cash",
    "long_exposure": "Long exposure",
    "short_exposure": "Short exposure",
    "gross_exposure": "Gross exposure",
    "net_exposure": "Net exposure",
    "delta_adjusted_exposure": "Delta-adjusted exposure",
    "delta_adjusted_gross_exposure": "Delta-adjusted gross exposure",
    "gross_leverage": "Gross leverage",
    "delta_adjusted_leverage": "Delta-adjusted leverage",
    "unrealised_pnl": "Unrealised P&L",
    "position_count": "Positions",
    "greeks.dollar_delta": "Dollar delta (options)",  # the greeks kind sums its live options; stock is in exposures
    "greeks.theta": "Theta / day",
    "greeks.vega": "Vega / vol point",
    "greeks.rho": "Rho / 1% rate",
    **{f"beta.{f}": f"Beta · {f.replace('_', ' ')}" for f in FACTOR_NAMES},
    **{f"factor_dollars.{f}": f"Factor exposure · {f.replace('_', ' ')}" for f in FACTOR_NAMES},
    **{
        f"var.{method}.{measure}_{level}": f"{method.capitalize()} {name} {level}%"
        for method in ("historical", "parametric")
        for measure, name in (("var", "VaR"), ("es", "ES"))
        for level in ("95", "99")
    },
    "stress.worst_pnl": "Worst stress P&L",
    "correlations.average_abs_correlation": "Average |correlation|",
    "correlations.diversification_score": "Diversification score",
    "correlations.effective_positions": "Effective positions",
    "risk_decomposition.total_vol": "Predicted volatility, annual",
    "risk_decomposition.factor_vol": "Factor volatility, annual",
    "risk_decomposition.specific_vol": "Specific volatility, annual",
    "risk_decomposition.factor_share": "Factor share of variance",
    "tracking_error.tracking_error": "Tracking error, annual",
    "tracking_error.tracking_error_usd": "Tracking error, annual (USD)",
    "tracking_error.factor_te": "Factor tracking error",
    "tracking_error.specific_te": "Specific tracking error",
    "liquidity.max_days_to_liquidate": "Days to liquidate all",
    "liquidity.no_volume_share": "Share without volume",
    "limits.breaches": "Limit breaches",
    "limits.warnings": "Limit warnings",
    "limits.no_data": "Limits without data",
}


def ticket_rows(data: Any) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """The ticket's rows as typed (for redisplay) and the filled ones as API trade objects."""
    rows, trades = [], []
    for i in range(TICKET_ROWS):
        row = {name: (data.get(f"{name}_{i}") or "").strip() for name in TICKET_FIELDS}
        rows.append(row)
        if not (row["symbol"] or row["underlying"]):
            continue
        trade: dict[str, Any] = {k: v for k, v in row.items() if v}
        trade.setdefault("action", "add")
        trades.append(trade)
    return rows, trades


def summary_rows(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The before/after table: each figure with its label and its unit (the template formats by unit)."""
    return [
        {"key": key, "label": LABELS.get(key, key), **figure, "unit": figure.get("unit", "number")}
        for key, figure in answer["summary"].items()
    ]


@portfolio_page
def what_if(request: HttpRequest, portfolio: Portfolio) -> HttpResponse:
    rows, trades = ticket_rows(request.POST if request.method == "POST" else {})
    context: dict[str, Any] = {
        "portfolio": portfolio,
        "tabs": portfolio_tabs(portfolio_id=portfolio.pk, active="what_if"),
        "rows": [{"index": i, **row} for i, row in enumerate(rows)],
        "answer": None,
        "error": None,
    }
    if request.method == "POST":
        try:
            if not trades:
                raise ApplicationError("Enter at least one trade (a symbol, or an option's underlying).")
            result = whatif.what_if_run(
                portfolio=portfolio_info(portfolio),
                trades=trades_parse(trades),
            )
            answer = whatif.what_if_answer(result)
            context.update(answer=answer, summary=summary_rows(answer))
        except ApplicationError as exc:  # a bad trade or no batch yet: shown on the page, nothing stored
            context["error"] = exc.message
    return render(request, "web/what_if.html", context, status=400 if context["error"] else 200)


@login_required
@require_POST
def alert_acknowledge_page(request: HttpRequest, alert_id: str) -> HttpResponse:
    """Acknowledge one of the caller's alerts with the form's note, then back to the page it came from."""
    key = parse_uuid(alert_id)
    if key is None:
        return not_found_page(request, "No such alert among yours.")
    try:
        alert = alert_acknowledge(user=request.user, alert_id=key, note=request.POST.get("note", "")[:500])  # type: ignore[arg-type]
    except NotFoundError:
        return not_found_page(request, "No such alert among yours.")
    except ConflictError:
        messages.info(request, "That alert was already acknowledged.")
        target = reverse("web:portfolio_list")
    else:
        messages.success(request, f"Acknowledged: {alert.limit_label}.")
        target = reverse("web:dashboard", kwargs={"portfolio_id": alert.portfolio_id})
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        target = back
    return redirect(target)
