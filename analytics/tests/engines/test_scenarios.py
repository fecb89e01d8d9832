"""Market-move scenarios: linear stocks, fully repriced options (convexity), options at expiry at intrinsic."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from analytics.engines.black_scholes import bsm_greeks
from analytics.engines.book import PositionBook
from analytics.engines.scenarios import MARKET_SHOCKS, scenario_pnl, shocked_price_ratio, underlying_shocked_spots

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from py_vollib.black_scholes_merton import black_scholes_merton as vollib_price

# long 100 stock @ 50 beta 1.2 | short 200 stock @ 25 beta 0.8 | long 2 calls | short 3 puts | call at expiry
POSITIONS = {
    "quantity": np.array([100.0, -200.0, 2.0, -3.0, 5.0]),
    "multiplier": np.array([1.0, 1.0, 100.0, 100.0, 100.0]),
    "price": np.array([50.0, 25.0, 6.0, 4.0, 1.0]),
    "is_option": np.array([False, False, True, True, True]),
    "is_call": np.array([False, False, True, False, True]),
    "spot": np.array([50.0, 25.0, 100.0, 100.0, 100.0]),
    "strike": np.array([0.0, 0.0, 100.0, 95.0, 90.0]),
    "years": np.array([0.0, 0.0, 0.5, 0.25, 0.0]),
    "vol": np.array([0.0, 0.0, 0.30, 0.35, 0.30]),
    "rate": 0.04,
    "div_yield": 0.01,
}
BOOK = PositionBook.of(**POSITIONS)
BETA = np.array([1.2, 0.8, 1.0, 1.5, 1.0])


def test_shocks_constant_covers_plus_minus_5_10_20() -> None:
    assert MARKET_SHOCKS == (-0.20, -0.10, -0.05, 0.05, 0.10, 0.20)


def test_shocked_spots_move_by_beta_and_stay_positive() -> None:
    np.testing.assert_allclose(underlying_shocked_spots(np.array([100.0, 50.0]), np.array([1.5, 2.0]), -0.1), [85, 40])
    # β 6, −20 %: linear −120 % would be negative; 0.5 e^{(−1.2 + 0.5)/0.5} = 0.5 e^{−1.4} = 0.1232985.
    assert underlying_shocked_spots(100.0, 6.0, -0.2) == pytest.approx(12.32985, abs=1e-5)


def test_stock_pnl_is_linear_in_beta_and_shock() -> None:
    pnl = scenario_pnl(shocks=MARKET_SHOCKS, book=BOOK, market_beta=BETA)
    assert pnl.shape == (6, 5)
    # long: 100 × 50 × 1.2 × shock = 6,000 × shock; short: −200 × 25 × 0.8 × shock = −4,000 × shock
    np.testing.assert_allclose(pnl[:, 0], 6_000 * np.array(MARKET_SHOCKS))
    np.testing.assert_allclose(pnl[:, 1], -4_000 * np.array(MARKET_SHOCKS))


def test_options_are_fully_repriced_against_an_independent_pricer() -> None:
    pnl = scenario_pnl(shocks=[-0.10], book=BOOK, market_beta=BETA)
    # Long call: underlying 100 → 90 (beta 1); short put: 100 → 85 (beta 1.5).
    call_before = vollib_price("c", 100.0, 100.0, 0.5, 0.04, 0.30, 0.01)
    call_after = vollib_price("c", 90.0, 100.0, 0.5, 0.04, 0.30, 0.01)
    put_before = vollib_price("p", 100.0, 95.0, 0.25, 0.04, 0.35, 0.01)
    put_after = vollib_price("p", 85.0, 95.0, 0.25, 0.04, 0.35, 0.01)
    assert pnl[0, 2] == pytest.approx((call_after - call_before) * 2 * 100, rel=1e-8)
    assert pnl[0, 3] == pytest.approx((put_after - put_before) * -3 * 100, rel=1e-8)


def test_long_call_is_convex_and_short_put_loses_more_than_linear() -> None:
    pnl = scenario_pnl(shocks=[-0.20, 0.20], book=BOOK, market_beta=BETA)
    call_down, call_up = pnl[:, 2]
    assert call_up > -call_down > 0  # gains more on +20 % than it loses on −20 %
    g = bsm_greeks(spot=100.0, strike=95.0, years=0.25, vol=0.35, rate=0.04, div_yield=0.01, is_call=False)
    linear_put_loss = float(g.delta) * -3 * 100 * 100.0 * (1.5 * -0.20)  # dollar delta × underlying return
    assert pnl[0, 3] < linear_put_loss < 0


def test_an_option_at_expiry_moves_with_its_intrinsic_value() -> None:
    pnl = scenario_pnl(shocks=MARKET_SHOCKS, book=BOOK, market_beta=BETA)
    # 5 calls struck at 90, spot 100, beta 1: worth 10 a share; after the move max(100(1 + m) − 90, 0).
    expected = [(max(100 * (1 + m) - 90, 0.0) - 10.0) * 5 * 100 for m in MARKET_SHOCKS]
    np.testing.assert_allclose(pnl[:, 4], expected, atol=1e-9)


def test_vol_shift_raises_long_option_value_and_is_floored() -> None:
    base = scenario_pnl(shocks=[0.0], book=BOOK, market_beta=BETA)
    up = scenario_pnl(shocks=[0.0], book=BOOK, market_beta=BETA, vol_shift=0.10)
    np.testing.assert_allclose(base[0], 0.0, atol=1e-9)
    assert up[0, 2] > 0 > up[0, 3]  # long call gains vega, short put loses
    crushed = scenario_pnl(
        shocks=[0.0], book=BOOK, market_beta=BETA, vol_shift=-5.0
    )  # vol floored at 1 point, still prices
    assert np.isfinite(crushed).all()


def test_the_price_ratio_is_linear_down_to_minus_half_then_exponential_and_always_positive() -> None:
    r = np.array([0.9, 0.0, -0.4, -0.5, -0.6, -1.0, -2.0, -50.0])
    # Hand-computed: 1 + R above −0.5; 0.5 e^{2(R + 0.5)} below.
    expected = [1.9, 1.0, 0.6, 0.5, 0.5 * np.exp(-0.2), 0.5 * np.exp(-1.0), 0.5 * np.exp(-3.0), 0.5 * np.exp(-99.0)]
    np.testing.assert_allclose(shocked_price_ratio(r), expected, rtol=1e-12)
    assert (shocked_price_ratio(np.linspace(-100, 10, 10_001)) > 0).all()
    # Continuous, with a continuous slope (1) at the floor; increasing everywhere.
    h = 1e-7
    assert (shocked_price_ratio(-0.5) - shocked_price_ratio(-0.5 - h)) / h == pytest.approx(1.0, rel=1e-5)
    assert (np.diff(shocked_price_ratio(np.linspace(-5, 2, 701))) > 0).all()


def test_a_high_beta_stock_in_a_crash_loses_less_than_its_value_and_its_put_is_priced_at_a_positive_spot() -> None:
    book = PositionBook.of(
        quantity=[100.0, 1.0],
        multiplier=[1.0, 100.0],
        price=[50.0, 5.0],
        is_option=[False, True],
        is_call=[False, False],
        spot=[50.0, 50.0],
        strike=[0.0, 45.0],
        years=[0.0, 0.25],
        vol=[0.0, 0.5],
        rate=0.04,
        div_yield=0.0,
    )
    pnl = scenario_pnl(shocks=[-0.20], book=book, market_beta=[6.0, 6.0])
    ratio = 0.5 * np.exp(-1.4)
    assert pnl[0, 0] == pytest.approx(5_000 * (ratio - 1.0))  # −4,383.5, not −6,000
    base = vollib_price("p", 50.0, 45.0, 0.25, 0.04, 0.5, 0.0)
    shocked = vollib_price("p", 50.0 * ratio, 45.0, 0.25, 0.04, 0.5, 0.0)
    assert pnl[0, 1] == pytest.approx((shocked - base) * 100, rel=1e-8)
