"""Valuation of a small hand-computed book: long stock, short stock, long call, short put."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.engines.valuation import daily_pnl, exposure_totals, position_values, totals_by_group

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
DOLLAR_DELTA = DELTA * QTY * MULT * SPOT  # what black_scholes.position_greeks computes


def values():
    return position_values(
        quantity=QTY, price=PRICE, multiplier=MULT, entry_price=ENTRY, is_option=IS_OPTION, dollar_delta=DOLLAR_DELTA
    )


def test_position_values_for_longs_shorts_and_options() -> None:
    out = values()
    # 100×200 = 20,000; −50×300 = −15,000; 2×5×100 = 1,000; −3×2.5×100 = −750
    np.testing.assert_allclose(out.market_value, [20_000, -15_000, 1_000, -750])
    # 100×150 = 15,000; −50×350 = −17,500; 2×4×100 = 800; −3×3×100 = −900
    np.testing.assert_allclose(out.cost_basis, [15_000, -17_500, 800, -900])
    # The short stock fell 350 → 300 and the short put 3.00 → 2.50: both are gains.
    np.testing.assert_allclose(out.unrealised_pnl, [5_000, 2_500, 200, 150])


def test_delta_exposure_is_market_value_for_stocks_and_dollar_delta_for_options() -> None:
    # call: 0.6×2×100×500 = 60,000; short put: −0.3×−3×100×400 = +36,000 (short puts are long delta)
    np.testing.assert_allclose(values().delta_exposure, [20_000, -15_000, 60_000, 36_000])


def test_an_option_without_a_delta_or_a_position_without_a_price_stays_nan() -> None:
    out = position_values(quantity=[2.0, 10.0], price=[5.0, np.nan], multiplier=[100.0, 1.0], entry_price=[4.0, 9.0],
                          is_option=[True, False])  # fmt: skip
    assert np.isnan(out.delta_exposure[0]) and out.market_value[0] == 1_000
    assert np.isnan(out.market_value[1]) and np.isnan(out.unrealised_pnl[1]) and out.cost_basis[1] == 90


def test_exposure_totals_hand_computed() -> None:
    out = exposure_totals(
        market_value=values().market_value,
        delta_exposure=values().delta_exposure,
        is_option=IS_OPTION,
        equity_balance=50_000.0,
    )
    assert out.long == 21_000  # 20,000 + 1,000
    assert out.short == -15_750  # −15,000 − 750
    assert out.gross == 36_750
    assert out.net == 5_250
    assert out.delta_adjusted == 101_000  # 20,000 − 15,000 + 60,000 + 36,000
    assert out.options == 1_750  # |1,000| + |−750|
    assert out.stocks == 35_000
    assert out.cash == 44_750  # 50,000 − 21,000 + 15,750
    assert out.leverage == pytest.approx(0.735)  # 36,750 / 50,000
    assert out.positions_without_price == 0 and out.positions_without_delta == 0


def test_no_equity_means_no_cash_or_leverage() -> None:
    out = exposure_totals(market_value=[1.0], delta_exposure=[1.0], is_option=[False], equity_balance=None)
    assert out.cash is None and out.leverage is None
    out = exposure_totals(market_value=[1.0], delta_exposure=[1.0], is_option=[False], equity_balance=0.0)
    assert out.cash == -1.0 and out.leverage is None


def test_missing_prices_and_deltas_are_counted_not_hidden() -> None:
    out = exposure_totals(
        market_value=[100.0, np.nan], delta_exposure=[100.0, np.nan], is_option=[False, True], equity_balance=None
    )
    assert out.gross == 100 and out.positions_without_price == 1 and out.positions_without_delta == 1


def test_totals_by_tag_count_a_position_in_each_of_its_tags() -> None:
    tags = [["tech", "core"], ["tech"], [], ["hedge", "core"]]
    out = totals_by_group(groups=tags, market_value=values().market_value, delta_exposure=values().delta_exposure)
    assert list(out) == ["core", "hedge", "tech"]
    assert (out["core"].market_value, out["core"].gross, out["core"].count) == (19_250.0, 20_750.0, 2)
    assert out["core"].delta_exposure == pytest.approx(56_000.0)  # 20,000 + 36,000
    assert (out["hedge"].market_value, out["tech"].market_value, out["tech"].gross) == (-750.0, 5_000.0, 35_000.0)


def test_totals_by_underlying_and_unpriced_positions_add_nothing() -> None:
    out = totals_by_group(
        groups=[["AAPL"], ["TSLA"], ["AAPL"], ["TSLA"]],
        market_value=[20_000.0, -15_000.0, np.nan, -750.0],
        delta_exposure=[20_000.0, -15_000.0, 60_000.0, 36_000.0],
    )
    assert (out["AAPL"].market_value, out["AAPL"].delta_exposure, out["AAPL"].count) == (20_000.0, 80_000.0, 2)
    assert (out["TSLA"].market_value, out["TSLA"].delta_exposure) == (-15_750.0, 21_000.0)


def test_daily_pnl_is_right_for_shorts_and_options() -> None:
    np.testing.assert_allclose(
        daily_pnl(
            quantity=[10.0, -5.0, -2.0], multiplier=[1.0, 1.0, 100.0], prev_price=[100, 50, 3.0], price=[102, 48, 3.5]
        ),
        [20.0, 10.0, -100.0],  # short 2 calls, value 3.00 → 3.50 per share: −2 × 100 × 0.5
    )
    # The original system took the change in gross exposure: long 10 A 100 → 102 and short 5 B 50 → 48 is
    # +30 of P&L, while gross moved 1,250 → 1,260 (+10).
    assert daily_pnl(quantity=[10.0, -5.0], multiplier=[1.0, 1.0], prev_price=[100, 50], price=[102, 48]).sum() == 30
