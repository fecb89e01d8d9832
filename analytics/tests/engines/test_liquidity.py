"""The liquidity engine on hand-computed arrays: the ADV window, grouped days to liquidate, the profile."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.engines.liquidity import average_daily_volume, liquidation_days, liquidity_profile


def test_the_adv_averages_the_last_window_sessions_with_a_bar():
    volumes = np.array(
        [
            [1e9, 1e9, np.nan],  # outside the 3-session window
            [100.0, 10.0, np.nan],
            [200.0, np.nan, np.nan],
            [300.0, 20.0, np.nan],
        ]
    )
    adv, sessions = average_daily_volume(volumes, window=3)
    assert adv[0] == pytest.approx(200.0) and sessions[0] == 3
    assert adv[1] == pytest.approx(15.0) and sessions[1] == 2  # the missing session is not a zero
    assert np.isnan(adv[2]) and sessions[2] == 0


def test_positions_on_one_symbol_share_its_volume():
    # AAA: 30,000 shares + an option of 4,000 delta shares (short: sign ignored) against 100,000 a day at 20%.
    days = liquidation_days(
        shares=[30_000.0, -4_000.0, 5_000.0, 10.0, 100.0],
        adv=[100_000.0, 100_000.0, 10_000.0, 0.0, np.nan],
        group=["AAA", "AAA", "BBB", "ZZZ", "QQQ"],
        participation=0.2,
    )
    assert days[0] == pytest.approx(34_000 / 20_000) and days[1] == pytest.approx(1.7)
    assert days[2] == pytest.approx(5_000 / 2_000)
    assert np.isnan(days[3]) and np.isnan(days[4])  # no volume: not a number of days


def test_the_profile_sells_pro_rata_and_never_counts_a_position_without_volume():
    value = [100.0, -300.0, 200.0, 400.0]  # gross 1,000; the short counts by its size
    days = [0.5, 2.5, 10.0, np.nan]
    profile = liquidity_profile(gross_value=value, days=days, horizons=(1, 5, 20))
    # 1 day: 100 + 300 × 1/2.5 + 200 × 1/10 = 240; 5 days: 100 + 300 + 200 × 0.5 = 500; 20 days: 600.
    assert profile.tolist() == pytest.approx([0.24, 0.50, 0.60])


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="participation"):
        liquidation_days(shares=[1.0], adv=[1.0], group=["A"], participation=0.0)
    with pytest.raises(ValueError, match="window"):
        average_daily_volume(np.ones((2, 2)), window=0)
    assert np.isnan(liquidity_profile(gross_value=[], days=[], horizons=(1,))).all()
