"""VaR/ES: hand-computed historical cases, parametric closed form, Euler sums and properties."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import norm

from analytics.engines.book import PositionBook
from analytics.engines.var import (
    historical_position_pnl,
    historical_var,
    parametric_var,
    specific_covariance,
    tail_size,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from py_vollib.black_scholes_merton import black_scholes_merton as vollib_price

# 20 scenarios, 2 positions. Portfolio P&L per scenario = A + B:
#   scenario 3: −900 (A −1,000, B +100)  ← worst
#   scenario 7: −500 (A −200,  B −300)   ← 2nd worst
#   scenario 12: −300 (A −100, B −200)   ← 3rd worst
#   all others: +50 (A +25, B +25)
PNL20 = np.full((20, 2), 25.0)
PNL20[3] = [-1_000.0, 100.0]
PNL20[7] = [-200.0, -300.0]
PNL20[12] = [-100.0, -200.0]


def test_tail_size_convention() -> None:
    assert tail_size(20, 0.95) == 1  # ceil(1.0)
    assert tail_size(20, 0.90) == 2
    assert tail_size(250, 0.95) == 13  # ceil(12.5)
    assert tail_size(250, 0.99) == 3  # ceil(2.5)
    assert tail_size(100, 0.95) == 5  # 100 × 0.05 = 5.000000000000004 must not become 6
    assert tail_size(100, 0.99) == 1


def test_historical_var_hand_computed_20_scenarios() -> None:
    r95 = historical_var(PNL20, confidence=0.95, kernel_half_width=0)
    # k = 1: VaR = ES = loss of the worst scenario = 900; components = that scenario (A 1,000, B −100).
    assert r95.var == 900 and r95.es == 900 and r95.tail_size == 1
    np.testing.assert_allclose(r95.component_es, [1_000, -100])
    np.testing.assert_allclose(r95.component_var, [1_000, -100])
    r90 = historical_var(PNL20, confidence=0.90, kernel_half_width=0)
    # k = 2: VaR = 2nd worst loss = 500; ES = (900 + 500)/2 = 700; component ES: A (1,000+200)/2 = 600,
    # B (−100+300)/2 = 100; component VaR = the VaR scenario: A 200, B 300.
    assert r90.var == 500 and r90.es == 700
    np.testing.assert_allclose(r90.component_es, [600, 100])
    np.testing.assert_allclose(r90.component_var, [200, 300])


def test_kernel_component_var_is_rescaled_to_sum_to_var() -> None:
    r90 = historical_var(PNL20, confidence=0.90, kernel_half_width=1)
    # Ranks 1..3 with weights 1, 2, 1: A (1,000 + 2×200 + 100)/4 = 375, B (−100 + 600 + 200)/4 = 175;
    # sum 550 rescaled to VaR 500: × 500/550.
    np.testing.assert_allclose(r90.component_var, np.array([375, 175]) * 500 / 550)
    assert r90.component_var.sum() == pytest.approx(r90.var)


def test_historical_var_rejects_missing_values() -> None:
    bad = PNL20.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        historical_var(bad, confidence=0.95)


def test_parametric_var_two_assets_closed_form() -> None:
    # Two positions, each exposed to its own factor: $1m at 1 % daily vol and −$0.5m at 2 %, ρ = 0.3.
    s1, s2, rho = 0.01, 0.02, 0.3
    cov = np.array([[s1**2, rho * s1 * s2], [rho * s1 * s2, s2**2]])
    x = np.array([[1_000_000.0, 0.0], [0.0, -500_000.0]])
    sigma = math.sqrt((1e6 * s1) ** 2 + (5e5 * s2) ** 2 + 2 * 1e6 * -5e5 * rho * s1 * s2)  # = 11,832.16
    for c in (0.95, 0.99):
        res = parametric_var(exposures=x, factor_cov=cov, specific_var=None, confidence=c)
        assert res.sigma == pytest.approx(sigma, rel=1e-12)
        assert res.var == pytest.approx(norm.ppf(c) * sigma, rel=1e-12)
        assert res.es == pytest.approx(sigma * norm.pdf(norm.ppf(c)) / (1 - c), rel=1e-12)
        # Euler: VaR_1 = z (x_1ᵀ Σ x_p)/σ = z (1e6² s1² − 1e6×5e5 ρ s1 s2)/σ
        assert res.component_var[0] == pytest.approx(norm.ppf(c) * (1e8 - 1e6 * 5e5 * rho * s1 * s2) / sigma)
        assert res.component_var.sum() == pytest.approx(res.var, rel=1e-12)
        assert res.component_es.sum() == pytest.approx(res.es, rel=1e-12)
    assert parametric_var(exposures=x, factor_cov=cov, specific_var=None, confidence=0.95).var == pytest.approx(
        1.6448536269514722 * 11_832.159566199232, rel=1e-9
    )


def test_parametric_specific_risk_adds_variance_and_components() -> None:
    x = np.array([[1_000.0], [2_000.0]])
    cov = np.array([[1e-4]])
    res = parametric_var(exposures=x, factor_cov=cov, specific_var=np.array([400.0, 900.0]), confidence=0.99)
    sigma = math.sqrt(3_000.0**2 * 1e-4 + 1_300.0)
    assert res.sigma == pytest.approx(sigma)
    z = norm.ppf(0.99)
    np.testing.assert_allclose(
        res.component_var, z * np.array([1_000 * 3_000 * 1e-4 + 400, 2_000 * 3_000 * 1e-4 + 900]) / sigma
    )


def test_specific_covariance_lets_a_hedge_offset_its_stock() -> None:
    # Long $10,000 of XYZ and a put with dollar delta −$10,000 on it: idiosyncratic risk cancels.
    c = specific_covariance(
        dollar_exposure=np.array([10_000.0, -10_000.0, 5_000.0]),
        residual_vol=np.array([0.02, 0.02, 0.01]),
        group=np.array(["XYZ", "XYZ", "ABC"]),
    )
    assert c.sum() == pytest.approx(50.0**2)  # only ABC's (5,000 × 1 %)² remains
    res = parametric_var(exposures=np.zeros((3, 1)), factor_cov=[[1e-4]], specific_var=c, confidence=0.95)
    assert res.sigma == pytest.approx(50.0)
    assert res.component_var.sum() == pytest.approx(res.var)


def test_specific_covariance_pairs_symbols_as_a_comparison_of_every_pair_would() -> None:
    rng = np.random.default_rng(3)
    symbols = np.array([f"S{i}" for i in rng.integers(0, 40, 300)], dtype=object)
    exposure, vol = rng.normal(0, 1e4, 300), rng.uniform(0, 0.03, 300)
    e = exposure * vol
    by_pairs = np.where(np.array([[a == b for b in symbols.tolist()] for a in symbols.tolist()]), np.outer(e, e), 0.0)
    np.testing.assert_array_equal(
        specific_covariance(dollar_exposure=exposure, residual_vol=vol, group=symbols), by_pairs
    )


def test_historical_position_pnl_revalues_stocks_and_options() -> None:
    returns = np.array([[-0.10, -0.10, 0.0], [0.05, 0.05, 0.0]])
    book = PositionBook.of(
        quantity=np.array([-100.0, 2.0, 1.0]),
        multiplier=np.array([1.0, 100.0, 100.0]),
        price=np.array([50.0, 3.0, 1.0]),
        is_option=np.array([False, True, True]),
        is_call=np.array([False, False, True]),
        spot=np.array([50.0, 50.0, 50.0]),
        strike=np.array([0.0, 48.0, 50.0]),
        years=np.array([0.0, 0.2, 0.0]),  # the third is at expiry (its underlying does not move: 0)
        vol=np.array([0.0, 0.4, 0.4]),
        rate=0.03,
        div_yield=0.0,
    )
    pnl = historical_position_pnl(returns=returns, book=book)
    np.testing.assert_allclose(pnl[:, 0], [500.0, -250.0])  # short 100 × 50 = −5,000 mv
    base = vollib_price("p", 50.0, 48.0, 0.2, 0.03, 0.4, 0.0)
    for i, r in enumerate((-0.10, 0.05)):
        assert pnl[i, 1] == pytest.approx((vollib_price("p", 50 * (1 + r), 48.0, 0.2, 0.03, 0.4, 0.0) - base) * 200)
    np.testing.assert_array_equal(pnl[:, 2], 0.0)


pnl_matrices = st.tuples(st.integers(min_value=20, max_value=120), st.integers(min_value=1, max_value=6)).flatmap(
    lambda shape: arrays(np.float64, shape, elements=st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False))
)


@settings(max_examples=60, deadline=None)
@given(pnl=pnl_matrices, perm_seed=st.integers(0, 10_000), lam=st.floats(0.01, 100.0))
def test_historical_var_properties(pnl: np.ndarray, perm_seed: int, lam: float) -> None:
    r95 = historical_var(pnl, confidence=0.95)
    r99 = historical_var(pnl, confidence=0.99)
    assert r99.var >= r95.var - 1e-9
    assert r95.es >= r95.var - 1e-9 and r99.es >= r99.var - 1e-9
    assert r99.es >= r95.es - 1e-9
    assert r95.component_es.sum() == pytest.approx(r95.es, abs=1e-6)
    assert r95.component_var.sum() == pytest.approx(r95.var, abs=1e-6)
    perm = np.random.default_rng(perm_seed).permutation(pnl.shape[1])
    permuted = historical_var(pnl[:, perm], confidence=0.95)
    assert permuted.var == pytest.approx(r95.var, abs=1e-6)
    assert permuted.es == pytest.approx(r95.es, abs=1e-6)
    scaled = historical_var(lam * pnl, confidence=0.95)
    assert scaled.var == pytest.approx(lam * r95.var, rel=1e-9, abs=1e-6)
    assert scaled.es == pytest.approx(lam * r95.es, rel=1e-9, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 8),
    k=st.integers(1, 5),
    lam=st.floats(0.01, 100.0),
)
def test_parametric_var_properties(seed: int, n: int, k: int, lam: float) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(0, 0.01, (k, k))
    cov = a @ a.T + 1e-6 * np.eye(k)
    x = rng.normal(0, 1e4, (n, k))
    spec = rng.uniform(0, 1e4, n)
    r95 = parametric_var(exposures=x, factor_cov=cov, specific_var=spec, confidence=0.95)
    r99 = parametric_var(exposures=x, factor_cov=cov, specific_var=spec, confidence=0.99)
    assert r99.var >= r95.var and r95.es >= r95.var and r99.es >= r99.var
    assert r95.component_var.sum() == pytest.approx(r95.var, rel=1e-9)
    assert r99.component_es.sum() == pytest.approx(r99.es, rel=1e-9)
    perm = rng.permutation(n)
    permuted = parametric_var(exposures=x[perm], factor_cov=cov, specific_var=spec[perm], confidence=0.95)
    assert permuted.var == pytest.approx(r95.var, rel=1e-10)
    np.testing.assert_allclose(permuted.component_var, r95.component_var[perm], rtol=1e-9, atol=1e-9)
    scaled = parametric_var(exposures=lam * x, factor_cov=cov, specific_var=lam**2 * spec, confidence=0.95)
    assert scaled.var == pytest.approx(lam * r95.var, rel=1e-9)
