"""Stress engine: proxy → factor mapping, conditional mean, betas × shocks, repriced options, no cap."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.engines.book import PositionBook
from analytics.engines.stress import (
    conditional_fill,
    conditioned_factor_shocks,
    direct_factor_shocks,
    proxy_shock_vector,
    scenario_factor_shocks,
    stress_pnl,
)
from analytics.services.compute import FACTOR_SET as FACTORS
from marketdata.factors import FACTOR_NAMES, FACTOR_SYMBOLS

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from py_vollib.black_scholes_merton import black_scholes_merton as vollib_price

CATALOG = Path(__file__).resolve().parents[2] / "fixtures" / "stress_scenarios.json"  # the project's copy
K = len(FACTOR_NAMES)


def _proxy_cov(seed: int = 3) -> pd.DataFrame:
    """A plausible proxy covariance: every proxy = β × SPY + own noise; TLT mildly negative on SPY."""
    rng = np.random.default_rng(seed)
    t = 2000
    spy = rng.normal(0, 0.012, t)
    cols = {"SPY": spy}
    for sym, beta in zip(FACTOR_SYMBOLS[1:7], (0.9, 1.1, 1.0, 1.0, 1.15, 0.7), strict=True):
        cols[sym] = beta * spy + rng.normal(0, 0.004, t)
    cols["TLT"] = -0.3 * spy + rng.normal(0, 0.009, t)
    return pd.DataFrame(cols).cov()


def _stock_kwargs(n: int) -> dict[str, object]:
    return {
        "is_option": np.zeros(n, dtype=bool),
        "is_call": np.zeros(n, dtype=bool),
        "spot": np.ones(n),
        "strike": np.ones(n),
        "years": np.zeros(n),
        "vol": np.zeros(n),
        "rate": 0.04,
        "div_yield": 0.0,
    }


def test_conditional_fill_two_variables_hand_computed() -> None:
    # σ_k = 1 %, σ_u = 2 %, ρ = 0.8: E[x_u | x_k] = ρ σ_u / σ_k x_k = 0.8 × 2 × (−10 %) = −16 %.
    s_k, s_u, rho = 0.01, 0.02, 0.8
    cov = pd.DataFrame([[s_k**2, rho * s_k * s_u], [rho * s_k * s_u, s_u**2]], index=["K", "U"], columns=["K", "U"])
    out = conditional_fill(pd.Series({"K": -0.10}), cov)
    assert out["K"] == -0.10
    assert out["U"] == pytest.approx(-0.16, rel=1e-12)


def test_conditional_fill_three_variables_matches_the_gaussian_formula() -> None:
    cov = _proxy_cov()
    known = pd.Series({"SPY": -0.2, "TLT": 0.05})
    out = conditional_fill(known, cov)
    u = [s for s in cov.index if s not in known.index]
    expected = cov.loc[u, ["SPY", "TLT"]].to_numpy() @ np.linalg.inv(cov.loc[["SPY", "TLT"], ["SPY", "TLT"]]) @ known
    np.testing.assert_allclose(out[u].to_numpy(), expected, rtol=1e-10)
    assert out["SPY"] == -0.2 and out["TLT"] == 0.05


def test_conditional_fill_with_nothing_known_is_zero_and_with_duplicates_is_stable() -> None:
    cov = pd.DataFrame(np.ones((3, 3)) * 1e-4, index=list("abc"), columns=list("abc"))  # singular
    assert (conditional_fill(pd.Series(dtype=float), cov) == 0).all()
    out = conditional_fill(pd.Series({"a": 0.1, "b": 0.1}), cov)
    assert out["c"] == pytest.approx(0.1)


def test_proxy_shock_vector_maps_rates_through_duration() -> None:
    v = proxy_shock_vector({"market": -0.1, "interest_rate": 0.01, "implied_vol_shift": 0.3}, FACTORS)
    assert v.to_dict() == {"SPY": -0.1, "TLT": pytest.approx(-0.17)}
    with pytest.raises(ValueError, match="bogus"):
        proxy_shock_vector({"bogus": 0.1}, FACTORS)


def test_direct_factor_shocks_are_spreads_over_the_market() -> None:
    f = direct_factor_shocks({"market": -0.45, "value": -0.30, "size": -0.25, "interest_rate": 0.01}, FACTORS)
    assert list(f.index) == list(FACTOR_NAMES)
    assert f["market"] == -0.45
    assert f["value"] == pytest.approx(0.15)  # VTV −30 % while SPY −45 %: value outperformed by 15 points
    assert f["size"] == pytest.approx(0.20)
    assert f["growth"] == 0.0  # unshocked style tracks the market
    assert f["interest_rate"] == pytest.approx(-0.17)
    g = direct_factor_shocks({"value": 0.2, "growth": -0.1}, FACTORS)
    assert g["market"] == 0.0 and g["value"] == 0.2 and g["growth"] == -0.1


def test_conditioned_shocks_keep_stated_proxies_and_fill_the_rest() -> None:
    cov = _proxy_cov()
    f = conditioned_factor_shocks({"market": -0.45, "value": -0.30}, cov, FACTORS)
    assert f["market"] == -0.45
    assert f["value"] == pytest.approx(0.15)
    # Unshocked growth ETF (β 1.1 on SPY) is expected to fall more than the market: negative spread.
    assert f["growth"] < 0
    # TLT co-moves negatively with SPY: it is expected to rise in a crash.
    assert f["interest_rate"] > 0
    # A rates-only scenario now moves equities through their covariance with TLT.
    r = conditioned_factor_shocks({"interest_rate": 0.01}, cov, FACTORS)
    assert r["interest_rate"] == pytest.approx(-0.17)
    assert r["market"] > 0


def test_every_catalog_scenario_converts() -> None:
    scenarios = json.loads(CATALOG.read_text())["scenarios"]
    assert len(scenarios) == 22
    direct = scenario_factor_shocks([s["shocks"] for s in scenarios], factor_set=FACTORS)
    conditioned = scenario_factor_shocks([s["shocks"] for s in scenarios], factor_set=FACTORS, proxy_cov=_proxy_cov())
    assert direct.shape == conditioned.shape == (22, K)
    assert np.isfinite(direct.to_numpy()).all() and np.isfinite(conditioned.to_numpy()).all()
    for i, s in enumerate(scenarios):
        if "market" in s["shocks"]:
            assert direct.loc[i, "market"] == conditioned.loc[i, "market"] == s["shocks"]["market"]


def test_rate_scenario_gives_nonzero_pnl_through_the_tlt_beta() -> None:
    # The original found no rate factor and showed $0. A utility with rate beta 0.3, mv 10,000:
    # +100 bp → TLT −17 % → P&L = 10,000 × 0.3 × (−0.17) = −510.
    betas = np.zeros((1, K))
    betas[0, FACTOR_NAMES.index("interest_rate")] = 0.3
    res = stress_pnl(
        factor_shocks=direct_factor_shocks({"interest_rate": 0.01}, FACTORS),
        betas=betas,
        book=PositionBook.of(
            quantity=np.array([100.0]), multiplier=np.array([1.0]), price=np.array([100.0]), **_stock_kwargs(1)
        ),
    )
    assert res.total == pytest.approx(-510.0)
    assert res.factor_totals["interest_rate"] == pytest.approx(-510.0)


def test_market_factor_is_never_dropped_and_factor_pnl_sums_to_total() -> None:
    # Two stocks, mv 20,000 and −5,000. Shocks: market −10 %, value +5 % spread.
    # Stock A: β_mkt 1.2, β_value 0.5 → R = −0.12 + 0.025 = −0.095 → −1,900 (market −2,400, value +500)
    # Stock B (short): β_mkt 0.8 → R = −0.08 → +400 (market +400)
    f = pd.Series(0.0, index=list(FACTOR_NAMES))
    f["market"], f["value"] = -0.10, 0.05
    betas = np.zeros((2, K))
    betas[0, 0], betas[0, 1], betas[1, 0] = 1.2, 0.5, 0.8
    res = stress_pnl(
        factor_shocks=f,
        betas=betas,
        book=PositionBook.of(
            quantity=np.array([200.0, -50.0]),
            multiplier=np.array([1.0, 1.0]),
            price=np.array([100.0, 100.0]),
            **_stock_kwargs(2),
        ),
    )
    np.testing.assert_allclose(res.position_pnl, [-1_900, 400])
    assert res.factor_totals["market"] == pytest.approx(-2_000)
    assert res.factor_totals["value"] == pytest.approx(500)
    assert res.factor_totals.sum() == pytest.approx(res.total) == pytest.approx(-1_500)
    np.testing.assert_allclose(res.factor_pnl.sum(axis=1), res.position_pnl)


def test_options_are_repriced_and_their_pnl_is_allocated_to_factors() -> None:
    # Long 2 calls on an underlying with β_mkt 1.5, β_size 0.5; market −20 %, size −4 %:
    # R = −0.30 − 0.02 = −0.32, spot 100 → 68, vol 0.3 + 0.2 = 0.5.
    f = pd.Series(0.0, index=list(FACTOR_NAMES))
    f["market"], f["size"] = -0.20, -0.04
    betas = np.zeros((1, K))
    betas[0, 0], betas[0, FACTOR_NAMES.index("size")] = 1.5, 0.5
    kw = {"quantity": [2.0], "multiplier": [100.0], "price": [8.0], "is_option": [True], "is_call": [True]}
    book = PositionBook.of(spot=[100.0], strike=[100.0], years=[0.5], vol=[0.3], rate=0.04, div_yield=0.01, **kw)
    res = stress_pnl(factor_shocks=f, betas=betas, book=book, vol_shift=0.2)
    before = vollib_price("c", 100.0, 100.0, 0.5, 0.04, 0.3, 0.01)
    after = vollib_price("c", 68.0, 100.0, 0.5, 0.04, 0.5, 0.01)
    vol_only = vollib_price("c", 100.0, 100.0, 0.5, 0.04, 0.5, 0.01) - before
    assert res.total == pytest.approx((after - before) * 200, rel=1e-8)
    assert res.factor_totals["implied_vol"] == pytest.approx(vol_only * 200, rel=1e-8)
    spot_part = (after - before - vol_only) * 200
    assert res.factor_totals["market"] == pytest.approx(spot_part * 0.30 / 0.32, rel=1e-8)
    assert res.factor_totals["size"] == pytest.approx(spot_part * 0.02 / 0.32, rel=1e-8)
    assert res.factor_totals.sum() == pytest.approx(res.total)


def test_a_short_book_can_lose_more_than_its_value() -> None:
    # Short 100 shares at 100 (mv −10,000), β 2: market +60 % → R = 120 % → P&L −12,000. No cap.
    f = pd.Series(0.0, index=list(FACTOR_NAMES))
    f["market"] = 0.60
    betas = np.zeros((2, K))
    betas[:, 0] = 2.0
    res = stress_pnl(
        factor_shocks=f,
        betas=betas,
        book=PositionBook.of(
            quantity=np.array([-100.0, -1.0]),
            multiplier=np.array([1.0, 100.0]),
            price=np.array([100.0, 2.0]),
            is_option=np.array([False, True]),
            is_call=np.array([False, True]),
            spot=np.array([100.0, 100.0]),
            strike=np.array([0.0, 110.0]),
            years=np.array([0.0, 0.25]),
            vol=np.array([0.0, 0.3]),
            rate=0.04,
            div_yield=0.0,
        ),
    )
    assert res.position_pnl[0] == pytest.approx(-12_000)
    assert res.position_pnl[1] < -100 * 100  # a short call loses far more than its 200 premium
    assert res.total < -(10_000 + 200)


def test_betas_as_dataframe_are_aligned_to_the_shock_order() -> None:
    f = direct_factor_shocks({"market": -0.1, "interest_rate": 0.01}, FACTORS)
    betas = pd.DataFrame({"interest_rate": [0.2], "market": [1.0]})  # columns deliberately out of order
    res = stress_pnl(
        factor_shocks=f,
        betas=betas,
        book=PositionBook.of(quantity=[10.0], multiplier=[1.0], price=[100.0], **_stock_kwargs(1)),
    )
    assert res.total == pytest.approx(1_000 * (-0.1 + 0.2 * -0.17))


def _three_proxy_cov() -> pd.DataFrame:
    """SPY, IWM and VTV correlated (σ 1, 1.2, 0.9; ρ 0.75, 0.8, 0.7); the other proxies independent."""
    symbols = list(FACTOR_SYMBOLS)
    cov = pd.DataFrame(np.eye(len(symbols)), index=symbols, columns=symbols)
    cov.loc["IWM", "IWM"] = 1.44
    cov.loc["VTV", "VTV"] = 0.81
    cov.loc["SPY", "IWM"] = cov.loc["IWM", "SPY"] = 0.9
    cov.loc["SPY", "VTV"] = cov.loc["VTV", "SPY"] = 0.72
    cov.loc["IWM", "VTV"] = cov.loc["VTV", "IWM"] = 0.756
    return cov


def test_a_factor_given_as_zero_is_held_still_not_filled_hand_computed() -> None:
    cov = _three_proxy_cov()
    # Version 1 "small caps outperform 10 %": only IWM known. E[SPY | IWM] = 0.9/1.44 × 10 % = 6.25 %:
    # a broad rally. VTV = 0.756/1.44 × 10 % = 5.25 % → value spread −1 %; size spread 3.75 %.
    v1 = conditioned_factor_shocks({"size": 0.10}, cov, FACTORS)
    assert v1["market"] == pytest.approx(0.0625)
    assert v1["size"] == pytest.approx(0.0375)
    assert v1["value"] == pytest.approx(-0.01)
    # Version 2 holds the market at 0.0: SPY is known (0), not filled. With x_k = (SPY 0, IWM 0.1):
    # Σ_kk⁻¹ x_k = [[1.44, −0.9], [−0.9, 1]] / 0.63 · (0, 0.1) = (−0.142857, 0.158730);
    # VTV = 0.72 × (−0.142857) + 0.756 × 0.158730 = 0.017143.
    v2 = conditioned_factor_shocks({"size": 0.10, "market": 0.0}, cov, FACTORS)
    assert v2["market"] == 0.0
    assert v2["size"] == pytest.approx(0.10)
    assert v2["value"] == pytest.approx(0.72 * -0.09 / 0.63 + 0.756 * 0.1 / 0.63, rel=1e-9)
    assert v2["value"] == pytest.approx(0.017143, abs=1e-6)
    assert v2["growth"] == 0.0 and v2["interest_rate"] == 0.0  # independent proxies: nothing to infer
    # A style given as 0.0 is held still too: VTV stays flat while SPY falls 20 % (value spread +20 %).
    held = conditioned_factor_shocks({"market": -0.20, "value": 0.0}, cov, FACTORS)
    assert held["value"] == pytest.approx(0.20)
    assert conditioned_factor_shocks({"market": -0.20}, cov, FACTORS)["value"] == pytest.approx(-0.144 + 0.20)


def test_catalog_version_2_holds_the_market_still_in_the_rotations() -> None:
    catalog = json.loads(CATALOG.read_text())
    assert catalog["version"] == 2
    by_id = {s["id"]: s for s in catalog["scenarios"]}
    assert by_id["value_rotation_20"]["shocks"]["market"] == 0.0
    assert by_id["small_cap_outperformance_10"]["shocks"]["market"] == 0.0
    f = conditioned_factor_shocks(by_id["small_cap_outperformance_10"]["shocks"], _proxy_cov(), FACTORS)
    assert f["market"] == 0.0 and f["size"] == pytest.approx(0.10)


def test_a_deep_linear_loss_continues_exponentially_and_never_reaches_zero() -> None:
    # Long 100 shares at 50 (mv 5,000) with β_mkt 3 and β_size 0.5; market −45 %, size −10 %:
    # R = −1.35 − 0.05 = −1.40 (linear: the price would be −20). ratio = 0.5 e^{(−1.40 + 0.5)/0.5}
    # = 0.5 e^{−1.8} = 0.0826494 → P&L = 5,000 × (0.0826494 − 1) = −4,586.753.
    f = pd.Series(0.0, index=list(FACTOR_NAMES))
    f["market"], f["size"] = -0.45, -0.10
    betas = np.zeros((1, K))
    betas[0, 0], betas[0, FACTOR_NAMES.index("size")] = 3.0, 0.5
    book = PositionBook.of(quantity=[100.0], multiplier=[1.0], price=[50.0], **_stock_kwargs(1))
    res = stress_pnl(factor_shocks=f, betas=betas, book=book)
    assert res.total == pytest.approx(5_000 * (0.5 * np.exp(-1.8) - 1.0), rel=1e-12)
    assert res.total == pytest.approx(-4_586.753, abs=1e-3)
    assert res.total > -5_000  # the price stays above 0
    # Each factor keeps its share of the move: market 1.35/1.40, size 0.05/1.40.
    assert res.factor_totals["market"] == pytest.approx(res.total * 1.35 / 1.40)
    assert res.factor_totals["size"] == pytest.approx(res.total * 0.05 / 1.40)


def test_conditional_fill_is_the_label_based_formula_bit_for_bit() -> None:
    """The positional implementation against the formula written with pandas labels (as it was before)."""
    from analytics.engines.stress import conditional_fill

    rng = np.random.default_rng(3)
    names = [f"P{i}" for i in range(8)]
    for _ in range(60):
        draws = rng.normal(size=(200, 8)) @ rng.normal(size=(8, 8))
        cov = pd.DataFrame(np.cov(draws.T) * 1e-4, index=names, columns=names)
        shocked = list(rng.choice(names, size=int(rng.integers(1, 5)), replace=False))
        known = pd.Series(rng.normal(0, 0.1, size=len(shocked)), index=shocked)
        expected = pd.Series(0.0, index=names, dtype=float)
        unknown = [n for n in names if n not in shocked]
        weights = np.linalg.lstsq(cov.loc[shocked, shocked].to_numpy(), known.to_numpy(), rcond=None)[0]
        expected.loc[unknown] = cov.loc[unknown, shocked].to_numpy() @ weights
        expected.loc[shocked] = known.to_numpy()
        got = conditional_fill(known, cov)
        assert list(got.index) == names
        np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())
