"""Ex-ante risk of a book from a factor model: total, factor and specific volatility with Euler
contributions per factor and per position, and tracking error against a benchmark.

Conventions: exposures are **dollar** exposures (USD per unit of return): position i's exposure to
factor k is x_ik = e_i β_ik, with e_i its delta exposure (market value for a stock, dollar delta
for an option) and β its price symbol's factor betas. The factor covariance Σ (K × K) and the
specific covariance D (N × N: e_i e_j s_i s_j for positions on one symbol, which share one
idiosyncratic shock, else 0; ``var.specific_covariance``) are **daily**; every figure returned is
**annualised** by √``periods_per_year`` (252). Volatilities are in USD (one standard deviation of a
year's P&L).

With X the portfolio's factor exposure (Σ_i x_i):

- total variance V = Xᵀ Σ X + 1ᵀ D 1, split into factor Xᵀ Σ X and specific 1ᵀ D 1;
- factor k's Euler contribution to the vol: X_k (Σ X)_k / σ (they sum to the factor variance / σ);
- position i's marginal risk ∂σ/∂e_i = (β_iᵀ Σ X + (D 1)_i / e_i) / σ (USD of vol per USD of
  exposure) and its component risk e_i × marginal = (x_iᵀ Σ X + (D 1)_i) / σ;
  the components sum to σ, and the factor contributions plus the specific variance / σ sum to σ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
PERIODS_PER_YEAR = 252


@dataclass(frozen=True)
class RiskDecomposition:
    """Annualised USD volatilities and their Euler contributions.

    ``factor_contribution`` (K,) and ``specific_contribution`` sum to ``total_vol``; so do
    ``component`` (N,). ``marginal`` (N,) is USD of vol per USD of delta exposure (NaN where the
    exposure is 0). ``factor_exposure`` (K,) is X in USD.
    """

    total_vol: float
    factor_vol: float
    specific_vol: float
    factor_exposure: FloatArray
    factor_contribution: FloatArray
    specific_contribution: float
    marginal: FloatArray
    component: FloatArray
    component_factor: FloatArray
    component_specific: FloatArray


def decompose(
    *,
    delta_exposure: npt.ArrayLike,
    betas: npt.ArrayLike,
    factor_cov: npt.ArrayLike,
    specific_cov: npt.ArrayLike,
    periods_per_year: int = PERIODS_PER_YEAR,
) -> RiskDecomposition:
    """The decomposition of a book of N positions on K factors (see the module docstring).

    ``delta_exposure`` (N,) USD; ``betas`` (N × K), rows of NaN count as no factor exposure;
    ``factor_cov`` (K × K) daily; ``specific_cov`` (N × N) daily USD², or (N,) independent variances."""
    e = np.nan_to_num(np.asarray(delta_exposure, dtype=float))
    b = np.atleast_2d(np.nan_to_num(np.asarray(betas, dtype=float)))
    cov = np.atleast_2d(np.asarray(factor_cov, dtype=float))
    spec = np.asarray(specific_cov, dtype=float)
    d1 = spec if spec.ndim == 1 else spec.sum(axis=1)  # (D 1)_i
    x = e[:, None] * b  # N × K dollar exposures
    exposure = x.sum(axis=0)
    sigma_x = cov @ exposure
    factor_var = float(exposure @ sigma_x)
    specific_var = float(d1.sum())
    scale = math.sqrt(periods_per_year)
    total_var = max(factor_var + specific_var, 0.0)
    total = math.sqrt(total_var)
    # Euler pieces on the daily scale divided by the daily σ, then annualised: (·)/σ_d × √252.
    per_factor = exposure * sigma_x
    comp_factor = x @ sigma_x
    if total > 0:
        factor_contribution = per_factor / total * scale
        component_factor = comp_factor / total * scale
        component_specific = d1 / total * scale
        specific_contribution = specific_var / total * scale
    else:
        factor_contribution = np.zeros_like(exposure)
        component_factor = np.zeros_like(e)
        component_specific = np.zeros_like(e)
        specific_contribution = 0.0
    component = component_factor + component_specific
    with np.errstate(divide="ignore", invalid="ignore"):
        marginal = np.where(e != 0, component / e, np.nan)
    return RiskDecomposition(
        total_vol=total * scale,
        factor_vol=math.sqrt(max(factor_var, 0.0)) * scale,
        specific_vol=math.sqrt(max(specific_var, 0.0)) * scale,
        factor_exposure=exposure,
        factor_contribution=factor_contribution,
        specific_contribution=specific_contribution,
        marginal=marginal,
        component=component,
        component_factor=component_factor,
        component_specific=component_specific,
    )


@dataclass(frozen=True)
class TrackingError:
    """Ex-ante tracking error (annualised, as a fraction of the portfolio's value) and its pieces.

    ``active_beta`` (K,): portfolio betas (exposure / value) minus the benchmark's betas.
    ``factor_contribution`` (K,) and ``specific_contribution`` sum to ``tracking_error``.
    """

    tracking_error: float
    factor_te: float
    specific_te: float
    portfolio_beta: FloatArray
    benchmark_beta: FloatArray
    active_beta: FloatArray
    factor_contribution: FloatArray
    specific_contribution: float


def tracking_error(
    *,
    delta_exposure: npt.ArrayLike,
    betas: npt.ArrayLike,
    specific_cov: npt.ArrayLike,
    value: float,
    symbols: npt.ArrayLike,
    benchmark_symbol: str,
    benchmark_betas: npt.ArrayLike,
    benchmark_residual_vol: float,
    factor_cov: npt.ArrayLike,
    periods_per_year: int = PERIODS_PER_YEAR,
) -> TrackingError:
    """Ex-ante tracking error of a book worth ``value`` (USD, > 0) against holding ``value`` of the benchmark.

    Active return a = r_p − r_b with r_p = Σ_i e_i r_i / value. In the factor model
    r_i = β_iᵀ f + ε_i, so a = (β_p − β_b)ᵀ f + Σ_i w_i ε_i − ε_b, w_i = e_i / value. The benchmark's
    own residual ε_b is a shock of its symbol: positions on that symbol share it (a book that holds
    the benchmark tracks it exactly). Active specific variance: wᵀ D_w w − 2 w_bench s_b² + s_b²,
    where w_bench is the book's weight in the benchmark symbol. TE = √(active variance × 252).
    Factor k's contribution: a_k (Σ a)_k / TE_d, specific: specific variance / TE_d (annualised).
    """
    if not value > 0:
        raise ValueError("tracking error needs a positive portfolio value")
    e = np.nan_to_num(np.asarray(delta_exposure, dtype=float))
    b = np.atleast_2d(np.nan_to_num(np.asarray(betas, dtype=float)))
    cov = np.atleast_2d(np.asarray(factor_cov, dtype=float))
    spec = np.asarray(specific_cov, dtype=float)
    bench = np.asarray(benchmark_betas, dtype=float)
    s_b = float(benchmark_residual_vol) if math.isfinite(benchmark_residual_vol) else 0.0
    w = e / value
    portfolio_beta = w @ b
    active = portfolio_beta - bench
    sigma_a = cov @ active
    factor_var = float(active @ sigma_a)
    own_specific = float(spec.sum()) / value**2  # 1ᵀ D 1 (or Σ of independent variances), in weights
    w_bench = float(w[np.asarray(symbols) == benchmark_symbol].sum())
    specific_var = max(own_specific - 2.0 * w_bench * s_b**2 + s_b**2, 0.0)
    total_d = math.sqrt(max(factor_var + specific_var, 0.0))
    scale = math.sqrt(periods_per_year)
    if total_d > 0:
        factor_contribution = active * sigma_a / total_d * scale
        specific_contribution = specific_var / total_d * scale
    else:
        factor_contribution = np.zeros_like(active)
        specific_contribution = 0.0
    return TrackingError(
        tracking_error=total_d * scale,
        factor_te=math.sqrt(max(factor_var, 0.0)) * scale,
        specific_te=math.sqrt(specific_var) * scale,
        portfolio_beta=portfolio_beta,
        benchmark_beta=bench,
        active_beta=active,
        factor_contribution=factor_contribution,
        specific_contribution=specific_contribution,
    )
