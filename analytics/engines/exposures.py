"""Position values and portfolio exposures (DESIGN §3, §6: the option multiplier is never forgotten).

Conventions: ``quantity`` is signed (negative = short, for stocks and options alike); ``price`` is
per share (for an option, its value per underlying share); ``multiplier`` is 1 for stocks and the
contract size (100) for equity options. All outputs are in currency; shorts are negative.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike


def market_value(*, quantity: ArrayLike, price: ArrayLike, multiplier: ArrayLike) -> FloatArray:
    """Signed market value = quantity × price × multiplier (currency; shorts negative)."""
    return np.asarray(quantity, dtype=float) * np.asarray(price, dtype=float) * np.asarray(multiplier, dtype=float)


def cost_basis(*, quantity: ArrayLike, entry_price: ArrayLike, multiplier: ArrayLike) -> FloatArray:
    """Signed cost basis = quantity × entry_price × multiplier (a short's basis is negative: proceeds)."""
    return market_value(quantity=quantity, price=entry_price, multiplier=multiplier)


def unrealised_pnl(*, market_value: ArrayLike, cost_basis: ArrayLike) -> FloatArray:
    """Unrealised P&L = market value − cost basis; right for shorts (a falling price gives a gain)."""
    return np.asarray(market_value, dtype=float) - np.asarray(cost_basis, dtype=float)


def delta_exposure(
    *,
    market_value: ArrayLike,
    is_option: ArrayLike,
    delta: ArrayLike,
    quantity: ArrayLike,
    multiplier: ArrayLike,
    underlying_spot: ArrayLike,
) -> FloatArray:
    """Dollar delta per position (currency).

    Stocks: their market value. Options: delta (per share, from ``bsm_greeks``) × quantity ×
    multiplier × underlying spot. An option without a delta (expired/invalid → NaN) stays NaN so the
    caller sees it; ``portfolio_exposures`` counts such positions instead of summing them as zero.
    """
    opt = np.asarray(is_option, dtype=bool)
    dollar_delta = (
        np.asarray(delta, dtype=float)
        * np.asarray(quantity, dtype=float)
        * np.asarray(multiplier, dtype=float)
        * np.asarray(underlying_spot, dtype=float)
    )
    return np.where(opt, dollar_delta, np.asarray(market_value, dtype=float))


def portfolio_exposures(
    *,
    market_value: ArrayLike,
    delta_exposure: ArrayLike,
    is_option: ArrayLike,
    equity_balance: float | None,
) -> dict[str, float | None]:
    """Portfolio totals (currency) from per-position signed market values and dollar deltas.

    - long = Σ positive mv; short = Σ negative mv (reported negative); gross = Σ|mv|; net = Σ mv.
    - delta_adjusted = Σ dollar delta (positions with a NaN delta are skipped and counted in
      ``positions_without_delta``).
    - options_exposure = Σ|mv| of options; stock_exposure = Σ|mv| of stocks (their sum is gross).
    - cash = equity − long + |short| (short-sale proceeds are held as cash); None without equity.
    - leverage = gross / equity; None when there is no equity or equity ≤ 0.
    Positions with a NaN market value (no price) are excluded from the sums and counted in
    ``positions_without_price``.
    """
    mv = np.asarray(market_value, dtype=float)
    dd = np.asarray(delta_exposure, dtype=float)
    opt = np.asarray(is_option, dtype=bool)
    priced = np.isfinite(mv)
    mv0 = np.where(priced, mv, 0.0)
    long_ = float(mv0[mv0 > 0].sum())
    short = float(mv0[mv0 < 0].sum())
    gross = float(np.abs(mv0).sum())
    cash = None if equity_balance is None else float(equity_balance) - long_ + abs(short)
    leverage = None if equity_balance is None or equity_balance <= 0 else gross / float(equity_balance)
    return {
        "long": long_,
        "short": short,
        "gross": gross,
        "net": float(mv0.sum()),
        "delta_adjusted": float(np.nansum(dd)),
        "options_exposure": float(np.abs(mv0[opt]).sum()),
        "stock_exposure": float(np.abs(mv0[~opt]).sum()),
        "cash": cash,
        "leverage": leverage,
        "positions_without_price": float((~priced).sum()),
        "positions_without_delta": float((~np.isfinite(dd)).sum()),
    }


def group_totals(values: pd.Series, keys: Sequence[Sequence[str]] | pd.Series) -> dict[str, float]:
    """Sum ``values`` (one per position) by key.

    ``keys`` is either a Series of one key per position (e.g. the underlying symbol; NaN keys are
    dropped) or a list of key lists (tags): a position with several tags counts fully in each, so the
    totals of overlapping tags need not add up to the portfolio total. Returns {key: total}.
    """
    vals = pd.Series(values).reset_index(drop=True).astype(float)
    if isinstance(keys, pd.Series):
        key_series = keys.reset_index(drop=True)
        return {str(k): float(v) for k, v in vals.groupby(key_series, sort=True).sum().items()}
    if len(keys) != len(vals):
        raise ValueError("keys and values differ in length")
    counts = np.fromiter((len(k) for k in keys), dtype=int, count=len(keys))
    flat = [str(k) for ks in keys for k in ks]
    if not flat:
        return {}
    long_form = pd.Series(np.repeat(vals.to_numpy(), counts), index=pd.Index(flat, name="key"))
    return {str(k): float(v) for k, v in long_form.groupby(level=0, sort=True).sum().items()}
