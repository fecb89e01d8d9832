"""VaR backtesting: exceptions, Kupiec's proportion-of-failures test, Christoffersen's independence test,
and the Basel traffic-light zone.

Conventions (pure numpy/scipy; no Django):

- Inputs are aligned 1-day series: ``var[t]`` the VaR stored on day t (a **positive** loss in
  currency) and ``pnl[t]`` the realised P&L of the next session (signed, loss < 0). A day is an
  **exception** when the loss exceeds the VaR strictly: −pnl[t] > var[t].
- ``coverage`` p = 1 − confidence: the expected exception rate (0.01 for a 99% VaR).
- Kupiec (1995) POF: LR = −2 ln[(1 − p)^(T−x) p^x] + 2 ln[(1 − x/T)^(T−x) (x/T)^x], with 0 ln 0 = 0;
  asymptotically χ²(1) under a correct model. The p-value is its survival function.
- Christoffersen (1998) independence: with n_ij the number of days in state i followed by a day in
  state j (1 = exception), π0 = n01 / (n00 + n01), π1 = n11 / (n10 + n11), π = (n01 + n11) / (T − 1);
  LR = −2 ln[(1 − π)^(n00+n10) π^(n01+n11)] + 2 ln[(1 − π0)^n00 π0^n01 (1 − π1)^n10 π1^n11], χ²(1)
  (a term whose count is 0 contributes 0). Conditional coverage LR_cc = LR_pof + LR_ind, χ²(2).
- Traffic light (Basel Committee, 1996): the zone of x exceptions in T days is green while the
  binomial probability of x **or fewer** exceptions, P(X ≤ x | T, p), is below 95%, yellow below
  99.99%, red from there — for a 99% VaR over 250 days exactly the Basel table: green 0–4, yellow
  5–9, red ≥ 10. The same rule gives the zones of other windows and of a 95% VaR (Basel-style).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import bdtr, chdtrc  # binomial CDF and χ² survival; scipy.stats costs 0.6 s to import

GREEN_BELOW = 0.95
YELLOW_BELOW = 0.9999
BASEL_WINDOW = 250


def _xlogy(x: float, y: float) -> float:
    """x ln y with 0 ln 0 = 0 (a term whose count is 0 contributes nothing)."""
    return 0.0 if x == 0 else x * math.log(y)


def exceptions(*, var: npt.ArrayLike, pnl: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Exception flags (T,): the next session's loss beyond the VaR (−pnl > var). Both inputs must be finite."""
    v = np.asarray(var, dtype=float)
    p = np.asarray(pnl, dtype=float)
    if v.shape != p.shape or v.ndim != 1:
        raise ValueError("var and pnl must be aligned 1-d series")
    if not (np.isfinite(v).all() and np.isfinite(p).all()):
        raise ValueError("var and pnl must be finite (drop days without a VaR or a P&L first)")
    return np.asarray(-p > v, dtype=bool)


@dataclass(frozen=True)
class LikelihoodRatio:
    """A likelihood-ratio statistic, its degrees of freedom and its χ² p-value."""

    statistic: float
    dof: int
    p_value: float


def kupiec_pof(*, observations: int, exceptions: int, coverage: float) -> LikelihoodRatio:
    """Kupiec's proportion-of-failures test of x ``exceptions`` in T ``observations`` at rate ``coverage``."""
    if not 0.0 < coverage < 1.0:
        raise ValueError("coverage must be in (0, 1)")
    if observations < 1 or not 0 <= exceptions <= observations:
        raise ValueError("need 0 <= exceptions <= observations and at least one observation")
    t, x = observations, exceptions
    rate = x / t
    null = _xlogy(t - x, 1.0 - coverage) + _xlogy(x, coverage)
    alternative = _xlogy(t - x, 1.0 - rate) + _xlogy(x, rate)
    statistic = max(0.0, -2.0 * (null - alternative))
    return LikelihoodRatio(statistic, 1, float(chdtrc(1, statistic)))


@dataclass(frozen=True)
class Transitions:
    """Counts of day-to-day transitions between no exception (0) and exception (1)."""

    n00: int
    n01: int
    n10: int
    n11: int


def transitions(hits: npt.ArrayLike) -> Transitions:
    """n_ij over consecutive days of the exception flags (T,) (T − 1 transitions)."""
    h = np.asarray(hits, dtype=bool)
    before, after = h[:-1], h[1:]
    return Transitions(
        n00=int(np.sum(~before & ~after)),
        n01=int(np.sum(~before & after)),
        n10=int(np.sum(before & ~after)),
        n11=int(np.sum(before & after)),
    )


def christoffersen_independence(hits: npt.ArrayLike) -> tuple[LikelihoodRatio, Transitions]:
    """Christoffersen's independence test of the exception flags (T,) (oldest first), and its counts.

    With fewer than two days, or no transition out of one of the states, the statistic is 0 (p = 1):
    there is nothing to test."""
    counts = transitions(hits)
    n00, n01, n10, n11 = counts.n00, counts.n01, counts.n10, counts.n11
    total = n00 + n01 + n10 + n11
    if total == 0:
        return LikelihoodRatio(0.0, 1, 1.0), counts
    pi = (n01 + n11) / total
    pi0 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi1 = n11 / (n10 + n11) if n10 + n11 else 0.0
    null = _xlogy(n00 + n10, 1.0 - pi) + _xlogy(n01 + n11, pi)
    alternative = _xlogy(n00, 1.0 - pi0) + _xlogy(n01, pi0) + _xlogy(n10, 1.0 - pi1) + _xlogy(n11, pi1)
    statistic = max(0.0, -2.0 * (null - alternative))
    return LikelihoodRatio(statistic, 1, float(chdtrc(1, statistic))), counts


def conditional_coverage(pof: LikelihoodRatio, independence: LikelihoodRatio) -> LikelihoodRatio:
    """Christoffersen's conditional coverage: LR_pof + LR_ind, χ²(2)."""
    statistic = pof.statistic + independence.statistic
    return LikelihoodRatio(statistic, 2, float(chdtrc(2, statistic)))


def cumulative_probability(*, exceptions: int, observations: int, coverage: float) -> float:
    """P(X ≤ exceptions) for X ~ Binomial(observations, coverage)."""
    if exceptions >= observations:
        return 1.0
    return float(bdtr(exceptions, observations, coverage))


def traffic_light(*, exceptions: int, observations: int, coverage: float) -> str:
    """``green``, ``yellow`` or ``red`` (see the module docstring); 99% over 250 days: 0–4, 5–9, ≥ 10."""
    if observations < 1:
        raise ValueError("need at least one observation")
    probability = cumulative_probability(exceptions=exceptions, observations=observations, coverage=coverage)
    if probability < GREEN_BELOW:
        return "green"
    return "yellow" if probability < YELLOW_BELOW else "red"


@dataclass(frozen=True)
class BacktestResult:
    """The backtest of one VaR series at one confidence."""

    observations: int
    exceptions: int
    expected: float
    rate: float
    pof: LikelihoodRatio
    independence: LikelihoodRatio
    conditional: LikelihoodRatio
    counts: Transitions
    zone: str
    zone_observations: int
    zone_exceptions: int
    hits: npt.NDArray[np.bool_]


def var_backtest(
    *, var: npt.ArrayLike, pnl: npt.ArrayLike, confidence: float, zone_window: int = BASEL_WINDOW
) -> BacktestResult:
    """Backtest aligned VaR (positive losses) and next-session P&L series (T,), oldest first.

    Kupiec and Christoffersen run over the whole series; the traffic light over its last
    ``zone_window`` days (all of them when fewer)."""
    if not 0.5 < confidence < 1.0:
        raise ValueError("confidence must be in (0.5, 1)")
    hits = exceptions(var=var, pnl=pnl)
    t = int(hits.size)
    if t == 0:
        raise ValueError("no day with both a VaR and the next session's P&L")
    coverage = 1.0 - confidence
    x = int(hits.sum())
    pof = kupiec_pof(observations=t, exceptions=x, coverage=coverage)
    independence, counts = christoffersen_independence(hits)
    recent = hits[-zone_window:]
    zone_x = int(recent.sum())
    return BacktestResult(
        observations=t,
        exceptions=x,
        expected=t * coverage,
        rate=x / t,
        pof=pof,
        independence=independence,
        conditional=conditional_coverage(pof, independence),
        counts=counts,
        zone=traffic_light(exceptions=zone_x, observations=int(recent.size), coverage=coverage),
        zone_observations=int(recent.size),
        zone_exceptions=zone_x,
        hits=hits,
    )
