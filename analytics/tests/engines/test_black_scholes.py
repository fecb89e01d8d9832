"""Black–Scholes–Merton engine against py_vollib (test-only oracle) and no-arbitrage identities.

py_vollib's analytical BSM Greeks use the same units as ours (checked in its source): theta is the
annual theta divided by 365 (per calendar day), vega is per 1 vol point (× 0.01) and rho per 1 % of
rate (× 0.01); delta and gamma are plain per-share derivatives. So no conversion is needed.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from analytics.engines.black_scholes import (
    bsm_greeks,
    bsm_price,
    expiry_greeks,
    implied_vol,
    intrinsic_value,
    position_greeks,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from py_vollib.black_scholes_merton import black_scholes_merton as vollib_price
    from py_vollib.black_scholes_merton.greeks import analytical as vollib_greeks

N_CONTRACTS = 1200


@pytest.fixture(scope="module")
def contracts() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261123)
    spot = rng.uniform(10, 1000, N_CONTRACTS)
    return {
        "spot": spot,
        "strike": spot * rng.uniform(0.5, 1.5, N_CONTRACTS),
        "years": rng.uniform(0.02, 3, N_CONTRACTS),
        "vol": rng.uniform(0.05, 1.5, N_CONTRACTS),
        "rate": rng.uniform(0, 0.08, N_CONTRACTS),
        "div_yield": rng.uniform(0, 0.05, N_CONTRACTS),
        "is_call": rng.random(N_CONTRACTS) < 0.5,
    }


@pytest.fixture(scope="module")
def oracle(contracts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out: dict[str, list[float]] = {k: [] for k in ("price", "delta", "gamma", "theta", "vega", "rho")}
    for i in range(N_CONTRACTS):
        flag = "c" if contracts["is_call"][i] else "p"
        args = (
            flag,
            contracts["spot"][i],
            contracts["strike"][i],
            contracts["years"][i],
            contracts["rate"][i],
            contracts["vol"][i],
            contracts["div_yield"][i],
        )
        out["price"].append(vollib_price(*args))
        for name in ("delta", "gamma", "theta", "vega", "rho"):
            out[name].append(getattr(vollib_greeks, name)(*args))
    return {k: np.array(v) for k, v in out.items()}


@pytest.mark.parametrize("name", ["price", "delta", "gamma", "theta", "vega", "rho"])
def test_it_matches_py_vollib_on_random_contracts(contracts, oracle, name: str) -> None:
    greeks = bsm_greeks(**contracts)
    ours = getattr(greeks, name)
    ref = oracle[name]
    # Relative 1e-6, with an absolute floor of 1e-9 per share for values that are essentially zero
    # (deep out-of-the-money prices of a few 1e-12 where the oracle's rational approximation rounds).
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-9)
    assert greeks.priced.all()


def test_bsm_price_equals_greeks_price(contracts) -> None:
    np.testing.assert_array_equal(bsm_price(**contracts), bsm_greeks(**contracts).price)


def test_put_call_parity_holds(contracts) -> None:
    args = {k: v for k, v in contracts.items() if k != "is_call"}
    call = bsm_price(**args, is_call=True)
    put = bsm_price(**args, is_call=False)
    s, k, t, r, q = (contracts[x] for x in ("spot", "strike", "years", "rate", "div_yield"))
    parity = s * np.exp(-q * t) - k * np.exp(-r * t)
    np.testing.assert_allclose(call - put, parity, rtol=0, atol=1e-9)


def test_textbook_hull_example() -> None:
    # Hull, Example 17.1/17.2: S=49, K=50, r=5 %, T=0.3846, σ=20 %, q=0: call ≈ 2.40, delta ≈ 0.522,
    # annual theta ≈ −4.31, gamma ≈ 0.066, vega ≈ 12.1 per unit vol (0.121 per vol point).
    g = bsm_greeks(spot=49.0, strike=50.0, years=0.3846, vol=0.2, rate=0.05, div_yield=0.0, is_call=True)
    assert float(g.price) == pytest.approx(2.40, abs=0.01)
    assert float(g.delta) == pytest.approx(0.522, abs=0.001)
    assert float(g.theta) * 365 == pytest.approx(-4.31, abs=0.01)
    assert float(g.gamma) == pytest.approx(0.066, abs=0.001)
    assert float(g.vega) == pytest.approx(0.121, abs=0.001)


def test_implied_vol_round_trips(contracts) -> None:
    prices = bsm_price(**contracts)
    args = {k: v for k, v in contracts.items() if k != "vol"}
    iv = implied_vol(price=prices, **args)
    # Where vega is tiny the price carries almost no information about σ; compare there in price.
    vega = bsm_greeks(**contracts).vega
    informative = vega > 1e-4
    assert informative.mean() > 0.95
    np.testing.assert_allclose(iv[informative], contracts["vol"][informative], rtol=0, atol=1e-6)
    # A NaN is only acceptable where the time value is lost in rounding (price == bound to 1e-13).
    assert (vega[np.isnan(iv)] < 1e-10).all()
    solved = np.isfinite(iv)
    repriced = bsm_price(**{**contracts, "vol": iv})
    np.testing.assert_allclose(repriced[solved], prices[solved], rtol=1e-7, atol=1e-9)


def test_implied_vol_is_nan_outside_no_arbitrage_bounds() -> None:
    common = {"spot": 100.0, "strike": 90.0, "years": 0.5, "rate": 0.03, "div_yield": 0.01}
    intrinsic = 100 * np.exp(-0.01 * 0.5) - 90 * np.exp(-0.03 * 0.5)
    prices = np.array([intrinsic - 0.01, 100.0, 120.0, -1.0, np.nan, intrinsic + 1.0])
    iv = implied_vol(price=prices, is_call=True, **common)
    assert np.isnan(iv[:5]).all()
    assert np.isfinite(iv[5])


def test_implied_vol_of_expired_contract_is_nan() -> None:
    iv = implied_vol(price=5.0, spot=100.0, strike=100.0, years=0.0, rate=0.0, div_yield=0.0, is_call=True)
    assert np.isnan(iv)


def test_expired_and_invalid_contracts_are_marked_not_priced() -> None:
    g = bsm_greeks(
        spot=np.array([100.0, 100.0, 100.0, 100.0, 100.0]),
        strike=100.0,
        years=np.array([0.0, -0.1, 0.5, 0.5, 0.5]),
        vol=np.array([0.2, 0.2, 0.0, np.nan, 0.2]),
        rate=0.02,
        div_yield=0.0,
        is_call=True,
    )
    np.testing.assert_array_equal(g.expired, [True, True, False, False, False])
    np.testing.assert_array_equal(g.invalid, [False, False, True, True, False])
    np.testing.assert_array_equal(g.priced, [False, False, False, False, True])
    for name in ("price", "delta", "gamma", "theta", "vega", "rho"):
        values = getattr(g, name)
        assert np.isnan(values[:4]).all()
        assert np.isfinite(values[4])


def test_inputs_broadcast_over_a_grid() -> None:
    spots = np.linspace(80, 120, 5)[:, None]
    vols = np.array([0.1, 0.2, 0.3])[None, :]
    prices = bsm_price(spot=spots, strike=100.0, years=1.0, vol=vols, rate=0.0, div_yield=0.0, is_call=True)
    assert prices.shape == (5, 3)
    assert (np.diff(prices, axis=0) > 0).all()  # calls increase with spot
    assert (np.diff(prices, axis=1) > 0).all()  # and with vol


def test_position_greeks_scale_by_signed_quantity_and_multiplier() -> None:
    g = bsm_greeks(
        spot=100.0, strike=100.0, years=0.25, vol=0.3, rate=0.02, div_yield=0.0, is_call=np.array([True, False])
    )
    quantity = np.array([-2.0, 3.0])  # short 2 calls, long 3 puts
    pos = position_greeks(g, quantity=quantity, multiplier=100.0, spot=100.0)
    np.testing.assert_allclose(pos.delta, g.delta * quantity * 100)
    np.testing.assert_allclose(pos.dollar_delta, g.delta * quantity * 100 * 100)
    np.testing.assert_allclose(pos.dollar_gamma, 0.5 * g.gamma * quantity * 100 * 100.0**2 * 1e-4)
    np.testing.assert_allclose(pos.theta, g.theta * quantity * 100)
    np.testing.assert_allclose(pos.value, g.price * quantity * 100)
    assert pos.delta[0] < 0 and pos.delta[1] < 0  # short call and long put are both short delta
    assert pos.dollar_gamma[0] < 0 < pos.dollar_gamma[1]  # short options are short gamma


def test_dollar_gamma_is_the_second_order_pnl_of_a_one_percent_move() -> None:
    kw = {"strike": 100.0, "years": 0.5, "vol": 0.25, "rate": 0.01, "div_yield": 0.0, "is_call": True}
    g = bsm_greeks(spot=100.0, **kw)
    pos = position_greeks(g, quantity=10.0, multiplier=100.0, spot=100.0)
    up = bsm_price(spot=101.0, **kw)
    down = bsm_price(spot=99.0, **kw)
    # (V(S+h) + V(S−h))/2 − V(S) ≈ ½ Γ h² per share.
    convexity = ((up + down) / 2 - g.price) * 10 * 100
    assert float(pos.dollar_gamma) == pytest.approx(float(convexity), rel=1e-3)


def test_an_option_on_its_expiration_day_is_worth_its_intrinsic_value_with_a_unit_or_zero_delta() -> None:
    spot = np.array([563.32, 540.0, 550.0, 95.0, 105.0, 100.0])
    strike = np.array([550.0, 550.0, 550.0, 100.0, 100.0, 100.0])
    is_call = np.array([True, True, True, False, False, False])
    # Hand: call 563.32 − 550 = 13.32 in the money; OTM and at the money 0; put 100 − 95 = 5.
    np.testing.assert_allclose(intrinsic_value(spot=spot, strike=strike, is_call=is_call), [13.32, 0, 0, 5, 0, 0])
    g = expiry_greeks(spot=spot, strike=strike, is_call=is_call)
    np.testing.assert_allclose(g.price, [13.32, 0, 0, 5, 0, 0])
    np.testing.assert_array_equal(g.delta, [1.0, 0.0, 0.0, -1.0, 0.0, 0.0])  # at the money: not exercised
    for name in ("gamma", "theta", "vega", "rho"):
        np.testing.assert_array_equal(getattr(g, name), 0.0)
    assert not g.expired.any() and not g.invalid.any()
    bad = expiry_greeks(spot=np.nan, strike=100.0, is_call=True)
    assert bool(bad.invalid) and np.isnan(bad.price) and np.isnan(bad.delta)


def test_a_book_priced_under_scenarios_equals_each_contract_priced_alone() -> None:
    """Spot S × N against contract terms N (every input valid: the broadcasting path) gives exactly the
    prices of the contracts priced one scenario at a time, and the same values when one contract is invalid
    (the masked path) for the valid ones."""
    strike = np.array([90.0, 100.0, 110.0, 120.0])
    years = np.array([0.1, 0.5, 1.0, 2.0])
    vol = np.array([0.2, 0.25, 0.3, 0.4])
    is_call = np.array([True, False, True, False])
    spots = 100.0 * (1.0 + np.random.default_rng(3).normal(0.0, 0.02, size=(50, 1))) * np.ones((1, 4))
    kw = {"strike": strike, "years": years, "rate": 0.04, "div_yield": 0.01, "is_call": is_call}
    together = bsm_price(spot=spots, vol=vol, **kw)
    assert together.shape == (50, 4)
    for i in range(50):
        for j in range(4):
            alone = bsm_price(spot=spots[i, j], strike=strike[j], years=years[j], vol=vol[j], rate=0.04,
                              div_yield=0.01, is_call=is_call[j])  # fmt: skip
            assert float(alone) == pytest.approx(float(together[i, j]), rel=1e-14)
            flag = "c" if is_call[j] else "p"
            reference = vollib_price(flag, spots[i, j], strike[j], years[j], 0.04, vol[j], 0.01)
            assert float(alone) == pytest.approx(reference, rel=1e-9)
    masked = bsm_price(spot=spots, vol=np.array([0.2, 0.25, 0.3, -1.0]), **kw)
    assert np.array_equal(masked[:, :3], together[:, :3])
    assert np.isnan(masked[:, 3]).all()
    greeks = bsm_greeks(spot=spots, vol=vol, **kw)
    assert np.array_equal(greeks.price, together) and not greeks.expired.any() and not greeks.invalid.any()


def _price_as_before(
    s: np.ndarray, k: np.ndarray, t: np.ndarray, v: np.ndarray, r: np.ndarray, q: np.ndarray, c: np.ndarray
) -> np.ndarray:
    """The closed-form price written out on the broadcast arrays (the reference for the price-only path)."""
    from scipy.special import ndtr

    sqrt_t = np.sqrt(t)
    vst = v * sqrt_t
    d1 = (np.log(s / k) + (r - q + 0.5 * v * v) * t) / vst
    d2 = d1 - vst
    disc_q = np.exp(-q * t)
    disc_r = np.exp(-r * t)
    sign = np.where(c, 1.0, -1.0)
    return sign * (s * disc_q * ndtr(sign * d1) - k * disc_r * ndtr(sign * d2))


def test_repricing_on_paths_equals_the_formula_bit_for_bit_and_py_vollib() -> None:
    """Spot S × N against contract terms N (as the Monte Carlo repricing calls it), calls and puts from deep in
    to deep out of the money: every price equal to the formula written out bit for bit (so any faster rewrite of
    the price-only path must keep it), and to py_vollib."""
    rng = np.random.default_rng(7)
    n, paths = 40, 300
    spot0 = rng.uniform(5, 500, n)
    terms = {
        "strike": spot0 * rng.uniform(0.3, 2.0, n),
        "years": rng.uniform(0.01, 2.5, n),
        "vol": rng.uniform(0.05, 1.2, n),
        "rate": rng.uniform(-0.01, 0.08, n),
        "div_yield": rng.uniform(0, 0.05, n),
        "is_call": rng.random(n) < 0.5,
    }
    spot = spot0[None, :] * np.exp(rng.normal(0, 0.3, (paths, n)))
    price = bsm_price(spot=spot, **terms)
    expected = _price_as_before(
        spot, terms["strike"], terms["years"], terms["vol"], terms["rate"], terms["div_yield"], terms["is_call"]
    )
    assert price.shape == (paths, n)
    assert np.array_equal(price, expected)  # bit for bit, NaN nowhere
    for i, j in zip(rng.integers(0, paths, 200).tolist(), rng.integers(0, n, 200).tolist(), strict=True):
        reference = vollib_price(
            "c" if terms["is_call"][j] else "p",
            spot[i, j],
            terms["strike"][j],
            terms["years"][j],
            terms["rate"][j],
            terms["vol"][j],
            terms["div_yield"][j],
        )
        assert price[i, j] == pytest.approx(reference, rel=1e-9, abs=1e-10)
    # The vol given once per contract or broadcast to every path: the same prices.
    broadcast = bsm_price(spot=spot, **{**terms, "vol": np.broadcast_to(terms["vol"], spot.shape)})
    assert np.array_equal(price, broadcast)
    # Scalar and one-dimensional inputs: the same as the greeks' price.
    flat = {name: value[:5] for name, value in terms.items()}
    assert np.array_equal(bsm_price(spot=spot0[:5], **flat), bsm_greeks(spot=spot0[:5], **flat).price)
