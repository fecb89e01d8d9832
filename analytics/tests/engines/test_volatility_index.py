"""Volatility-index options: the log-OU forward, Black-76 pricing, spot delta, scenario shocks.

Oracles: hand-computed numbers, py_vollib's Black-76, and a Monte Carlo of the OU stochastic
differential equation (Euler steps, not the closed form the engine uses).
"""

from __future__ import annotations

import math
import warnings
from datetime import date

import numpy as np
import pytest

from analytics.engines.volatility_index import (
    DEFAULT_FLOOR,
    DEFAULT_LOG_VOL,
    DEFAULT_MEAN_LEVEL,
    DEFAULT_REVERSION,
    VolIndexModel,
    black76_price,
    forward,
    forward_vol,
    option_delta,
    option_greeks,
    option_price,
    shocked_level,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from py_vollib.black import black as vollib_black
    from py_vollib.black.greeks import analytical as vollib_greeks

MODEL = VolIndexModel(mean_level=18.0, reversion=5.0, log_vol=1.0)


def test_the_forward_reverts_from_the_spot_to_the_long_run_level_hand_computed() -> None:
    # Spot 30, T = 0.25, θ 18, κ 5, σ 1: e^{−κT} = e^{−1.25} = 0.2865048;
    # v = (1 − e^{−2.5}) / 10 = 0.0917915; ln F = ln 18 + 0.2865048 (ln 30 − ln 18) + v/2
    # = 2.8903718 + 0.2865048 × 0.5108256 + 0.0458958 = 3.0826216 → F = e^3 × e^0.0826216 = 21.8155.
    assert forward(30.0, 0.25, MODEL) == pytest.approx(21.8155, abs=1e-3)
    assert forward_vol(0.25, MODEL) == pytest.approx(math.sqrt(0.0917915 / 0.25), rel=1e-6)  # 0.605947
    # A short-dated forward follows the spot; a long-dated one tends to θ e^{σ²/(4κ)} = 18 e^{0.05} = 18.923.
    assert forward(30.0, 1 / 365, MODEL) == pytest.approx(30.0, rel=0.02)
    assert forward(30.0, 10.0, MODEL) == pytest.approx(18.0 * math.exp(0.05), rel=1e-6)
    assert forward(12.0, 10.0, MODEL) == pytest.approx(18.0 * math.exp(0.05), rel=1e-6)


def test_black76_matches_an_independent_pricer() -> None:
    for flag, is_call in (("c", True), ("p", False)):
        for f, k, t, v in ((20.0, 25.0, 0.2, 0.8), (20.0, 15.0, 0.5, 0.6), (17.5, 17.5, 0.08, 1.1)):
            mine = black76_price(forward=f, strike=k, years=t, vol=v, rate=0.04, is_call=is_call)
            assert float(mine) == pytest.approx(vollib_black(flag, f, k, t, 0.04, v), rel=1e-10)
    assert float(black76_price(forward=20.0, strike=25.0, years=0.0, vol=0.8, rate=0.04, is_call=False)) == 5.0


def test_the_option_price_agrees_with_a_monte_carlo_of_the_ou_process() -> None:
    # Euler steps of dx = κ(μ − x)dt + σ dW from ln 14: E[V_T], and E[(V_T − K)+] discounted.
    rng = np.random.default_rng(7)
    spot, strike, years, rate, steps, paths = 14.0, 20.0, 0.25, 0.04, 250, 200_000
    dt = years / steps
    mu = math.log(MODEL.mean_level)
    x = np.full(paths, math.log(spot))
    for _ in range(steps):
        x += MODEL.reversion * (mu - x) * dt + MODEL.log_vol * math.sqrt(dt) * rng.standard_normal(paths)
    level = np.exp(x)
    mc_forward, mc_se = level.mean(), level.std() / math.sqrt(paths)
    assert float(forward(spot, years, MODEL)) == pytest.approx(mc_forward, abs=4 * mc_se + 0.02)
    payoff = math.exp(-rate * years) * np.maximum(level - strike, 0.0)
    mc_call, call_se = payoff.mean(), payoff.std() / math.sqrt(paths)
    mine = float(option_price(spot=spot, strike=strike, years=years, rate=rate, is_call=True, model=MODEL))
    assert mine == pytest.approx(mc_call, abs=4 * call_se + 0.01)
    assert mine > 0.1  # not a degenerate check


def test_a_quoted_vol_prices_at_the_quote_and_expiry_settles_on_the_spot() -> None:
    f = float(forward(22.0, 0.1, MODEL))
    at_quote = option_price(spot=22.0, strike=20.0, years=0.1, rate=0.04, is_call=False, vol=0.9, model=MODEL)
    assert float(at_quote) == pytest.approx(vollib_black("p", f, 20.0, 0.1, 0.04, 0.9), rel=1e-10)
    settled = option_price(spot=[22.0, 22.0], strike=20.0, years=0.0, rate=0.04, is_call=[True, False], model=MODEL)
    np.testing.assert_allclose(settled, [2.0, 0.0])


def test_the_spot_delta_is_the_derivative_of_the_price_and_shrinks_with_maturity() -> None:
    kw = {"strike": 20.0, "rate": 0.04, "model": MODEL}
    for is_call in (True, False):
        for years in (0.05, 0.25, 0.75):
            h = 1e-4
            up = float(option_price(spot=18.0 + h, years=years, is_call=is_call, **kw))
            down = float(option_price(spot=18.0 - h, years=years, is_call=is_call, **kw))
            delta = float(option_delta(spot=18.0, years=years, is_call=is_call, **kw))
            assert delta == pytest.approx((up - down) / (2 * h), rel=1e-5)
    short, long = (float(option_delta(spot=18.0, years=t, is_call=True, **kw)) for t in (0.05, 0.75))
    assert 0 < long < short  # a far expiry barely follows today's spike
    assert np.isnan(option_delta(spot=18.0, years=0.0, is_call=True, **kw))


def test_shocked_levels_follow_log_returns_or_the_stated_vol_shift_and_are_never_zero() -> None:
    # +20 % market, sensitivity −4.75: 17.5 × 1.2^−4.75 = 17.5 × e^{−0.866020} = 7.361 → floored at 9.
    assert float(shocked_level(level=17.5, market_return=0.20)) == DEFAULT_FLOOR
    assert float(shocked_level(level=17.5, market_return=0.20, floor=0.0)) == pytest.approx(7.3607, abs=1e-3)
    # −20 % market: 17.5 × 0.8^−4.75 = 17.5 × e^{1.059932} = 50.508.
    assert float(shocked_level(level=17.5, market_return=-0.20)) == pytest.approx(50.508, abs=1e-2)
    # A stated vol shift is the index's own move in vol points: 17.5 + 100 × 0.30 = 47.5.
    assert float(shocked_level(level=17.5, market_return=-0.35, vol_shift=0.30)) == 47.5
    mixed = shocked_level(level=[17.5, 17.5], market_return=[-0.10, -0.10], vol_shift=[np.nan, -0.05])
    np.testing.assert_allclose(mixed, [17.5 * 0.9**-4.75, 12.5])
    moves = np.linspace(-0.9, 3.0, 400)
    assert (shocked_level(level=12.0, market_return=moves) > 0).all()
    assert (shocked_level(level=12.0, market_return=moves, vol_shift=np.full(400, -0.5)) > 0).all()
    with pytest.raises(ValueError):
        shocked_level(level=17.5, market_return=-1.0)


def test_the_defaults_are_the_simulated_worlds_and_price_its_quotes() -> None:
    from marketdata.providers import simulated

    assert DEFAULT_MEAN_LEVEL == simulated.VIX_MEAN_LEVEL
    assert pytest.approx(simulated.VIX_REVERSION_ANNUAL, rel=1e-12) == DEFAULT_REVERSION
    assert pytest.approx(simulated.VIX_LOG_VOL_ANNUAL, abs=1e-3) == DEFAULT_LOG_VOL
    as_of, expiry = date(2026, 11, 20), date(2027, 1, 20)
    quote = simulated.SimulatedProvider().option_quote(contract="VIX270120C00025000", as_of=as_of)
    years = (expiry - as_of).days / 365
    spot, vol = quote.underlying_price, quote.implied_vol
    priced = option_price(spot=spot, strike=25.0, years=years, rate=simulated.SIM_RATE, is_call=True, vol=vol)
    assert float(priced) == pytest.approx(quote.last, abs=0.006)


@pytest.mark.parametrize("is_call", [True, False])
@pytest.mark.parametrize(("spot", "strike", "years", "vol"), [(14.5, 24.0, 0.167, 0.84), (30.0, 25.0, 0.4, 0.6)])
def test_index_option_greeks_against_py_vollib_and_finite_differences(
    is_call: bool, spot: float, strike: float, years: float, vol: float
) -> None:
    """Black-76 Greeks of py_vollib (with respect to the forward) carried to the spot index by the chain
    rule through F(V) = exp(μ + e^{−κT}(ln V − μ) + v/2): ∂F/∂V = a F / V, ∂²F/∂V² = a (a − 1) F / V²."""
    flag, rate = ("c" if is_call else "p"), 0.045
    g = option_greeks(spot=spot, strike=strike, years=years, rate=rate, is_call=is_call, vol=vol, model=MODEL)
    f = float(forward(spot, years, MODEL))
    a = math.exp(-MODEL.reversion * years)
    df, d2f = a * f / spot, a * (a - 1.0) * f / spot**2
    assert float(g.price) == pytest.approx(vollib_black(flag, f, strike, years, rate, vol), rel=1e-10)
    delta_f = vollib_greeks.delta(flag, f, strike, years, rate, vol)
    assert float(g.delta) == pytest.approx(delta_f * df, rel=1e-9)
    gamma_f = vollib_greeks.gamma(flag, f, strike, years, rate, vol)
    assert float(g.gamma) == pytest.approx(gamma_f * df**2 + delta_f * d2f, rel=1e-8)
    assert float(g.vega) == pytest.approx(vollib_greeks.vega(flag, f, strike, years, rate, vol), rel=1e-9)
    assert float(g.rho) == pytest.approx(-years * float(g.price) * 0.01, rel=1e-12)
    # Gamma is the slope of the delta; theta is tomorrow's price (spot and vol held) minus today's.
    h = 1e-4
    up, down = (
        float(option_delta(spot=spot + s, strike=strike, years=years, rate=rate, is_call=is_call, vol=vol, model=MODEL))
        for s in (h, -h)
    )
    assert float(g.gamma) == pytest.approx((up - down) / (2 * h), rel=1e-5)
    later = years - 1 / 365
    tomorrow = vollib_black(flag, float(forward(spot, later, MODEL)), strike, later, rate, vol)
    assert float(g.theta) == pytest.approx(tomorrow - float(g.price), rel=1e-9)


def test_index_option_greeks_are_nan_once_expired() -> None:
    g = option_greeks(spot=18.0, strike=20.0, years=0.0, rate=0.04, is_call=True, model=MODEL)
    assert all(np.isnan(getattr(g, name)) for name in ("price", "delta", "gamma", "theta", "vega", "rho"))
