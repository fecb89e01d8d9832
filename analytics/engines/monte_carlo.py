"""Monte Carlo 1-day VaR/ES from the factor model, every option fully repriced on every path.

Paths (``simulate_symbol_returns``): factor returns f ~ N(0, Σ) (Σ the daily factor covariance) or a
multivariate Student-t with ν degrees of freedom scaled to the same covariance
(f = L z × √((ν − 2)/W), W ~ χ²_ν, one W per path); each symbol's 1-day simple return
r_u = β_uᵀ f + ε_u with an independent specific shock ε_u ~ N(0, s_u²) (or a unit-variance Student-t
× s_u). Reproducible: the factor draws come from ``seed``, each symbol's shocks from a generator
seeded by (``seed``, CRC-32 of the symbol), so a symbol's path does not depend on which other
symbols are simulated with it (a portfolio gets the same numbers in any chunk of the batch).
Because the draws depend on nothing but the seed, the settings and the symbol, a caller that simulates
again for the same day may pass ``draws`` (a dict it keeps): the factor paths L z and each symbol's
unit shocks are then drawn once and reused, bit for bit the numbers a fresh draw gives.

Revaluation (``path_pnl``): stocks mv × r; options fully repriced (``var.historical_position_pnl``:
Black–Scholes–Merton, Black-76 on the forward for a volatility index, intrinsic at expiry) at
spot × (1 + r), implied vols and time unchanged (an instantaneous move). A symbol without betas
moves by its specific shock only; without a residual vol, by its factor part only.

VaR/ES follow ``analytics.engines.var``'s quantile convention (k = ceil(P × (1 − c)) worst paths, VaR
the k-th worst loss, ES their mean) with per-position Euler components that sum to the totals.

Simulation error (``bootstrap_intervals``): a Poisson bootstrap (each path re-weighted by an
independent Poisson(1) count, B = 200 replicates) of the VaR and ES, from the sorted losses of the
worst paths only; the 2.5–97.5 % percentile interval and the replicates' standard deviation are reported.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from analytics.engines.book import PositionBook
from analytics.engines.var import historical_position_pnl, tail_size

FloatArray = npt.NDArray[np.float64]
Distribution = Literal["normal", "student_t"]
DISTRIBUTIONS: tuple[Distribution, ...] = ("normal", "student_t")
DEFAULT_PATHS = 10_000
BOOTSTRAP_REPLICATES = 200


def _t_scale(rng: np.random.Generator, n: int, dof: float) -> FloatArray:
    """√((ν − 2)/W), W ~ χ²_ν: multiplies a standard normal into a unit-variance Student-t."""
    return np.sqrt((dof - 2.0) / rng.chisquare(dof, size=n))


def simulate_symbol_returns(
    *,
    symbols: list[str],
    betas: npt.ArrayLike,
    residual_vol: npt.ArrayLike,
    factor_cov: npt.ArrayLike,
    paths: int = DEFAULT_PATHS,
    distribution: Distribution = "normal",
    dof: float = 5.0,
    seed: int = 0,
    draws: dict[Any, FloatArray] | None = None,
) -> FloatArray:
    """Simulated 1-day simple returns (paths × symbols) of ``symbols`` (see the module docstring).

    ``betas`` (U × K) and ``residual_vol`` (U,, daily) of each symbol; NaN betas count as 0 (no factor
    move), a NaN residual vol as 0. ``draws``: a cache of the random draws (factor paths per covariance,
    unit shocks per symbol, keyed with the seed and settings), filled and reused; the returns are the
    same with or without it."""
    if paths < 1:
        raise ValueError("paths must be at least 1")
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {', '.join(DISTRIBUTIONS)}")
    if distribution == "student_t" and not dof > 2:
        raise ValueError("Student-t degrees of freedom must be above 2 (finite variance)")
    cov = np.atleast_2d(np.asarray(factor_cov, dtype=float))
    k = cov.shape[0]
    settings_key = (paths, distribution, float(dof) if distribution == "student_t" else None, seed)
    factor_key = ("factors", settings_key, cov.shape, cov.tobytes())
    factors = draws.get(factor_key) if draws is not None else None
    if factors is None:
        # Cholesky of Σ; a semi-definite Σ (e.g. a collinear window) through its eigen-decomposition.
        try:
            root = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            values, vectors = np.linalg.eigh(cov)
            root = vectors * np.sqrt(np.clip(values, 0.0, None))
        rng = np.random.default_rng([seed, 0])
        z = rng.standard_normal((paths, k))
        factors = z @ root.T
        if distribution == "student_t":
            factors *= _t_scale(rng, paths, dof)[:, None]
        if draws is not None:
            factors.setflags(write=False)
            draws[factor_key] = factors
    b = np.nan_to_num(np.atleast_2d(np.asarray(betas, dtype=float)).reshape(len(symbols), k))
    s = np.nan_to_num(np.asarray(residual_vol, dtype=float))
    # Specific shocks drawn symbol by symbol into rows (contiguous), added once as their transpose.
    shocks = np.zeros((len(symbols), paths))
    for j, symbol in enumerate(symbols):
        if s[j] <= 0:
            continue
        unit = draws.get(("shock", settings_key, symbol)) if draws is not None else None
        if unit is None:
            own = np.random.default_rng([seed, 1, zlib.crc32(symbol.encode())])
            unit = own.standard_normal(paths)
            if distribution == "student_t":
                unit *= _t_scale(own, paths, dof)
            if draws is not None:
                unit.setflags(write=False)
                draws[("shock", settings_key, symbol)] = unit
        np.multiply(unit, s[j], out=shocks[j])
    return factors @ b.T + shocks.T


def path_pnl(*, returns: npt.ArrayLike, book: PositionBook) -> FloatArray:
    """P&L (paths × positions, USD) of ``book`` with each position's price symbol moving by ``returns``
    (paths × positions, already gathered per position); options fully repriced."""
    pnl = historical_position_pnl(returns=returns, book=book)
    return np.where(np.isfinite(pnl), pnl, 0.0)


@dataclass(frozen=True)
class BootstrapInterval:
    """Percentile interval (USD, positive losses) and standard deviation of the bootstrap replicates."""

    var_low: float
    var_high: float
    var_se: float
    es_low: float
    es_high: float
    es_se: float


@lru_cache(maxsize=16)
def _poisson_counts(seed: int, replicates: int, m: int) -> FloatArray:
    """The bootstrap's Poisson(1) counts (replicates × m) from seed (``seed``, 2): a function of its arguments
    only, so drawn once per process (read-only)."""
    counts = np.random.default_rng([seed, 2]).poisson(1.0, size=(replicates, m)).astype(float)
    counts.setflags(write=False)
    return counts


def bootstrap_intervals(
    portfolio_pnl: npt.ArrayLike,
    *,
    confidences: tuple[float, ...],
    replicates: int = BOOTSTRAP_REPLICATES,
    level: float = 0.95,
    seed: int = 0,
) -> dict[float, BootstrapInterval]:
    """Poisson-bootstrap intervals of the VaR and ES of ``portfolio_pnl`` (P paths) at each confidence.

    Each replicate weights every path by a Poisson(1) count (one draw serves every confidence); its
    tail is the k = ceil(P (1 − c)) worst counted paths (k fixed by P), its VaR the loss where the
    cumulative count reaches k and its ES the count-weighted mean loss of those k. Only the worst
    m = min(P, k + 6√k + 50) paths (k of the lowest confidence) are drawn for — the m worst carry m ± √m
    counts, so fewer than k is a 6-sigma event; should any replicate fall short, every path is redrawn."""
    pnl = np.asarray(portfolio_pnl, dtype=float)
    p = pnl.shape[0]
    k_max = max(tail_size(p, c) for c in confidences)
    m = min(p, k_max + math.ceil(6 * math.sqrt(k_max)) + 50)  # 6 sd of a replicate's count above k
    losses = -np.partition(pnl, m - 1)[:m] if m < p else -pnl
    losses = np.sort(losses)[::-1]  # the m worst, worst first, as positive losses
    counts = _poisson_counts(seed, replicates, m)
    if m < p and (counts.sum(axis=1) < k_max).any():
        rng = np.random.default_rng([seed, 2])
        rng.poisson(1.0, size=(replicates, m))  # the draws above, skipped: the stream goes on after them
        losses = np.sort(-pnl)[::-1]
        counts = rng.poisson(1.0, size=(replicates, p)).astype(float)
    cumulative = np.cumsum(counts, axis=1)
    weighted = np.cumsum(counts * losses[None, :], axis=1)
    rows = np.arange(replicates)
    alpha = (1.0 - level) / 2.0
    out = {}
    for confidence in confidences:
        k = tail_size(p, confidence)
        position = np.argmax(cumulative >= k, axis=1)  # each replicate's k-th worst path
        var = losses[position]
        previous = position - 1
        before = np.where(position > 0, cumulative[rows, np.maximum(previous, 0)], 0.0)
        above = np.where(position > 0, weighted[rows, np.maximum(previous, 0)], 0.0)
        es = (above + (k - before) * var) / k
        var_low, var_high = np.quantile(var, [alpha, 1.0 - alpha])
        es_low, es_high = np.quantile(es, [alpha, 1.0 - alpha])
        out[confidence] = BootstrapInterval(
            var_low=float(var_low),
            var_high=float(var_high),
            var_se=float(var.std(ddof=1)) if replicates > 1 else math.nan,
            es_low=float(es_low),
            es_high=float(es_high),
            es_se=float(es.std(ddof=1)) if replicates > 1 else math.nan,
        )
    return out


def bootstrap_interval(
    portfolio_pnl: npt.ArrayLike,
    *,
    confidence: float,
    replicates: int = BOOTSTRAP_REPLICATES,
    level: float = 0.95,
    seed: int = 0,
) -> BootstrapInterval:
    """``bootstrap_intervals`` at one confidence."""
    return bootstrap_intervals(portfolio_pnl, confidences=(confidence,), replicates=replicates, level=level, seed=seed)[
        confidence
    ]
