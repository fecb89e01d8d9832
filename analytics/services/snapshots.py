"""Daily portfolio snapshots and their backfill from stored prices.

Daily P&L comes from price changes: Σ quantity × multiplier × (P_t − P_{t−1}) — right for shorts
(negative quantity) and options (P is the option's model value per share on both days, at the
same implied vol, so a change of pricing method never shows as P&L). Daily return = daily P&L /
equity balance when the portfolio has one, else / the previous day's gross exposure.
Cumulative P&L chains the daily P&L onto the previous stored snapshot.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import numpy as np
import pandas as pd

from analytics.engines.snapshots import daily_pnl
from analytics.models import PortfolioSnapshot
from analytics.results.common import finite
from analytics.results.snapshots import SnapshotPayload
from analytics.services import compute
from analytics.services.columns import Columns
from analytics.services.inputs import MarketInputs, last_closes
from analytics.services.persist import provenance_fields


def market_at(market: MarketInputs, day: dt.date) -> MarketInputs:
    """The same inputs seen from an earlier session: prices up to ``day`` only (no look-ahead)."""
    prices = market.prices.loc[: pd.Timestamp(day)]
    spot, last_valid = last_closes(prices)
    return MarketInputs(
        as_of=day,
        prices=prices,
        spot=spot,
        spot_date=last_valid,
        data_source=market.data_source,
        option_quotes=market.option_quotes,
        rate=market.rate,
        div_yield=market.div_yield,
        sectors=market.sectors,
    )


def _marks(state: Columns) -> np.ndarray:
    """Per-share marks used for P&L: close for stocks, model value for options."""
    is_option = np.asarray(state["is_option"], dtype=bool)
    return np.where(is_option, np.asarray(state["model_price"], dtype=float), np.asarray(state["price"], dtype=float))


def snapshot_values(
    *, positions: Columns, state: Columns, previous: Columns | None, equity: float | None, day: dt.date
) -> SnapshotPayload:
    """One portfolio's snapshot values on ``day`` (``previous``: its state on the previous session, for the P&L);
    ``cumulative_pnl`` is left for the caller to chain."""
    priced = np.isfinite(np.asarray(state["market_value"], dtype=float))
    mv = np.where(priced, np.asarray(state["market_value"], dtype=float), 0.0)
    delta_exposure = np.where(priced, np.asarray(state["delta_exposure"], dtype=float), 0.0)
    totals = compute.exposure_totals(
        market_value=mv,
        delta_exposure=delta_exposure,
        is_option=np.asarray(positions["is_option"], dtype=bool),
        equity_balance=equity,
    )
    pnl: float | None = None
    daily_return: float | None = None
    if previous is not None:
        entered_today = np.array([d >= day for d in positions["entry_date"]], dtype=bool)
        before = np.where(entered_today, np.asarray(positions["entry_price"], dtype=float), _marks(previous))
        per_position = daily_pnl(
            quantity=np.asarray(positions["quantity"], dtype=float),
            multiplier=np.asarray(positions["multiplier"], dtype=float),
            prev_price=before,
            price=_marks(state),
        )
        pnl = float(np.nansum(np.where(np.isfinite(per_position), per_position, 0.0)))
        previous_mv = np.asarray(previous["market_value"], dtype=float)
        base = equity if equity else float(np.nansum(np.abs(previous_mv)))
        daily_return = pnl / base if base else None
    live = np.asarray(positions["is_option"], dtype=bool) & ~np.asarray(state["expired"], dtype=bool)
    values = {
        "total_value": float(mv.sum()),
        "long_exposure": float(totals["long_exposure"]),
        "short_exposure": float(totals["short_exposure"]),
        "gross_exposure": float(totals["gross_exposure"]),
        "net_exposure": float(totals["net_exposure"]),
        "delta_adjusted_exposure": float(totals["delta_adjusted_exposure"]),
        "cash": totals.get("cash"),
        "equity": equity,
        "daily_pnl": pnl,
        "daily_return": daily_return,
        "portfolio_delta": finite(np.nansum(np.asarray(state["position_delta"], dtype=float))),
        "portfolio_gamma": finite(np.nansum(np.asarray(state["position_gamma"], dtype=float)[live])),
        "portfolio_theta": finite(np.nansum(np.asarray(state["position_theta"], dtype=float)[live])),
        "portfolio_vega": finite(np.nansum(np.asarray(state["position_vega"], dtype=float)[live])),
        "position_count": len(positions),
    }
    stored: dict[str, Any] = {key: _stored(key, value) for key, value in values.items()}
    stored["cumulative_pnl"] = None
    return stored  # type: ignore[return-value]


def _stored(key: str, value: Any) -> Any:
    """Snapshot values at their stored precision: returns to 8 decimals, Greeks to 6, money to the cent."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if key == "daily_return":
        return round(float(value), 8)
    return round(float(value), 6 if key.startswith("portfolio_") else 2)


def previous_session(market: MarketInputs, day: dt.date) -> dt.date | None:
    earlier = market.prices.index[market.prices.index < pd.Timestamp(day)]
    return earlier[-1].date() if len(earlier) else None


def snapshots_backfill(
    *,
    days: int = 252,
    end: dt.date | None = None,
    portfolio_ids: list[uuid.UUID] | None = None,
    progress: Any = None,
) -> int:
    """Rebuild ``days`` sessions of snapshots ending at ``end`` from stored prices; returns rows written.

    Positions count from their entry date on. Options are marked at their model value with today's
    implied-vol source on every day (historical quotes are not stored), which is stated in the
    rows' ``inputs``. Cumulative P&L starts at 0 on the first backfilled day.
    """
    from analytics.services.inputs import market_inputs_load, portfolios_load, positions_frame
    from marketdata.calendar import last_trading_days, latest_completed_session

    end = end or latest_completed_session()
    sessions = last_trading_days(count=days, as_of=end)
    portfolios = portfolios_load(portfolio_ids=portfolio_ids)
    positions = positions_frame(portfolio_ids=list(portfolios))
    if positions.empty:
        return 0
    market = market_inputs_load(
        symbols=positions["price_symbol"].unique().tolist(),
        option_contracts=positions.loc[positions["is_option"].astype(bool), "symbol"].tolist(),
        as_of=end,
    )
    try:
        stage = compute.symbol_stage_compute(market=market)
    except ValueError:
        stage = None
    groups = {pid: positions.index[positions["portfolio_id"] == pid] for pid in portfolios}
    cumulative = dict.fromkeys(portfolios, 0.0)
    rows: list[PortfolioSnapshot] = []
    previous_state: pd.DataFrame | None = None
    for number, day in enumerate(sessions, start=1):
        day_market = market_at(market, day)
        state = compute.position_state_compute(positions=positions, market=day_market, stage=stage)
        held = np.array([d <= day for d in positions["entry_date"]], dtype=bool)
        for pid, index in groups.items():
            mask = held[positions.index.get_indexer(index)]
            live = index[mask]
            if not len(live):
                continue
            values = snapshot_values(
                positions=Columns.from_frame(positions.loc[live]),
                state=Columns.from_frame(state.loc[live]),
                previous=None if previous_state is None else Columns.from_frame(previous_state.loc[live]),
                equity=portfolios[pid].equity_balance,
                day=day,
            )
            cumulative[pid] += values["daily_pnl"] or 0.0
            values["cumulative_pnl"] = round(cumulative[pid], 2)
            stale = sorted(set(positions.loc[live, "price_symbol"]) & set(day_market.stale_symbols))
            rows.append(
                PortfolioSnapshot(
                    portfolio_id=pid,
                    as_of=day,
                    **values,
                    **provenance_fields(
                        run=None,
                        as_of=day,
                        data_source=day_market.data_source,
                        method="backfill from stored prices",
                        lookback=None,
                        inputs={"option_marks": "model value at today's implied-vol source"},
                        stale=stale,
                    ),
                )
            )
        previous_state = state
        if progress is not None and (number % 25 == 0 or number == len(sessions)):
            progress(number, len(sessions))
    from analytics.services.persist import snapshots_upsert

    return snapshots_upsert(rows=rows)
