"""Market-move scenarios (±5 %, ±10 %, ±20 % on the market), stocks by beta, options fully repriced.

A scenario moves the market by ``shock`` (a simple return); each underlying moves by its market
beta × shock. Stocks: P&L = market value × beta × shock (linear). Options: full Black–Scholes–Merton
repricing at the shocked underlying spot with time to expiry unchanged (an instantaneous shock) and
vol + ``vol_shift`` (floored at 1 vol point), minus the current model price, × quantity × multiplier.
The current model price (not the quoted price) is the base so that the P&L contains only the shock,
not the model's mispricing. Expired options contribute 0. P&L is in currency, signed (loss < 0).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from analytics.engines.black_scholes import bsm_price
from analytics.engines.book import PositionBook

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

MARKET_SHOCKS: tuple[float, ...] = (-0.20, -0.10, -0.05, 0.05, 0.10, 0.20)
# A shock can never take a price to zero or below: the shocked spot is floored here (currency).
MIN_SPOT = 1e-8
MIN_VOL = 0.01


def underlying_shocked_spots(spot: ArrayLike, market_beta: ArrayLike, shock: ArrayLike) -> FloatArray:
    """Shocked spot = spot × (1 + beta × shock), floored at ``MIN_SPOT`` (broadcasts)."""
    s = np.asarray(spot, dtype=float)
    return np.maximum(s * (1.0 + np.asarray(market_beta, dtype=float) * np.asarray(shock, dtype=float)), MIN_SPOT)


def option_repricing_pnl(
    *, underlying_return: ArrayLike, options: PositionBook, vol_shift: ArrayLike = 0.0
) -> FloatArray:
    """Full-revaluation P&L (currency) of a book of options for a simple return of each underlying
    (broadcasts: ``underlying_return`` may be S × N).

    [BSM(spot × (1 + R) floored, vol + vol_shift floored at 0.01) − BSM(spot, vol)] × quantity ×
    multiplier. Expired options (years ≤ 0) give 0; otherwise-invalid inputs give NaN.
    """
    o = options
    kw = {"strike": o.strike, "years": o.years, "rate": o.rate, "div_yield": o.div_yield, "is_call": o.is_call}
    shocked_spot = np.maximum(o.spot * (1.0 + np.asarray(underlying_return, dtype=float)), MIN_SPOT)
    shocked_vol = np.maximum(o.vol + np.asarray(vol_shift, dtype=float), MIN_VOL)
    base = bsm_price(spot=o.spot, vol=o.vol, **kw)
    shocked = bsm_price(spot=shocked_spot, vol=shocked_vol, **kw)
    pnl = (shocked - base) * (o.quantity * o.multiplier)
    expired = np.broadcast_to(o.years <= 0, pnl.shape)
    return np.where(expired, 0.0, pnl)


def scenario_pnl(
    *, shocks: ArrayLike, book: PositionBook, market_beta: ArrayLike, vol_shift: float = 0.0
) -> FloatArray:
    """P&L (currency) per market shock and position: array (n_shocks × N).

    ``market_beta`` (N) is the underlying's market beta for options and the stock's own for stocks.
    Stocks: market value × beta × shock. Options: ``option_repricing_pnl`` with R = beta × shock.
    """
    shocks_col = np.asarray(shocks, dtype=float).reshape(-1, 1)
    beta = np.broadcast_to(np.asarray(market_beta, dtype=float), (len(book),))
    stock_pnl = (book.market_value * beta)[None, :] * shocks_col
    out = np.where(book.is_option[None, :], 0.0, stock_pnl)
    if book.is_option.any():
        rows, options = book.options()
        out[:, rows] = option_repricing_pnl(
            underlying_return=beta[rows][None, :] * shocks_col, options=options, vol_shift=vol_shift
        )
    return out
