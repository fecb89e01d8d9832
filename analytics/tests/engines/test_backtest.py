"""VaR backtests against hand-computed likelihoods and scipy's χ² and binomial distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom, chi2

from analytics.engines.backtest import (
    christoffersen_independence,
    exceptions,
    kupiec_pof,
    traffic_light,
    transitions,
    var_backtest,
)


def test_an_exception_is_a_loss_strictly_beyond_the_var():
    hits = exceptions(var=[100.0, 100.0, 100.0, 100.0], pnl=[-100.0, -100.01, 50.0, -250.0])
    assert hits.tolist() == [False, True, False, True]
    with pytest.raises(ValueError, match="finite"):
        exceptions(var=[np.nan], pnl=[1.0])


def test_kupiec_matches_the_likelihood_ratio_by_hand_and_scipy():
    # T = 250, x = 5 at p = 1%: LR = -2 ln[(0.99^245 · 0.01^5) / (0.98^245 · 0.02^5)].
    by_hand = -2.0 * math.log((0.99**245 * 0.01**5) / (0.98**245 * 0.02**5))
    assert by_hand == pytest.approx(1.95681, abs=1e-4)
    result = kupiec_pof(observations=250, exceptions=5, coverage=0.01)
    assert result.statistic == pytest.approx(by_hand, rel=1e-10)
    assert result.p_value == pytest.approx(chi2.sf(by_hand, 1), rel=1e-10)
    # No exception at all: LR = -2 T ln(1 - p), the ratio's alternative being 1.
    none = kupiec_pof(observations=250, exceptions=0, coverage=0.01)
    assert none.statistic == pytest.approx(-2 * 250 * math.log(0.99), rel=1e-12)
    # Exactly the expected count: the statistic is 0, p = 1.
    exact = kupiec_pof(observations=200, exceptions=2, coverage=0.01)
    assert exact.statistic == pytest.approx(0.0, abs=1e-12) and exact.p_value == pytest.approx(1.0)


def test_christoffersen_matches_the_transition_likelihoods_by_hand_and_scipy():
    hits = np.array([0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0], dtype=bool)
    counts = transitions(hits)
    assert (counts.n00, counts.n01, counts.n10, counts.n11) == (6, 2, 2, 2)
    # π = 4/12, π0 = 2/8, π1 = 2/4.
    restricted = (2 / 3) ** 8 * (1 / 3) ** 4
    unrestricted = 0.75**6 * 0.25**2 * 0.5**2 * 0.5**2
    by_hand = -2.0 * math.log(restricted / unrestricted)
    assert by_hand == pytest.approx(0.733801, abs=1e-6)
    result, _ = christoffersen_independence(hits)
    assert result.statistic == pytest.approx(by_hand, rel=1e-10)
    assert result.p_value == pytest.approx(chi2.sf(by_hand, 1), rel=1e-10)


def test_christoffersen_with_no_repeated_exception_uses_zero_log_zero():
    hits = np.array([0, 1, 0, 0, 1, 0, 0, 0], dtype=bool)  # n00 = 3, n01 = 2, n10 = 2, n11 = 0
    restricted = (5 / 7) ** 5 * (2 / 7) ** 2
    unrestricted = 0.6**3 * 0.4**2 * 1.0**2  # π1 = 0: (1 − π1)^n10 = 1, π1^0 = 1
    result, counts = christoffersen_independence(hits)
    assert counts.n11 == 0
    assert result.statistic == pytest.approx(-2.0 * math.log(restricted / unrestricted), rel=1e-10)
    never, _ = christoffersen_independence(np.zeros(30, dtype=bool))
    assert never.statistic == 0.0 and never.p_value == 1.0


def test_the_basel_traffic_light_at_99_percent_over_250_days():
    zones = [traffic_light(exceptions=x, observations=250, coverage=0.01) for x in range(13)]
    assert zones == ["green"] * 5 + ["yellow"] * 5 + ["red"] * 3
    # The rule is the binomial CDF's: check the boundaries against scipy.
    assert binom.cdf(4, 250, 0.01) < 0.95 <= binom.cdf(5, 250, 0.01)
    assert binom.cdf(9, 250, 0.01) < 0.9999 <= binom.cdf(10, 250, 0.01)
    # 95% VaR over 250 days (Basel-style): 12.5 expected, green while P(X <= x) < 95%.
    first_yellow = next(x for x in range(251) if binom.cdf(x, 250, 0.05) >= 0.95)
    assert traffic_light(exceptions=first_yellow - 1, observations=250, coverage=0.05) == "green"
    assert traffic_light(exceptions=first_yellow, observations=250, coverage=0.05) == "yellow"


def test_a_backtest_counts_over_the_series_and_zones_over_the_last_250_days():
    rng = np.random.default_rng(7)
    pnl = rng.normal(0.0, 100.0, 300)
    var = np.full(300, 232.6)  # the normal 99% quantile of the P&L
    pnl[[10, 11, 40]] = -500.0  # three exceptions in the first 50 days (two in a row)
    pnl[[280]] = -900.0
    result = var_backtest(var=var, pnl=pnl, confidence=0.99)
    hits = -pnl > var
    assert result.observations == 300 and result.exceptions == int(hits.sum())
    assert result.zone_observations == 250 and result.zone_exceptions == int(hits[-250:].sum())
    assert result.pof.statistic == pytest.approx(
        kupiec_pof(observations=300, exceptions=int(hits.sum()), coverage=0.01).statistic
    )
    assert result.conditional.statistic == pytest.approx(result.pof.statistic + result.independence.statistic)
    assert result.conditional.p_value == pytest.approx(chi2.sf(result.conditional.statistic, 2))
    assert result.counts.n11 >= 1
