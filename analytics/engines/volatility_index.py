"""Volatility-index (VIX) options: Black-76 on a mean-reverting forward, and the index's scenario shocks.

An option on a volatility index is not an option on a stock: the index cannot be bought, it reverts
to a long-run level, and it jumps when the market falls. Pricing it with Black–Scholes on the spot
index and shocking it by a linear market beta (β ≈ −4.8) makes a +20 % market move take the index
−95 %, and a +25 % rally below zero. This module is the documented replacement.

The model (the index's log level is an Ornstein–Uhlenbeck process)
-------------------------------------------------------------------
``x = ln V`` follows ``dx = κ(μ − x) dt + σ dW`` with ``μ = ln θ`` (``θ`` the long-run median level,
in index points), ``κ`` the mean-reversion speed (per year) and ``σ`` the log-vol (per √year). Given
today's level ``V``, ``x_T`` is normal with mean ``μ + e^{−κT}(ln V − μ)`` and variance
``v(T) = σ²(1 − e^{−2κT}) / (2κ)``, so ``V_T`` is lognormal and

    F(T) = E[V_T] = exp(μ + e^{−κT}(ln V − μ) + v(T)/2)        (the forward: a VIX future for expiry T)

A European option on ``V_T`` is then priced *exactly* by Black-76 on that forward, with vol
``σ_B(T) = √(v(T)/T)`` and discount ``e^{−rT}``:

    call = e^{−rT} [F N(d1) − K N(d2)],   put = e^{−rT} [K N(−d2) − F N(−d1)],
    d1 = (ln(F/K) + σ_B² T / 2) / (σ_B √T),   d2 = d1 − σ_B √T.

Quoted VIX option vols are Black-76 vols on the forward (the market's convention): pass a quote's vol
as ``vol`` to price at the quote; leave it ``None`` for the model's own ``σ_B(T)``. No risk premium is
modelled (the forward is the expected level). The long-dated forward tends to
``θ·exp(σ²/(4κ))``; a short-dated one follows the spot.

Delta is taken with respect to the **spot index** (what a scenario or a beta moves):
``∂F/∂V = e^{−κT} F / V``, so ``Δ = e^{−rT} N(d1) e^{−κT} F / V`` for a call and
``e^{−rT} (N(d1) − 1) e^{−κT} F / V`` for a put — per index point, per unit of the option.

The other Greeks (``option_greeks``), per unit of the option: gamma ``∂Δ/∂V`` (analytic, with
``∂²F/∂V² = e^{−κT}(e^{−κT} − 1) F / V²``); vega per vol point of the Black-76 vol,
``e^{−rT} F φ(d1) √T × 0.01``; rho per 1 % of rate, ``−T × value × 0.01`` (the forward does not
depend on the rate: it is the expected level); theta per calendar day by repricing one day later
with the spot index and the quoted vol held (the model's own vol at the shorter expiry when no vol is
given) — it includes the forward's drift toward the long-run level, which a mean-reverting index has.

Defaults ``DEFAULT_MEAN_LEVEL`` (17.5), ``DEFAULT_REVERSION`` (6.38 a year: 2.5 % of the gap a session)
and ``DEFAULT_LOG_VOL`` (1.05) are the simulated world's (``marketdata.providers.simulated``); with
real data, fit them or pass a traded futures curve as ``forward``.

Scenario shocks: the index as its own factor, with log-return shocks
--------------------------------------------------------------------
- A market move ``m`` (simple return) moves the index's log level by ``b · ln(1 + m)``, ``b`` the
  log-level sensitivity to the market's log return (``DEFAULT_MARKET_SENSITIVITY`` −4.75, the
  simulated world's average of its −6.0 down-day and −3.5 up-day responses; a fitted daily beta of
  the index's returns on SPY's is close to it).
- A stated implied-vol shift ``s`` (the stress catalog's ``implied_vol_shift``, 0.30 = +30 vol
  points) *is* a statement about the index, which is quoted in vol points: ``V' = V + 100 s``.
  When a scenario states one, it sets the level; the market move then does not move it again.
- The shocked level is floored at ``DEFAULT_FLOOR`` (9 points: the index has never closed below 9.1);
  it is therefore never ≤ 0.

All functions are pure and broadcast over numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ArrayLike = npt.ArrayLike

DEFAULT_MEAN_LEVEL = 17.5  # θ, index points
DEFAULT_REVERSION = -252.0 * float(np.log(1.0 - 0.025))  # κ per year (2.5 % of the gap per session), ≈ 6.38
DEFAULT_LOG_VOL = 1.05  # σ of ln V, per √year
DEFAULT_MARKET_SENSITIVITY = -4.75  # d ln V per unit of the market's log return
DEFAULT_FLOOR = 9.0  # index points
MIN_YEARS = 1.0 / 365.0  # an option on its last day still has one day of variance in the forward


@dataclass(frozen=True)
class VolIndexModel:
    """The OU parameters (see the module doc): ``mean_level`` θ, ``reversion`` κ per year, ``log_vol`` σ."""

    mean_level: float = DEFAULT_MEAN_LEVEL
    reversion: float = DEFAULT_REVERSION
    log_vol: float = DEFAULT_LOG_VOL

    def __post_init__(self) -> None:
        if not (self.mean_level > 0 and self.reversion > 0 and self.log_vol > 0):
            raise ValueError("mean_level, reversion and log_vol must be positive")


DEFAULT_MODEL = VolIndexModel()


def log_variance(years: ArrayLike, model: VolIndexModel = DEFAULT_MODEL) -> FloatArray:
    """v(T) = σ²(1 − e^{−2κT}) / (2κ): the variance of ln V_T given today's level (T floored at 1 day)."""
    t = np.maximum(np.asarray(years, dtype=float), MIN_YEARS)
    k = model.reversion
    return model.log_vol**2 * -np.expm1(-2.0 * k * t) / (2.0 * k)


def forward(spot: ArrayLike, years: ArrayLike, model: VolIndexModel = DEFAULT_MODEL) -> FloatArray:
    """F(T) = exp(μ + e^{−κT}(ln V − μ) + v(T)/2), index points (T floored at 1 day)."""
    s = np.asarray(spot, dtype=float)
    t = np.maximum(np.asarray(years, dtype=float), MIN_YEARS)
    mu = np.log(model.mean_level)
    return np.exp(mu + np.exp(-model.reversion * t) * (np.log(s) - mu) + 0.5 * log_variance(t, model))


def forward_vol(years: ArrayLike, model: VolIndexModel = DEFAULT_MODEL) -> FloatArray:
    """σ_B(T) = √(v(T)/T): the Black-76 vol of the model's forward (annualised)."""
    t = np.maximum(np.asarray(years, dtype=float), MIN_YEARS)
    return np.sqrt(log_variance(t, model) / t)


def black76_price(
    *, forward: ArrayLike, strike: ArrayLike, years: ArrayLike, vol: ArrayLike, rate: ArrayLike, is_call: ArrayLike
) -> FloatArray:
    """Black-76 value per unit: e^{−rT}[F N(d1) − K N(d2)] (call) or e^{−rT}[K N(−d2) − F N(−d1)] (put).

    ``years <= 0`` gives the intrinsic value max(F − K, 0) / max(K − F, 0) (no discount). Inputs
    broadcast; a non-positive forward, strike or vol gives NaN.
    """
    f, k, t, v, r = (np.asarray(a, dtype=float) for a in (forward, strike, years, vol, rate))
    call = np.asarray(is_call, dtype=bool)
    f, k, t, v, r, call = np.broadcast_arrays(f, k, t, v, r, call)
    out = np.full(f.shape, np.nan)
    expired = t <= 0
    out[expired] = np.where(
        call[expired], np.maximum(f[expired] - k[expired], 0.0), np.maximum(k[expired] - f[expired], 0.0)
    )
    live = ~expired & (f > 0) & (k > 0) & (v > 0)
    if live.any():
        sd = v[live] * np.sqrt(t[live])
        d1 = (np.log(f[live] / k[live]) + 0.5 * sd * sd) / sd
        d2 = d1 - sd
        disc = np.exp(-r[live] * t[live])
        c = call[live]
        value_call = f[live] * ndtr(d1) - k[live] * ndtr(d2)
        value_put = k[live] * ndtr(-d2) - f[live] * ndtr(-d1)
        out[live] = disc * np.where(c, value_call, value_put)
    return out


def option_price(
    *,
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    rate: ArrayLike,
    is_call: ArrayLike,
    vol: ArrayLike | None = None,
    model: VolIndexModel = DEFAULT_MODEL,
) -> FloatArray:
    """Value per unit (index points) of a European option on the index: Black-76 on ``forward``.

    ``vol``: a Black-76 vol on the forward (a quote's); ``None`` → the model's ``forward_vol``.
    ``years <= 0``: intrinsic value on the spot index (settled).
    """
    s = np.asarray(spot, dtype=float)
    t = np.asarray(years, dtype=float)
    sigma = forward_vol(t, model) if vol is None else np.asarray(vol, dtype=float)
    live = black76_price(forward=forward(s, t, model), strike=strike, years=t, vol=sigma, rate=rate, is_call=is_call)
    settled = black76_price(forward=s, strike=strike, years=0.0, vol=1.0, rate=0.0, is_call=is_call)
    return np.where(np.broadcast_to(t, live.shape) <= 0, settled, live)


def option_delta(
    *,
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    rate: ArrayLike,
    is_call: ArrayLike,
    vol: ArrayLike | None = None,
    model: VolIndexModel = DEFAULT_MODEL,
) -> FloatArray:
    """∂(value)/∂(spot index) per unit: e^{−rT} N(d1) · e^{−κT} F / V (call), e^{−rT}(N(d1) − 1) · e^{−κT} F / V (put).

    NaN once expired (``years <= 0``) or for invalid inputs.
    """
    s, k, t, r = (np.asarray(a, dtype=float) for a in (spot, strike, years, rate))
    call = np.asarray(is_call, dtype=bool)
    sigma = forward_vol(t, model) if vol is None else np.asarray(vol, dtype=float)
    s, k, t, r, sigma, call = np.broadcast_arrays(s, k, t, r, sigma, call)
    f = forward(s, t, model)
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = sigma * np.sqrt(t)
        d1 = (np.log(f / k) + 0.5 * sd * sd) / sd
        n1 = np.where(call, ndtr(d1), ndtr(d1) - 1.0)
        delta = np.exp(-r * t) * n1 * np.exp(-model.reversion * t) * f / s
    valid = (t > 0) & (s > 0) & (k > 0) & (sigma > 0)
    return np.where(valid, delta, np.nan)


@dataclass(frozen=True)
class IndexOptionGreeks:
    """Value and Greeks per unit of volatility-index options (module doc): ``price`` in index points,
    ``delta`` / ``gamma`` per index point of the spot, ``theta`` per calendar day, ``vega`` per vol point,
    ``rho`` per 1 % of rate. NaN once expired (``years <= 0``) or for invalid inputs."""

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    theta: FloatArray
    vega: FloatArray
    rho: FloatArray


def option_greeks(
    *,
    spot: ArrayLike,
    strike: ArrayLike,
    years: ArrayLike,
    rate: ArrayLike,
    is_call: ArrayLike,
    vol: ArrayLike | None = None,
    model: VolIndexModel = DEFAULT_MODEL,
) -> IndexOptionGreeks:
    """Value, delta, gamma, theta, vega and rho of options on the index (see the module doc for each)."""
    s, k, t, r = (np.asarray(a, dtype=float) for a in (spot, strike, years, rate))
    call = np.asarray(is_call, dtype=bool)
    sigma = forward_vol(t, model) if vol is None else np.asarray(vol, dtype=float)
    s, k, t, r, sigma, call = np.broadcast_arrays(s, k, t, r, sigma, call)
    valid = (t > 0) & (s > 0) & (k > 0) & (sigma > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = forward(s, t, model)
        decay = np.exp(-model.reversion * t)
        df_ds = decay * f / s
        d2f_ds2 = decay * (decay - 1.0) * f / (s * s)
        sd = sigma * np.sqrt(t)
        d1 = (np.log(f / k) + 0.5 * sd * sd) / sd
        disc = np.exp(-r * t)
        n1 = np.where(call, ndtr(d1), ndtr(d1) - 1.0)
        pdf = np.exp(-0.5 * d1 * d1) / np.sqrt(2.0 * np.pi)
        price = black76_price(forward=f, strike=k, years=t, vol=sigma, rate=r, is_call=call)
        delta = disc * n1 * df_ds
        gamma = disc * (pdf * df_ds * df_ds / (f * sd) + n1 * d2f_ds2)
        vega = disc * f * pdf * np.sqrt(t) * 0.01
        rho = -t * price * 0.01
        later = np.maximum(t - 1.0 / 365.0, 0.0)
        tomorrow = option_price(
            spot=s, strike=k, years=later, rate=r, is_call=call, vol=None if vol is None else sigma, model=model
        )
        theta = tomorrow - price

    def masked(a: FloatArray) -> FloatArray:
        return np.where(valid, a, np.nan)

    return IndexOptionGreeks(
        price=masked(price),
        delta=masked(delta),
        gamma=masked(gamma),
        theta=masked(theta),
        vega=masked(vega),
        rho=masked(rho),
    )


def shocked_level(
    *,
    level: ArrayLike,
    market_return: ArrayLike = 0.0,
    vol_shift: ArrayLike | None = None,
    sensitivity: ArrayLike = DEFAULT_MARKET_SENSITIVITY,
    floor: float = DEFAULT_FLOOR,
) -> FloatArray:
    """The index level after a scenario (index points, always ≥ ``floor`` > 0; see the module doc).

    ``vol_shift`` given (a number, or NaN where a scenario states none): V' = V + 100 · vol_shift.
    Otherwise: V' = V · (1 + market_return) ** sensitivity = V · exp(sensitivity · ln(1 + market_return)).
    ``market_return`` must be > −1 (a simple return).
    """
    v = np.asarray(level, dtype=float)
    m = np.asarray(market_return, dtype=float)
    if np.any(m <= -1.0):
        raise ValueError("market_return must be greater than -1 (a simple return)")
    by_market = v * np.exp(np.asarray(sensitivity, dtype=float) * np.log1p(m))
    if vol_shift is None:
        out = by_market
    else:
        shift = np.asarray(vol_shift, dtype=float)
        out = np.where(np.isnan(shift), by_market, v + 100.0 * np.nan_to_num(shift))
    return np.maximum(out, floor)
