"""Tools over the portfolio itself: its positions (the overview and performance tools are result kinds' tools)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from agent.formatting import rounded
from agent.tools.common import equity_of
from agent.tools.registry import register, truncate
from analytics.selectors import position_metrics_latest
from marketdata.selectors import instruments_by_symbol
from portfolios.models import OPTION_TYPES, Portfolio, PositionType
from portfolios.selectors import positions_open

MAX_POSITIONS = 100

SORTS = ("market_value_abs", "market_value", "unrealised_pnl", "delta_exposure_abs", "symbol")


@register(
    name="list_positions",
    description=(
        "Open positions with price, market value, unrealised P&L, delta exposure, weight and tags. Filter by symbol "
        "or underlying, position type, side, tag or options only; sorted (default: largest absolute market value)."
    ),
    properties={
        "symbol": {"type": "string", "maxLength": 40, "description": "Symbol or option underlying (exact, any case)."},
        "position_type": {"type": "string", "enum": list(PositionType.values)},
        "side": {"type": "string", "enum": ["long", "short"]},
        "tag": {"type": "string", "maxLength": 100},
        "options_only": {"type": "boolean"},
        "sort_by": {"type": "string", "enum": list(SORTS), "default": "market_value_abs"},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_POSITIONS, "default": 20},
    },
    limits={"rows": MAX_POSITIONS},
)
def list_positions(portfolio: Portfolio, args: dict[str, Any]) -> dict[str, Any]:
    positions = list(positions_open(portfolio_ids=[portfolio.id]))
    metrics = position_metrics_latest(portfolio_id=portfolio.id)
    symbol = (args.get("symbol") or "").strip().upper()
    tag = (args.get("tag") or "").strip().lower()
    equity = equity_of(portfolio)
    priced = sorted({(p.underlying_symbol or p.symbol).upper() for p in positions})
    sectors = {symbol: instrument.sector for symbol, instrument in instruments_by_symbol(symbols=priced).items()}
    rows: list[dict[str, Any]] = []
    for position in positions:
        tags = [t.name for t in position.tags.all()]
        if symbol and symbol not in (position.symbol.upper(), position.underlying_symbol.upper()):
            continue
        if args.get("position_type") and position.position_type != args["position_type"]:
            continue
        if args.get("side") == "long" and position.quantity < 0:
            continue
        if args.get("side") == "short" and position.quantity > 0:
            continue
        if tag and tag not in (t.lower() for t in tags):
            continue
        if args.get("options_only") and position.position_type not in OPTION_TYPES:
            continue
        metric = metrics.get(position.id)
        market_value = metric.market_value if metric else None
        rows.append(
            {
                "position_id": position.id,
                "symbol": position.symbol,
                "position_type": position.position_type,
                "quantity": float(position.quantity),
                "underlying": position.underlying_symbol or None,
                "strike": float(position.strike) if position.strike is not None else None,
                "expiration": position.expiration,
                "entry_price": float(position.entry_price),
                "price": rounded(metric.price, 4) if metric else None,
                "market_value": rounded(market_value),
                "unrealised_pnl": rounded(metric.unrealised_pnl) if metric else None,
                "delta_exposure": rounded(metric.delta_exposure) if metric else None,
                "weight_of_equity": rounded(market_value / equity, 6) if market_value is not None and equity else None,
                "is_expired": metric.is_expired if metric else None,
                "tags": tags,
                "sector": sectors.get((position.underlying_symbol or position.symbol).upper()) or None,
            }
        )

    def magnitude(key: str) -> Any:
        return lambda row: -abs(row[key]) if row[key] is not None else 1.0

    sort_by = args.get("sort_by", "market_value_abs")
    if sort_by == "symbol":
        rows.sort(key=lambda row: row["symbol"])
    elif sort_by in ("market_value_abs", "delta_exposure_abs"):
        rows.sort(key=magnitude(sort_by.removesuffix("_abs")))
    else:
        rows.sort(key=lambda row: -row[sort_by] if row[sort_by] is not None else float("inf"))
    kept, marker = truncate(rows, int(args.get("limit", 20)))
    latest = next(iter(metrics.values()), None)
    metrics_as_of = latest.as_of if latest else None
    return {
        "status": "ok",
        "data": {"positions": kept, "metrics_as_of": metrics_as_of, "sort_by": sort_by},
        "provenance": {"as_of": metrics_as_of, "data_source": latest.data_source if latest else None},
        "note": None if metrics else "Position metrics not computed yet; run `python manage.py run_batch`.",
        "as_of_today": timezone.localdate(),
        **marker,
    }
