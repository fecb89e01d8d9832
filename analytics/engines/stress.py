"""Stress tests from the scenario catalog (DESIGN §3, §6) — betas × factor shocks, options repriced.

Scenario shocks (``stress_scenarios.json``) are **total returns of the factor proxies** over the
scenario — market = SPY, value = VTV, growth = VUG, momentum = MTUM, quality = QUAL, size = IWM,
low_volatility = USMV — except ``interest_rate``, an absolute change of the 10-year yield (0.01 =
100 bp), which becomes a TLT return of −duration × Δy. The optional ``implied_vol_shift`` is an
absolute vol change applied when repricing options. A volatility index (VIX) has its own model
(``analytics.engines.volatility_index``): the stated vol shift sets its level (V + 100 × shift),
otherwise the market factor's shock moves it by a log-level sensitivity; never through its betas.

The model's factors are market = r_SPY, style = r_ETF − r_SPY (spreads) and interest_rate = r_TLT
(``analytics.engines.factors``), so a scenario is converted to factor space before it meets betas:

- ``direct_factor_shocks``: only what the scenario states; an unshocked style proxy is assumed to
  move with the market (spread 0), unshocked rates don't move.
- ``conditioned_factor_shocks``: unshocked proxies get their conditional mean given the shocked
  ones under a zero-mean Gaussian with the proxies' return covariance. A factor *stated* as 0.0 is
  a shock like any other: its proxy is held still (a 0 % total return) and conditions the others —
  it is not filled (catalog version 2 holds the market at 0.0 in its two rotation scenarios, so
  "small caps outperform 10 %" is IWM +10 % against a flat SPY, not a broad rally). Conditioning is done in
  **proxy space** because that is where the catalog's numbers live: "value −30 %" is a statement
  about VTV's total return, and VTV's co-movement with SPY, USMV, TLT… is what the historical
  covariance of proxy returns measures. The conditioned proxy returns are then converted to
  spreads exactly like observed data, so the betas see inputs of the kind they were fitted on.

There is no correlation "cascade" on top of the betas (the original double-counted), no loss cap
and no clipping: a short book can lose more than its value. Prices cannot go below zero: a linear
return under −50 % continues exponentially (``scenarios.shocked_price_ratio``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from analytics.engines import volatility_index
from analytics.engines.book import PositionBook
from analytics.engines.factors import FactorSet
from analytics.engines.scenarios import option_repricing_pnl, shocked_price_ratio

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

VOL_SHIFT_KEY = "implied_vol_shift"
VOL_BUCKET = "implied_vol"


@dataclass(frozen=True)
class StressResult:
    """Stress P&L (currency, signed: loss < 0) of N positions under one scenario.

    - ``position_pnl``: (N,) total P&L per position.
    - ``factor_pnl``: DataFrame N × (K + 1): columns are the factors plus ``"implied_vol"``; each row
      sums to ``position_pnl``. Stocks: mv × β_k f_k × (ratio(R) − 1)/R, i.e. mv × β_k f_k while R ≥
      −50 % (``scenarios.shocked_price_ratio``). Options: the spot-driven part of the repriced P&L,
      [V(S·ratio(R), σ') − V(S, σ')] × q × m, allocated to factors in proportion to β_k f_k / R
      (R = Σ β_k f_k), and the vol-driven part [V(S, σ') − V(S, σ)] × q × m in ``implied_vol``.
    - ``factor_totals``: Series K + 1, column sums of ``factor_pnl``.
    - ``total``: Σ position_pnl.
    - ``underlying_return``: (N,) R per position — the linear return; the price moves by ratio(R) − 1.
    """

    position_pnl: FloatArray
    factor_pnl: pd.DataFrame
    factor_totals: pd.Series
    total: float
    underlying_return: FloatArray


def _check_keys(shocks: Mapping[str, float], factor_set: FactorSet) -> dict[str, float]:
    clean = {k: float(v) for k, v in shocks.items() if k != VOL_SHIFT_KEY}
    unknown = sorted(set(clean) - set(factor_set.names))
    if unknown:
        raise ValueError(f"unknown factors in scenario shocks: {unknown}")
    return clean


def proxy_shock_vector(shocks: Mapping[str, float], factor_set: FactorSet) -> pd.Series:
    """The scenario's stated shocks as proxy total returns (index = proxy symbols, shocked ones only).

    market → SPY, value → VTV, …, low_volatility → USMV (returns as given); interest_rate Δy →
    TLT return = −duration × Δy. An ``implied_vol_shift`` key, if present, is ignored here.
    """
    clean = _check_keys(shocks, factor_set)
    duration = factor_set.rate_duration
    data = {
        factor_set.proxy_of(name): (-duration * value if name == factor_set.rate else value)
        for name, value in clean.items()
    }
    return pd.Series(data, dtype=float)


def conditional_fill(known: pd.Series, cov: pd.DataFrame) -> pd.Series:
    """Fill every variable of ``cov`` not in ``known`` with E[x_u | x_k] = Σ_uk Σ_kk⁻¹ x_k.

    Zero-mean Gaussian with covariance ``cov`` (any horizon: the conditional mean does not depend on
    the covariance's scale). Σ_kk is inverted by least squares (pseudo-inverse), so a singular or
    near-singular block (two shocked proxies that move together) stays stable. Known entries are
    returned unchanged; the result is indexed like ``cov``.
    """
    names = list(cov.index)
    position = {name: i for i, name in enumerate(names)}
    missing = [k for k in known.index if k not in position]
    if missing:
        raise ValueError(f"known variables not in the covariance: {missing}")
    values = np.zeros(len(names))
    if known.empty:
        return pd.Series(values, index=names, dtype=float)
    # Positional numpy indexing (pandas' label lookups cost more than the algebra here): the same blocks of Σ.
    k_at = [position[k] for k in known.index]
    known_set = set(known.index)
    u_at = [i for i, name in enumerate(names) if name not in known_set]
    x_k = known.to_numpy(dtype=float)
    if u_at:
        sigma = cov.to_numpy(dtype=float)
        # Column-major, as pandas hands its blocks out: the same BLAS/LAPACK paths, so the same bits.
        s_kk = np.asfortranarray(sigma[np.ix_(k_at, k_at)])
        s_uk = np.asfortranarray(sigma[np.ix_(u_at, k_at)])
        weights = np.linalg.lstsq(s_kk, x_k, rcond=None)[0]  # Σ_kk⁻¹ x_k
        values[u_at] = s_uk @ weights
    values[k_at] = x_k
    return pd.Series(values, index=names, dtype=float)


def _proxy_to_factors(proxy: pd.Series, factor_set: FactorSet) -> pd.Series:
    market = proxy[factor_set.proxies[factor_set.market]]
    data = {factor_set.market: market}
    for style in factor_set.styles:
        data[style] = proxy[factor_set.proxies[style]] - market
    data[factor_set.rate] = proxy[factor_set.rate_proxy]
    return pd.Series(data, dtype=float)[list(factor_set.names)]


def direct_factor_shocks(shocks: Mapping[str, float], factor_set: FactorSet) -> pd.Series:
    """Model-factor shocks (index ``factor_set.names``) from the stated shocks only.

    market = market shock (0 if absent); style = style shock − market shock when the style is shocked,
    else 0 (its proxy is assumed to track the market); interest_rate = TLT return = −duration × Δy.
    """
    stated = proxy_shock_vector(shocks, factor_set)
    market = float(stated.get(factor_set.proxies[factor_set.market], 0.0))
    proxy = pd.Series(market, index=list(factor_set.proxy_symbols), dtype=float)
    proxy[factor_set.rate_proxy] = 0.0
    proxy.loc[stated.index] = stated
    return _proxy_to_factors(proxy, factor_set)


def conditioned_factor_shocks(shocks: Mapping[str, float], proxy_cov: pd.DataFrame, factor_set: FactorSet) -> pd.Series:
    """Model-factor shocks (index ``factor_set.names``) with unshocked proxies at their conditional mean.

    ``proxy_cov``: covariance of the proxies' simple daily returns (index/columns include SPY, VTV,
    VUG, MTUM, QUAL, IWM, USMV, TLT). Fill in proxy space, then market = SPY, style = ETF − SPY,
    interest_rate = TLT.
    """
    symbols = list(factor_set.proxy_symbols)
    cov = proxy_cov.loc[symbols, symbols]
    filled = conditional_fill(proxy_shock_vector(shocks, factor_set), cov)
    return _proxy_to_factors(filled, factor_set)


def stress_pnl(
    *,
    factor_shocks: pd.Series,
    betas: ArrayLike | pd.DataFrame,
    book: PositionBook,
    vol_shift: float | None = None,
    market_factor: str = "market",
) -> StressResult:
    """P&L of the N positions of ``book`` under factor shocks f (K), with the betas (N × K) of each
    position's price symbol (an option uses its underlying's betas; columns in ``factor_shocks``
    order, or a DataFrame whose columns are aligned to it). NaN betas count as 0 exposure to that factor.

    Stocks: mv × (ratio(R) − 1) with R = Σ_k β_k f_k — mv × R while R ≥ −50 %, then the
    exponential continuation of ``scenarios.shocked_price_ratio``, so no shocked price is ≤ 0;
    mv = quantity × price × multiplier (signed). Options: full repricing (``scenarios.option_value``)
    at spot × ratio(R), vol + ``vol_shift`` (floored at 0.01), years unchanged, minus the current model
    value, × quantity × multiplier.

    ``vol_shift`` is the scenario's implied-vol shift as stated (None: it states none, 0 for the
    options). A volatility index (``book.vol_index``) is not moved by its betas: its level is
    ``volatility_index.shocked_level`` — V + 100 × ``vol_shift`` when the scenario states one (its P&L
    then goes to ``implied_vol``), else moved by the market factor's shock through the index's
    log-level sensitivity (its P&L goes to the market factor, named ``market_factor`` in
    ``factor_shocks``); its options keep their own vol.
    """
    names = list(factor_shocks.index)
    if isinstance(betas, pd.DataFrame):
        b = betas.reindex(columns=names).to_numpy(dtype=float)
    else:
        b = np.asarray(betas, dtype=float)
    b = np.atleast_2d(np.nan_to_num(b, nan=0.0))
    f = factor_shocks.to_numpy(dtype=float)
    n = b.shape[0]
    on_index = book.on_vol_index
    contrib = np.where(on_index[:, None], 0.0, b * f[None, :])  # N × K: β_k f_k
    r = contrib.sum(axis=1)
    # The price moves by shocked_price_ratio(R) − 1: R itself down to −50 %, then exponentially
    # (never to 0). Each factor keeps its share β_k f_k / R of the move.
    ratio = shocked_price_ratio(r)
    index_rows = np.flatnonzero(on_index)
    if index_rows.size:
        market = float(factor_shocks.get(market_factor, 0.0))
        level = book.spot[index_rows]
        stated = np.full(level.shape, np.nan if vol_shift is None else float(vol_shift))
        with np.errstate(invalid="ignore", divide="ignore"):
            shocked = volatility_index.shocked_level(level=level, market_return=market, vol_shift=stated)
            ratio[index_rows] = shocked / level
        # A volatility index's move is the market's (or the stated vol shift's), not its betas'.
        r[index_rows] = ratio[index_rows] - 1.0
        if vol_shift is None and market_factor in names:
            contrib[index_rows, names.index(market_factor)] = r[index_rows]
    moved = ratio - 1.0
    nonzero = np.abs(r) > 1e-14
    scale = np.where(nonzero, moved / np.where(nonzero, r, 1.0), 1.0)

    factor_part = np.where(book.is_option[:, None], 0.0, book.market_value[:, None] * contrib * scale[:, None])
    vol_part = np.zeros(n)
    index_by_vol = on_index & (vol_shift is not None)
    vol_part = np.where(index_by_vol & ~book.is_option, book.market_value * moved, vol_part)
    shift = 0.0 if vol_shift is None else float(vol_shift)
    if book.is_option.any():
        sel, options = book.options()
        # A volatility-index option keeps its own vol: the stated shift moves the index level instead.
        own_shift = np.where(options.on_vol_index, 0.0, shift)
        shifted_vol = np.where(options.on_vol_index, options.vol, np.maximum(options.vol + shift, 0.01))
        shifted = replace(options, vol=shifted_vol)
        # Vol-only part: V(S, σ') − V(S, σ); spot-driven part: V(S·ratio, σ') − V(S, σ').
        vol_only = option_repricing_pnl(options=options, vol_shift=own_shift)
        spot_driven = option_repricing_pnl(options=shifted, spot_ratio=ratio[sel])
        # Allocate the spot-driven P&L across factors in proportion to β_k f_k / R. When R is ~0 the
        # spot-driven P&L is ~0 too, so nothing is allocated.
        r_sel = r[sel]
        safe = np.abs(r_sel) > 1e-14
        share = np.where(safe[:, None], contrib[sel] / np.where(safe, r_sel, 1.0)[:, None], 0.0)
        by_vol = index_by_vol[sel]
        factor_part[sel] = np.where(by_vol[:, None], 0.0, share * spot_driven[:, None])
        vol_part[sel] = vol_only + np.where(safe & ~by_vol, 0.0, spot_driven)
    breakdown = pd.DataFrame(np.column_stack([factor_part, vol_part]), columns=[*names, VOL_BUCKET])
    position = breakdown.to_numpy().sum(axis=1)
    return StressResult(
        position_pnl=position,
        factor_pnl=breakdown,
        factor_totals=breakdown.sum(axis=0),
        total=float(position.sum()),
        underlying_return=r,
    )


def stress_pnl_scenarios(
    *,
    factor_shocks: npt.NDArray[np.float64],
    factor_names: Sequence[str],
    betas: ArrayLike,
    book: PositionBook,
    vol_shifts: Sequence[float | None],
    market_factor: str = "market",
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """:func:`stress_pnl` of S scenarios at once: ``factor_shocks`` S × K (columns ``factor_names``), one
    stated vol shift (or None) per scenario. Returns (position P&L S × N, per-factor P&L S × N × (K + 1), the
    last column the ``implied_vol`` bucket) — row s equals ``stress_pnl`` of scenario s, the same conventions,
    computed in one pass over arrays instead of one call per scenario (options repriced S × N at once)."""
    names = list(factor_names)
    f = np.atleast_2d(np.asarray(factor_shocks, dtype=float))
    b = np.atleast_2d(np.nan_to_num(np.asarray(betas, dtype=float), nan=0.0))
    n_scenarios = f.shape[0]
    stated = np.array([np.nan if v is None else float(v) for v in vol_shifts], dtype=float)
    has_shift = ~np.isnan(stated)
    on_index = book.on_vol_index
    contrib = b[None, :, :] * f[:, None, :]  # S × N × K; a volatility index takes no factor move:
    contrib[:, on_index, :] = 0.0
    r = contrib.sum(axis=2)
    ratio = shocked_price_ratio(r)
    index_rows = np.flatnonzero(on_index)
    if index_rows.size:
        market = f[:, names.index(market_factor)] if market_factor in names else np.zeros(n_scenarios)
        level = book.spot[index_rows]
        with np.errstate(invalid="ignore", divide="ignore"):
            shocked = volatility_index.shocked_level(
                level=level[None, :], market_return=market[:, None], vol_shift=stated[:, None]
            )
            ratio[:, index_rows] = shocked / level[None, :]
        r[:, index_rows] = ratio[:, index_rows] - 1.0
        if market_factor in names:
            column = names.index(market_factor)
            by_market = np.flatnonzero(~has_shift)
            contrib[np.ix_(by_market, index_rows, np.array([column]))] = r[np.ix_(by_market, index_rows)][:, :, None]
    moved = ratio - 1.0
    nonzero = np.abs(r) > 1e-14
    scale = np.where(nonzero, moved / np.where(nonzero, r, 1.0), 1.0)
    # The per-factor P&L and the vol bucket written into one S × N × (K + 1) array (no copy to join them); an
    # option's columns are replaced below, so the stocks' formula is written over every column first.
    breakdown = np.empty((n_scenarios, len(book), len(names) + 1))
    factor_part, vol_part = breakdown[:, :, :-1], breakdown[:, :, -1]
    np.multiply(book.market_value[None, :, None], contrib, out=factor_part)
    factor_part *= scale[:, :, None]
    index_by_vol = on_index[None, :] & has_shift[:, None]  # S × N
    vol_part[...] = np.where(index_by_vol & ~book.is_option[None, :], book.market_value[None, :] * moved, 0.0)
    shift = np.nan_to_num(stated)
    if book.is_option.any():
        sel, options = book.options()
        own_shift = np.where(options.on_vol_index[None, :], 0.0, shift[:, None])  # S × n
        shifted_vol = np.where(
            options.on_vol_index[None, :], options.vol[None, :], np.maximum(options.vol[None, :] + shift[:, None], 0.01)
        )
        shifted = replace(options, vol=shifted_vol)
        vol_only = option_repricing_pnl(options=options, vol_shift=own_shift)
        spot_driven = option_repricing_pnl(options=shifted, spot_ratio=ratio[:, sel])
        r_sel = r[:, sel]
        safe = np.abs(r_sel) > 1e-14
        share = np.where(safe[:, :, None], contrib[:, sel, :] / np.where(safe, r_sel, 1.0)[:, :, None], 0.0)
        by_vol = index_by_vol[:, sel]
        factor_part[:, sel, :] = np.where(by_vol[:, :, None], 0.0, share * spot_driven[:, :, None])
        vol_part[:, sel] = vol_only + np.where(safe & ~by_vol, 0.0, spot_driven)
    return breakdown.sum(axis=2), breakdown


def scenario_factor_shocks(
    scenarios: Sequence[Mapping[str, float]], *, factor_set: FactorSet, proxy_cov: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Factor shocks of many scenarios at once (rows = scenarios, columns = ``factor_set.names``):
    conditioned when ``proxy_cov`` is given, else direct."""
    rows = [
        direct_factor_shocks(s, factor_set)
        if proxy_cov is None
        else conditioned_factor_shocks(s, proxy_cov, factor_set)
        for s in scenarios
    ]
    return pd.DataFrame(rows, columns=list(factor_set.names)).reset_index(drop=True)
