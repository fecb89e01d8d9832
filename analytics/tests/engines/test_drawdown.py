"""Drawdown of a cumulative P&L path, against hand-computed values."""

from __future__ import annotations

import math

import numpy as np

from analytics.engines.drawdown import drawdown_from_pnl, max_drawdown


def test_drawdown_is_the_distance_below_the_running_peak():
    # peaks: 0, 100, 100, 100, 150, 150 → drawdowns 0, 0, -40, -130, 0, -50
    drawdown = drawdown_from_pnl([0.0, 100.0, 60.0, -30.0, 150.0, 100.0])
    assert drawdown.tolist() == [0.0, 0.0, -40.0, -130.0, 0.0, -50.0]


def test_a_path_that_only_falls_is_measured_from_its_first_day():
    assert drawdown_from_pnl([0.0, -10.0, -25.0]).tolist() == [0.0, -10.0, -25.0]


def test_a_missing_day_has_no_drawdown_and_sets_no_peak():
    drawdown = drawdown_from_pnl([0.0, 50.0, math.nan, 20.0])
    assert drawdown[:2].tolist() == [0.0, 0.0]
    assert math.isnan(drawdown[2])
    assert drawdown[3] == -30.0


def test_the_maximum_drawdown_names_its_peak_and_trough():
    deepest = max_drawdown([0.0, 100.0, 60.0, -30.0, 150.0, 100.0])
    assert deepest is not None
    assert (deepest.depth, deepest.peak_index, deepest.trough_index) == (-130.0, 1, 3)


def test_no_finite_value_means_no_maximum_drawdown():
    assert max_drawdown([]) is None
    assert max_drawdown([math.nan, math.nan]) is None
    assert drawdown_from_pnl(np.array([])).size == 0
