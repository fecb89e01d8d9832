"""Helpers shared by the tools: loading a stored result with its provenance, or saying it is missing."""

from __future__ import annotations

from typing import Any

from analytics.models import PortfolioResult
from analytics.results import registry
from analytics.results.tooling import RUN_BATCH, result_envelope
from analytics.selectors import portfolio_result_latest
from portfolios.models import Portfolio

__all__ = ["RUN_BATCH", "equity_of", "not_computed", "result_envelope", "result_kinds", "stored_result"]


def not_computed(what: str, kind: str | None = None) -> dict[str, Any]:
    """The result of a tool whose analytics have not been computed yet — never zeros."""
    from analytics.results.tooling import not_computed as answer

    return answer(what, registry.spec_for(kind).command if kind else RUN_BATCH)


def stored_result(portfolio: Portfolio, kind: str) -> PortfolioResult | None:
    return portfolio_result_latest(portfolio_id=portfolio.id, kind=kind)


def equity_of(portfolio: Portfolio) -> float | None:
    return float(portfolio.equity_balance) if portfolio.equity_balance is not None else None


def result_kinds() -> list[str]:
    """The kinds stored as ``PortfolioResult`` rows (every kind but those whose history is the result)."""
    return [spec.name for spec in registry.specs() if spec.series_item_type is None]
