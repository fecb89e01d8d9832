"""Exposures of a small hand-computed portfolio: long stock, short stock, long call, short put."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.engines.exposures import (
    cost_basis,
    delta_exposure,
    group_totals,
    market_value,
    portfolio_exposures,
    unrealised_pnl,
)

# position          qty  price  entry  mult  delta  spot
# long AAPL stock   100  200    150    1     –      –
# short TSLA stock  −50  300    350    1     –      –
# long SPY call       2    5.00   4.00 100   0.60   500
# short QQQ put      −3    2.50   3.00 100  −0.30   400
QTY = np.array([100.0, -50.0, 2.0, -3.0])
PRICE = np.array([200.0, 300.0, 5.0, 2.5])
ENTRY = np.array([150.0, 350.0, 4.0, 3.0])
MULT = np.array([1.0, 1.0, 100.0, 100.0])
IS_OPTION = np.array([False, False, True, True])
DELTA = np.array([np.nan, np.nan, 0.60, -0.30])
SPOT = np.array([200.0, 300.0, 500.0, 400.0])


def test_position_values_for_longs_shorts_and_options() -> None:
    mv = market_value(quantity=QTY, price=PRICE, multiplier=MULT)
    # 100×200 = 20,000; −50×300 = −15,000; 2×5×100 = 1,000; −3×2.5×100 = −750
    np.testing.assert_allclose(mv, [20_000, -15_000, 1_000, -750])
    cb = cost_basis(quantity=QTY, entry_price=ENTRY, multiplier=MULT)
    # 100×150 = 15,000; −50×350 = −17,500; 2×4×100 = 800; −3×3×100 = −900
    np.testing.assert_allclose(cb, [15_000, -17_500, 800, -900])
    # The short stock fell 350 → 300 and the short put 3.00 → 2.50: both are gains.
    np.testing.assert_allclose(unrealised_pnl(market_value=mv, cost_basis=cb), [5_000, 2_500, 200, 150])


def test_delta_exposure_uses_multiplier_and_underlying_spot() -> None:
    mv = market_value(quantity=QTY, price=PRICE, multiplier=MULT)
    dd = delta_exposure(
        market_value=mv, is_option=IS_OPTION, delta=DELTA, quantity=QTY, multiplier=MULT, underlying_spot=SPOT
    )
    # call: 0.6×2×100×500 = 60,000; short put: −0.3×−3×100×400 = +36,000 (short puts are long delta)
    np.testing.assert_allclose(dd, [20_000, -15_000, 60_000, 36_000])


def test_portfolio_exposures_hand_computed() -> None:
    mv = np.array([20_000.0, -15_000.0, 1_000.0, -750.0])
    dd = np.array([20_000.0, -15_000.0, 60_000.0, 36_000.0])
    out = portfolio_exposures(market_value=mv, delta_exposure=dd, is_option=IS_OPTION, equity_balance=50_000.0)
    assert out["long"] == 21_000  # 20,000 + 1,000
    assert out["short"] == -15_750  # −15,000 − 750
    assert out["gross"] == 36_750
    assert out["net"] == 5_250
    assert out["delta_adjusted"] == 101_000  # 20,000 − 15,000 + 60,000 + 36,000
    assert out["options_exposure"] == 1_750  # |1,000| + |−750|
    assert out["stock_exposure"] == 35_000
    assert out["cash"] == 44_750  # 50,000 − 21,000 + 15,750
    assert out["leverage"] == pytest.approx(0.735)  # 36,750 / 50,000
    assert out["positions_without_price"] == 0 and out["positions_without_delta"] == 0


def test_no_equity_means_no_cash_or_leverage() -> None:
    out = portfolio_exposures(market_value=[1.0], delta_exposure=[1.0], is_option=[False], equity_balance=None)
    assert out["cash"] is None and out["leverage"] is None
    out = portfolio_exposures(market_value=[1.0], delta_exposure=[1.0], is_option=[False], equity_balance=0.0)
    assert out["cash"] == -1.0 and out["leverage"] is None


def test_missing_prices_and_deltas_are_counted_not_hidden() -> None:
    out = portfolio_exposures(
        market_value=[100.0, np.nan], delta_exposure=[100.0, np.nan], is_option=[False, True], equity_balance=None
    )
    assert out["gross"] == 100 and out["positions_without_price"] == 1 and out["positions_without_delta"] == 1


def test_group_totals_by_tag_count_a_position_in_each_of_its_tags() -> None:
    values = pd.Series([20_000.0, -15_000.0, 1_000.0, -750.0])
    tags = [["tech", "core"], ["tech"], [], ["hedge", "core"]]
    assert group_totals(values, tags) == {"core": 19_250.0, "hedge": -750.0, "tech": 5_000.0}


def test_group_totals_by_underlying() -> None:
    values = pd.Series([20_000.0, -15_000.0, 1_000.0, -750.0], index=["a", "b", "c", "d"])
    underlying = pd.Series(["AAPL", "TSLA", "AAPL", "TSLA"], index=["w", "x", "y", "z"])
    assert group_totals(values, underlying) == {"AAPL": 21_000.0, "TSLA": -15_750.0}
