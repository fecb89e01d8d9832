"""Black–Scholes–Merton pricing, Greeks and implied volatility with a continuous dividend yield.

Every input is a numpy array (or scalar) and they broadcast together, so one call prices a whole
book. Conventions, used everywhere in SigmaSight:

- ``spot``, ``strike``: price of the underlying and strike, in currency per share.
- ``years``: time to expiry in years (ACT/365 is the caller's choice); ``years <= 0`` is expired.
- ``vol``: annualised lognormal volatility as a decimal (0.25 = 25 %).
- ``rate``, ``div_yield``: continuously compounded annual rates as decimals.
- ``is_call``: boolean, ``True`` for calls, ``False`` for puts.

Outputs are **per share** (one underlying share, i.e. before the contract multiplier):

- ``price``: option value per share.
- ``delta``: ∂V/∂S, dimensionless (shares of underlying per option share).
- ``gamma``: ∂²V/∂S², per share per $1 move of spot.
- ``theta``: value change per **calendar day** = (∂V/∂t annualised) / 365, negative for a decaying
  long option.
- ``vega``: value change for +1 vol point (+0.01 of ``vol``).
- ``rho``: value change for +1 % (+0.01) of ``rate``.

Expired contracts (``years <= 0``) are not priced: every output is NaN and ``expired`` is True.
Contracts with a non-positive or non-finite vol, spot or strike (or non-finite rates) are NaN with
``invalid`` True. The caller decides what an expired contract is worth (e.g. intrinsic at settlement).

At expiry: ``intrinsic_value`` (max(S − K, 0) / max(K − S, 0)) and ``expiry_greeks``, the Greeks of an
option on its expiration day at the close — worth its intrinsic value, delta 1 (call) or −1 (put) per
share when strictly in the money (S > K / S < K, the moneyness at which it is exercised), else 0;
gamma, theta, vega and rho 0 (nothing is left to decay or to depend on vol or rates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ArrayLike = npt.ArrayLike

_SQRT_2PI = np.sqrt(2.0 * np.pi)
_DAYS_PER_YEAR = 365.0
_VOL_POINT = 0.01
_RATE_POINT = 0.01


@dataclass(frozen=True)
class Greeks:
    """Per-share BSM value and Greeks (units in the module docstring); arrays share one shape."""

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    theta: FloatArray
    vega: FloatArray
    rho: FloatArray
    expired: BoolArray
    invalid: BoolArray

    @property
    def priced(self) -> BoolArray:
        """True where the contract was priced (neither expired nor invalid)."""
        return ~(self.expired | self.invalid)


@dataclass(frozen=True)
class PositionGreeks:
    """Greeks of whole positions: per-share Greeks × signed quantity × multiplier.

    - ``value``: price × q × m, currency (negative for a short).
    - ``delta``: share-equivalents (delta × q × m); ``dollar_delta`` = that × spot, currency.
    - ``gamma``: Δ share-equivalents per $1 of spot (gamma × q × m).
    - ``dollar_gamma``: P&L from gamma alone for a 1 % move of spot,
      ½ × gamma × q × m × (0.01 × S)² (the second-order Taylor term), currency.
    - ``theta``: currency per calendar day; ``vega``: currency per vol point; ``rho``: currency per
      1 % of rate.

    Expired/invalid contracts stay NaN here (see ``expired`` / ``invalid``) so they can never be
    silently summed as zero; the caller decides how to aggregate them.
    """

    value: FloatArray
    delta: FloatArray
    dollar_delta: FloatArray
    gamma: FloatArray
    dollar_gamma: FloatArray
    theta: FloatArray
    vega: FloatArray
    rho: FloatArray
    expired: BoolArray
    invalid: BoolArray


def _pdf(x: FloatArray) -> FloatArray:
    return np.exp(-0.5 * x * x) / _SQRT_2PI


def _broadcast(
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    vol: ArrayLike,
    rate: ArrayLike,
    div_yield: ArrayLike,
    is_call: ArrayLike,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, BoolArray]:
    arrays = np.broadcast_arrays(
        np.asarray(spot, dtype=float),
        np.asarray(strike, dtype=float),
        np.asarray(years, dtype=float),
        np.asarray(vol, dtype=float),
        np.asarray(rate, dtype=float),
        np.asarray(div_yield, dtype=float),
        np.asarray(is_call, dtype=bool),
    )
    s, k, t, v, r, q, c = (np.array(a) for a in arrays)  # writable copies
    return s, k, t, v, r, q, c.astype(bool)


def _masks(
    s: FloatArray, k: FloatArray, t: FloatArray, v: FloatArray, r: FloatArray, q: FloatArray
) -> tuple[BoolArray, BoolArray]:
    with np.errstate(invalid="ignore"):
        expired = np.isfinite(t) & (t <= 0)
        bad = (
            ~np.isfinite(s)
            | ~np.isfinite(k)
            | ~np.isfinite(t)
            | ~np.isfinite(v)
            | ~np.isfinite(r)
            | ~np.isfinite(q)
            | (s <= 0)
            | (k <= 0)
            | (v <= 0)
        )
    return expired, bad & ~expired


def _core(
    s: FloatArray,
    k: FloatArray,
    t: FloatArray,
    v: FloatArray,
    r: FloatArray,
    q: FloatArray,
    c: BoolArray,
    *,
    greeks: bool = True,
) -> dict[str, FloatArray]:
    """Closed-form BSM on already-valid inputs (same shapes); the price only unless ``greeks``."""
    sqrt_t = np.sqrt(t)
    vst = v * sqrt_t
    d1 = (np.log(s / k) + (r - q + 0.5 * v * v) * t) / vst
    d2 = d1 - vst
    disc_q = np.exp(-q * t)
    disc_r = np.exp(-r * t)
    sign = np.where(c, 1.0, -1.0)
    # N(sign·d) computed directly (not 1 − N(d)) keeps deep out-of-the-money puts accurate.
    n_d1 = ndtr(sign * d1)
    n_d2 = ndtr(sign * d2)
    price = sign * (s * disc_q * n_d1 - k * disc_r * n_d2)
    if not greeks:  # repricing (scenarios, historical VaR) needs no Greeks: half the work
        return {"price": price}
    pdf_d1 = _pdf(d1)
    delta = sign * disc_q * n_d1
    gamma = disc_q * pdf_d1 / (s * vst)
    theta_annual = -s * disc_q * pdf_d1 * v / (2.0 * sqrt_t) + sign * (q * s * disc_q * n_d1 - r * k * disc_r * n_d2)
    vega = s * disc_q * pdf_d1 * sqrt_t
    rho = sign * k * t * disc_r * n_d2
    return {
        "price": price,
        "delta": delta,
        "gamma": gamma,
        "theta": theta_annual / _DAYS_PER_YEAR,
        "vega": vega * _VOL_POINT,
        "rho": rho * _RATE_POINT,
    }


def _evaluate(
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    vol: ArrayLike,
    rate: ArrayLike,
    div_yield: ArrayLike,
    is_call: ArrayLike,
    *,
    greeks: bool = True,
) -> tuple[dict[str, FloatArray], BoolArray, BoolArray]:
    """BSM values where the inputs are valid (NaN elsewhere), with the expired and invalid masks.

    When every input is valid (the common case: a book of live options repriced under S scenarios, spot
    S × N and the contract terms N), the formulas run on the inputs as given and broadcast as they combine, so
    a term of the contract alone (√t, e^{−qt}, ...) is computed once per contract, not once per scenario;
    every element goes through the same operations as on the broadcast arrays, so the values are the same."""
    s0, k0, t0, v0, r0, q0 = (np.asarray(a, dtype=float) for a in (spot, strike, years, vol, rate, div_yield))
    flags = np.asarray(is_call, dtype=bool)
    shape = np.broadcast_shapes(s0.shape, k0.shape, t0.shape, v0.shape, r0.shape, q0.shape, flags.shape)
    names = ("price", "delta", "gamma", "theta", "vega", "rho") if greeks else ("price",)
    expired_raw, invalid_raw = _masks(s0, k0, t0, v0, r0, q0)
    if not (expired_raw.any() or invalid_raw.any()):
        values = _core(s0, k0, t0, v0, r0, q0, flags, greeks=greeks)
        no = np.zeros(shape, dtype=bool)
        full = {
            name: arr if arr.shape == shape else np.array(np.broadcast_to(arr, shape)) for name, arr in values.items()
        }
        return full, no, no.copy()
    s, k, t, v, r, q, c = _broadcast(spot, strike, years, vol, rate, div_yield, is_call)
    expired, invalid = _masks(s, k, t, v, r, q)
    ok = ~(expired | invalid)
    out = {name: np.full(s.shape, np.nan) for name in names}
    if ok.any():
        values = _core(s[ok], k[ok], t[ok], v[ok], r[ok], q[ok], c[ok], greeks=greeks)
        for name, arr in values.items():
            out[name][ok] = arr
    return out, expired, invalid


def bsm_price(
    *,
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    vol: ArrayLike,
    rate: ArrayLike,
    div_yield: ArrayLike,
    is_call: ArrayLike,
) -> FloatArray:
    """BSM option value per share (broadcast shape); NaN where expired or invalid."""
    values, _, _ = _evaluate(spot, strike, years, vol, rate, div_yield, is_call, greeks=False)
    return values["price"]


def bsm_greeks(
    *,
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    vol: ArrayLike,
    rate: ArrayLike,
    div_yield: ArrayLike,
    is_call: ArrayLike,
) -> Greeks:
    """BSM value and Greeks per share; theta per calendar day, vega per vol point, rho per 1 % rate."""
    values, expired, invalid = _evaluate(spot, strike, years, vol, rate, div_yield, is_call)
    return Greeks(**values, expired=expired, invalid=invalid)


def implied_vol(
    *,
    price: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    rate: ArrayLike,
    div_yield: ArrayLike,
    is_call: ArrayLike,
    tol: float = 1e-8,
    max_iter: int = 100,
    vol_upper: float = 10.0,
) -> FloatArray:
    """Implied volatility (annualised decimal) from a per-share option price, element-wise.

    Newton–Raphson on σ with a bisection safeguard, all elements at once: every element keeps a
    bracket [lo, hi] with model(lo) < price < model(hi) (the BSM price is increasing in σ); a Newton
    step that leaves the bracket is replaced by its midpoint. Stops when the step or the bracket is
    below ``tol`` (in vol units) or after ``max_iter`` rounds.

    NaN where the price is outside the no-arbitrage bounds (call: max(Se^{-qT} − Ke^{-rT}, 0) <
    C < Se^{-qT}; put: max(Ke^{-rT} − Se^{-qT}, 0) < P < Ke^{-rT}), where the implied vol would
    exceed ``vol_upper``, or where the contract is expired/invalid.
    """
    p = np.asarray(price, dtype=float)
    s, k, t, _v, r, q, c = _broadcast(spot, strike, years, 1.0, rate, div_yield, is_call)
    p, s, k, t, r, q, c = (np.array(a) for a in np.broadcast_arrays(p, s, k, t, r, q, c))
    c = c.astype(bool)
    expired, invalid = _masks(s, k, t, np.ones_like(s), r, q)
    result = np.full(s.shape, np.nan)
    ok = ~(expired | invalid) & np.isfinite(p)
    if not ok.any():
        return result
    idx = np.flatnonzero(ok)
    p1, s1, k1, t1, r1, q1 = (np.asarray(a.ravel()[idx], dtype=float) for a in (p, s, k, t, r, q))
    c1 = np.asarray(c.ravel()[idx], dtype=bool)
    fwd_s = s1 * np.exp(-q1 * t1)
    fwd_k = k1 * np.exp(-r1 * t1)
    lower = np.where(c1, np.maximum(fwd_s - fwd_k, 0.0), np.maximum(fwd_k - fwd_s, 0.0))
    upper = np.where(c1, fwd_s, fwd_k)
    inside = (p1 > lower) & (p1 < upper)

    def model(sigma: FloatArray, sel: npt.NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
        g = _core(s1[sel], k1[sel], t1[sel], sigma, r1[sel], q1[sel], c1[sel])
        return g["price"], g["vega"] / _VOL_POINT

    n = idx.size
    lo = np.full(n, 1e-9)
    hi = np.full(n, vol_upper)
    everything = np.arange(n)
    hi_price, _ = model(hi, everything)
    inside &= hi_price > p1
    # Start at the vega-maximising vol sqrt(2|ln(F/K)|/T) (Manaster–Koehler), from which Newton on a
    # price that is convex then concave in σ converges; clipped into a sensible range.
    log_moneyness = np.abs(np.log(s1 / k1) + (r1 - q1) * t1)
    sigma = np.clip(np.sqrt(2.0 * log_moneyness / t1), 0.05, 2.0)
    active = np.flatnonzero(inside)
    for _ in range(max_iter):
        if active.size == 0:
            break
        sig = sigma[active]
        model_price, vega = model(sig, active)
        diff = model_price - p1[active]
        below = diff < 0
        lo[active] = np.where(below, sig, lo[active])
        hi[active] = np.where(below, hi[active], sig)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = sig - diff / vega
        a_lo, a_hi = lo[active], hi[active]
        bad = ~np.isfinite(newton) | (newton < a_lo) | (newton > a_hi)
        new_sig = np.where(diff == 0, sig, np.where(bad, 0.5 * (a_lo + a_hi), newton))
        sigma[active] = new_sig
        done = (np.abs(new_sig - sig) < tol) | ((a_hi - a_lo) < tol)
        active = active[~done]
    out = np.where(inside, sigma, np.nan)
    flat = result.ravel()
    flat[idx] = out
    return flat.reshape(s.shape)


def intrinsic_value(*, spot: ArrayLike, strike: ArrayLike, is_call: ArrayLike) -> FloatArray:
    """Value at expiry per share: max(S − K, 0) for a call, max(K − S, 0) for a put (broadcasts; NaN in, NaN out)."""
    s, k = np.asarray(spot, dtype=float), np.asarray(strike, dtype=float)
    return np.where(np.asarray(is_call, dtype=bool), np.maximum(s - k, 0.0), np.maximum(k - s, 0.0))


def expiry_greeks(*, spot: ArrayLike, strike: ArrayLike, is_call: ArrayLike) -> Greeks:
    """Per-share value and Greeks of options on their expiration day, at the close (module doc).

    price = intrinsic value; delta = 1 for a call with S > K, −1 for a put with S < K, else 0 (at the
    money it expires unexercised); gamma = theta = vega = rho = 0. ``expired`` is False; ``invalid``
    where spot or strike is not a positive finite number (every output NaN there).
    """
    s, k, c = np.broadcast_arrays(
        np.asarray(spot, dtype=float), np.asarray(strike, dtype=float), np.asarray(is_call, dtype=bool)
    )
    with np.errstate(invalid="ignore"):
        invalid = ~np.isfinite(s) | ~np.isfinite(k) | (s <= 0) | (k <= 0)
        delta = np.where(c, (s > k).astype(float), -(s < k).astype(float))
    zero = np.where(invalid, np.nan, 0.0)
    return Greeks(
        price=np.where(invalid, np.nan, intrinsic_value(spot=s, strike=k, is_call=c)),
        delta=np.where(invalid, np.nan, delta),
        gamma=zero,
        theta=zero.copy(),
        vega=zero.copy(),
        rho=zero.copy(),
        expired=np.zeros(s.shape, dtype=bool),
        invalid=invalid,
    )


def position_greeks(
    greeks: Greeks,
    *,
    quantity: ArrayLike,
    multiplier: ArrayLike,
    spot: ArrayLike,
) -> PositionGreeks:
    """Scale per-share Greeks to positions (signed ``quantity``: negative = short; ``multiplier``
    = shares per contract, 100 for US equity options).

    dollar_delta = delta × q × m × S; dollar_gamma = ½ × gamma × q × m × (0.01 S)², i.e. the P&L
    from convexity alone for a 1 % move of the underlying (either direction).
    """
    qm = np.asarray(quantity, dtype=float) * np.asarray(multiplier, dtype=float)
    s = np.asarray(spot, dtype=float)
    delta = greeks.delta * qm
    gamma = greeks.gamma * qm
    return PositionGreeks(
        value=greeks.price * qm,
        delta=delta,
        dollar_delta=delta * s,
        gamma=gamma,
        dollar_gamma=0.5 * gamma * (0.01 * s) ** 2,
        theta=greeks.theta * qm,
        vega=greeks.vega * qm,
        rho=greeks.rho * qm,
        expired=np.broadcast_to(greeks.expired, delta.shape).copy(),
        invalid=np.broadcast_to(greeks.invalid, delta.shape).copy(),
    )
