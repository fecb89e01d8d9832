"""Covariance estimators of daily returns: equal-weighted, EWMA (RiskMetrics) and Ledoit–Wolf shrinkage.

Conventions: inputs are T × K arrays (or DataFrames) of simple daily returns, oldest row first;
outputs are daily covariances (decimal², not annualised). The estimator is named by a string
(``ESTIMATORS``) so that the batch can take it from a setting and record it in provenance.

- ``equal_weighted``: the sample covariance, every day weighted 1/(T − 1), demeaned (pandas'
  ``DataFrame.cov``).
- ``ewma``: RiskMetrics (1996) exponentially weighted moving average with decay λ (0.94 for daily
  data): Σ_t = λ Σ_{t−1} + (1 − λ) r_t r_tᵀ, zero mean, over the T rows of the window, the weights
  (1 − λ) λ^(T−1−t) renormalised to sum to 1 (divided by 1 − λ^T), so a short window is not biased
  low. ``demean=True`` subtracts the same weighted mean first (pandas' ``ewm(alpha=1 − λ).cov(bias=True)``).
- ``ledoit_wolf``: Ledoit & Wolf (2004) shrinkage of the (1/T, demeaned) sample covariance S
  towards μI, μ = tr(S)/K, with the optimal intensity δ = min(b̄², d²)/d², d² = ‖S − μI‖²_F,
  b̄² = (1/T²) Σ_t ‖x_t x_tᵀ − S‖²_F (the estimator of scikit-learn's ``LedoitWolf``). Used for the
  factor covariance only; specific risk stays equal-weighted under it.

Specific (idiosyncratic) risk: ``ewma_volatility`` gives each column's EWMA standard deviation of
residuals (zero mean, NaNs skipped with the weights renormalised over the present days).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Estimator = Literal["equal_weighted", "ewma", "ledoit_wolf"]
ESTIMATORS: tuple[Estimator, ...] = ("equal_weighted", "ewma", "ledoit_wolf")
RISKMETRICS_LAMBDA = 0.94


def estimator_named(name: str) -> Estimator:
    """The estimator called ``name`` (a setting's value), or ValueError naming the choices."""
    for estimator in ESTIMATORS:
        if estimator == name:
            return estimator
    raise ValueError(f"unknown covariance estimator {name!r}; expected one of {', '.join(ESTIMATORS)}")


def _matrix(returns: npt.ArrayLike) -> FloatArray:
    x = np.asarray(returns, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError("returns must be a (T × K) array with T ≥ 2")
    if not np.isfinite(x).all():
        raise ValueError("returns contain non-finite values; drop incomplete days first")
    return x


def _check_lambda(lam: float) -> None:
    if not 0.0 < lam < 1.0:
        raise ValueError("the EWMA decay λ must be in (0, 1)")


def ewma_weights(n: int, lam: float = RISKMETRICS_LAMBDA) -> FloatArray:
    """Weights of the n rows (oldest first): (1 − λ) λ^(n−1−t) / (1 − λ^n), summing to 1."""
    _check_lambda(lam)
    powers = lam ** np.arange(n - 1, -1, -1, dtype=float)
    return powers / powers.sum()


def equal_weighted_covariance(returns: npt.ArrayLike) -> FloatArray:
    """Sample covariance (demeaned, 1/(T − 1)), K × K."""
    return np.atleast_2d(np.cov(_matrix(returns), rowvar=False, ddof=1))


def ewma_covariance(returns: npt.ArrayLike, *, lam: float = RISKMETRICS_LAMBDA, demean: bool = False) -> FloatArray:
    """RiskMetrics EWMA covariance at the last row, K × K (see the module docstring)."""
    x = _matrix(returns)
    w = ewma_weights(x.shape[0], lam)
    if demean:
        x = x - w @ x
    return (x * w[:, None]).T @ x


def ewma_volatility(returns: npt.ArrayLike, *, lam: float = RISKMETRICS_LAMBDA) -> FloatArray:
    """Each column's zero-mean EWMA standard deviation at the last row (daily); NaNs are skipped.

    A column with fewer than 2 present days is NaN."""
    _check_lambda(lam)
    x = np.asarray(returns, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    present = np.isfinite(x)
    powers = lam ** np.arange(x.shape[0] - 1, -1, -1, dtype=float)[:, None]
    weights = np.where(present, powers, 0.0)
    total = weights.sum(axis=0)
    squares = np.where(present, x, 0.0) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = (weights * squares).sum(axis=0) / total
    return np.where(present.sum(axis=0) >= 2, np.sqrt(variance), np.nan)


def ledoit_wolf_shrinkage(returns: npt.ArrayLike) -> tuple[FloatArray, float]:
    """(Shrunk covariance K × K, shrinkage intensity δ ∈ [0, 1]) by Ledoit & Wolf (2004)."""
    x = _matrix(returns)
    n, k = x.shape
    x = x - x.mean(axis=0)
    sample = x.T @ x / n
    mu = float(np.trace(sample)) / k
    target = mu * np.eye(k)
    d2 = float(((sample - target) ** 2).sum())
    squared_norms = (x**2).sum(axis=1)
    b2_bar = float((squared_norms**2).sum() - n * (sample**2).sum()) / n**2
    shrinkage = 0.0 if d2 <= 0 else min(max(b2_bar, 0.0), d2) / d2
    return shrinkage * target + (1.0 - shrinkage) * sample, shrinkage


def ledoit_wolf_covariance(returns: npt.ArrayLike) -> FloatArray:
    """The Ledoit–Wolf shrunk covariance (K × K)."""
    return ledoit_wolf_shrinkage(returns)[0]


def factor_covariance(returns: npt.ArrayLike, *, estimator: Estimator, lam: float = RISKMETRICS_LAMBDA) -> FloatArray:
    """The factor covariance (K × K, daily) by the named estimator."""
    if estimator == "equal_weighted":
        return equal_weighted_covariance(returns)
    if estimator == "ewma":
        return ewma_covariance(returns, lam=lam)
    if estimator == "ledoit_wolf":
        return ledoit_wolf_covariance(returns)
    raise ValueError(f"unknown covariance estimator {estimator!r}; expected one of {', '.join(ESTIMATORS)}")


def describe(estimator: Estimator, lam: float = RISKMETRICS_LAMBDA) -> str:
    """The estimator in words, for provenance."""
    if estimator == "ewma":
        return f"EWMA (RiskMetrics, lambda={lam:g}) for factor and specific risk"
    if estimator == "ledoit_wolf":
        return "Ledoit-Wolf shrinkage of the factor covariance; equal-weighted specific risk"
    return "equal-weighted sample covariance for factor and specific risk"
