"""Rebuild past days' ``var`` results from stored prices, so that the VaR backtest has a history.

For each NYSE session of the range, the day is computed as the batch would have computed it on that
day, with nothing from later: the positions held at its close (entered on or before it, not exited
before it), the prices and quotes of the batch's lookback ending that day
(``inputs.market_window``), the factor model fitted on them (``compute.symbol_stage_compute``), then
the ``var`` kind's own ``prepare`` and ``build`` — the one VaR code path. Each day's rows are
written in one transaction and replace that day's stored ``var`` results, so a rerun rewrites the
same rows (only ``computed_at`` changes); their provenance names the backfill.

A day whose lookback holds too few factor-proxy returns for the factor model is skipped and
reported (the count of days computed says how much history the backtest will have).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from analytics.results import spec_for
from analytics.results.base import Row
from analytics.services import compute
from analytics.services.inputs import market_inputs_load, market_window, portfolios_load, positions_frame
from analytics.services.steps import ChunkContext
from analytics.services.writer import ResultWriter

BACKFILL_SOURCE = "backfill_var: recomputed from stored prices as of that day"


@dataclass
class VarBackfillOutcome:
    """What a backfill did: sessions asked, sessions computed, rows written, days skipped and why."""

    sessions: int = 0
    computed: int = 0
    without_positions: int = 0  # sessions before any portfolio held a position (nothing to compute)
    rows: int = 0
    skipped: dict[dt.date, str] = field(default_factory=dict)
    first_day: dt.date | None = None
    last_day: dt.date | None = None


def var_backfill(
    *,
    days: int = 250,
    end: dt.date | None = None,
    portfolio_ids: list[uuid.UUID] | None = None,
    progress: Callable[[int, int, dt.date], None] | None = None,
) -> VarBackfillOutcome:
    """Recompute and store the ``var`` results of the ``days`` sessions ending at ``end`` (default: the latest
    completed session) for every portfolio (or ``portfolio_ids``). ``progress(done, total, day)`` is called
    every 25 sessions and at the end."""
    from marketdata.calendar import last_trading_days, latest_completed_session

    if days < 1:
        raise ValueError("days must be at least 1")
    end = end or latest_completed_session()
    sessions = last_trading_days(count=days, as_of=end)
    outcome = VarBackfillOutcome(sessions=len(sessions))
    portfolios = portfolios_load(portfolio_ids=portfolio_ids)
    if portfolio_ids is not None and len(portfolios) != len(set(portfolio_ids)):
        missing = sorted(str(p) for p in set(portfolio_ids) - set(portfolios))
        raise ValueError(f"No portfolio with id {', '.join(missing)}.")
    positions = positions_frame(portfolio_ids=list(portfolios), as_of=end, since=sessions[0])
    if positions.empty:
        return outcome
    market = market_inputs_load(
        symbols=positions["price_symbol"].dropna().unique().tolist(),
        option_contracts=positions.loc[positions["is_option"].astype(bool), "symbol"].tolist(),
        as_of=end,
        history_from=sessions[0],
    )
    spec = spec_for("var")
    entry_dates = positions["entry_date"].to_numpy()
    exit_dates = positions["exit_date"].to_numpy()
    writer = ResultWriter(background=False)  # each day's rows in the caller's connection, one transaction
    for number, day in enumerate(sessions, start=1):
        held = np.array([e <= day and (x is None or x >= day) for e, x in zip(entry_dates, exit_dates, strict=True)])
        day_positions = positions.loc[held].reset_index(drop=True)
        if day_positions.empty:
            outcome.without_positions += 1
        else:
            day_market = market_window(market, day)
            try:
                stage = compute.symbol_stage_compute(market=day_market)
            except ValueError as exc:
                outcome.skipped[day] = str(exc)
            else:
                state = compute.position_state_compute(positions=day_positions, market=day_market, stage=stage)
                owners = set(day_positions["portfolio_id"])
                context = ChunkContext.build(
                    run=None,  # type: ignore[arg-type]  # no batch run: the provenance names the backfill
                    market=day_market,
                    stage=stage,
                    positions=day_positions,
                    state=state,
                    portfolios={pid: info for pid, info in portfolios.items() if pid in owners},
                    writer=writer,
                )
                prepared = spec.prepare(context)
                rows: list[Row] = []
                for part in context.slices.values():
                    payload = spec.build(context, part, prepared)
                    for row in spec.rows(context, part, payload, prepared):
                        rows.append({**row, "inputs": {**row["inputs"], "source": BACKFILL_SOURCE}})
                outcome.rows += spec.write(rows)
                outcome.computed += 1
                outcome.first_day = outcome.first_day or day
                outcome.last_day = day
        if progress is not None and (number % 25 == 0 or number == len(sessions)):
            progress(number, len(sessions), day)
    return outcome
