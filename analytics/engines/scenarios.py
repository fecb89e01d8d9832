"""Market-move scenarios (±5 %, ±10 %, ±20 % on the market), stocks by beta, options fully repriced.

A scenario moves the market by ``shock`` (a simple return); each underlying moves by its market
beta × shock, mapped so that no price ever reaches zero (``shocked_price_ratio``). Stocks: P&L =
market value × (ratio − 1). Options: full Black–Scholes–Merton repricing at the shocked underlying
spot with time to expiry unchanged (an instantaneous shock) and vol + ``vol_shift`` (floored at 1
vol point), minus the current model price, × quantity × multiplier. The current model price (not the
quoted price) is the base so that the P&L contains only the shock, not the model's mispricing.
An option on its expiration day (``years <= 0``) is worth its intrinsic value before and after the
shock; options that have already expired are left out by the caller. P&L is in currency, signed
(loss < 0).

A volatility index (VIX) is not moved by a beta: its level moves by ``volatility_index.shocked_level``
(a log-level sensitivity to the market's log return) and its options are priced by Black-76 on the
index's mean-reverting forward (``option_value``); see ``analytics.engines.volatility_index``.

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

from analytics.engines import volatility_index
from analytics.engines.black_scholes import bsm_price, intrinsic_value
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
    with np.errstate(invalid="ignore"):
        below = ~(r >= LINEAR_RETURN_FLOOR)  # NaN included (NaN either way)
    if not below.any():  # the common case (every simulated path of a day): no exponential to take
        return np.asarray(1.0 + r)
    base = 1.0 + LINEAR_RETURN_FLOOR
    with np.errstate(over="ignore"):
        tail = base * np.exp((np.minimum(r, LINEAR_RETURN_FLOOR) - LINEAR_RETURN_FLOOR) / base)
    return np.where(r >= LINEAR_RETURN_FLOOR, 1.0 + r, tail)


def underlying_shocked_spots(spot: ArrayLike, market_beta: ArrayLike, shock: ArrayLike) -> FloatArray:
    """Shocked spot = spot × ``shocked_price_ratio``(beta × shock), never ≤ 0 (broadcasts)."""
    s = np.asarray(spot, dtype=float)
    r = np.asarray(market_beta, dtype=float) * np.asarray(shock, dtype=float)
    return np.maximum(s * shocked_price_ratio(r), MIN_SPOT)


def option_value(options: PositionBook, *, spot: ArrayLike, vol: ArrayLike) -> FloatArray:
    """Value per share (per unit for an index option) of each option of ``options`` at ``spot`` and ``vol``
    ((N,) or (S × N), broadcast against the book's N options).

    Black–Scholes–Merton; a volatility-index option (``options.vol_index``) by Black-76 on the index's
    mean-reverting forward (``volatility_index.option_price``, ``vol`` its Black-76 vol); at expiry
    (``years <= 0``) the intrinsic value on ``spot``.
    """
    o = options
    shape = np.broadcast_shapes(np.shape(spot), np.shape(vol), (len(o),))
    s = np.broadcast_to(np.asarray(spot, dtype=float), shape)
    v = np.broadcast_to(np.asarray(vol, dtype=float), shape)
    kw = {"strike": o.strike, "years": o.years, "rate": o.rate, "div_yield": o.div_yield, "is_call": o.is_call}
    out = np.array(np.broadcast_to(bsm_price(spot=s, vol=v, **kw), shape))
    index_rows = np.flatnonzero(o.on_vol_index)
    if index_rows.size:
        out[..., index_rows] = volatility_index.option_price(
            spot=s[..., index_rows],
            strike=o.strike[index_rows],
            years=o.years[index_rows],
            rate=o.rate[index_rows],
            is_call=o.is_call[index_rows],
            vol=v[..., index_rows],
        )
    at_expiry = np.flatnonzero(o.years <= 0)
    if at_expiry.size:
        out[..., at_expiry] = intrinsic_value(
            spot=s[..., at_expiry], strike=o.strike[at_expiry], is_call=o.is_call[at_expiry]
        )
    return out


def option_repricing_pnl(
    *,
    options: PositionBook,
    underlying_return: ArrayLike = 0.0,
    vol_shift: ArrayLike = 0.0,
    spot_ratio: ArrayLike | None = None,
) -> FloatArray:
    """Full-revaluation P&L (currency) of a book of options for a move of each underlying (broadcasts:
    the move may be S × N).

    [V(spot × ratio, vol + vol_shift floored at 0.01) − V(spot, vol)] × quantity × multiplier, V being
    ``option_value`` (BSM; Black-76 on the forward for a volatility-index option; intrinsic at expiry).
    The ratio is ``spot_ratio`` when given (the caller's own price ratio, e.g. a volatility index's
    shocked level ÷ its level), else ``shocked_price_ratio(underlying_return)`` — 1 + R for R ≥ −50 %,
    so an observed (historical) daily return reprices exactly. Invalid inputs give NaN.
    """
    o = options
    change = option_value_change(
        options=o, underlying_return=underlying_return, vol_shift=vol_shift, spot_ratio=spot_ratio
    )
    return change * (o.quantity * o.multiplier)


def option_value_change(
    *,
    options: PositionBook,
    underlying_return: ArrayLike = 0.0,
    vol_shift: ArrayLike = 0.0,
    spot_ratio: ArrayLike | None = None,
) -> FloatArray:
    """``option_repricing_pnl`` per share (per unit for an index option), before × quantity × multiplier:
    V(spot × ratio, vol + vol_shift floored at 0.01) − V(spot, vol) (currency per share; broadcasts)."""
    o = options
    ratio = shocked_price_ratio(underlying_return) if spot_ratio is None else np.asarray(spot_ratio, dtype=float)
    shocked_spot = np.maximum(o.spot * ratio, MIN_SPOT)
    shocked_vol = np.maximum(o.vol + np.asarray(vol_shift, dtype=float), MIN_VOL)
    base = option_value(o, spot=o.spot, vol=o.vol)
    shocked = option_value(o, spot=shocked_spot, vol=shocked_vol)
    return shocked - base


def market_price_ratio(*, book: PositionBook, market_beta: ArrayLike, shocks: ArrayLike) -> FloatArray:
    """Shocked price ÷ price of each position's price symbol for each market move (n_shocks × N).

    ``shocked_price_ratio``(beta × shock) — never ≤ 0; for a volatility index (``book.vol_index``)
    the index's own model instead: ``volatility_index.shocked_level``(level, market_return=shock) ÷
    level (a log-level sensitivity to the market's log return, floored at the index's floor), whatever
    its fitted linear beta.
    """
    shocks_col = np.asarray(shocks, dtype=float).reshape(-1, 1)
    beta = np.broadcast_to(np.asarray(market_beta, dtype=float), (len(book),))
    ratio = shocked_price_ratio(beta[None, :] * shocks_col)
    index_rows = np.flatnonzero(book.on_vol_index)
    if index_rows.size:
        level = book.spot[index_rows][None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio[:, index_rows] = volatility_index.shocked_level(level=level, market_return=shocks_col) / level
    return ratio


def scenario_pnl(
    *, shocks: ArrayLike, book: PositionBook, market_beta: ArrayLike, vol_shift: float = 0.0
) -> FloatArray:
    """P&L (currency) per market shock and position: array (n_shocks × N).

    ``market_beta`` (N) is the underlying's market beta for options and the stock's own for stocks.
    Each price symbol moves by ``market_price_ratio`` (β × shock through ``shocked_price_ratio``; a
    volatility index by its own model). Stocks: market value × (ratio − 1) — market value × beta ×
    shock while that return is above −50 %. Options: ``option_repricing_pnl`` at spot × ratio.
    """
    ratio = market_price_ratio(book=book, market_beta=market_beta, shocks=shocks)
    stock_pnl = book.market_value[None, :] * (ratio - 1.0)
    out = np.where(book.is_option[None, :], 0.0, stock_pnl)
    if book.is_option.any():
        rows, options = book.options()
        out[:, rows] = option_repricing_pnl(spot_ratio=ratio[:, rows], options=options, vol_shift=vol_shift)
    return out
