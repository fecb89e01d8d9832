"""The market and analytics fields of the data API's positions (``portfolios.api.extensions`` provider).

Stocks are valued at the latest cached close on or before today (one ``latest_closes`` query for
the whole answer) with the valuation engine; options need a model price, which the batch stored in
``PositionMetrics``: an open option takes the batch's model value, and every position with stored
metrics gets an ``analytics`` block (as of, value, Greeks with their inputs, factor betas and
exposures). Closed positions (exit date set) have no market value or unrealised P&L.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from analytics.engines.valuation import position_values
from analytics.models import PositionMetrics
from analytics.selectors import position_metrics_for_positions
from marketdata.selectors import latest_closes
from portfolios.models import Position

NO_PRICE_NOTE = "no cached price; run python manage.py sync_market_data --symbols {symbol}"
CLOSED_NOTE = "position closed on {exit_date}"
OPTION_PRICE_NOTE = "option value comes from the analytics batch"
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


def _empty(note: str | None) -> dict[str, Any]:
    return {
        "price": None,
        "price_date": None,
        "market_value": None,
        "unrealised_pnl": None,
        "data_source": None,
        "price_note": note,
    }


def position_market_fields(*, positions: Sequence[Position], as_of: dt.date) -> dict[uuid.UUID, dict[str, Any]]:
    """Market fields per position id, from the latest close on or before ``as_of`` of each symbol."""
    stock_symbols = sorted({p.symbol for p in positions if not p.is_option and p.exit_date is None})
    closes = latest_closes(symbols=stock_symbols, as_of=as_of) if stock_symbols else {}
    fields: dict[uuid.UUID, dict[str, Any]] = {}
    priced: list[tuple[Position, Any]] = []
    for position in positions:
        if position.exit_date is not None:
            fields[position.pk] = _empty(CLOSED_NOTE.format(exit_date=position.exit_date.isoformat()))
        elif position.is_option:
            fields[position.pk] = _empty(OPTION_PRICE_NOTE)
        elif (close := closes.get(position.symbol)) is None:
            fields[position.pk] = _empty(NO_PRICE_NOTE.format(symbol=position.symbol))
        else:
            priced.append((position, close))
    if priced:
        values = position_values(
            quantity=[float(p.quantity) for p, _ in priced],
            price=[float(c.close) for _, c in priced],
            multiplier=[float(p.multiplier) for p, _ in priced],
            entry_price=[float(p.entry_price) for p, _ in priced],
        )
        for k, (position, close) in enumerate(priced):
            fields[position.pk] = {
                "price": float(close.close),
                "price_date": close.date.isoformat(),
                "market_value": round(float(values.market_value[k]), 2),
                "unrealised_pnl": round(float(values.unrealised_pnl[k]), 2),
                "data_source": close.source,
                "price_note": None,
            }
    return fields


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


def position_fields(positions: Sequence[Position]) -> dict[uuid.UUID, dict[str, Any]]:
    """The provider registered with ``portfolios.api.extensions``: market fields of every position, then
    the batch's metrics of those that have some (two queries for the whole answer; positions of one
    portfolio)."""
    positions = list(positions)
    if not positions:
        return {}
    fields = position_market_fields(positions=positions, as_of=timezone.localdate())
    metrics = position_metrics_for_positions(
        portfolio_id=positions[0].portfolio_id, position_ids=[p.pk for p in positions]
    )
    for position in positions:
        if position.pk in metrics:
            item = position_metrics_item(
                metrics[position.pk], is_option=position.is_option, is_open=position.exit_date is None
            )
            fields.setdefault(position.pk, {}).update(item)
    return fields
