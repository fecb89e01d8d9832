"""Daily portfolio snapshots and their backfill from stored prices.

Daily P&L comes from price changes: Σ quantity × multiplier × (P_t − P_{t−1}) — right for shorts
(negative quantity) and options. P is each day's own mark, the price its values use: the close for a
stock; for an option its quote mid on that day (else its last trade), else its model value at **that
day's** implied vol (the last quote stored on or before the day: a past day is never revalued at
today's vol), and its intrinsic value on its expiration day. A position entered on the day starts
from its entry price. Since values and P&L use the same marks, a day on which an option's mark
changes source (a missing quote) shows the difference as P&L, as a book marked that way would. Daily return =
daily P&L / equity balance when the portfolio has one, else / the previous day's gross exposure.
Cumulative P&L chains the daily P&L onto the previous stored snapshot.

Flows: the value moved into positions on the day — Σ quantity × multiplier × entry price of the
positions entered since the previous session, minus Σ quantity × multiplier × exit price of those
held on the previous session and not on this one (an expired option leaves at its intrinsic value,
the value it was marked at; its delivered stock enters at the close it settled at). So the change in
total value = daily P&L + flows, every day, across an expiry too (there the flow is strike × shares,
the cash paid or received on exercise). A position a user closes at a price other than its last
mark shows the difference in neither (realised P&L is not tracked).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import numpy as np
import pandas as pd

from analytics.engines import valuation
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
        option_quotes=market.quotes_on(day),  # that day's quotes: each day's implied vol
        rate=market.rate,
        div_yield=market.div_yield,
        sectors=market.sectors,
        option_quote_history=market.option_quote_history,
    )


def _marks(state: Columns) -> np.ndarray:
    """Per-share marks used for P&L — the same prices the day's values use: close for stocks; for options
    the day's quote mid (else last trade), else the model value at the day's implied vol, intrinsic on the
    expiration day."""
    return np.asarray(state["price"], dtype=float)


def snapshot_values(
    *,
    positions: Columns,
    state: Columns,
    previous: Columns | None,
    equity: float | None,
    day: dt.date,
    previous_day: dt.date | None = None,
    exits: float | None = 0.0,
) -> SnapshotPayload:
    """One portfolio's snapshot values on ``day`` (``previous``: its state on the previous session
    ``previous_day``, for the P&L; ``exits``: Σ quantity × multiplier × exit price of the positions that
    left the book since then, None when one has no exit price); ``cumulative_pnl`` is left for the
    caller to chain."""
    priced = np.isfinite(np.asarray(state["market_value"], dtype=float))
    mv = np.where(priced, np.asarray(state["market_value"], dtype=float), 0.0)
    delta_exposure = np.where(priced, np.asarray(state["delta_exposure"], dtype=float), 0.0)
    totals = valuation.exposure_totals(
        market_value=mv,
        delta_exposure=delta_exposure,
        is_option=np.asarray(positions["is_option"], dtype=bool),
        equity_balance=equity,
    )
    pnl: float | None = None
    daily_return: float | None = None
    flows: float | None = None
    if previous is not None:
        since = day if previous_day is None else previous_day + dt.timedelta(days=1)
        entered_today = np.array([d >= since for d in positions["entry_date"]], dtype=bool)
        entry_price = np.asarray(positions["entry_price"], dtype=float)
        before = np.where(entered_today, entry_price, _marks(previous))
        per_position = valuation.daily_pnl(
            quantity=np.asarray(positions["quantity"], dtype=float),
            multiplier=np.asarray(positions["multiplier"], dtype=float),
            prev_price=before,
            price=_marks(state),
        )
        pnl = float(np.nansum(np.where(np.isfinite(per_position), per_position, 0.0)))
        size = np.asarray(positions["quantity"], dtype=float) * np.asarray(positions["multiplier"], dtype=float)
        entries = float(np.nansum(np.where(entered_today, size * entry_price, 0.0)))
        flows = None if exits is None else entries - exits
        previous_mv = np.asarray(previous["market_value"], dtype=float)
        base = equity if equity else float(np.nansum(np.abs(previous_mv)))
        daily_return = pnl / base if base else None
    live = np.asarray(positions["is_option"], dtype=bool) & ~np.asarray(state["expired"], dtype=bool)
    values = {
        "total_value": float(mv.sum()),
        "long_exposure": totals.long,
        "short_exposure": totals.short,
        "gross_exposure": totals.gross,
        "net_exposure": totals.net,
        "delta_adjusted_exposure": totals.delta_adjusted,
        "cash": totals.cash,
        "equity": equity,
        "daily_pnl": pnl,
        "daily_return": daily_return,
        "flows": flows,
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

    Positions count on the days they were held (entry date to exit date, closed ones included). Options
    are marked at their model value at each day's implied vol (the last stored quote on or before the
    day; a contract with only later quotes carries its first one back), as the rows' ``inputs`` state.
    Cumulative P&L starts at 0 on the first backfilled day.
    """
    from analytics.services.inputs import market_inputs_load, portfolios_load, positions_frame
    from marketdata.calendar import last_trading_days, latest_completed_session

    end = end or latest_completed_session()
    sessions = last_trading_days(count=days, as_of=end)
    portfolios = portfolios_load(portfolio_ids=portfolio_ids)
    positions = positions_frame(portfolio_ids=list(portfolios), as_of=end, since=sessions[0])
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
    previous_day: dt.date | None = None
    entry_dates = positions["entry_date"].to_numpy()
    exit_dates = positions["exit_date"].to_numpy()
    exit_values = (
        positions["quantity"].to_numpy(dtype=float)
        * positions["multiplier"].to_numpy(dtype=float)
        * positions["exit_price"].to_numpy(dtype=float)
    )
    for number, day in enumerate(sessions, start=1):
        day_market = market_at(market, day)
        state = compute.position_state_compute(positions=positions, market=day_market, stage=stage)
        held = np.array([e <= day and (x is None or x >= day) for e, x in zip(entry_dates, exit_dates, strict=True)])
        left = np.array(
            [previous_day is not None and x is not None and previous_day <= x < day for x in exit_dates], dtype=bool
        )
        for pid, index in groups.items():
            at = positions.index.get_indexer(index)
            live = index[held[at]]
            if not len(live):
                continue
            gone = exit_values[at][left[at]]
            values = snapshot_values(
                positions=Columns.from_frame(positions.loc[live]),
                state=Columns.from_frame(state.loc[live]),
                previous=None if previous_state is None else Columns.from_frame(previous_state.loc[live]),
                equity=portfolios[pid].equity_balance,
                day=day,
                previous_day=previous_day,
                exits=float(gone.sum()) if np.isfinite(gone).all() else None,
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
                        inputs={"option_marks": "the day's quote mid, else model value at the day's implied vol"},
                        stale=stale,
                    ),
                )
            )
        previous_state, previous_day = state, day
        if progress is not None and (number % 25 == 0 or number == len(sessions)):
            progress(number, len(sessions))
    from analytics.services.persist import snapshots_upsert

    return snapshots_upsert(rows=rows)
