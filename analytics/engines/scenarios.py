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
    *,
    underlying_return: ArrayLike,
    quantity: ArrayLike,
    multiplier: ArrayLike,
    is_call: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    vol: ArrayLike,
    rate: ArrayLike,
    div_yield: ArrayLike,
    vol_shift: ArrayLike = 0.0,
) -> FloatArray:
    """Full-revaluation option P&L (currency) for a simple return of the underlying (broadcasts).

    [BSM(spot × (1 + R) floored, vol + vol_shift floored at 0.01) − BSM(spot, vol)] × quantity ×
    multiplier. Expired options (years ≤ 0) give 0; otherwise-invalid inputs give NaN.
    """
    kw = {"strike": strike, "years": years, "rate": rate, "div_yield": div_yield, "is_call": is_call}
    s = np.asarray(spot, dtype=float)
    v = np.asarray(vol, dtype=float)
    shocked_spot = np.maximum(s * (1.0 + np.asarray(underlying_return, dtype=float)), MIN_SPOT)
    shocked_vol = np.maximum(v + np.asarray(vol_shift, dtype=float), MIN_VOL)
    base = bsm_price(spot=s, vol=v, **kw)
    shocked = bsm_price(spot=shocked_spot, vol=shocked_vol, **kw)
    qm = np.asarray(quantity, dtype=float) * np.asarray(multiplier, dtype=float)
    pnl = (shocked - base) * qm
    expired = np.broadcast_to(np.asarray(years, dtype=float) <= 0, pnl.shape)
    return np.where(expired, 0.0, pnl)


def scenario_pnl(
    *,
    shocks: ArrayLike,
    quantity: ArrayLike,
    multiplier: ArrayLike,
    price: ArrayLike,
    is_option: ArrayLike,
    is_call: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    vol: ArrayLike,
    rate: ArrayLike,
    div_yield: ArrayLike,
    market_beta: ArrayLike,
    vol_shift: float = 0.0,
) -> FloatArray:
    """P&L (currency) per market shock and position: array (n_shocks × n_positions).

    Position arrays have length N (``spot``, ``strike``, ``years``, ``vol``, ``is_call`` only matter
    for options: ``spot`` is the underlying's price; ``market_beta`` is the underlying's market beta
    for options and the stock's own for stocks). Stocks: quantity × price × multiplier × beta × shock.
    Options: ``option_repricing_pnl`` with R = beta × shock.
    """
    shocks_col = np.asarray(shocks, dtype=float).reshape(-1, 1)
    q = np.asarray(quantity, dtype=float)
    m = np.asarray(multiplier, dtype=float)
    beta = np.asarray(market_beta, dtype=float)
    opt = np.asarray(is_option, dtype=bool)
    stock_pnl = (q * np.asarray(price, dtype=float) * m * beta)[None, :] * shocks_col
    out = np.where(opt[None, :], 0.0, stock_pnl)
    if opt.any():
        sel = np.flatnonzero(opt)

        def pick(a: ArrayLike) -> FloatArray:
            return np.broadcast_to(np.asarray(a), q.shape)[sel]

        out[:, sel] = option_repricing_pnl(
            underlying_return=beta[sel][None, :] * shocks_col,
            quantity=q[sel],
            multiplier=pick(m),
            is_call=pick(is_call),
            spot=pick(spot),
            strike=pick(strike),
            years=pick(years),
            vol=pick(vol),
            rate=pick(rate),
            div_yield=pick(div_yield),
            vol_shift=vol_shift,
        )
    return out
