"""Analytics fields merged into the data API's positions list (its ``position_metrics`` context).

The positions list of ``portfolios.api`` prices stocks from the price cache but cannot value
options; the batch stored each position's model value, Greeks and factor exposures in
``PositionMetrics``, and this module turns them into the extra fields of each item.
"""

from __future__ import annotations

import uuid
from typing import Any

from analytics.models import PositionMetrics
from analytics.selectors import position_metrics_for_positions
from portfolios.models import Portfolio, Position

GREEK_FIELDS = (
    "delta",
    "gamma",
    "theta",
    "vega",
    "rho",
    "position_delta",
    "position_gamma",
    "position_theta",
    "position_vega",
    "position_rho",
    "dollar_delta",
    "dollar_gamma",
)


def position_metrics_item(metrics: PositionMetrics, *, is_option: bool, is_open: bool) -> dict[str, Any]:
    """Fields merged into one positions-list item: an ``analytics`` block, and for open options the
    model value in place of the null price fields (the data API cannot price options itself)."""
    greeks = None
    if metrics.delta is not None:
        greeks = {name: getattr(metrics, name) for name in GREEK_FIELDS}
        greeks.update(
            {
                "implied_vol": metrics.implied_vol,
                "implied_vol_source": metrics.implied_vol_source,
                "years_to_expiry": metrics.years_to_expiry,
                "underlying_price": metrics.underlying_price,
                "inputs": metrics.greeks_inputs,
            }
        )
    item: dict[str, Any] = {
        "analytics": {
            "as_of": metrics.as_of.isoformat(),
            "price": metrics.price,
            "market_value": metrics.market_value,
            "unrealised_pnl": metrics.unrealised_pnl,
            "delta_exposure": metrics.delta_exposure,
            "is_expired": metrics.is_expired,
            "greeks": greeks,
            "factor_betas": metrics.factor_betas,
            "factor_exposures": metrics.factor_exposures,
            "data_source": metrics.data_source,
            "is_stale": metrics.is_stale,
        }
    }
    if is_option and is_open and metrics.price is not None:
        item.update(
            {
                "price": metrics.price,
                "price_date": metrics.price_date.isoformat() if metrics.price_date else metrics.as_of.isoformat(),
                "market_value": metrics.market_value,
                "unrealised_pnl": metrics.unrealised_pnl,
                "data_source": metrics.price_source or metrics.data_source,
                "price_note": None,
            }
        )
    return item


def position_metrics_context(*, portfolio: Portfolio, positions: list[Position]) -> dict[uuid.UUID, dict[str, Any]]:
    """``position_metrics`` context of the positions list: Greeks, option value and factor
    exposures of each position on the newest batch day (one query for the page)."""
    if not positions:
        return {}
    metrics = position_metrics_for_positions(portfolio_id=portfolio.pk, position_ids=[p.pk for p in positions])
    return {
        p.pk: position_metrics_item(metrics[p.pk], is_option=p.is_option, is_open=p.exit_date is None)
        for p in positions
        if p.pk in metrics
    }
