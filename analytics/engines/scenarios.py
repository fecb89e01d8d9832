"""Market-move scenarios (±5 %, ±10 %, ±20 % on the market), stocks by beta, options fully repriced.

A scenario moves the market by ``shock`` (a simple return); each underlying moves by its market
beta × shock, mapped so that no price ever reaches zero (``shocked_price_ratio``). Stocks: P&L =
market value × (ratio − 1). Options: full Black–Scholes–Merton repricing at the shocked underlying
spot with time to expiry unchanged (an instantaneous shock) and vol + ``vol_shift`` (floored at 1
vol point), minus the current model price, × quantity × multiplier. The current model price (not the
quoted price) is the base so that the P&L contains only the shock, not the model's mispricing.
Expired options contribute 0. P&L is in currency, signed (loss < 0).

No shocked price is ever ≤ 0. A beta is a linear, small-move sensitivity: β × shock is used as the
underlying's simple return R as long as R ≥ ``LINEAR_RETURN_FLOOR`` (−50 %). Below that the linear
model would soon cross −100 % (a beta of 6 and a −20 % market would give −120 %), so the price
ratio continues *exponentially* — the log return stays linear in R with the slope the linear ratio
has at the floor:

    ratio(R) = 1 + R                                   for R ≥ R₀ (= −0.5)
    ratio(R) = (1 + R₀) · exp((R − R₀) / (1 + R₀))     for R < R₀

which is continuous with a continuous slope, increasing, and > 0 for every R (β 6, −20 %: R = −1.2,
ratio 0.5·e^{−1.4} = 0.123, a −87.7 % move). Upward moves stay linear. Why not
``(1 + shock) ** β`` everywhere: for a negative β (a volatility index, β ≈ −4.8) it explodes on the
downside (a −45 % market would multiply the index by 17); volatility indices have their own model
(``analytics.engines.volatility_index``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from analytics.engines.black_scholes import bsm_price
from analytics.engines.book import PositionBook

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

MARKET_SHOCKS: tuple[float, ...] = (-0.20, -0.10, -0.05, 0.05, 0.10, 0.20)
# Below this simple return the price ratio continues exponentially (module doc).
LINEAR_RETURN_FLOOR = -0.5
# A numerical guard only: exp() of a hugely negative number underflows to 0.0 (currency).
MIN_SPOT = 1e-8
MIN_VOL = 0.01


def shocked_price_ratio(linear_return: ArrayLike) -> FloatArray:
    """Shocked price ÷ price for a linear (β × shock) simple return R; > 0 for every R (module doc).

    1 + R for R ≥ ``LINEAR_RETURN_FLOOR``; (1 + R₀) exp((R − R₀)/(1 + R₀)) below. Broadcasts.
    """
    r = np.asarray(linear_return, dtype=float)
    base = 1.0 + LINEAR_RETURN_FLOOR
    with np.errstate(over="ignore"):
        tail = base * np.exp((np.minimum(r, LINEAR_RETURN_FLOOR) - LINEAR_RETURN_FLOOR) / base)
    return np.where(r >= LINEAR_RETURN_FLOOR, 1.0 + r, tail)


def underlying_shocked_spots(spot: ArrayLike, market_beta: ArrayLike, shock: ArrayLike) -> FloatArray:
    """Shocked spot = spot × ``shocked_price_ratio``(beta × shock), never ≤ 0 (broadcasts)."""
    s = np.asarray(spot, dtype=float)
    r = np.asarray(market_beta, dtype=float) * np.asarray(shock, dtype=float)
    return np.maximum(s * shocked_price_ratio(r), MIN_SPOT)


def option_repricing_pnl(
    *, underlying_return: ArrayLike, options: PositionBook, vol_shift: ArrayLike = 0.0
) -> FloatArray:
    """Full-revaluation P&L (currency) of a book of options for a linear simple return R of each
    underlying (broadcasts: ``underlying_return`` may be S × N).

    [BSM(spot × ``shocked_price_ratio``(R), vol + vol_shift floored at 0.01) − BSM(spot, vol)] ×
    quantity × multiplier. Expired options (years ≤ 0) give 0; otherwise-invalid inputs give NaN.
    The ratio is 1 + R for R ≥ −50 %, so an observed (historical) daily return reprices exactly.
    """
    o = options
    kw = {"strike": o.strike, "years": o.years, "rate": o.rate, "div_yield": o.div_yield, "is_call": o.is_call}
    shocked_spot = np.maximum(o.spot * shocked_price_ratio(underlying_return), MIN_SPOT)
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
    Stocks: market value × (``shocked_price_ratio``(beta × shock) − 1) — market value × beta × shock
    while that return is above −50 %. Options: ``option_repricing_pnl`` with R = beta × shock.
    """
    shocks_col = np.asarray(shocks, dtype=float).reshape(-1, 1)
    beta = np.broadcast_to(np.asarray(market_beta, dtype=float), (len(book),))
    stock_pnl = book.market_value[None, :] * (shocked_price_ratio(beta[None, :] * shocks_col) - 1.0)
    out = np.where(book.is_option[None, :], 0.0, stock_pnl)
    if book.is_option.any():
        rows, options = book.options()
        out[:, rows] = option_repricing_pnl(
            underlying_return=beta[rows][None, :] * shocks_col, options=options, vol_shift=vol_shift
        )
    return out
