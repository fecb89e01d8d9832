"""One-day Value at Risk and Expected Shortfall, historical and parametric, with Euler components.

Conventions: P&L is in currency, signed (loss < 0). VaR and ES are reported as **positive loss
numbers** (a VaR of 12,000 means a 1-day loss of 12,000 is exceeded with probability 1 − c).
Components are per position, in currency, and sum exactly to the totals.

Historical quantile convention: with S scenarios sorted from worst to best portfolio P&L, the tail is
the k = ceil(S × (1 − c)) worst scenarios (at least 1). VaR = −(P&L of the k-th worst); ES = mean
loss of those k scenarios (so ES ≥ VaR). Ties are broken by a stable sort on scenario order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri  # the standard normal quantile; scipy.stats costs 0.6 s to import

from analytics.engines.book import PositionBook
from analytics.engines.scenarios import option_repricing_pnl, shocked_price_ratio

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

CONFIDENCE_LEVELS: tuple[float, ...] = (0.95, 0.99)


@dataclass(frozen=True)
class VarResult:
    """VaR/ES (positive losses, currency) and their per-position components (N,), summing to them."""

    var: float
    es: float
    component_var: FloatArray
    component_es: FloatArray
    confidence: float
    method: str
    tail_size: int = 0  # historical: number of tail scenarios k
    sigma: float = float("nan")  # parametric: portfolio 1-day P&L standard deviation


def _check_confidence(confidence: float) -> None:
    if not 0.5 < confidence < 1.0:
        raise ValueError("confidence must be in (0.5, 1)")


def tail_size(n_scenarios: int, confidence: float) -> int:
    """k = ceil(S × (1 − c)), at least 1 (guarding against float noise such as 250 × 0.05 = 12.500000001)."""
    return max(1, math.ceil(round(n_scenarios * (1.0 - confidence), 9)))


def worst_order(total: ArrayLike, m: int) -> npt.NDArray[np.intp]:
    """The first ``m`` of ``np.argsort(total, kind="stable")`` (worst P&L first, ties in scenario order), without
    sorting the rest: the m smallest found by a partition, then only they sorted (ties at the cut taken in
    scenario order, as the stable sort takes them). NaN sorts last, as in ``np.sort``."""
    values = np.asarray(total, dtype=float)
    n = values.shape[0]
    m = max(0, min(int(m), n))
    if m == 0:
        return np.empty(0, dtype=np.intp)
    if m >= n or np.isnan(values).any():
        return np.argsort(values, kind="stable")[:m].astype(np.intp)
    cut = np.partition(values, m - 1)[m - 1]
    below = np.flatnonzero(values < cut)
    at_cut = np.flatnonzero(values == cut)[: m - below.size]
    chosen = np.concatenate([below, at_cut])
    return chosen[np.argsort(values[chosen], kind="stable")].astype(np.intp)


def euler_components(*, smoothed: FloatArray, raw: FloatArray, var: float) -> FloatArray:
    """Per-position VaR contributions (USD) that sum to ``var``: the kernel-smoothed tail losses ``smoothed``
    scaled to the VaR (Euler allocation); the VaR scenario's own losses ``raw`` when the smoothed sum cannot
    be scaled (zero, or of the other sign than the VaR)."""
    denom = smoothed.sum()
    scale = max(abs(var), float(np.abs(raw).sum()), 1e-12)
    if var != 0 and denom * var > 0 and abs(denom) > 1e-9 * scale:
        return smoothed * (var / denom)
    return raw.copy()


def historical_var(
    position_pnl: ArrayLike,
    *,
    confidence: float,
    kernel_half_width: int | None = None,
) -> VarResult:
    """Historical VaR/ES from per-position P&L (S scenarios × N positions), 1-day.

    Portfolio P&L per scenario = row sum. VaR and ES follow the module's quantile convention.
    Component ES_i = mean over the tail scenarios of −pnl_i (sums exactly to ES).
    Component VaR_i = a triangular-kernel average of −pnl_i over the scenarios ranked within
    ``kernel_half_width`` of the VaR scenario (default max(1, round(0.01 S))), rescaled so that the
    components sum exactly to VaR — less noisy than the single VaR scenario. If that average does not
    have a usable sum (near zero or of the other sign), the VaR scenario's own P&L is used.
    Non-finite P&L raises ValueError: the caller must decide how to treat missing data.
    """
    _check_confidence(confidence)
    pnl = np.asarray(position_pnl, dtype=float)
    if pnl.ndim != 2 or pnl.shape[0] == 0:
        raise ValueError("position_pnl must be a non-empty (scenarios × positions) array")
    if not np.isfinite(pnl).all():
        raise ValueError("position_pnl contains non-finite values")
    s = pnl.shape[0]
    total = pnl.sum(axis=1)
    order = np.argsort(total, kind="stable")  # worst first
    k = tail_size(s, confidence)
    var_row = order[k - 1]
    var = -float(total[var_row])
    tail = order[:k]
    es = -float(total[tail].mean())
    component_es = -pnl[tail].mean(axis=0)

    h = max(1, round(0.01 * s)) if kernel_half_width is None else max(0, kernel_half_width)
    ranks = np.arange(max(0, k - 1 - h), min(s, k + h))
    weights = (h + 1.0) - np.abs(ranks - (k - 1))
    smoothed = -(weights[:, None] * pnl[order[ranks]]).sum(axis=0) / weights.sum()
    component_var = euler_components(smoothed=smoothed, raw=-pnl[var_row], var=var)
    return VarResult(
        var=var,
        es=es,
        component_var=component_var,
        component_es=component_es,
        confidence=confidence,
        method="historical",
        tail_size=k,
    )


def parametric_var(
    *,
    exposures: ArrayLike,
    factor_cov: ArrayLike,
    specific_var: ArrayLike | None,
    confidence: float,
) -> VarResult:
    """Normal (delta) VaR/ES with zero mean over 1 day from dollar factor exposures.

    - ``exposures``: (N × K) dollar exposure of each position to each factor (e.g. mv × β for a
      stock, dollar delta × the underlying's β for an option).
    - ``factor_cov``: (K × K) covariance of daily factor returns.
    - ``specific_var``: daily dollar variance of idiosyncratic P&L, either (N,) — independent across
      positions — or an (N × N) covariance (use ``specific_covariance`` when several positions share
      one underlying, whose idiosyncratic moves are the same shock); None for factor risk only.

    σ_p² = x_pᵀ Σ x_p + 1ᵀ D 1 with x_p = Σ_i x_i; VaR = z_c σ_p; ES = σ_p φ(z_c)/(1 − c).
    Euler components: VaR_i = z_c (x_iᵀ Σ x_p + (D 1)_i)/σ_p, ES_i = φ(z_c)/(1 − c) × the same
    marginal; both sum exactly to the totals.
    """
    _check_confidence(confidence)
    x = np.atleast_2d(np.asarray(exposures, dtype=float))
    cov = np.atleast_2d(np.asarray(factor_cov, dtype=float))
    n = x.shape[0]
    x_p = x.sum(axis=0)
    marginal = x @ (cov @ x_p)  # x_iᵀ Σ x_p
    if specific_var is not None:
        spec = np.asarray(specific_var, dtype=float)
        marginal = marginal + (spec if spec.ndim == 1 else spec.sum(axis=1))
    variance = float(marginal.sum())
    sigma = math.sqrt(max(variance, 0.0))
    z = float(ndtri(confidence))
    es_factor = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi) / (1.0 - confidence)
    unit = marginal / sigma if sigma > 0 else np.zeros(n)
    return VarResult(
        var=z * sigma,
        es=es_factor * sigma,
        component_var=z * unit,
        component_es=es_factor * unit,
        confidence=confidence,
        method="parametric",
        sigma=sigma,
    )


def specific_covariance(*, dollar_exposure: ArrayLike, residual_vol: ArrayLike, group: ArrayLike) -> FloatArray:
    """(N × N) daily dollar covariance of idiosyncratic P&L.

    ``dollar_exposure`` (N): exposure to the price symbol's own return (mv for a stock, dollar delta
    for an option); ``residual_vol`` (N): that symbol's daily residual vol from the factor fit;
    ``group`` (N): the symbol. Positions in one group share one idiosyncratic shock, so a stock and a
    hedging put on it offset: C_ij = e_i e_j σ_i σ_j if group_i == group_j else 0.
    """
    e = np.asarray(dollar_exposure, dtype=float) * np.asarray(residual_vol, dtype=float)
    g = np.asarray(group)
    if g.size and all(isinstance(value, str) for value in g.tolist()):
        # Symbols compared as integer codes: the same pairs, without N² comparisons of Python strings.
        g = np.unique(g, return_inverse=True)[1].reshape(-1)
    same = g[:, None] == g[None, :]
    return np.where(same, np.outer(e, e), 0.0)


def historical_position_pnl(
    *, returns: ArrayLike, book: PositionBook, option_vol_ratio: ArrayLike | None = None
) -> FloatArray:
    """Revalue today's positions under each historical day's returns → P&L (S × N), currency.

    ``returns``: (S × N) simple daily return of each position's price symbol (the underlying for an
    option) on each historical day. ``option_vol_ratio``: (S × the book's options, in their row order) the
    day's implied-vol change of each option as a ratio σ_t / σ_{t−1} (1 or NaN = unchanged; None: vols held):
    the option is revalued at today's vol × that ratio — a relative (sticky-strike) vol move, never below 1 vol
    point.
    Stocks: mv × r. Options: full repricing (``scenarios.option_value``: BSM, Black-76 on the forward
    for a volatility index, intrinsic at expiry) at spot × (1 + r) (an index exactly; other
    underlyings through ``shocked_price_ratio``, which is 1 + r down to −50 %), years, rate unchanged
    (an instantaneous move), minus the current model value, × quantity × multiplier. NaN returns give
    NaN P&L (handled by the caller).
    """
    r = np.atleast_2d(np.asarray(returns, dtype=float))
    out = book.market_value[None, :] * r  # the options' columns are replaced below
    if book.is_option.any():
        rows, options = book.options()
        moves = r[:, rows]
        ratio = np.where(options.on_vol_index[None, :], 1.0 + moves, shocked_price_ratio(moves))
        vol_shift: FloatArray | float = 0.0
        if option_vol_ratio is not None:
            vr = np.asarray(option_vol_ratio, dtype=float).reshape(r.shape[0], rows.size)
            vol_shift = options.vol[None, :] * (np.where(np.isfinite(vr), vr, 1.0) - 1.0)
        out[:, rows] = option_repricing_pnl(options=options, spot_ratio=ratio, vol_shift=vol_shift)
    return out
