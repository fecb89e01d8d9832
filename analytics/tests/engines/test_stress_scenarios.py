"""``stress_pnl_scenarios`` (every scenario in one pass) against ``stress_pnl`` (one scenario per call) and a
hand-computed option repricing (py_vollib), on a book with stocks, short stocks, calls, puts, a volatility
index and an option on it, for scenarios that state an implied-vol shift and ones that do not."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.engines.book import PositionBook
from analytics.engines.stress import (
    conditioned_factor_shocks,
    direct_factor_shocks,
    stress_pnl,
    stress_pnl_scenarios,
)
from analytics.services.compute import FACTOR_SET as FACTORS
from marketdata.factors import FACTOR_NAMES, FACTOR_SYMBOLS

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from py_vollib.black_scholes_merton import black_scholes_merton as vollib_price

CATALOG = Path(__file__).resolve().parents[2] / "fixtures" / "stress_scenarios.json"
NAMES = list(FACTOR_NAMES)


def proxy_cov() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    spy = rng.normal(0, 0.012, 1500)
    cols = {"SPY": spy}
    for sym, beta in zip(FACTOR_SYMBOLS[1:7], (0.9, 1.1, 1.0, 1.0, 1.15, 0.7), strict=True):
        cols[sym] = beta * spy + rng.normal(0, 0.004, 1500)
    cols["TLT"] = -0.3 * spy + rng.normal(0, 0.009, 1500)
    return pd.DataFrame(cols).cov()


def book_and_betas() -> tuple[PositionBook, np.ndarray]:
    rng = np.random.default_rng(5)
    n = 7
    betas = rng.normal(0.3, 0.5, (n, len(NAMES)))
    betas[0, 1] = np.nan  # a missing beta counts as no exposure
    book = PositionBook.of(
        quantity=[100, -50, 3, -2, 10, 200, 4],
        multiplier=[1, 1, 100, 100, 100, 1, 100],
        price=[50.0, 80.0, 6.0, 4.0, 3.0, 18.0, 2.5],
        is_option=[False, False, True, True, True, False, True],
        is_call=[False, False, True, False, True, False, True],
        spot=[50.0, 80.0, 100.0, 100.0, 40.0, 18.0, 18.0],
        strike=[1.0, 1.0, 105.0, 90.0, 40.0, 1.0, 20.0],
        years=[0, 0, 0.5, 0.25, 0.1, 0, 0.2],
        vol=[0, 0, 0.3, 0.35, 0.5, 0, 0.9],
        rate=0.04,
        div_yield=0.01,
        vol_index=[False, False, False, False, False, True, True],  # a VIX position and a VIX call
    )
    return book, betas


@pytest.mark.parametrize("conditioned", [False, True])
def test_every_scenario_at_once_equals_one_call_per_scenario(conditioned: bool) -> None:
    catalog = json.loads(CATALOG.read_text())["scenarios"]
    cov = proxy_cov()
    book, betas = book_and_betas()
    shocks = [
        conditioned_factor_shocks(s["shocks"], cov, FACTORS)
        if conditioned
        else direct_factor_shocks(s["shocks"], FACTORS)
        for s in catalog
    ]
    shifts = [float(s["implied_vol_shift"]) if s.get("implied_vol_shift") else None for s in catalog]
    assert any(v is None for v in shifts) and any(v is not None for v in shifts)
    total, by_factor = stress_pnl_scenarios(
        factor_shocks=np.vstack([f.reindex(NAMES).to_numpy() for f in shocks]),
        factor_names=NAMES,
        betas=betas,
        book=book,
        vol_shifts=shifts,
    )
    assert total.shape == (len(catalog), 7) and by_factor.shape == (len(catalog), 7, len(NAMES) + 1)
    for s, (f, shift) in enumerate(zip(shocks, shifts, strict=True)):
        one = stress_pnl(factor_shocks=f, betas=betas, book=book, vol_shift=shift)
        np.testing.assert_allclose(total[s], one.position_pnl, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(by_factor[s], one.factor_pnl.to_numpy(), rtol=1e-12, atol=1e-9)


def test_an_option_is_repriced_as_by_hand_in_every_scenario() -> None:
    # Long 2 calls, β_mkt 1.5: market −20 % (R = −0.30, spot 100 → 70, vol +0.2) and market +10 % (no vol shift).
    f = np.zeros((2, len(NAMES)))
    f[0, 0], f[1, 0] = -0.20, 0.10
    betas = np.zeros((1, len(NAMES)))
    betas[0, 0] = 1.5
    kw = {"quantity": [2.0], "multiplier": [100.0], "price": [8.0], "is_option": [True], "is_call": [True]}
    book = PositionBook.of(spot=[100.0], strike=[100.0], years=[0.5], vol=[0.3], rate=0.04, div_yield=0.01, **kw)
    total, by_factor = stress_pnl_scenarios(
        factor_shocks=f, factor_names=NAMES, betas=betas, book=book, vol_shifts=[0.2, None]
    )
    before = vollib_price("c", 100.0, 100.0, 0.5, 0.04, 0.3, 0.01)
    assert total[0, 0] == pytest.approx((vollib_price("c", 70.0, 100.0, 0.5, 0.04, 0.5, 0.01) - before) * 200, rel=1e-8)
    assert total[1, 0] == pytest.approx(
        (vollib_price("c", 115.0, 100.0, 0.5, 0.04, 0.3, 0.01) - before) * 200, rel=1e-8
    )
    vol_only = (vollib_price("c", 100.0, 100.0, 0.5, 0.04, 0.5, 0.01) - before) * 200
    assert by_factor[0, 0, -1] == pytest.approx(vol_only, rel=1e-8)  # the implied_vol bucket
    assert by_factor[1, 0, 0] == pytest.approx(total[1, 0], rel=1e-10)  # all of it the market's
