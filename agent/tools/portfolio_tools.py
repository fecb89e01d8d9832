"""Tools over the portfolio itself: overview (value, exposures, performance), performance history, positions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from agent.formatting import rounded
from agent.tools.common import equity_of, not_computed, result_envelope, stored_result
from agent.tools.registry import register, truncate
from analytics.models import PortfolioSnapshot, ResultKind
from analytics.selectors import position_metrics_latest, provenance, snapshot_latest, snapshots_for_portfolio
from portfolios.models import OPTION_TYPES, Portfolio, PositionType
from portfolios.selectors import positions_open

MAX_UNDERLYINGS = 15
MAX_POSITIONS = 100
MAX_PERFORMANCE_DAYS = 365
MAX_PERFORMANCE_ROWS = 60

OVERVIEW_FIELDS = (
    "equity_balance",
    "market_value",
    "long_exposure",
    "short_exposure",
    "gross_exposure",
    "net_exposure",
    "delta_adjusted_exposure",
    "options_exposure",
    "stock_exposure",
    "cash",
    "leverage",
    "cost_basis",
    "unrealised_pnl",
    "position_count",
    "counts_by_type",
)


def _snapshot_data(snapshot: PortfolioSnapshot | None) -> dict[str, Any] | None:
    if snapshot is None:
        return None
    return {
        "as_of": snapshot.as_of,
        "total_value": rounded(snapshot.total_value),
        "equity": rounded(snapshot.equity),
        "daily_pnl": rounded(snapshot.daily_pnl),
        "daily_return": rounded(snapshot.daily_return, 6),
        "cumulative_pnl": rounded(snapshot.cumulative_pnl),
        "gross_exposure": rounded(snapshot.gross_exposure),
        "net_exposure": rounded(snapshot.net_exposure),
        "position_count": snapshot.position_count,
        "data_source": snapshot.data_source,
    }


@register(
    name="get_portfolio_overview",
    description=(
        "Portfolio value, cash, leverage, exposures (long, short, gross, net, delta-adjusted), unrealised P&L, "
        "position counts, exposure by tag and by underlying, and the latest daily snapshot (daily and cumulative P&L)."
    ),
    limits={"underlyings": MAX_UNDERLYINGS},
)
def get_portfolio_overview(portfolio: Portfolio, args: dict[str, Any]) -> dict[str, Any]:
    result = stored_result(portfolio, ResultKind.OVERVIEW)
    if result is None:
        return not_computed("The exposures overview", ResultKind.OVERVIEW)
    payload = result.payload
    data: dict[str, Any] = {key: payload.get(key) for key in OVERVIEW_FIELDS}
    data["by_tag"] = payload.get("by_tag", {})
    underlyings = sorted(
        (payload.get("by_underlying") or {}).items(),
        key=lambda item: -abs(item[1].get("delta_exposure") or item[1].get("market_value") or 0.0),
    )
    kept, marker = truncate(underlyings, MAX_UNDERLYINGS)
    data["by_underlying"] = dict(kept)
    data["by_underlying_truncated"] = marker["truncated"]
    data["expired_options"] = payload.get("expired_options", [])
    data["missing_prices"] = payload.get("missing_prices", [])
    snapshot = snapshot_latest(portfolio_id=portfolio.id)
    return result_envelope(
        result, data, snapshot=_snapshot_data(snapshot), truncated=marker["truncated"], currency=portfolio.currency
    )


@register(
    name="get_performance",
    description=(
        "Performance from the daily snapshots over the last `days` calendar days: P&L, compounded return, best "
        "and worst day, and the daily rows (most recent first, capped)."
    ),
    properties={"days": {"type": "integer", "minimum": 1, "maximum": MAX_PERFORMANCE_DAYS, "default": 30}},
    limits={"days": MAX_PERFORMANCE_DAYS, "rows": MAX_PERFORMANCE_ROWS},
)
def get_performance(portfolio: Portfolio, args: dict[str, Any]) -> dict[str, Any]:
    days = int(args.get("days", 30))
    latest = snapshot_latest(portfolio_id=portfolio.id)
    if latest is None:
        return not_computed("Daily snapshots")
    start = latest.as_of - dt.timedelta(days=days)
    snapshots = list(snapshots_for_portfolio(portfolio_id=portfolio.id, start=start, end=latest.as_of))
    growth = 1.0
    pnl = 0.0
    with_return = [s for s in snapshots if s.daily_return is not None]
    for snapshot in with_return:
        growth *= 1.0 + snapshot.daily_return
    for snapshot in snapshots:
        pnl += snapshot.daily_pnl or 0.0
    best = max(with_return, key=lambda s: s.daily_return, default=None)
    worst = min(with_return, key=lambda s: s.daily_return, default=None)
    rows, marker = truncate([_snapshot_data(s) for s in reversed(snapshots)], MAX_PERFORMANCE_ROWS)
    return {
        "status": "ok",
        "data": {
            "start": snapshots[0].as_of if snapshots else None,
            "end": latest.as_of,
            "days": days,
            "observations": len(snapshots),
            "pnl": rounded(pnl),
            "compounded_return": rounded(growth - 1.0, 6) if with_return else None,
            "best_day": {"as_of": best.as_of, "daily_return": rounded(best.daily_return, 6)} if best else None,
            "worst_day": {"as_of": worst.as_of, "daily_return": rounded(worst.daily_return, 6)} if worst else None,
            "latest": _snapshot_data(latest),
            "rows": rows,
        },
        "provenance": provenance(latest),
        **marker,
    }


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
    metrics_as_of = next(iter(metrics.values())).as_of if metrics else None
    return {
        "status": "ok",
        "data": {"positions": kept, "metrics_as_of": metrics_as_of, "sort_by": sort_by},
        "note": None if metrics else "Position metrics not computed yet; run `python manage.py run_batch`.",
        "as_of_today": timezone.localdate(),
        **marker,
    }
