"""Valuation: what positions are worth, what they cost, their exposures, and the portfolio's totals.

The one engine for every place that values positions: the batch's position state and overview,
the snapshots (and their backfill), the data API's positions list and what-if. DESIGN §3 and §6:
the option multiplier is never forgotten, and a short's P&L has the right sign.

Conventions (all outputs in currency, shorts negative):

- ``quantity`` is signed (negative = short, for stocks and options alike);
- ``price`` and ``entry_price`` are per share — for an option, its value per underlying share;
- ``multiplier`` is 1 for stocks and the contract size (100) for equity options;
- market value = quantity × price × multiplier; cost basis = quantity × entry price × multiplier (a
  short's basis is negative: proceeds); unrealised P&L = market value − cost basis;
- delta exposure: a stock's market value; an option's dollar delta (delta × quantity × multiplier ×
  underlying spot, from ``black_scholes.position_greeks``);
- a position without a price has NaN values: it is counted, never summed as zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike


@dataclass(frozen=True)
class PositionValues:
    """Per-position values (length N arrays, currency; NaN where a position has no price)."""

    market_value: FloatArray
    cost_basis: FloatArray
    unrealised_pnl: FloatArray
    delta_exposure: FloatArray


def position_values(
    *,
    quantity: ArrayLike,
    price: ArrayLike,
    multiplier: ArrayLike,
    entry_price: ArrayLike,
    is_option: ArrayLike | None = None,
    dollar_delta: ArrayLike | None = None,
) -> PositionValues:
    """Market value, cost basis, unrealised P&L and delta exposure of each position.

    ``dollar_delta`` is the options' dollar delta (ignored for stocks); without it an option's delta
    exposure is NaN. ``is_option`` defaults to all stocks.
    """
    q = np.asarray(quantity, dtype=float)
    m = np.asarray(multiplier, dtype=float)
    market_value = q * np.asarray(price, dtype=float) * m
    cost_basis = q * np.asarray(entry_price, dtype=float) * m
    options = np.zeros(q.shape, dtype=bool) if is_option is None else np.asarray(is_option, dtype=bool)
    delta = np.full(q.shape, np.nan) if dollar_delta is None else np.asarray(dollar_delta, dtype=float)
    return PositionValues(
        market_value=market_value,
        cost_basis=cost_basis,
        unrealised_pnl=market_value - cost_basis,
        delta_exposure=np.where(options, delta, market_value),
    )


def daily_pnl(*, quantity: ArrayLike, multiplier: ArrayLike, prev_price: ArrayLike, price: ArrayLike) -> FloatArray:
    """Per-position P&L over one day (currency, signed) = quantity × multiplier × (price − prev_price):
    a short gains when the price falls (not the change in gross exposure)."""
    return (
        np.asarray(quantity, dtype=float)
        * np.asarray(multiplier, dtype=float)
        * (np.asarray(price, dtype=float) - np.asarray(prev_price, dtype=float))
    )


@dataclass(frozen=True)
class ExposureTotals:
    """A portfolio's exposures (currency).

    long = Σ positive market values; short = Σ negative ones (negative); gross = Σ|mv|; net = Σ mv;
    delta_adjusted = Σ delta exposure; options / stocks = Σ|mv| of each (they add up to gross);
    cash = equity − long + |short| (short-sale proceeds are held as cash), None without equity;
    leverage = gross / equity, None without a positive equity. Positions without a price (NaN
    market value) or without a delta are left out of the sums and counted.
    """

    long: float
    short: float
    gross: float
    net: float
    delta_adjusted: float
    options: float
    stocks: float
    cash: float | None
    leverage: float | None
    positions_without_price: int
    positions_without_delta: int


def exposure_totals(
    *, market_value: ArrayLike, delta_exposure: ArrayLike, is_option: ArrayLike, equity_balance: float | None
) -> ExposureTotals:
    """The portfolio's exposures from its positions' market values and delta exposures."""
    mv = np.asarray(market_value, dtype=float)
    dd = np.asarray(delta_exposure, dtype=float)
    options = np.asarray(is_option, dtype=bool)
    priced = np.isfinite(mv)
    mv0 = np.where(priced, mv, 0.0)
    long_ = float(mv0[mv0 > 0].sum())
    short = float(mv0[mv0 < 0].sum())
    gross = float(np.abs(mv0).sum())
    return ExposureTotals(
        long=long_,
        short=short,
        gross=gross,
        net=float(mv0.sum()),
        delta_adjusted=float(np.nansum(dd)),
        options=float(np.abs(mv0[options]).sum()),
        stocks=float(np.abs(mv0[~options]).sum()),
        cash=None if equity_balance is None else float(equity_balance) - long_ + abs(short),
        leverage=None if equity_balance is None or equity_balance <= 0 else gross / float(equity_balance),
        positions_without_price=int((~priced).sum()),
        positions_without_delta=int((~np.isfinite(dd)).sum()),
    )


@dataclass
class GroupTotals:
    """The positions of one group (a tag, an underlying): Σ market value, Σ |market value|, Σ delta
    exposure, Σ share delta (shares of the underlying: meaningful only for a group of one underlying) and
    how many positions (currency; positions without a price add 0 to the sums)."""

    market_value: float = 0.0
    gross: float = 0.0
    delta_exposure: float = 0.0
    share_delta: float = 0.0
    count: int = 0


def totals_by_group(
    *,
    groups: Iterable[Sequence[str]],
    market_value: ArrayLike,
    delta_exposure: ArrayLike,
    share_delta: ArrayLike | None = None,
) -> dict[str, GroupTotals]:
    """Totals per group name, sorted by name. ``groups`` gives each position its group names: a position
    in several groups (several tags) counts fully in each, so overlapping groups need not add up to the
    portfolio; a position in none counts in none. Plain Python: pandas group-bys cost more than they save
    on a portfolio's rows."""
    mv = np.nan_to_num(np.asarray(market_value, dtype=float), nan=0.0).tolist()
    dd = np.nan_to_num(np.asarray(delta_exposure, dtype=float), nan=0.0).tolist()
    shares = [0.0] * len(mv) if share_delta is None else np.nan_to_num(np.asarray(share_delta, dtype=float)).tolist()
    totals: dict[str, GroupTotals] = {}
    for names, value, delta, share in zip(groups, mv, dd, shares, strict=True):
        for name in names:
            group = totals.get(name)
            if group is None:
                group = totals[name] = GroupTotals()
            group.market_value += value
            group.gross += abs(value)
            group.delta_exposure += delta
            group.share_delta += share
            group.count += 1
    return dict(sorted(totals.items()))
