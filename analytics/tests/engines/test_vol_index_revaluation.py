"""A volatility index inside the revaluation engines: market scenarios, stress and historical VaR move it
by its own model, price its options on its forward, and move every option's vol by the day's change.

Oracles: the OU forward written out by hand here (not the engine's ``forward``), py_vollib's Black-76
and Black–Scholes–Merton, and hand arithmetic for the shocked levels.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from analytics.engines.book import PositionBook
from analytics.engines.scenarios import scenario_pnl
from analytics.engines.stress import VOL_BUCKET, stress_pnl
from analytics.engines.var import historical_position_pnl
from analytics.engines.volatility_index import DEFAULT_FLOOR, DEFAULT_LOG_VOL, DEFAULT_MEAN_LEVEL, DEFAULT_REVERSION
from marketdata.factors import FACTOR_NAMES

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from py_vollib.black import black as vollib_black
    from py_vollib.black_scholes_merton import black_scholes_merton as vollib_bsm

RATE = 0.045
VIX, STRIKE, YEARS, VOL, CONTRACTS = 14.5, 24.0, 0.167, 0.84, 1014.0
# Row 0: 1,014 VIX calls (Black-76 vol 0.84) | row 1: the index itself (a hypothetical holding of 100
# units) | row 2: 3 SPY calls struck at 600, spot 590, vol 0.18. VIX's fitted beta −4.77 must not matter.
BOOK = PositionBook.of(
    quantity=[CONTRACTS, 100.0, 3.0],
    multiplier=[100.0, 1.0, 100.0],
    price=[0.0, VIX, 0.0],  # an option's price is not used by the repricing (its model value is)
    is_option=[True, False, True],
    is_call=[True, False, True],
    spot=[VIX, VIX, 590.0],
    strike=[STRIKE, 0.0, 600.0],
    years=[YEARS, 0.0, 0.25],
    vol=[VOL, 0.0, 0.18],
    rate=RATE,
    div_yield=0.0,
    vol_index=[True, True, False],
)
BETA = np.array([-4.77, -4.77, 1.0])


def _forward(level: float, years: float) -> float:
    """E[V_T] of the log-OU index (θ 17.5, κ = −252 ln 0.975, σ 1.05), written out."""
    kappa, sigma, mu = DEFAULT_REVERSION, DEFAULT_LOG_VOL, math.log(DEFAULT_MEAN_LEVEL)
    variance = sigma**2 * (1 - math.exp(-2 * kappa * years)) / (2 * kappa)
    return math.exp(mu + math.exp(-kappa * years) * (math.log(level) - mu) + variance / 2)


def _vix_call(level: float, vol: float = VOL) -> float:
    return vollib_black("c", _forward(level, YEARS), STRIKE, YEARS, RATE, vol)


@pytest.mark.parametrize("shock", [-0.20, -0.05, 0.05, 0.20, 0.25])
def test_a_market_move_takes_the_index_by_its_log_sensitivity_not_its_beta(shock: float) -> None:
    pnl = scenario_pnl(shocks=[shock], book=BOOK, market_beta=BETA)[0]
    level = max(VIX * (1 + shock) ** -4.75, DEFAULT_FLOOR)  # +20 %: 14.5 × 1.2^−4.75 = 6.10 → the floor, 9
    assert level > 0
    assert pnl[0] == pytest.approx((_vix_call(level) - _vix_call(VIX)) * CONTRACTS * 100, rel=1e-9)
    assert pnl[1] == pytest.approx(100 * (level - VIX), rel=1e-12)
    spot = 590.0 * (1 + shock)
    expected = (vollib_bsm("c", spot, 600, 0.25, RATE, 0.18, 0) - vollib_bsm("c", 590, 600, 0.25, RATE, 0.18, 0)) * 300
    assert pnl[2] == pytest.approx(expected, rel=1e-9)
    # The linear beta would have taken the index to 14.5 × (1 − 4.77 × 0.25) < 0 on a +25 % rally.
    assert VIX * (1 + BETA[0] * 0.25) < 0


def test_a_stated_vol_shift_sets_the_index_level_and_its_pnl_goes_to_implied_vol() -> None:
    shocks = pd.Series(0.0, index=list(FACTOR_NAMES))
    shocks["market"] = -0.35
    betas = np.zeros((3, len(FACTOR_NAMES)))
    betas[:, 0] = BETA  # a −4.77 market beta would take VIX to 14.5 × (1 + 1.67) — not used
    result = stress_pnl(factor_shocks=shocks, betas=betas, book=BOOK, vol_shift=0.30)
    level = VIX + 30.0  # 44.5
    call_pnl = (_vix_call(level) - _vix_call(VIX)) * CONTRACTS * 100  # its own vol: the shift is the level's
    assert result.position_pnl[0] == pytest.approx(call_pnl, rel=1e-9)
    assert result.position_pnl[1] == pytest.approx(100 * 30.0, rel=1e-12)
    by_factor = result.factor_pnl
    assert by_factor.loc[0, VOL_BUCKET] == pytest.approx(call_pnl, rel=1e-9)
    assert by_factor.loc[1, VOL_BUCKET] == pytest.approx(3000.0, rel=1e-12)
    assert np.abs(by_factor.loc[[0, 1], list(FACTOR_NAMES)].to_numpy()).max() == 0.0
    # The SPY call: −35 % through its beta of 1, vol + 30 points.
    spy = (vollib_bsm("c", 590 * 0.65, 600, 0.25, RATE, 0.48, 0) - vollib_bsm("c", 590, 600, 0.25, RATE, 0.18, 0)) * 300
    assert result.position_pnl[2] == pytest.approx(spy, rel=1e-9)


def test_without_a_stated_shift_the_market_factor_moves_the_index_and_carries_its_pnl() -> None:
    shocks = pd.Series(0.0, index=list(FACTOR_NAMES))
    shocks["market"], shocks["size"] = -0.10, -0.08
    betas = np.zeros((3, len(FACTOR_NAMES)))
    betas[:, 0], betas[:, 5] = BETA, 2.0  # whatever VIX's betas, its move is the market's through −4.75
    result = stress_pnl(factor_shocks=shocks, betas=betas, book=BOOK, vol_shift=None)
    level = VIX * 0.9**-4.75  # 23.66
    call_pnl = (_vix_call(level) - _vix_call(VIX)) * CONTRACTS * 100
    assert result.position_pnl[0] == pytest.approx(call_pnl, rel=1e-9)
    assert result.factor_pnl.loc[0, "market"] == pytest.approx(call_pnl, rel=1e-9)
    assert result.factor_pnl.loc[1, "market"] == pytest.approx(100 * (level - VIX), rel=1e-12)
    assert result.factor_pnl.loc[[0, 1], ["size", VOL_BUCKET]].abs().to_numpy().max() == 0.0
    assert result.factor_pnl.sum(axis=1).to_numpy() == pytest.approx(result.position_pnl)


def test_historical_days_move_spots_and_implied_vols_by_the_days_changes() -> None:
    returns = np.array([[0.35, 0.35, -0.03], [-0.12, -0.12, 0.01]])  # the index +35 % / −12 %, SPY −3 % / +1 %
    vol_ratio = np.array([[1.20, 1.0, 1.10], [0.90, 1.0, 0.95]])  # σ_t / σ_{t−1} of each option that day
    pnl = historical_position_pnl(returns=returns, book=BOOK, option_vol_ratio=vol_ratio[:, BOOK.is_option])
    held = historical_position_pnl(returns=returns, book=BOOK)
    spy_base = vollib_bsm("c", 590, 600, 0.25, RATE, 0.18, 0)
    for day in range(2):
        r_vix, r_spy = returns[day, 0], returns[day, 2]
        vix = (_vix_call(VIX * (1 + r_vix), VOL * vol_ratio[day, 0]) - _vix_call(VIX)) * CONTRACTS * 100
        assert pnl[day, 0] == pytest.approx(vix, rel=1e-9)
        assert pnl[day, 1] == pytest.approx(100 * VIX * r_vix, rel=1e-12)
        spy = vollib_bsm("c", 590 * (1 + r_spy), 600, 0.25, RATE, 0.18 * vol_ratio[day, 2], 0) - spy_base
        assert pnl[day, 2] == pytest.approx(spy * 300, rel=1e-9)
        held_spy = vollib_bsm("c", 590 * (1 + r_spy), 600, 0.25, RATE, 0.18, 0) - spy_base
        assert held[day, 2] == pytest.approx(held_spy * 300, rel=1e-9)
    assert np.abs(pnl - held)[:, [0, 2]].min() > 1.0  # the vol dimension changes every option's P&L
