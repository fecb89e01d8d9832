"""Correlation matrix against numpy on log returns; hand-built clusters and concentration figures."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analytics.engines.correlations import (
    average_abs_correlation,
    correlation_clusters,
    correlation_matrix,
    diversification_score,
    effective_positions,
    pairwise_pearson,
)


def _prices(seed: int = 5, t: int = 121) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    common = rng.normal(0, 0.01, t)
    rets = np.column_stack([common + rng.normal(0, s, t) for s in (0.002, 0.005, 0.02, 0.01)])
    return pd.DataFrame(100 * np.exp(np.cumsum(rets, axis=0)), columns=["A", "B", "C", "D"])


def test_correlation_matrix_matches_numpy_corrcoef_on_last_window_of_log_returns() -> None:
    prices = _prices()
    corr = correlation_matrix(prices, window=90)
    logr = np.diff(np.log(prices.to_numpy()), axis=0)[-90:]
    np.testing.assert_allclose(corr.to_numpy(), np.corrcoef(logr, rowvar=False), rtol=1e-12)
    assert list(corr.columns) == ["A", "B", "C", "D"]


def test_correlation_matrix_is_pairwise_complete() -> None:
    prices = _prices()
    prices.loc[:60, "D"] = np.nan  # listed late: 59 returns inside the window
    corr = correlation_matrix(prices, window=90)
    logr = pd.DataFrame(np.diff(np.log(prices.to_numpy()), axis=0)[-90:], columns=prices.columns)
    both = logr[["A", "D"]].dropna()
    assert corr.loc["A", "D"] == pytest.approx(np.corrcoef(both["A"], both["D"])[0, 1], rel=1e-12)
    assert corr.loc["A", "B"] == pytest.approx(np.corrcoef(logr["A"], logr["B"])[0, 1], rel=1e-12)
    short = correlation_matrix(prices.iloc[-10:], window=90)  # 9 returns < min_periods
    assert short.isna().all().all()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pairwise_pearson_equals_pandas_pairwise_complete_corr_with_gaps_and_constants(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.normal(0, 0.01, (90, 40)) + rng.normal(0, 0.01, (90, 1))
    values[rng.random(values.shape) < 0.1] = np.nan  # scattered gaps
    values[:75, 5] = np.nan  # 15 rows: below min_periods with everything
    values[:, 7] = 0.002  # constant: no variance
    values[::2, 9] = np.nan
    values[1::2, 10] = np.nan  # 9 and 10 never overlap
    expected = pd.DataFrame(values).corr(method="pearson", min_periods=20).to_numpy()
    got = pairwise_pearson(values, min_periods=20)
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_clusters_are_connected_components_above_threshold() -> None:
    names = ["A", "B", "C", "D", "E", "F"]
    corr = pd.DataFrame(np.eye(6), index=names, columns=names)

    def link(a: str, b: str, rho: float) -> None:
        corr.loc[a, b] = corr.loc[b, a] = rho

    link("A", "B", 0.90)
    link("B", "C", 0.75)  # C joins through B even though A–C is only 0.5
    link("A", "C", 0.50)
    link("D", "E", -0.80)  # strong negative correlation links too
    link("E", "F", np.nan)
    link("C", "F", 0.69)  # just under the threshold
    assert correlation_clusters(corr, threshold=0.7) == [["A", "B", "C"], ["D", "E"]]
    assert correlation_clusters(corr, threshold=0.95) == []
    # mean of |ρ| over the off-diagonal (NaN ignored): pairs 0.9, 0.75, 0.5, 0.8, 0.69 and 9 zeros
    assert average_abs_correlation(corr) == pytest.approx((0.9 + 0.75 + 0.5 + 0.8 + 0.69) / 14)


def test_effective_positions() -> None:
    assert effective_positions([10.0, 10.0, 10.0, 10.0]) == pytest.approx(4.0)
    assert effective_positions([100.0, -100.0]) == pytest.approx(2.0)  # a short counts by its size
    assert effective_positions([1.0, 0.0, 0.0]) == pytest.approx(1.0)
    # w = (0.5, 0.25, 0.25): 1 / (0.25 + 0.0625 + 0.0625) = 2.6667
    assert effective_positions([200.0, 100.0, -100.0]) == pytest.approx(1 / 0.375)


def test_diversification_score_hand_computed() -> None:
    names = ["A", "B", "C"]
    corr = pd.DataFrame([[1, 0.2, 0.4], [0.2, 1, -0.8], [0.4, -0.8, 1]], index=names, columns=names, dtype=float)
    # w = (0.5, 0.25, 0.25). Σ_{i≠j} w w |ρ| = 2 (0.125×0.2 + 0.125×0.4 + 0.0625×0.8) = 0.25
    # Σ_{i≠j} w w = 2 (0.125 + 0.125 + 0.0625) = 0.625 → score = 1 − 0.25/0.625 = 0.6
    weights = pd.Series({"C": -100.0, "A": 200.0, "B": 100.0})  # aligned by name
    assert diversification_score(corr, weights) == pytest.approx(0.6)
    assert math.isnan(diversification_score(corr.iloc[:1, :1], [1.0]))  # no pair: undefined
    uncorrelated = pd.DataFrame(np.eye(3), index=names, columns=names)
    assert diversification_score(uncorrelated, [1.0, 1.0, 1.0]) == 1.0
    lockstep = pd.DataFrame(np.ones((3, 3)), index=names, columns=names)
    assert diversification_score(lockstep, [1.0, 2.0, 3.0]) == 0.0


def test_component_labels_partition_random_graphs_as_scipy_does() -> None:
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    from analytics.engines.correlations import _component_labels

    rng = np.random.default_rng(11)
    for _ in range(200):
        n = int(rng.integers(0, 70))
        adjacency = rng.random((n, n)) < rng.uniform(0.0, 0.12)
        adjacency = adjacency | adjacency.T
        np.fill_diagonal(adjacency, False)
        ours = _component_labels(adjacency)
        _, reference = connected_components(csr_matrix(adjacency), directed=False)
        assert np.array_equal(ours[:, None] == ours[None, :], reference[:, None] == reference[None, :])
