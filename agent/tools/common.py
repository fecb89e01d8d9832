"""Helpers shared by the tools: loading a stored result with its provenance, or saying it is missing."""

from __future__ import annotations

from typing import Any

from analytics.models import PortfolioResult, ResultKind
from analytics.selectors import RESULT_COMMANDS, portfolio_result_latest, provenance
from portfolios.models import Portfolio

RUN_BATCH = "python manage.py run_batch"


def not_computed(what: str, kind: str | None = None) -> dict[str, Any]:
    """The result of a tool whose analytics have not been computed yet — never zeros."""
    command = RESULT_COMMANDS.get(kind, RUN_BATCH) if kind else RUN_BATCH
    return {
        "status": "not_computed",
        "message": f"{what} not computed yet for this portfolio; run `{RUN_BATCH}`.",
        "command": command,
    }


def stored_result(portfolio: Portfolio, kind: str) -> PortfolioResult | None:
    return portfolio_result_latest(portfolio_id=portfolio.id, kind=kind)


def result_envelope(result: PortfolioResult, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """``{"status": "ok", "data", "provenance", ...}`` — every answer names its as-of date and source."""
    return {"status": "ok", "data": data, "provenance": provenance(result), **extra}


def equity_of(portfolio: Portfolio) -> float | None:
    return float(portfolio.equity_balance) if portfolio.equity_balance is not None else None


KIND_LABELS: dict[str, str] = {
    ResultKind.OVERVIEW: "The exposures overview",
    ResultKind.GREEKS: "Greeks",
    ResultKind.FACTOR_EXPOSURE: "Factor exposures",
    ResultKind.MARKET_SCENARIOS: "Market scenarios",
    ResultKind.STRESS_TEST: "Stress tests",
    ResultKind.CORRELATIONS: "Correlations",
    ResultKind.VAR: "VaR",
}
