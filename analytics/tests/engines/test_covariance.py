"""Covariance estimators against independent references: a direct RiskMetrics recursion, pandas' ``ewm``,
``DataFrame.cov`` and scikit-learn's ``LedoitWolf``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.covariance import LedoitWolf, ledoit_wolf_shrinkage

from analytics.engines import covariance


@pytest.fixture
def returns() -> np.ndarray:
    rng = np.random.default_rng(7)
    chol = np.array([[0.012, 0, 0], [0.004, 0.006, 0], [-0.002, 0.001, 0.008]])
    return rng.standard_normal((252, 3)) @ chol.T + 0.0004


def test_equal_weighted_is_the_sample_covariance_of_pandas(returns: np.ndarray) -> None:
    expected = pd.DataFrame(returns).cov().to_numpy()
    np.testing.assert_allclose(covariance.equal_weighted_covariance(returns), expected, rtol=1e-12)


def test_ewma_matches_the_riskmetrics_recursion(returns: np.ndarray) -> None:
    lam = 0.94
    sigma = np.zeros((3, 3))
    for row in returns:  # Σ_t = λ Σ_{t−1} + (1 − λ) r_t r_tᵀ from Σ_0 = 0
        sigma = lam * sigma + (1 - lam) * np.outer(row, row)
    expected = sigma / (1 - lam ** len(returns))  # the weights of a finite window renormalised
    np.testing.assert_allclose(covariance.ewma_covariance(returns, lam=lam), expected, rtol=1e-12)


def test_ewma_on_a_long_window_is_the_plain_recursion(returns: np.ndarray) -> None:
    """With 252 days 0.94^252 ≈ 2e-7: the renormalisation barely matters."""
    lam = 0.94
    sigma = np.zeros((3, 3))
    for row in returns:
        sigma = lam * sigma + (1 - lam) * np.outer(row, row)
    np.testing.assert_allclose(covariance.ewma_covariance(returns, lam=lam), sigma, rtol=1e-6)


def test_demeaned_ewma_matches_pandas_ewm(returns: np.ndarray) -> None:
    frame = pd.DataFrame(returns, columns=["a", "b", "c"])
    expected = frame.ewm(alpha=1 - 0.94, adjust=True).cov(bias=True).loc[len(frame) - 1].to_numpy()
    np.testing.assert_allclose(covariance.ewma_covariance(returns, lam=0.94, demean=True), expected, rtol=1e-10)


def test_ewma_volatility_matches_pandas_ewm_of_squares_and_skips_gaps(returns: np.ndarray) -> None:
    gappy = returns.copy()
    gappy[[5, 100, 250], 1] = np.nan
    # pandas' ignore_na=True weights the present observations by their own ranks; ours by calendar rank,
    # so compare with an explicit weighted mean over the present rows.
    lam = 0.94
    powers = lam ** np.arange(len(gappy) - 1, -1, -1)
    expected = []
    for j in range(3):
        present = np.isfinite(gappy[:, j])
        expected.append(np.sqrt((powers[present] * gappy[present, j] ** 2).sum() / powers[present].sum()))
    np.testing.assert_allclose(covariance.ewma_volatility(gappy, lam=lam), expected, rtol=1e-12)
    # Without gaps it is pandas' adjusted EWM mean of the squares, taken at the last row.
    full = pd.DataFrame(returns**2).ewm(alpha=1 - lam, adjust=True).mean().iloc[-1].to_numpy()
    np.testing.assert_allclose(covariance.ewma_volatility(returns, lam=lam) ** 2, full, rtol=1e-12)


def test_ewma_weights_sum_to_one_and_decay_by_lambda() -> None:
    w = covariance.ewma_weights(5, 0.9)
    assert w.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(w[:-1] / w[1:], 0.9)


def test_ledoit_wolf_matches_scikit_learn(returns: np.ndarray) -> None:
    shrunk, intensity = covariance.ledoit_wolf_shrinkage(returns)
    reference = LedoitWolf().fit(returns)
    np.testing.assert_allclose(shrunk, reference.covariance_, rtol=1e-10)
    assert intensity == pytest.approx(reference.shrinkage_, rel=1e-10)
    assert intensity == pytest.approx(ledoit_wolf_shrinkage(returns), rel=1e-10)


def test_ledoit_wolf_shrinks_hard_when_days_are_few() -> None:
    """20 days of 10 factors: the sample covariance is noisy and the intensity is large, as in scikit-learn."""
    x = np.random.default_rng(3).standard_normal((20, 10)) * 0.01
    shrunk, intensity = covariance.ledoit_wolf_shrinkage(x)
    reference = LedoitWolf().fit(x)
    np.testing.assert_allclose(shrunk, reference.covariance_, rtol=1e-10)
    assert intensity == pytest.approx(reference.shrinkage_, rel=1e-10)
    assert intensity > 0.3
    assert np.linalg.cond(shrunk) < np.linalg.cond(np.cov(x, rowvar=False))


def test_factor_covariance_dispatches_on_the_name(returns: np.ndarray) -> None:
    np.testing.assert_allclose(
        covariance.factor_covariance(returns, estimator="ewma"), covariance.ewma_covariance(returns)
    )
    np.testing.assert_allclose(
        covariance.factor_covariance(returns, estimator="ledoit_wolf"), LedoitWolf().fit(returns).covariance_
    )
    with pytest.raises(ValueError, match="unknown covariance estimator"):
        covariance.factor_covariance(returns, estimator="bogus")


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="λ"):
        covariance.ewma_weights(3, 1.0)
    with pytest.raises(ValueError, match="non-finite"):
        covariance.ewma_covariance(np.array([[0.01, np.nan], [0.02, 0.01]]))
