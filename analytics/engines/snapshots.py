"""Daily P&L and the value history of a portfolio (DESIGN §6: P&L is not the change in gross).

Conventions: ``quantity`` is signed (negative = short), ``price`` is per share — for an option, its
value per underlying share — and ``multiplier`` is the contract size (1 for stocks). Daily P&L of a
position = quantity × multiplier × (price_t − price_{t−1}): a short gains when the price falls.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike


def daily_pnl(*, quantity: ArrayLike, multiplier: ArrayLike, prev_price: ArrayLike, price: ArrayLike) -> FloatArray:
    """Per-position P&L over one day (currency, signed) = quantity × multiplier × (price − prev_price)."""
    return (
        np.asarray(quantity, dtype=float)
        * np.asarray(multiplier, dtype=float)
        * (np.asarray(price, dtype=float) - np.asarray(prev_price, dtype=float))
    )


def portfolio_value_series(
    *,
    prices: pd.DataFrame,
    quantity: ArrayLike,
    multiplier: ArrayLike,
    equity_balance: float | None = None,
) -> pd.DataFrame:
    """Portfolio history from a price matrix (T × N, per share; columns = positions) and positions.

    ``quantity`` is (N,) — held constant over the window — or (T × N) held at the end of each day;
    the P&L of day t is earned on the quantity held at the end of day t − 1.

    Columns of the result (index = ``prices.index``), currency unless stated:
    - ``value``: net market value Σ q m p (shorts negative).
    - ``gross``: Σ |q m p|.
    - ``daily_pnl``: Σ q_{t−1} m (p_t − p_{t−1}); NaN on the first day.
    - ``daily_return``: daily_pnl_t / base, decimal, where base = ``equity_balance`` when given
      (the user's NAV: P&L per unit of capital), else the gross exposure of day t − 1 (the net
      value of a long/short book can be near zero and is not a usable base). NaN on the first day
      or when the base ≤ 0.
    - ``cumulative_pnl``: running sum of daily_pnl, 0 on the first day.
    A missing price makes that day's figures NaN (the caller forward-fills if it wants to).
    """
    p = prices.to_numpy(dtype=float)
    t, n = p.shape
    q = np.broadcast_to(np.asarray(quantity, dtype=float), (t, n))
    m = np.broadcast_to(np.asarray(multiplier, dtype=float), (n,))
    position_value = q * m * p
    value = position_value.sum(axis=1)
    gross = np.abs(position_value).sum(axis=1)
    pnl = np.full(t, np.nan)
    if t > 1:
        pnl[1:] = (q[:-1] * m * np.diff(p, axis=0)).sum(axis=1)
    base = np.full(t, np.nan)
    if equity_balance is not None:
        base[1:] = float(equity_balance)
    else:
        base[1:] = gross[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ret = np.where(base > 0, pnl / base, np.nan)
    cumulative = np.concatenate([[0.0], np.cumsum(pnl[1:])]) if t else np.zeros(0)
    return pd.DataFrame(
        {"value": value, "gross": gross, "daily_pnl": pnl, "daily_return": ret, "cumulative_pnl": cumulative},
        index=prices.index,
    )
