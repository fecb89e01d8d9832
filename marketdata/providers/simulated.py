"""The ``simulated`` provider: deterministic daily bars and option quotes from a known factor model.

It is the offline default and the ground truth for the analytics tests. Every row it produces is
stored with ``source="simulated"``. Two *worlds* share one model and one set of random draws:

- ``market`` (the default, the demo's): single stocks carry 15–45 % a year of idiosyncratic
  volatility and a sector factor, so stock correlations look like a market's (mostly 0.2–0.7,
  median about 0.35) and a stock's R² on the factors is about 0.15–0.6; broad ETFs and funds track
  the factors closely (R² > 0.9), a sector or international fund less (VNQ ≈ 0.65, VTIAX ≈ 0.85),
  and the commodity ETFs (GLD, DJP) carry commodity risk the equity factors do not explain.
- ``factor_test``: the same factors, betas and draws with idiosyncratic risk scaled by
  ``WORLDS["factor_test"].idio_scale`` (2 %) and no sector factors — a controlled world in which a
  252-day regression recovers every loading within ±0.05. Tests that check factor recovery ask for
  it (setting ``SIMULATED_WORLD`` or ``SimulatedProvider(world="factor_test")``); the demo never does.

The model (simple daily returns, so the truth is linear in the factors)
----------------------------------------------------------------------
**Volatility state (VIX).** The log level ``x = ln VIX`` is a mean-reverting process around
``ln VIX_MEAN_LEVEL`` (17.5) with reversion ``VIX_REVERSION`` (2.5 % of the gap per session, a
half-life of about 28 sessions), driven by the market's return — ``−VIX_DOWN_SENSITIVITY`` (6.0) ×
the return on a down day, ``−VIX_UP_SENSITIVITY`` (3.5) × the return on an up day, centred so that
the asymmetry adds no drift — plus its own noise N(0, ``VIX_NOISE``² = 4.5 %²) a session. VIX jumps
when the market falls, drifts down in rallies, spends 90 % of sessions between about 11 and 27
(median about 16), and, being an exponential, is never ≤ 0. Its returns correlate about −0.75 with
SPY's.

**Factors.** Eight factor returns are drawn jointly normal each session with correlations
``FACTOR_CORRELATION`` (modest; the rate factor is slightly negatively correlated with the market)
and annual volatilities ``FACTOR_VOLS`` (market 16 %, style spreads 6–9 %, rate 14 %) *at the VIX
mean level*; every factor's volatility on a session is scaled by ``(VIX_{t−1} / 17.5) ^ VOL_FEEDBACK``
(0.8), so volatility clusters and rises after sell-offs (a fatter-tailed market):

- market ``r_M`` = SPY's return (drift ``FACTOR_DRIFTS`` 8 %/yr);
- six style *spreads* ``s_k`` (value, growth, momentum, quality, size, low_volatility), each the
  proxy ETF's return minus SPY's: ``VTV = r_M + s_value``, ``VUG = r_M + s_growth``,
  ``MTUM = r_M + s_momentum``, ``QUAL = r_M + s_quality``, ``IWM = r_M + s_size``,
  ``USMV = r_M + s_low_volatility`` — exactly, with no ETF-specific noise;
- the rate factor ``r_rate`` = TLT's return (drift 1 %/yr).

**Sectors.** Eleven sector factors (``SECTOR_VOLS``: 7–18 % a year, independent of each other and
of the eight factors, not scaled by VIX) — the part of a sector's move the market and styles do
not explain, which is what makes two banks or two chip makers move together. A stock loads 1.0 on
its own sector; a sector-heavy fund or ETF on the sectors it holds (``symbol_spec(s).sector_loadings``).

**Symbols.** Every other symbol:
``r = alpha + b_M r_M + Σ_k b_k s_k + b_rate r_rate + Σ_j c_j sector_j + eps`` with loadings
``symbol_loadings(symbol)`` (hand-set, sector-aware, for the demo symbols; hash-seeded from a sector
template for any other symbol), sector loadings ``c_j`` and idiosyncratic noise
``eps ~ N(0, idio_vol²/252)``. Idiosyncratic vols (``symbol_spec(s).idio_vol_annual``, market
world): single stocks 15–45 % a year (hand-set for the demo symbols, 18–40 % by hash for others),
index and sector ETFs 1–3 %, active equity funds 3–3.5 %, the international fund 6 %, bond funds
1 %, commodity ETFs 13 %. A regression
of a symbol's returns on SPY, the style spreads (ETF − SPY) and TLT recovers ``symbol_loadings``
(unbiased; within ±0.05 in the ``factor_test`` world).

VIX is not linear: it is the volatility state above, ``symbol_spec("VIX").model == "vix_ou"``, and
``symbol_loadings("VIX")`` gives its average linearised sensitivity (market −4.75: a −1 % market
day is about a +4.75 % VIX day).

Determinism: each series is generated once over a fixed anchor calendar (every XNYS session from
2019-01-02 to 2035-12-31) from NumPy PCG64 generators seeded by SHA-256 of a name (``factors``,
``sectors``, the symbol), then sliced, so the same symbol and date give the same bar whatever range
is asked. Levels are scaled so the close on 2024-01-16 equals the symbol's reference price (the
demo fixture's prices; factor ETFs at their early-2024 levels). There are no dividends or splits:
``adj_close == close``. Both worlds use the same draws: only the idiosyncratic and sector parts differ.

Option quotes: an implied-vol history per underlying
----------------------------------------------------
Each underlying has an at-the-money implied vol on every session (``implied_vol_history``) that
moves with the volatility state: for an option of ``T`` years,
``iv_atm = IV_PREMIUM × √(sys · a(T) + res) × exp(eta_t)``, where ``sys`` is the symbol's factor
variance at the VIX mean level, ``res`` its sector + idiosyncratic variance, ``a(T) = 1 + (m_t² − 1) ×
(1 − e^{−2kT}) / (2kT)`` the expected average of the squared vol multiplier ``m_t = (VIX_t/17.5)^0.8``
over the option's life (it reverts at the VIX's rate ``k``), ``IV_PREMIUM`` (1.10) the variance risk
premium, and ``eta`` the symbol's own vol noise (AR(1), persistence ``IV_NOISE_PERSISTENCE`` 0.97,
stationary sd ``IV_NOISE`` 5 %). So implied vols jump when the market falls (VIX rises), and more
for index ETFs than for single stocks, whose idiosyncratic part does not move with VIX.
A smile in standardised log-moneyness ``k = ln(K/S)/√T`` (clamped to ±2): ``1 − 0.9k + 1.0k²`` for
equities (put skew); the result is clamped to [5 %, 300 %]. Bid and ask sit around the
Black–Scholes–Merton price (rate ``SIM_RATE`` 4.5 %, no dividends) at that vol.

VIX options follow the documented model of ``analytics.engines.volatility_index``: the log level is
an Ornstein–Uhlenbeck process (``VIX_MEAN_LEVEL``, reversion ``VIX_REVERSION_ANNUAL`` = −252·ln(1 −
2.5 %) ≈ 6.4 a year, log-vol ``VIX_LOG_VOL_ANNUAL`` ≈ 105 %), so ``VIX_T`` is lognormal with mean
``F = exp(μ + e^{−κT}(x − μ) + ½v)``, ``v = σ²(1 − e^{−2κT})/(2κ)``: the price is Black-76 on that
forward with vol ``√(v/T)`` — the quoted implied vol — times a call skew ``1 + 0.25k + 0.05k²``
(``k = ln(K/F)/√T``). The VIX quote's ``underlying_price`` is the spot index.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd

from marketdata.calendar import CALENDAR_END, trading_days
from marketdata.factors import FACTOR_NAMES, FACTOR_PROXIES, RATE_PROXY
from marketdata.occ import parse_occ
from marketdata.providers.base import Bar, BarColumns, InstrumentProfile, OptionQuoteData, Provider, SymbolUnavailable

ANCHOR_START = date(2019, 1, 2)
ANCHOR_END = CALENDAR_END
REFERENCE_DATE = date(2024, 1, 16)
TRADING_DAYS_PER_YEAR = 252
SIM_RATE = 0.045  # continuously compounded risk-free rate used to price simulated options
MODEL_VERSION = "v2"


@dataclass(frozen=True)
class World:
    """One parameterisation of the simulated market (see the module doc)."""

    name: str
    idio_scale: float  # multiplies every symbol's idiosyncratic volatility
    sector_scale: float  # multiplies the sector factors' returns
    description: str


WORLDS: dict[str, World] = {
    "market": World("market", 1.0, 1.0, "realistic: 15-45% idiosyncratic vol for stocks, sector factors"),
    "factor_test": World("factor_test", 0.02, 0.0, "controlled: 2% of the idiosyncratic risk, no sector factors"),
}
DEFAULT_WORLD = "market"

# Annualised volatilities of the eight factors at the VIX mean level, in FACTOR_NAMES order.
FACTOR_VOLS: dict[str, float] = {
    "market": 0.16,
    "value": 0.07,
    "growth": 0.07,
    "momentum": 0.09,
    "quality": 0.06,
    "size": 0.09,
    "low_volatility": 0.06,
    "interest_rate": 0.14,
}
# Annualised drifts (simple return per year) of the factors.
FACTOR_DRIFTS: dict[str, float] = {"market": 0.08, "interest_rate": 0.01}
# Correlations of the factor returns, FACTOR_NAMES order: market, value, growth, momentum,
# quality, size, low_volatility, interest_rate.
FACTOR_CORRELATION = np.array(
    [
        [1.00, -0.10, 0.20, 0.05, -0.10, 0.15, -0.30, -0.20],
        [-0.10, 1.00, -0.50, -0.15, 0.00, 0.20, 0.10, -0.10],
        [0.20, -0.50, 1.00, 0.25, 0.10, -0.10, -0.10, 0.05],
        [0.05, -0.15, 0.25, 1.00, 0.10, -0.05, 0.10, 0.00],
        [-0.10, 0.00, 0.10, 0.10, 1.00, -0.20, 0.30, 0.05],
        [0.15, 0.20, -0.10, -0.05, -0.20, 1.00, -0.15, -0.10],
        [-0.30, 0.10, -0.10, 0.10, 0.30, -0.15, 1.00, 0.15],
        [-0.20, -0.10, 0.05, 0.00, 0.05, -0.10, 0.15, 1.00],
    ]
)
# Annualised volatilities of the sector factors (independent; not scaled by VIX).
SECTOR_VOLS: dict[str, float] = {
    "Technology": 0.10,
    "Communication Services": 0.08,
    "Consumer Cyclical": 0.08,
    "Financial Services": 0.10,
    "Healthcare": 0.08,
    "Consumer Defensive": 0.07,
    "Energy": 0.18,
    "Industrials": 0.07,
    "Utilities": 0.09,
    "Real Estate": 0.10,
    "Basic Materials": 0.10,
}
SECTORS: tuple[str, ...] = tuple(SECTOR_VOLS)

# The volatility state (VIX): see the module doc.
VIX_MEAN_LEVEL = 17.5
VIX_REVERSION = 0.025  # share of the gap to the mean closed per session (log level)
VIX_DOWN_SENSITIVITY = 6.0  # −d ln VIX per unit market return on a down day
VIX_UP_SENSITIVITY = 3.5  # −d ln VIX per unit market return on an up day
VIX_NOISE = 0.045  # daily st. dev. of d ln VIX not explained by the market
VOL_FEEDBACK = 0.8  # factor vols scale with (VIX_{t-1} / VIX_MEAN_LEVEL) ** VOL_FEEDBACK
VIX_REVERSION_ANNUAL = -math.log(1.0 - VIX_REVERSION) * TRADING_DAYS_PER_YEAR  # κ per year, ≈ 6.4


def _vix_daily_log_vol() -> float:
    """St. dev. of d ln VIX per session at the mean level: own noise + the (centred) market response.

    With r ~ N(0, s²), s = 16 %/√252, and L = −a_up·r (r ≥ 0) or −a_down·r (r < 0):
    Var(L) = s²(a_up² + a_down²)/2 − s²(a_down − a_up)²/(2π).
    """
    s = FACTOR_VOLS["market"] / math.sqrt(TRADING_DAYS_PER_YEAR)
    up, down = VIX_UP_SENSITIVITY, VIX_DOWN_SENSITIVITY
    var_l = s * s * ((up * up + down * down) / 2.0 - (down - up) ** 2 / (2.0 * math.pi))
    return math.sqrt(VIX_NOISE**2 + var_l)


VIX_LOG_VOL_ANNUAL = _vix_daily_log_vol() * math.sqrt(TRADING_DAYS_PER_YEAR)  # ≈ 1.05

# Implied vols (see the module doc).
IV_PREMIUM = 1.10
IV_NOISE = 0.05
IV_NOISE_PERSISTENCE = 0.97


@dataclass(frozen=True)
class SymbolSpec:
    """How the simulated provider generates one symbol (the known truth for tests)."""

    symbol: str
    name: str
    asset_class: str
    sector: str
    industry: str
    reference_price: float  # close on REFERENCE_DATE, in USD
    alpha_annual: float  # simple return per year not explained by the factors
    idio_vol_annual: float  # annualised volatility of eps in the market world
    loadings: dict[str, float] = field(default_factory=dict)  # keys exactly FACTOR_NAMES
    model: str = "linear"  # "factor_proxy", "linear" or "vix_ou"
    sector_loadings: dict[str, float] = field(default_factory=dict)  # keys among SECTORS


def _loadings(m: float, v: float, g: float, mo: float, q: float, s: float, lv: float, r: float) -> dict[str, float]:
    return dict(zip(FACTOR_NAMES, (m, v, g, mo, q, s, lv, r), strict=True))


# Sector → template loadings. Used for unknown symbols.
SECTOR_TEMPLATES: dict[str, dict[str, float]] = {
    "Technology": _loadings(1.25, -0.30, 0.55, 0.25, 0.20, -0.20, -0.30, -0.10),
    "Communication Services": _loadings(1.15, -0.20, 0.45, 0.20, 0.10, -0.10, -0.20, -0.10),
    "Consumer Cyclical": _loadings(1.20, -0.10, 0.30, 0.10, -0.10, 0.20, -0.30, -0.10),
    "Financial Services": _loadings(1.10, 0.60, -0.30, 0.00, 0.00, 0.15, -0.10, -0.30),
    "Healthcare": _loadings(0.70, 0.15, 0.00, 0.00, 0.30, -0.10, 0.40, 0.05),
    "Consumer Defensive": _loadings(0.50, 0.15, -0.10, -0.10, 0.30, -0.15, 0.55, 0.10),
    "Energy": _loadings(0.80, 0.70, -0.45, 0.15, 0.00, 0.15, -0.05, -0.35),
    "Industrials": _loadings(1.05, 0.25, 0.00, 0.10, 0.05, 0.20, -0.10, -0.15),
    "Utilities": _loadings(0.45, 0.20, -0.15, -0.05, 0.10, 0.00, 0.60, 0.35),
    "Real Estate": _loadings(0.85, 0.30, -0.10, -0.10, -0.20, 0.30, 0.20, 0.35),
    "Basic Materials": _loadings(1.00, 0.40, -0.20, 0.05, -0.05, 0.25, -0.10, -0.20),
}
_DEFAULT_SECTORS = tuple(SECTOR_TEMPLATES)

# (name, asset class, sector, industry, reference price, alpha/yr, idio vol/yr (market world), loadings)
_DEMO: dict[str, tuple[str, str, str, str, float, float, float, dict[str, float]]] = {
    "AAPL": (
        "Apple Inc.",
        "stock",
        "Technology",
        "Consumer Electronics",
        225,
        0.02,
        0.200,
        _loadings(1.15, -0.20, 0.45, 0.20, 0.35, -0.30, -0.10, -0.10),
    ),
    "MSFT": (
        "Microsoft Corporation",
        "stock",
        "Technology",
        "Software",
        420,
        0.03,
        0.180,
        _loadings(1.05, -0.15, 0.40, 0.15, 0.40, -0.35, 0.00, -0.05),
    ),
    "AMZN": (
        "Amazon.com, Inc.",
        "stock",
        "Consumer Cyclical",
        "Internet Retail",
        170,
        0.02,
        0.250,
        _loadings(1.20, -0.30, 0.55, 0.20, 0.10, -0.25, -0.20, -0.15),
    ),
    "GOOGL": (
        "Alphabet Inc.",
        "stock",
        "Communication Services",
        "Internet Content",
        160,
        0.02,
        0.220,
        _loadings(1.10, -0.10, 0.40, 0.10, 0.30, -0.30, -0.05, -0.05),
    ),
    "TSLA": (
        "Tesla, Inc.",
        "stock",
        "Consumer Cyclical",
        "Auto Manufacturers",
        255,
        0.00,
        0.450,
        _loadings(1.90, -0.50, 0.80, 0.40, -0.40, 0.20, -0.60, -0.30),
    ),
    "NVDA": (
        "NVIDIA Corporation",
        "stock",
        "Technology",
        "Semiconductors",
        700,
        0.05,
        0.360,
        _loadings(1.70, -0.40, 0.70, 0.60, 0.20, -0.10, -0.50, -0.20),
    ),
    "JNJ": (
        "Johnson & Johnson",
        "stock",
        "Healthcare",
        "Drug Manufacturers",
        160,
        0.00,
        0.150,
        _loadings(0.55, 0.30, -0.20, -0.10, 0.35, -0.20, 0.50, 0.10),
    ),
    "JPM": (
        "JPMorgan Chase & Co.",
        "stock",
        "Financial Services",
        "Banks",
        170,
        0.02,
        0.170,
        _loadings(1.10, 0.60, -0.30, 0.10, 0.10, 0.00, -0.10, -0.30),
    ),
    "V": (
        "Visa Inc.",
        "stock",
        "Financial Services",
        "Credit Services",
        268,
        0.02,
        0.160,
        _loadings(0.95, 0.00, 0.20, 0.10, 0.45, -0.20, 0.15, -0.05),
    ),
    "FXNAX": (
        "Fidelity U.S. Bond Index Fund",
        "mutual_fund",
        "Fixed Income",
        "Intermediate Core Bond",
        20,
        0.0,
        0.010,
        _loadings(0.03, 0.00, 0.00, 0.00, 0.00, 0.00, 0.02, 0.38),
    ),
    "FCNTX": (
        "Fidelity Contrafund",
        "mutual_fund",
        "Equity Fund",
        "Large Growth",
        15,
        0.01,
        0.030,
        _loadings(1.00, -0.20, 0.45, 0.15, 0.20, -0.20, 0.00, -0.05),
    ),
    "FMAGX": (
        "Fidelity Magellan Fund",
        "mutual_fund",
        "Equity Fund",
        "Large Growth",
        15,
        0.0,
        0.035,
        _loadings(1.02, -0.10, 0.35, 0.20, 0.15, -0.15, 0.00, -0.05),
    ),
    "VTIAX": (
        "Vanguard Total International Stock Index Fund",
        "mutual_fund",
        "Equity Fund",
        "Foreign Large Blend",
        30,
        0.0,
        0.060,
        _loadings(0.85, 0.20, -0.05, 0.00, 0.00, 0.05, 0.00, 0.00),
    ),
    "VTI": (
        "Vanguard Total Stock Market ETF",
        "etf",
        "Equity Fund",
        "Large Blend",
        250,
        0.0,
        0.010,
        _loadings(1.00, 0.00, 0.00, 0.00, 0.00, 0.10, 0.00, 0.00),
    ),
    "BND": (
        "Vanguard Total Bond Market ETF",
        "etf",
        "Fixed Income",
        "Intermediate Core Bond",
        77,
        0.0,
        0.010,
        _loadings(0.02, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.35),
    ),
    "VNQ": (
        "Vanguard Real Estate ETF",
        "etf",
        "Real Estate",
        "REIT",
        95,
        0.0,
        0.030,
        _loadings(0.85, 0.30, -0.10, -0.10, -0.20, 0.30, 0.20, 0.35),
    ),
    "QQQ": (
        "Invesco QQQ Trust",
        "etf",
        "Equity Fund",
        "Large Growth",
        420,
        0.01,
        0.020,
        _loadings(1.10, -0.30, 0.50, 0.15, 0.20, -0.30, -0.10, -0.05),
    ),
    "BRK-B": (
        "Berkshire Hathaway Inc.",
        "stock",
        "Financial Services",
        "Insurance",
        440,
        0.01,
        0.150,
        _loadings(0.85, 0.50, -0.20, 0.00, 0.30, -0.10, 0.30, -0.05),
    ),
    "META": (
        "Meta Platforms, Inc.",
        "stock",
        "Communication Services",
        "Internet Content",
        530,
        0.03,
        0.300,
        _loadings(1.30, -0.20, 0.50, 0.35, 0.20, -0.20, -0.30, -0.10),
    ),
    "UNH": (
        "UnitedHealth Group Incorporated",
        "stock",
        "Healthcare",
        "Healthcare Plans",
        545,
        0.01,
        0.240,
        _loadings(0.60, 0.20, -0.10, 0.00, 0.35, -0.20, 0.40, 0.00),
    ),
    "HD": (
        "The Home Depot, Inc.",
        "stock",
        "Consumer Cyclical",
        "Home Improvement Retail",
        350,
        0.01,
        0.180,
        _loadings(1.00, 0.20, 0.00, -0.10, 0.30, -0.10, 0.10, 0.15),
    ),
    "PG": (
        "The Procter & Gamble Company",
        "stock",
        "Consumer Defensive",
        "Household Products",
        165,
        0.01,
        0.150,
        _loadings(0.45, 0.10, -0.10, -0.10, 0.30, -0.20, 0.60, 0.10),
    ),
    "GLD": (
        "SPDR Gold Shares",
        "etf",
        "Commodities",
        "Gold",
        219.23,
        0.02,
        0.130,
        _loadings(0.05, 0.00, 0.00, 0.10, 0.00, 0.00, 0.00, 0.25),
    ),
    "DJP": (
        "iPath Bloomberg Commodity Index ETN",
        "etf",
        "Commodities",
        "Commodities Broad Basket",
        30,
        0.0,
        0.130,
        _loadings(0.35, 0.30, -0.10, 0.10, -0.20, 0.20, -0.10, -0.20),
    ),
    "AMD": (
        "Advanced Micro Devices, Inc.",
        "stock",
        "Technology",
        "Semiconductors",
        162,
        0.02,
        0.420,
        _loadings(1.80, -0.40, 0.70, 0.50, -0.10, 0.00, -0.50, -0.20),
    ),
    "NFLX": (
        "Netflix, Inc.",
        "stock",
        "Communication Services",
        "Entertainment",
        490,
        0.02,
        0.320,
        _loadings(1.30, -0.30, 0.60, 0.30, 0.00, -0.10, -0.30, -0.15),
    ),
    "SHOP": (
        "Shopify Inc.",
        "stock",
        "Technology",
        "Software",
        195,
        0.0,
        0.450,
        _loadings(1.90, -0.60, 0.90, 0.30, -0.40, 0.30, -0.60, -0.40),
    ),
    "ZM": (
        "Zoom Video Communications, Inc.",
        "stock",
        "Technology",
        "Software",
        70,
        -0.03,
        0.450,
        _loadings(1.40, -0.50, 0.70, -0.20, -0.30, 0.30, -0.40, -0.30),
    ),
    "PTON": (
        "Peloton Interactive, Inc.",
        "stock",
        "Consumer Cyclical",
        "Leisure",
        40,
        -0.08,
        0.450,
        _loadings(1.70, -0.40, 0.60, -0.40, -0.60, 0.80, -0.50, -0.40),
    ),
    "ROKU": (
        "Roku, Inc.",
        "stock",
        "Communication Services",
        "Entertainment",
        60,
        -0.04,
        0.450,
        _loadings(1.90, -0.50, 0.80, 0.00, -0.50, 0.60, -0.60, -0.40),
    ),
    "XOM": (
        "Exxon Mobil Corporation",
        "stock",
        "Energy",
        "Oil & Gas Integrated",
        110,
        0.01,
        0.200,
        _loadings(0.70, 0.70, -0.50, 0.20, 0.10, 0.10, 0.00, -0.40),
    ),
    "F": (
        "Ford Motor Company",
        "stock",
        "Consumer Cyclical",
        "Auto Manufacturers",
        12,
        -0.02,
        0.280,
        _loadings(1.20, 0.60, -0.30, -0.10, -0.30, 0.40, -0.20, -0.20),
    ),
    "GE": (
        "General Electric Company",
        "stock",
        "Industrials",
        "Aerospace & Defense",
        140,
        0.03,
        0.240,
        _loadings(1.15, 0.30, 0.00, 0.30, 0.00, 0.10, -0.20, -0.15),
    ),
    "C": (
        "Citigroup Inc.",
        "stock",
        "Financial Services",
        "Banks",
        55,
        0.0,
        0.210,
        _loadings(1.30, 0.80, -0.30, -0.10, -0.20, 0.20, -0.30, -0.35),
    ),
}


# Sector loadings of the demo funds and ETFs (a single stock loads 1.0 on its own sector).
_FUND_SECTORS: dict[str, dict[str, float]] = {
    "QQQ": {"Technology": 0.50, "Communication Services": 0.15, "Consumer Cyclical": 0.15},
    "FCNTX": {"Technology": 0.30, "Communication Services": 0.15, "Financial Services": 0.10},
    "FMAGX": {"Technology": 0.25, "Industrials": 0.10, "Financial Services": 0.10},
    "VNQ": {"Real Estate": 1.00},
    "VTI": {},
    "VTIAX": {},
    "BND": {},
    "FXNAX": {},
    "GLD": {},
    "DJP": {"Energy": 0.30, "Basic Materials": 0.20},
}

# Factor proxies: (name, reference price).
_PROXIES: dict[str, tuple[str, float]] = {
    "SPY": ("SPDR S&P 500 ETF Trust", 475.0),
    "VTV": ("Vanguard Value ETF", 150.0),
    "VUG": ("Vanguard Growth ETF", 320.0),
    "MTUM": ("iShares MSCI USA Momentum Factor ETF", 160.0),
    "QUAL": ("iShares MSCI USA Quality Factor ETF", 150.0),
    "IWM": ("iShares Russell 2000 ETF", 195.0),
    "USMV": ("iShares MSCI USA Min Vol Factor ETF", 80.0),
    "TLT": ("iShares 20+ Year Treasury Bond ETF", 95.0),
}
_PROXY_FACTOR = {symbol: name for name, symbol in FACTOR_PROXIES.items()} | {RATE_PROXY: "interest_rate"}


def _seed(text: str) -> int:
    """A stable 64-bit seed from text (SHA-256; Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(f"sigmasight-sim-{MODEL_VERSION}:{text}".encode()).digest()[:8], "big")


def _unit(text: str) -> float:
    """A stable number in [0, 1) from text."""
    return _seed(text) / 2**64


def world_get(name: str | None = None) -> World:
    """The world called ``name`` (default ``DEFAULT_WORLD``); ValueError for an unknown name."""
    name = name or DEFAULT_WORLD
    try:
        return WORLDS[name]
    except KeyError:
        raise ValueError(f"Unknown simulated world {name!r}; choose one of {', '.join(WORLDS)}.") from None


@lru_cache(maxsize=4096)
def symbol_spec(symbol: str) -> SymbolSpec:
    """The generating parameters of ``symbol``: loadings, alpha, idiosyncratic vol, reference price."""
    symbol = symbol.upper()
    if symbol in _PROXIES:
        name, price = _PROXIES[symbol]
        factor = _PROXY_FACTOR[symbol]
        loadings = dict.fromkeys(FACTOR_NAMES, 0.0)
        if factor == "interest_rate":
            loadings["interest_rate"] = 1.0
        else:
            loadings["market"] = 1.0
            loadings[factor] = 1.0
        return SymbolSpec(symbol, name, "etf", "Factor Proxy", "ETF", price, 0.0, 0.0, loadings, "factor_proxy")
    if symbol == "VIX":
        loadings = dict.fromkeys(FACTOR_NAMES, 0.0)
        loadings["market"] = -(VIX_UP_SENSITIVITY + VIX_DOWN_SENSITIVITY) / 2.0
        return SymbolSpec(
            "VIX", "CBOE Volatility Index", "index", "Index", "Volatility", VIX_MEAN_LEVEL, 0.0,
            VIX_NOISE * math.sqrt(TRADING_DAYS_PER_YEAR), loadings, "vix_ou",
        )  # fmt: skip
    if symbol in _DEMO:
        name, asset_class, sector, industry, price, alpha, idio, loadings = _DEMO[symbol]
        sectors = _FUND_SECTORS.get(symbol, {sector: 1.0})
        return SymbolSpec(
            symbol, name, asset_class, sector, industry, float(price), alpha, idio, dict(loadings), "linear",
            dict(sectors),
        )  # fmt: skip
    # Any other symbol: a sector picked by hash, the sector's template loadings ± up to 0.2.
    sector = _DEFAULT_SECTORS[int(_unit(symbol + ":sector") * len(_DEFAULT_SECTORS))]
    template = SECTOR_TEMPLATES[sector]
    loadings = {
        name: round(value + (_unit(f"{symbol}:beta:{name}") - 0.5) * 0.4, 4) for name, value in template.items()
    }
    price = round(float(np.exp(np.log(10) + _unit(symbol + ":price") * np.log(50))), 2)  # $10 … $500
    alpha = round((_unit(symbol + ":alpha") - 0.4) * 0.10, 4)  # −4% … +6% a year
    idio = round(0.18 + 0.22 * _unit(symbol + ":idio"), 4)  # 18% … 40% a year
    sector_loading = round(0.8 + 0.4 * _unit(symbol + ":sector_beta"), 4)  # 0.8 … 1.2
    return SymbolSpec(
        symbol, f"{symbol} (simulated)", "stock", sector, "", price, alpha, idio, loadings, "linear",
        {sector: sector_loading},
    )  # fmt: skip


def symbol_loadings(symbol: str) -> dict[str, float]:
    """The true factor loadings of ``symbol`` (keys exactly ``FACTOR_NAMES``).

    A regression of the symbol's simple daily returns on the market return (SPY), the style
    spreads (proxy ETF − SPY) and TLT's return recovers these. For VIX (``model == "vix_ou"``)
    the market entry is its average linearised sensitivity of log level to market returns.
    """
    return dict(symbol_spec(symbol).loadings)


@lru_cache(maxsize=1)
def _anchor() -> tuple[tuple[date, ...], int]:
    sessions = tuple(trading_days(start=ANCHOR_START, end=ANCHOR_END))
    return sessions, sessions.index(REFERENCE_DATE)


def factor_covariance_daily() -> np.ndarray:
    """8×8 covariance of daily factor returns at the VIX mean level (FACTOR_NAMES order)."""
    vols = np.array([FACTOR_VOLS[name] for name in FACTOR_NAMES]) / math.sqrt(TRADING_DAYS_PER_YEAR)
    return FACTOR_CORRELATION * np.outer(vols, vols)


@dataclass(frozen=True)
class _MarketState:
    """The world's common series over the anchor calendar (read-only arrays)."""

    factors: np.ndarray  # (sessions, 8) daily factor returns, FACTOR_NAMES order
    vix: np.ndarray  # (sessions,) VIX close
    multiplier: np.ndarray  # (sessions,) factor vol multiplier m_t = (VIX_{t-1}/mean) ** VOL_FEEDBACK
    sectors: np.ndarray  # (sessions, len(SECTORS)) daily sector factor returns (world scale 1)


@lru_cache(maxsize=1)
def _market_state() -> _MarketState:
    """Factors and VIX, generated together session by session (the factor vols depend on VIX)."""
    sessions, _ = _anchor()
    n, k = len(sessions), len(FACTOR_NAMES)
    rng = np.random.default_rng(_seed("factors"))
    z = rng.standard_normal((n, k)) @ np.linalg.cholesky(FACTOR_CORRELATION).T  # correlated, unit variance
    vix_noise = np.random.default_rng(_seed("vix")).standard_normal(n) * VIX_NOISE
    vols = np.array([FACTOR_VOLS[name] for name in FACTOR_NAMES]) / math.sqrt(TRADING_DAYS_PER_YEAR)
    drift = np.array([FACTOR_DRIFTS.get(name, 0.0) for name in FACTOR_NAMES]) / TRADING_DAYS_PER_YEAR
    mu = math.log(VIX_MEAN_LEVEL)
    asymmetry = (VIX_DOWN_SENSITIVITY - VIX_UP_SENSITIVITY) / math.sqrt(2.0 * math.pi)  # E[L] per unit sd
    factors = np.empty((n, k))
    log_vix = np.empty(n)
    multiplier = np.empty(n)
    x = mu
    for i in range(n):
        m = math.exp(VOL_FEEDBACK * (x - mu))
        multiplier[i] = m
        row = drift + m * vols * z[i]
        factors[i] = row
        r = row[0]
        response = -(VIX_DOWN_SENSITIVITY if r < 0 else VIX_UP_SENSITIVITY) * r - asymmetry * m * vols[0]
        x = x + VIX_REVERSION * (mu - x) + response + vix_noise[i]
        log_vix[i] = x
    sector_vols = np.array([SECTOR_VOLS[s] for s in SECTORS]) / math.sqrt(TRADING_DAYS_PER_YEAR)
    sectors = np.random.default_rng(_seed("sectors")).standard_normal((n, len(SECTORS))) * sector_vols
    vix = np.exp(log_vix)
    for a in (factors, vix, multiplier, sectors):
        a.setflags(write=False)
    return _MarketState(factors, vix, multiplier, sectors)


def _factor_matrix() -> np.ndarray:
    """Daily factor returns over the anchor calendar, shape (sessions, 8), read-only."""
    return _market_state().factors


def factor_returns(*, start: date, end: date) -> pd.DataFrame:
    """The true daily factor returns (simple, not annualised) on sessions ``start``…``end``.

    Columns FACTOR_NAMES: market = SPY's return, each style = its proxy's return − SPY's,
    interest_rate = TLT's return. Index: DatetimeIndex named "date". The same in every world.
    """
    lo, hi = _index_range(start, end)
    sessions, _ = _anchor()
    return pd.DataFrame(
        _factor_matrix()[lo:hi],
        index=pd.DatetimeIndex(pd.to_datetime(sessions[lo:hi]), name="date"),
        columns=list(FACTOR_NAMES),
    )


def sector_returns(*, start: date, end: date, world: str | None = None) -> pd.DataFrame:
    """The sector factors' daily returns (columns ``SECTORS``) in ``world`` on sessions ``start``…``end``."""
    lo, hi = _index_range(start, end)
    sessions, _ = _anchor()
    return pd.DataFrame(
        _market_state().sectors[lo:hi] * world_get(world).sector_scale,
        index=pd.DatetimeIndex(pd.to_datetime(sessions[lo:hi]), name="date"),
        columns=list(SECTORS),
    )


@lru_cache(maxsize=1)
def _anchor_days() -> np.ndarray:
    """The anchor sessions as ``datetime64[D]``, read-only."""
    days = np.array(_anchor()[0], dtype="datetime64[D]")
    days.setflags(write=False)
    return days


@dataclass(frozen=True)
class _Series:
    """A symbol's history over the anchor calendar: closes and returns in full, OHLCV on demand.

    The random draws are made once for the whole calendar (so a session's bar never depends on the
    range asked); open, high, low and volume are then computed only for the sessions asked for —
    elementwise, so a slice gives bit for bit the values the whole series would.
    """

    close: np.ndarray  # rounded to 4 decimals, like every stored price
    returns: np.ndarray  # simple daily returns
    close_raw: np.ndarray  # unrounded close, from which open, high and low are built
    first_previous: float  # the close before the first anchor session
    daily_vol: float
    nav: bool  # a mutual fund: open = high = low = close
    z_open: np.ndarray | None
    z_high: np.ndarray | None
    z_low: np.ndarray | None
    z_volume: np.ndarray | None  # None when the volume is always 0 (indices, funds)
    volume_base: float

    def ohlcv(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(open, high, low, close, volume) of anchor sessions ``lo``…``hi - 1``."""
        close = self.close[lo:hi]
        if self.nav:
            open_ = high = low = close
        else:
            assert self.z_open is not None and self.z_high is not None and self.z_low is not None
            raw = self.close_raw[lo:hi]
            if lo == 0:
                previous = np.concatenate([[self.first_previous], self.close_raw[: hi - 1]])
            else:
                previous = self.close_raw[lo - 1 : hi - 1]
            daily_vol = self.daily_vol
            opened = previous * np.exp(self.z_open[lo:hi] * 0.25 * daily_vol)
            top = np.maximum(opened, raw)
            bottom = np.minimum(opened, raw)
            high = np.round(top * (1.0 + np.abs(self.z_high[lo:hi]) * 0.5 * daily_vol), 4)
            low = np.round(bottom * (1.0 - np.minimum(np.abs(self.z_low[lo:hi]) * 0.5 * daily_vol, 0.5)), 4)
            open_ = np.round(opened, 4)
        if self.z_volume is None:
            volume = np.zeros(hi - lo, dtype=np.int64)
        else:
            noise = np.exp(self.z_volume[lo:hi] * 0.3)
            volume = (self.volume_base * noise * (1.0 + 20.0 * np.abs(self.returns[lo:hi]))).astype(np.int64)
        return open_, high, low, close, volume


@lru_cache(maxsize=4096)
def _series(symbol: str, world: str = DEFAULT_WORLD) -> _Series:
    """The symbol's history over the anchor calendar in ``world`` (generated once per process)."""
    spec = symbol_spec(symbol)
    params = world_get(world)
    sessions, ref_index = _anchor()
    n = len(sessions)
    state = _market_state()
    rng = np.random.default_rng(_seed(symbol))
    if spec.model == "vix_ou":
        close = state.vix
        returns = np.concatenate([[0.0], close[1:] / close[:-1] - 1.0])
    else:
        betas = np.array([spec.loadings[name] for name in FACTOR_NAMES])
        idio = spec.idio_vol_annual * params.idio_scale / math.sqrt(TRADING_DAYS_PER_YEAR)
        eps = rng.standard_normal(n) * idio
        returns = spec.alpha_annual / TRADING_DAYS_PER_YEAR + state.factors @ betas + eps
        if spec.sector_loadings and params.sector_scale:
            sector_betas = np.array([spec.sector_loadings.get(s, 0.0) for s in SECTORS])
            returns = returns + (state.sectors @ sector_betas) * params.sector_scale
        returns = np.maximum(returns, -0.9)
        growth = np.cumprod(1.0 + returns)
        close = spec.reference_price * growth / growth[ref_index]

    daily_vol = float(np.std(returns[1:])) or 0.001
    ohlc = np.random.default_rng(_seed(symbol + ":ohlc"))
    nav = spec.asset_class == "mutual_fund"  # a fund has one NAV a day
    # The draws, in the order the model has always made them: open, high, low, then volume noise.
    z_open = z_high = z_low = z_volume = None
    if not nav:
        z_open, z_high, z_low = (ohlc.standard_normal(n) for _ in range(3))
    volume_base = 0.0
    if spec.asset_class not in ("index", "mutual_fund"):
        volume_base = 10 ** (5 + 2.5 * _unit(symbol + ":volume"))
        z_volume = ohlc.standard_normal(n)
    rounded = np.round(close, 4)
    close = np.array(close)  # VIX's close is the shared state array: own a copy
    for a in (rounded, close, returns, z_open, z_high, z_low, z_volume):
        if a is not None:
            a.setflags(write=False)
    first_previous = float(close[0] / (1.0 + returns[0]))
    return _Series(
        rounded, returns, close, first_previous, daily_vol, nav, z_open, z_high, z_low, z_volume, volume_base
    )


def _index_range(start: date, end: date) -> tuple[int, int]:
    sessions, _ = _anchor()
    return bisect_left(sessions, start), bisect_right(sessions, end)


def _session_index(as_of: date) -> int:
    lo, hi = _index_range(as_of, as_of)
    if lo == hi:
        raise SymbolUnavailable(f"{as_of} is not a session of the simulated calendar.")
    return lo


def _norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _bsm_price(*, spot: float, strike: float, years: float, vol: float, rate: float, is_call: bool) -> float:
    """Black–Scholes–Merton price per share (no dividends); intrinsic value at expiry."""
    if years <= 0 or vol <= 0:
        return max(0.0, spot - strike) if is_call else max(0.0, strike - spot)
    sd = vol * math.sqrt(years)
    d1 = (math.log(spot / strike) + (rate + 0.5 * vol * vol) * years) / sd
    d2 = d1 - sd
    discount = math.exp(-rate * years)
    if is_call:
        return spot * _norm_cdf(d1) - strike * discount * _norm_cdf(d2)
    return strike * discount * _norm_cdf(-d2) - spot * _norm_cdf(-d1)


def _black76_price(*, forward: float, strike: float, years: float, vol: float, rate: float, is_call: bool) -> float:
    """Black-76 price of an option on a forward (discounted at ``rate``); discounted intrinsic at expiry."""
    discount = math.exp(-rate * max(years, 0.0))
    if years <= 0 or vol <= 0:
        return discount * (max(0.0, forward - strike) if is_call else max(0.0, strike - forward))
    sd = vol * math.sqrt(years)
    d1 = (math.log(forward / strike) + 0.5 * sd * sd) / sd
    d2 = d1 - sd
    if is_call:
        return discount * (forward * _norm_cdf(d1) - strike * _norm_cdf(d2))
    return discount * (strike * _norm_cdf(-d2) - forward * _norm_cdf(-d1))


def vix_forward(*, spot: float, years: float) -> tuple[float, float]:
    """(forward, Black-76 vol) of VIX at ``years`` under the log-OU model of the module doc."""
    kappa, sigma, mu = VIX_REVERSION_ANNUAL, VIX_LOG_VOL_ANNUAL, math.log(VIX_MEAN_LEVEL)
    years = max(years, 1.0 / 365.0)
    decay = math.exp(-kappa * years)
    variance = sigma * sigma * (1.0 - decay * decay) / (2.0 * kappa)
    forward = math.exp(mu + decay * (math.log(spot) - mu) + 0.5 * variance)
    return forward, math.sqrt(variance / years)


def _systematic_variance(spec: SymbolSpec) -> float:
    """Annual variance of the symbol's factor part at the VIX mean level."""
    return _systematic_variance_of(spec.symbol)


@lru_cache(maxsize=1024)
def _systematic_variance_of(symbol: str) -> float:
    # Once per symbol: a quote history asks for it on every session.
    spec = symbol_spec(symbol)
    betas = np.array([spec.loadings[name] for name in FACTOR_NAMES])
    return float(betas @ factor_covariance_daily() @ betas) * TRADING_DAYS_PER_YEAR


def _residual_variance(spec: SymbolSpec, params: World) -> float:
    """Annual variance of the symbol's sector and idiosyncratic parts in ``params``."""
    sector = sum((c * SECTOR_VOLS[s]) ** 2 for s, c in spec.sector_loadings.items()) * params.sector_scale**2
    return sector + (spec.idio_vol_annual * params.idio_scale) ** 2


@lru_cache(maxsize=512)
def _iv_noise(symbol: str) -> np.ndarray:
    """exp(eta_t): the symbol's own implied-vol noise, AR(1) in logs, over the anchor calendar."""
    n = len(_anchor()[0])
    shocks = np.random.default_rng(_seed(symbol + ":iv")).standard_normal(n)
    scale = IV_NOISE * math.sqrt(1.0 - IV_NOISE_PERSISTENCE**2)
    eta = np.empty(n)
    value = shocks[0] * IV_NOISE
    for i in range(n):
        if i:
            value = IV_NOISE_PERSISTENCE * value + scale * shocks[i]
        eta[i] = value
    out = np.exp(eta)
    out.setflags(write=False)
    return out


def _atm_vol(symbol: str, index: int, years: float, world: str) -> float:
    """The at-the-money implied vol of ``symbol`` at anchor session ``index`` for ``years`` to expiry."""
    spec = symbol_spec(symbol)
    state = _market_state()
    if spec.model == "vix_ou":
        return vix_forward(spot=float(state.vix[index]), years=years)[1]
    m2 = (float(state.vix[index]) / VIX_MEAN_LEVEL) ** (2.0 * VOL_FEEDBACK)
    k2t = 2.0 * VIX_REVERSION_ANNUAL * max(years, 1.0 / 365.0)
    average = 1.0 + (m2 - 1.0) * (1.0 - math.exp(-k2t)) / k2t
    variance = _systematic_variance(spec) * average + _residual_variance(spec, world_get(world))
    return IV_PREMIUM * math.sqrt(variance) * float(_iv_noise(spec.symbol)[index])


def implied_vol_history(
    *, underlying: str, start: date, end: date, days: int = 30, world: str | None = None
) -> pd.Series:
    """The underlying's at-the-money implied vol (annualised decimal) for ``days`` calendar days to
    expiry on every session ``start``…``end`` — the daily vol the option quotes are built on."""
    lo, hi = _index_range(start, end)
    name = world_get(world).name
    sessions, _ = _anchor()
    values = [_atm_vol(underlying.upper(), i, days / 365.0, name) for i in range(lo, hi)]
    return pd.Series(values, index=pd.DatetimeIndex(pd.to_datetime(sessions[lo:hi]), name="date"), name=underlying)


def simulated_implied_vol(
    *, underlying: str, as_of: date, strike: float, expiry: date, world: str | None = None
) -> float:
    """The simulated implied vol (annualised decimal) of a contract on ``as_of`` (see module doc).

    For VIX it is the Black-76 vol on the forward; for everything else the Black–Scholes vol on spot.
    """
    index = _session_index(as_of)
    name = world_get(world).name
    underlying = underlying.upper()
    years = max((expiry - as_of).days, 1) / 365.0
    spot = float(_series(underlying, name).close[index])
    if symbol_spec(underlying).model == "vix_ou":
        forward, _ = vix_forward(spot=spot, years=years)
        k = max(-2.0, min(2.0, math.log(strike / forward) / math.sqrt(years)))
        smile = 1.0 + 0.25 * k + 0.05 * k * k
    else:
        k = max(-2.0, min(2.0, math.log(strike / spot) / math.sqrt(years)))
        smile = 1.0 - 0.9 * k + 1.0 * k * k
    return float(min(3.0, max(0.05, _atm_vol(underlying, index, years, name) * smile)))


class SimulatedProvider(Provider):
    """Deterministic offline data from the factor model above; labelled ``simulated``."""

    name = "simulated"
    supports_options = True
    supports_profiles = True
    supports_columns = True
    supports_option_history = True

    def __init__(self, *, world: str | None = None) -> None:
        self.world = world_get(world).name

    def daily_bars(self, *, symbol: str, start: date, end: date, asset_class: str | None = None) -> list[Bar]:
        return self.daily_bar_columns(symbol=symbol, start=start, end=end, asset_class=asset_class).rows()

    def daily_bar_columns(self, *, symbol: str, start: date, end: date, asset_class: str | None = None) -> BarColumns:
        symbol = symbol.upper()
        lo, hi = _index_range(start, end)
        if lo >= hi:
            empty = np.empty(0)
            return BarColumns(
                symbol, np.empty(0, dtype="datetime64[D]"), empty, empty, empty, empty, empty, np.empty(0, np.int64)
            )
        open_, high, low, close, volume = _series(symbol, self.world).ohlcv(lo, hi)
        return BarColumns(symbol, _anchor_days()[lo:hi], open_, high, low, close, close, volume)

    def option_quote(self, *, contract: str, as_of: date) -> OptionQuoteData:
        try:
            underlying, expiry, is_call, strike = parse_occ(contract)
        except ValueError as exc:
            raise SymbolUnavailable(str(exc)) from None
        if as_of > expiry:
            raise SymbolUnavailable(f"{contract} expired on {expiry}.")
        lo, hi = _index_range(as_of, as_of)
        if lo == hi:
            raise SymbolUnavailable(f"{as_of} is not a trading session.")
        spot = float(_series(underlying, self.world).close[lo])
        vol = simulated_implied_vol(underlying=underlying, as_of=as_of, strike=strike, expiry=expiry, world=self.world)
        years = (expiry - as_of).days / 365.0
        if symbol_spec(underlying).model == "vix_ou":
            forward, _ = vix_forward(spot=spot, years=years)
            mid = _black76_price(forward=forward, strike=strike, years=years, vol=vol, rate=SIM_RATE, is_call=is_call)
        else:
            mid = _bsm_price(spot=spot, strike=strike, years=years, vol=vol, rate=SIM_RATE, is_call=is_call)
        half = max(0.01, 0.015 * mid)
        bid = max(0.0, math.floor((mid - half) * 100) / 100)
        ask = max(0.01, math.ceil((mid + half) * 100) / 100)
        open_interest = int(200 + 20000 * _unit(contract + ":oi") * (0.8 + 0.4 * _unit(f"{contract}:{as_of}")))
        return OptionQuoteData(
            contract=contract.upper().removeprefix("O:"),
            underlying=underlying,
            date=as_of,
            bid=round(bid, 2),
            ask=round(ask, 2),
            last=round(mid, 2),
            implied_vol=round(vol, 6),
            open_interest=open_interest,
            underlying_price=spot,
        )

    def profile(self, *, symbol: str, asset_class: str | None = None) -> InstrumentProfile:
        spec = symbol_spec(symbol)
        exchange = {"mutual_fund": "NASDAQ", "index": "CBOE", "etf": "NYSEARCA"}.get(spec.asset_class, "NASDAQ")
        return InstrumentProfile(
            symbol=spec.symbol,
            name=spec.name,
            # The hand-set table knows the demo symbols' classes; a caller's hint wins only for the rest.
            asset_class=spec.asset_class if spec.symbol in _DEMO or spec.model != "linear" else asset_class or "stock",
            sector=spec.sector,
            industry=spec.industry,
            exchange=exchange,
            currency="USD",
        )
