"""Daily P&L and value history: a hand-computed 3-day, 2-position book with a short."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.engines.snapshots import daily_pnl, portfolio_value_series

# Long 10 A, short 5 B. Prices: A 100 → 102 → 99; B 50 → 48 → 51.
# Day 0: value = 10×100 − 5×50 = 750; gross = 1,000 + 250 = 1,250.
# Day 1: P&L = 10×(+2) + (−5)×(−2) = 20 + 10 = +30; value = 1,020 − 240 = 780; gross 1,260.
# Day 2: P&L = 10×(−3) + (−5)×(+3) = −30 − 15 = −45; value = 990 − 255 = 735; gross 1,245.
PRICES = pd.DataFrame(
    {"A": [100.0, 102.0, 99.0], "B": [50.0, 48.0, 51.0]},
    index=pd.to_datetime(["2026-11-18", "2026-11-19", "2026-11-20"]),
)
QTY = np.array([10.0, -5.0])


def test_daily_pnl_is_right_for_shorts_and_options() -> None:
    np.testing.assert_allclose(
        daily_pnl(
            quantity=[10.0, -5.0, -2.0], multiplier=[1.0, 1.0, 100.0], prev_price=[100, 50, 3.0], price=[102, 48, 3.5]
        ),
        [20.0, 10.0, -100.0],  # short 2 calls, value 3.00 → 3.50 per share: −2 × 100 × 0.5
    )


def test_value_series_with_gross_base() -> None:
    out = portfolio_value_series(prices=PRICES, quantity=QTY, multiplier=1.0)
    np.testing.assert_allclose(out["value"], [750, 780, 735])
    np.testing.assert_allclose(out["gross"], [1_250, 1_260, 1_245])
    assert np.isnan(out["daily_pnl"].iloc[0])
    np.testing.assert_allclose(out["daily_pnl"].iloc[1:], [30, -45])
    np.testing.assert_allclose(out["daily_return"].iloc[1:], [30 / 1_250, -45 / 1_260])
    np.testing.assert_allclose(out["cumulative_pnl"], [0, 30, -15])
    # The original used the change in gross exposure as P&L: +10 then −15, wrong for the short.
    assert out["daily_pnl"].iloc[1] != out["gross"].diff().iloc[1]


def test_value_series_with_equity_base() -> None:
    out = portfolio_value_series(prices=PRICES, quantity=QTY, multiplier=1.0, equity_balance=10_000.0)
    np.testing.assert_allclose(out["daily_return"].iloc[1:], [0.003, -0.0045])


def test_value_series_with_changing_quantities_uses_yesterdays_holding() -> None:
    qty = np.array([[10.0, -5.0], [20.0, -5.0], [20.0, 0.0]])
    out = portfolio_value_series(prices=PRICES, quantity=qty, multiplier=[1.0, 1.0])
    # Day 2 P&L uses day-1 holdings: 20×(−3) + (−5)×3 = −75.
    assert out["daily_pnl"].iloc[2] == pytest.approx(-75.0)
    assert out["value"].iloc[2] == pytest.approx(1_980.0)
