"""Risk decomposition and tracking error: hand-computed two-asset cases, Euler sums, finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from analytics.engines import risk_model
from analytics.engines.var import parametric_var, specific_covariance

ANNUAL = math.sqrt(252)


def test_two_asset_one_factor_case_by_hand() -> None:
    """A: $100 long, β 1.2, residual 2%/day; B: $50 short, β 0.8, residual 1%/day; factor vol 1%/day.

    X = 100×1.2 − 50×0.8 = 80; factor variance 80² × 1e-4 = 0.64; specific (100×0.02)² + (50×0.01)² = 4.25;
    total 4.89 (USD²/day). Components: A 120 × 0.008 + 4 = 4.96, B −40 × 0.008 + 0.25 = −0.07 (÷ σ)."""
    result = risk_model.decompose(
        delta_exposure=[100.0, -50.0],
        betas=[[1.2], [0.8]],
        factor_cov=[[1e-4]],
        specific_cov=[0.02**2 * 100**2, 0.01**2 * 50**2],
    )
    sigma = math.sqrt(4.89)
    assert result.total_vol == pytest.approx(sigma * ANNUAL, rel=1e-12)
    assert result.factor_vol == pytest.approx(0.8 * ANNUAL, rel=1e-12)
    assert result.specific_vol == pytest.approx(math.sqrt(4.25) * ANNUAL, rel=1e-12)
    assert result.factor_exposure == pytest.approx([80.0])
    assert result.factor_contribution == pytest.approx([0.64 / sigma * ANNUAL], rel=1e-12)
    assert result.specific_contribution == pytest.approx(4.25 / sigma * ANNUAL, rel=1e-12)
    assert result.component == pytest.approx([4.96 / sigma * ANNUAL, -0.07 / sigma * ANNUAL], rel=1e-12)
    assert result.component_factor == pytest.approx([0.96 / sigma * ANNUAL, -0.32 / sigma * ANNUAL], rel=1e-12)
    assert result.marginal == pytest.approx([4.96 / sigma / 100 * ANNUAL, -0.07 / sigma / -50 * ANNUAL], rel=1e-12)


def _book(seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    n, k = 6, 3
    a = rng.normal(0, 0.01, (k, k))
    return {
        "exposure": rng.normal(0, 1000, n),
        "betas": rng.normal(0.5, 0.5, (n, k)),
        "factor_cov": a @ a.T + np.eye(k) * 1e-5,
        "residual": rng.uniform(0.005, 0.03, n),
        "group": np.array(["A", "A", "B", "C", "D", "D"]),
    }


def _decompose(b: dict[str, np.ndarray], exposure: np.ndarray) -> risk_model.RiskDecomposition:
    specific = specific_covariance(dollar_exposure=exposure, residual_vol=b["residual"], group=b["group"])
    return risk_model.decompose(
        delta_exposure=exposure, betas=b["betas"], factor_cov=b["factor_cov"], specific_cov=specific
    )


def test_the_sums_reconcile_on_a_book_with_shared_symbols() -> None:
    b = _book()
    result = _decompose(b, b["exposure"])
    assert result.factor_contribution.sum() + result.specific_contribution == pytest.approx(result.total_vol)
    assert result.component.sum() == pytest.approx(result.total_vol)
    assert result.component_factor.sum() == pytest.approx(result.factor_vol**2 / result.total_vol)
    assert result.component_specific.sum() == pytest.approx(result.specific_vol**2 / result.total_vol)
    assert result.factor_vol**2 + result.specific_vol**2 == pytest.approx(result.total_vol**2)


def test_marginal_risk_is_the_derivative_of_the_total_by_finite_differences() -> None:
    b = _book(2)
    base = _decompose(b, b["exposure"])
    for i in range(len(b["exposure"])):
        h = 1e-3
        up, down = b["exposure"].copy(), b["exposure"].copy()
        up[i] += h
        down[i] -= h
        derivative = (_decompose(b, up).total_vol - _decompose(b, down).total_vol) / (2 * h)
        assert base.marginal[i] == pytest.approx(derivative, rel=1e-6)


def test_total_vol_is_the_parametric_var_sigma_annualised() -> None:
    b = _book(3)
    result = _decompose(b, b["exposure"])
    specific = specific_covariance(dollar_exposure=b["exposure"], residual_vol=b["residual"], group=b["group"])
    var99 = parametric_var(
        exposures=b["exposure"][:, None] * b["betas"],
        factor_cov=b["factor_cov"],
        specific_var=specific,
        confidence=0.99,
    )
    assert result.total_vol / ANNUAL * norm.ppf(0.99) == pytest.approx(var99.var, rel=1e-12)


def test_an_empty_book_has_no_risk() -> None:
    result = risk_model.decompose(delta_exposure=[0.0], betas=[[1.0]], factor_cov=[[1e-4]], specific_cov=[0.0])
    assert result.total_vol == 0 and result.component.tolist() == [0.0] and math.isnan(result.marginal[0])


def test_tracking_error_by_hand_against_a_benchmark_the_book_partly_holds() -> None:
    """$60 of A (β 1.2, residual 2%) and $40 of SPY (β 1, residual 0.1%) against $100 of SPY.

    Active beta 0.6×1.2 + 0.4×1 − 1 = 0.12; factor variance 0.12² × 1e-4 = 1.44e-6. Active specific
    return 0.6 ε_A + 0.4 ε_SPY − ε_SPY = 0.6 ε_A − 0.6 ε_SPY: variance 0.36 × 4e-4 + 0.36 × 1e-6 = 1.4436e-4."""
    exposure = np.array([60.0, 40.0])
    residual = np.array([0.02, 0.001])
    symbols = np.array(["A", "SPY"])
    specific = specific_covariance(dollar_exposure=exposure, residual_vol=residual, group=symbols)
    te = risk_model.tracking_error(
        delta_exposure=exposure,
        betas=[[1.2], [1.0]],
        specific_cov=specific,
        value=100.0,
        symbols=symbols,
        benchmark_symbol="SPY",
        benchmark_betas=[1.0],
        benchmark_residual_vol=0.001,
        factor_cov=[[1e-4]],
    )
    assert te.active_beta == pytest.approx([0.12])
    assert te.portfolio_beta == pytest.approx([1.12])
    assert te.factor_te == pytest.approx(math.sqrt(1.44e-6) * ANNUAL, rel=1e-12)
    assert te.specific_te == pytest.approx(math.sqrt(1.4436e-4) * ANNUAL, rel=1e-12)
    total = math.sqrt(1.44e-6 + 1.4436e-4)
    assert te.tracking_error == pytest.approx(total * ANNUAL, rel=1e-12)
    assert te.factor_contribution.sum() + te.specific_contribution == pytest.approx(te.tracking_error)
    assert te.factor_contribution == pytest.approx([1.44e-6 / total * ANNUAL], rel=1e-12)


def test_a_book_that_is_the_benchmark_tracks_it_exactly() -> None:
    specific = specific_covariance(dollar_exposure=[100.0], residual_vol=[0.003], group=["SPY"])
    te = risk_model.tracking_error(
        delta_exposure=[100.0],
        betas=[[1.0, 0.1]],
        specific_cov=specific,
        value=100.0,
        symbols=["SPY"],
        benchmark_symbol="SPY",
        benchmark_betas=[1.0, 0.1],
        benchmark_residual_vol=0.003,
        factor_cov=[[1e-4, 0], [0, 2e-5]],
    )
    assert te.tracking_error == pytest.approx(0.0, abs=1e-12)


def test_tracking_error_needs_a_positive_value() -> None:
    with pytest.raises(ValueError, match="positive"):
        risk_model.tracking_error(
            delta_exposure=[1.0],
            betas=[[1.0]],
            specific_cov=[0.0],
            value=0.0,
            symbols=["A"],
            benchmark_symbol="SPY",
            benchmark_betas=[1.0],
            benchmark_residual_vol=0.0,
            factor_cov=[[1e-4]],
        )
