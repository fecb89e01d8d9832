"""The ``simulated`` provider: deterministic daily bars and option quotes from a known factor model.

It is the offline default and the ground truth for the analytics tests. Every row it produces is
stored with ``source="simulated"``.

The model (simple daily returns, so the truth is linear)
--------------------------------------------------------
Eight factor returns are drawn jointly normal each session, with annual volatilities
``FACTOR_VOLS`` (market 16%, style spreads 6–9%, rate 14%) and correlations
``FACTOR_CORRELATION`` (modest; the rate factor is slightly negatively correlated with the market):

- market ``r_M`` = SPY's return (drift 8%/yr);
- six style *spreads* ``s_k`` (value, growth, momentum, quality, size, low_volatility), each the
  proxy ETF's return minus SPY's: ``VTV = r_M + s_value``, ``VUG = r_M + s_growth``,
  ``MTUM = r_M + s_momentum``, ``QUAL = r_M + s_quality``, ``IWM = r_M + s_size``,
  ``USMV = r_M + s_low_volatility`` — exactly, with no ETF-specific noise;
- the rate factor ``r_rate`` = TLT's return (drift 1%/yr).

Every other symbol: ``r = alpha + b_M r_M + Σ_k b_k s_k + b_rate r_rate + eps`` with loadings
``symbol_loadings(symbol)`` (hand-set, sector-aware, for the demo symbols; hash-seeded from a
sector template for any other symbol) and idiosyncratic noise ``eps ~ N(0, idio_vol²/252)``.

Idiosyncratic volatility is deliberately small (0.2–1.0% a year, sector-aware) — far below a
real stock's 15–45%. With 252 daily observations the standard error of a style beta is about
``idio_vol / (spread_vol · √252)``; the analytics tests ask for recovery within ±0.05, which
needs that ratio under ~0.2. The simulated world is therefore factor-dominated: total
volatilities are realistic (they come from the loadings), idiosyncratic risk is not.

VIX is not linear: its log level is a mean-reverting (Ornstein–Uhlenbeck) process around
ln(17.5) with daily reversion 3.5%, driven by −4.5 × the market return plus N(0, 4.5%) noise, so
it sits mostly between 11 and 30 and jumps when the market falls. ``symbol_loadings("VIX")``
gives its linearised sensitivity (market −4.5 × level-free, i.e. a −1% market day is about a
+4.5% VIX day) and is flagged by ``symbol_spec("VIX").model == "vix_ou"``.

Determinism: each series is generated once over a fixed anchor calendar (every XNYS session from
2019-01-02 to 2035-12-31) from a NumPy PCG64 generator seeded by SHA-256 of the symbol, then
sliced, so the same symbol and date give the same bar whatever range is asked. Levels are scaled
so the close on 2024-01-16 equals the symbol's reference price (the demo entry prices; factor
ETFs at their early-2024 levels). There are no dividends or splits: ``adj_close == close``.

Option quotes: implied vol = the underlying's volatility level on the date
(√(½·rv21² + ½·long-run²), rv21 the 21-session realised vol) × a smile in standardised
log-moneyness ``k = ln(K/S)/√T``: ``1 − 0.9k + 1.0k²`` for equities (put skew), ``1 + 0.25k + 0.05k²``
for VIX (call skew), × a mild term factor ``1 + 0.03·ln(T/0.25)``, clamped to [5%, 300%]. Bid and
ask sit around the Black–Scholes–Merton price (rate 4.5%, no dividends) at that vol.
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
MODEL_VERSION = "v1"

# Annualised volatilities of the eight factors, in FACTOR_NAMES order.
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
    idio_vol_annual: float  # annualised volatility of eps
    loadings: dict[str, float] = field(default_factory=dict)  # keys exactly FACTOR_NAMES
    model: str = "linear"  # "factor_proxy", "linear" or "vix_ou"


def _loadings(m: float, v: float, g: float, mo: float, q: float, s: float, lv: float, r: float) -> dict[str, float]:
    return dict(zip(FACTOR_NAMES, (m, v, g, mo, q, s, lv, r), strict=True))


# Sector → (idiosyncratic vol per year, template loadings). Used for unknown symbols too.
SECTOR_TEMPLATES: dict[str, tuple[float, dict[str, float]]] = {
    "Technology": (0.008, _loadings(1.25, -0.30, 0.55, 0.25, 0.20, -0.20, -0.30, -0.10)),
    "Communication Services": (0.008, _loadings(1.15, -0.20, 0.45, 0.20, 0.10, -0.10, -0.20, -0.10)),
    "Consumer Cyclical": (0.009, _loadings(1.20, -0.10, 0.30, 0.10, -0.10, 0.20, -0.30, -0.10)),
    "Financial Services": (0.007, _loadings(1.10, 0.60, -0.30, 0.00, 0.00, 0.15, -0.10, -0.30)),
    "Healthcare": (0.006, _loadings(0.70, 0.15, 0.00, 0.00, 0.30, -0.10, 0.40, 0.05)),
    "Consumer Defensive": (0.005, _loadings(0.50, 0.15, -0.10, -0.10, 0.30, -0.15, 0.55, 0.10)),
    "Energy": (0.008, _loadings(0.80, 0.70, -0.45, 0.15, 0.00, 0.15, -0.05, -0.35)),
    "Industrials": (0.007, _loadings(1.05, 0.25, 0.00, 0.10, 0.05, 0.20, -0.10, -0.15)),
    "Utilities": (0.005, _loadings(0.45, 0.20, -0.15, -0.05, 0.10, 0.00, 0.60, 0.35)),
    "Real Estate": (0.007, _loadings(0.85, 0.30, -0.10, -0.10, -0.20, 0.30, 0.20, 0.35)),
    "Basic Materials": (0.008, _loadings(1.00, 0.40, -0.20, 0.05, -0.05, 0.25, -0.10, -0.20)),
}
_DEFAULT_SECTORS = tuple(SECTOR_TEMPLATES)

# (name, asset class, sector, industry, reference price, alpha/yr, idio vol/yr, loadings)
_DEMO: dict[str, tuple[str, str, str, str, float, float, float, dict[str, float]]] = {
    "AAPL": (
        "Apple Inc.",
        "stock",
        "Technology",
        "Consumer Electronics",
        225,
        0.02,
        0.007,
        _loadings(1.15, -0.20, 0.45, 0.20, 0.35, -0.30, -0.10, -0.10),
    ),
    "MSFT": (
        "Microsoft Corporation",
        "stock",
        "Technology",
        "Software",
        420,
        0.03,
        0.006,
        _loadings(1.05, -0.15, 0.40, 0.15, 0.40, -0.35, 0.00, -0.05),
    ),
    "AMZN": (
        "Amazon.com, Inc.",
        "stock",
        "Consumer Cyclical",
        "Internet Retail",
        170,
        0.02,
        0.008,
        _loadings(1.20, -0.30, 0.55, 0.20, 0.10, -0.25, -0.20, -0.15),
    ),
    "GOOGL": (
        "Alphabet Inc.",
        "stock",
        "Communication Services",
        "Internet Content",
        160,
        0.02,
        0.007,
        _loadings(1.10, -0.10, 0.40, 0.10, 0.30, -0.30, -0.05, -0.05),
    ),
    "TSLA": (
        "Tesla, Inc.",
        "stock",
        "Consumer Cyclical",
        "Auto Manufacturers",
        255,
        0.00,
        0.010,
        _loadings(1.90, -0.50, 0.80, 0.40, -0.40, 0.20, -0.60, -0.30),
    ),
    "NVDA": (
        "NVIDIA Corporation",
        "stock",
        "Technology",
        "Semiconductors",
        700,
        0.05,
        0.010,
        _loadings(1.70, -0.40, 0.70, 0.60, 0.20, -0.10, -0.50, -0.20),
    ),
    "JNJ": (
        "Johnson & Johnson",
        "stock",
        "Healthcare",
        "Drug Manufacturers",
        160,
        0.00,
        0.005,
        _loadings(0.55, 0.30, -0.20, -0.10, 0.35, -0.20, 0.50, 0.10),
    ),
    "JPM": (
        "JPMorgan Chase & Co.",
        "stock",
        "Financial Services",
        "Banks",
        170,
        0.02,
        0.007,
        _loadings(1.10, 0.60, -0.30, 0.10, 0.10, 0.00, -0.10, -0.30),
    ),
    "V": (
        "Visa Inc.",
        "stock",
        "Financial Services",
        "Credit Services",
        268,
        0.02,
        0.006,
        _loadings(0.95, 0.00, 0.20, 0.10, 0.45, -0.20, 0.15, -0.05),
    ),
    "FXNAX": (
        "Fidelity U.S. Bond Index Fund",
        "mutual_fund",
        "Fixed Income",
        "Intermediate Core Bond",
        20,
        0.0,
        0.002,
        _loadings(0.03, 0.00, 0.00, 0.00, 0.00, 0.00, 0.02, 0.38),
    ),
    "FCNTX": (
        "Fidelity Contrafund",
        "mutual_fund",
        "Equity Fund",
        "Large Growth",
        15,
        0.01,
        0.004,
        _loadings(1.00, -0.20, 0.45, 0.15, 0.20, -0.20, 0.00, -0.05),
    ),
    "FMAGX": (
        "Fidelity Magellan Fund",
        "mutual_fund",
        "Equity Fund",
        "Large Growth",
        15,
        0.0,
        0.004,
        _loadings(1.02, -0.10, 0.35, 0.20, 0.15, -0.15, 0.00, -0.05),
    ),
    "VTIAX": (
        "Vanguard Total International Stock Index Fund",
        "mutual_fund",
        "Equity Fund",
        "Foreign Large Blend",
        30,
        0.0,
        0.006,
        _loadings(0.85, 0.20, -0.05, 0.00, 0.00, 0.05, 0.00, 0.00),
    ),
    "VTI": (
        "Vanguard Total Stock Market ETF",
        "etf",
        "Equity Fund",
        "Large Blend",
        250,
        0.0,
        0.002,
        _loadings(1.00, 0.00, 0.00, 0.00, 0.00, 0.10, 0.00, 0.00),
    ),
    "BND": (
        "Vanguard Total Bond Market ETF",
        "etf",
        "Fixed Income",
        "Intermediate Core Bond",
        77,
        0.0,
        0.002,
        _loadings(0.02, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.35),
    ),
    "VNQ": (
        "Vanguard Real Estate ETF",
        "etf",
        "Real Estate",
        "REIT",
        95,
        0.0,
        0.006,
        _loadings(0.85, 0.30, -0.10, -0.10, -0.20, 0.30, 0.20, 0.35),
    ),
    "QQQ": (
        "Invesco QQQ Trust",
        "etf",
        "Equity Fund",
        "Large Growth",
        420,
        0.01,
        0.003,
        _loadings(1.10, -0.30, 0.50, 0.15, 0.20, -0.30, -0.10, -0.05),
    ),
    "BRK-B": (
        "Berkshire Hathaway Inc.",
        "stock",
        "Financial Services",
        "Insurance",
        440,
        0.01,
        0.005,
        _loadings(0.85, 0.50, -0.20, 0.00, 0.30, -0.10, 0.30, -0.05),
    ),
    "META": (
        "Meta Platforms, Inc.",
        "stock",
        "Communication Services",
        "Internet Content",
        530,
        0.03,
        0.009,
        _loadings(1.30, -0.20, 0.50, 0.35, 0.20, -0.20, -0.30, -0.10),
    ),
    "UNH": (
        "UnitedHealth Group Incorporated",
        "stock",
        "Healthcare",
        "Healthcare Plans",
        545,
        0.01,
        0.006,
        _loadings(0.60, 0.20, -0.10, 0.00, 0.35, -0.20, 0.40, 0.00),
    ),
    "HD": (
        "The Home Depot, Inc.",
        "stock",
        "Consumer Cyclical",
        "Home Improvement Retail",
        350,
        0.01,
        0.006,
        _loadings(1.00, 0.20, 0.00, -0.10, 0.30, -0.10, 0.10, 0.15),
    ),
    "PG": (
        "The Procter & Gamble Company",
        "stock",
        "Consumer Defensive",
        "Household Products",
        165,
        0.01,
        0.005,
        _loadings(0.45, 0.10, -0.10, -0.10, 0.30, -0.20, 0.60, 0.10),
    ),
    "GLD": (
        "SPDR Gold Shares",
        "etf",
        "Commodities",
        "Gold",
        219.23,
        0.02,
        0.008,
        _loadings(0.05, 0.00, 0.00, 0.10, 0.00, 0.00, 0.00, 0.25),
    ),
    "DJP": (
        "iPath Bloomberg Commodity Index ETN",
        "etf",
        "Commodities",
        "Commodities Broad Basket",
        30,
        0.0,
        0.008,
        _loadings(0.35, 0.30, -0.10, 0.10, -0.20, 0.20, -0.10, -0.20),
    ),
    "AMD": (
        "Advanced Micro Devices, Inc.",
        "stock",
        "Technology",
        "Semiconductors",
        162,
        0.02,
        0.010,
        _loadings(1.80, -0.40, 0.70, 0.50, -0.10, 0.00, -0.50, -0.20),
    ),
    "NFLX": (
        "Netflix, Inc.",
        "stock",
        "Communication Services",
        "Entertainment",
        490,
        0.02,
        0.009,
        _loadings(1.30, -0.30, 0.60, 0.30, 0.00, -0.10, -0.30, -0.15),
    ),
    "SHOP": (
        "Shopify Inc.",
        "stock",
        "Technology",
        "Software",
        195,
        0.0,
        0.010,
        _loadings(1.90, -0.60, 0.90, 0.30, -0.40, 0.30, -0.60, -0.40),
    ),
    "ZM": (
        "Zoom Video Communications, Inc.",
        "stock",
        "Technology",
        "Software",
        70,
        -0.03,
        0.010,
        _loadings(1.40, -0.50, 0.70, -0.20, -0.30, 0.30, -0.40, -0.30),
    ),
    "PTON": (
        "Peloton Interactive, Inc.",
        "stock",
        "Consumer Cyclical",
        "Leisure",
        40,
        -0.08,
        0.010,
        _loadings(1.70, -0.40, 0.60, -0.40, -0.60, 0.80, -0.50, -0.40),
    ),
    "ROKU": (
        "Roku, Inc.",
        "stock",
        "Communication Services",
        "Entertainment",
        60,
        -0.04,
        0.010,
        _loadings(1.90, -0.50, 0.80, 0.00, -0.50, 0.60, -0.60, -0.40),
    ),
    "XOM": (
        "Exxon Mobil Corporation",
        "stock",
        "Energy",
        "Oil & Gas Integrated",
        110,
        0.01,
        0.008,
        _loadings(0.70, 0.70, -0.50, 0.20, 0.10, 0.10, 0.00, -0.40),
    ),
    "F": (
        "Ford Motor Company",
        "stock",
        "Consumer Cyclical",
        "Auto Manufacturers",
        12,
        -0.02,
        0.009,
        _loadings(1.20, 0.60, -0.30, -0.10, -0.30, 0.40, -0.20, -0.20),
    ),
    "GE": (
        "General Electric Company",
        "stock",
        "Industrials",
        "Aerospace & Defense",
        140,
        0.03,
        0.008,
        _loadings(1.15, 0.30, 0.00, 0.30, 0.00, 0.10, -0.20, -0.15),
    ),
    "C": (
        "Citigroup Inc.",
        "stock",
        "Financial Services",
        "Banks",
        55,
        0.0,
        0.008,
        _loadings(1.30, 0.80, -0.30, -0.10, -0.20, 0.20, -0.30, -0.35),
    ),
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

VIX_MEAN_LEVEL = 17.5
VIX_REVERSION = 0.035  # per session
VIX_MARKET_SENSITIVITY = -4.5  # d ln VIX per unit market return
VIX_NOISE = 0.045  # daily st. dev. of d ln VIX not explained by the market


def _seed(text: str) -> int:
    """A stable 64-bit seed from text (SHA-256; Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(f"sigmasight-sim-{MODEL_VERSION}:{text}".encode()).digest()[:8], "big")


def _unit(text: str) -> float:
    """A stable number in [0, 1) from text."""
    return _seed(text) / 2**64


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
        loadings["market"] = VIX_MARKET_SENSITIVITY
        return SymbolSpec(
            "VIX", "CBOE Volatility Index", "index", "Index", "Volatility", VIX_MEAN_LEVEL, 0.0, VIX_NOISE * 15.87,
            loadings, "vix_ou",
        )  # fmt: skip
    if symbol in _DEMO:
        name, asset_class, sector, industry, price, alpha, idio, loadings = _DEMO[symbol]
        return SymbolSpec(symbol, name, asset_class, sector, industry, float(price), alpha, idio, dict(loadings))
    # Any other symbol: a sector picked by hash, the sector's template loadings ± up to 0.2.
    sector = _DEFAULT_SECTORS[int(_unit(symbol + ":sector") * len(_DEFAULT_SECTORS))]
    idio, template = SECTOR_TEMPLATES[sector]
    loadings = {
        name: round(value + (_unit(f"{symbol}:beta:{name}") - 0.5) * 0.4, 4) for name, value in template.items()
    }
    price = round(float(np.exp(np.log(10) + _unit(symbol + ":price") * np.log(50))), 2)  # $10 … $500
    alpha = round((_unit(symbol + ":alpha") - 0.4) * 0.10, 4)  # −4% … +6% a year
    return SymbolSpec(symbol, f"{symbol} (simulated)", "stock", sector, "", price, alpha, idio, loadings)


def symbol_loadings(symbol: str) -> dict[str, float]:
    """The true factor loadings of ``symbol`` (keys exactly ``FACTOR_NAMES``).

    A regression of the symbol's simple daily returns on the market return (SPY), the style
    spreads (proxy ETF − SPY) and TLT's return recovers these. For VIX (``model == "vix_ou"``)
    the market entry is its linearised sensitivity of log level to market returns.
    """
    return dict(symbol_spec(symbol).loadings)


@lru_cache(maxsize=1)
def _anchor() -> tuple[tuple[date, ...], int]:
    sessions = tuple(trading_days(start=ANCHOR_START, end=ANCHOR_END))
    return sessions, sessions.index(REFERENCE_DATE)


def factor_covariance_daily() -> np.ndarray:
    """8×8 covariance of daily factor returns (FACTOR_NAMES order)."""
    vols = np.array([FACTOR_VOLS[name] for name in FACTOR_NAMES]) / math.sqrt(TRADING_DAYS_PER_YEAR)
    return FACTOR_CORRELATION * np.outer(vols, vols)


@lru_cache(maxsize=1)
def _factor_matrix() -> np.ndarray:
    """Daily factor returns over the anchor calendar, shape (sessions, 8), read-only."""
    sessions, _ = _anchor()
    rng = np.random.default_rng(_seed("factors"))
    z = rng.standard_normal((len(sessions), len(FACTOR_NAMES)))
    chol = np.linalg.cholesky(factor_covariance_daily())
    drift = np.array([FACTOR_DRIFTS.get(name, 0.0) for name in FACTOR_NAMES]) / TRADING_DAYS_PER_YEAR
    matrix = z @ chol.T + drift
    matrix.setflags(write=False)
    return matrix


def factor_returns(*, start: date, end: date) -> pd.DataFrame:
    """The true daily factor returns (simple, not annualised) on sessions ``start``…``end``.

    Columns FACTOR_NAMES: market = SPY's return, each style = its proxy's return − SPY's,
    interest_rate = TLT's return. Index: DatetimeIndex named "date".
    """
    sessions, _ = _anchor()
    lo, hi = bisect_left(sessions, start), bisect_right(sessions, end)
    return pd.DataFrame(
        _factor_matrix()[lo:hi],
        index=pd.DatetimeIndex(pd.to_datetime(sessions[lo:hi]), name="date"),
        columns=list(FACTOR_NAMES),
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


@lru_cache(maxsize=2048)
def _series(symbol: str) -> _Series:
    """The symbol's history over the anchor calendar (generated once per process)."""
    spec = symbol_spec(symbol)
    sessions, ref_index = _anchor()
    n = len(sessions)
    factors = _factor_matrix()
    rng = np.random.default_rng(_seed(symbol))
    if spec.model == "vix_ou":
        market = factors[:, 0]
        noise = rng.standard_normal(n) * VIX_NOISE
        log_level = np.empty(n)
        x = math.log(VIX_MEAN_LEVEL)
        mu = x
        for i in range(n):
            x = x + VIX_REVERSION * (mu - x) + VIX_MARKET_SENSITIVITY * market[i] + noise[i]
            log_level[i] = x
        close = np.clip(np.exp(log_level), 9.0, 90.0)
        returns = np.concatenate([[0.0], close[1:] / close[:-1] - 1.0])
    else:
        betas = np.array([spec.loadings[name] for name in FACTOR_NAMES])
        eps = rng.standard_normal(n) * (spec.idio_vol_annual / math.sqrt(TRADING_DAYS_PER_YEAR))
        returns = spec.alpha_annual / TRADING_DAYS_PER_YEAR + factors @ betas + eps
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
    for a in (rounded, close, returns, z_open, z_high, z_low, z_volume):
        if a is not None:
            a.setflags(write=False)
    first_previous = float(close[0] / (1.0 + returns[0]))
    return _Series(
        rounded, returns, close, first_previous, daily_vol, nav, z_open, z_high, z_low, z_volume, volume_base
    )


@lru_cache(maxsize=256)
def _vol_level(symbol: str) -> np.ndarray:
    """Annualised volatility level per session: √(½·rv21² + ½·long-run²) of log returns."""
    log_returns = np.log1p(_series(symbol).returns)
    rv21 = pd.Series(log_returns).rolling(21, min_periods=5).std().bfill().to_numpy() * math.sqrt(252)
    long_run = float(np.std(log_returns)) * math.sqrt(252)
    level = np.sqrt(0.5 * rv21**2 + 0.5 * long_run**2)
    level.setflags(write=False)
    return level


def _index_range(start: date, end: date) -> tuple[int, int]:
    sessions, _ = _anchor()
    return bisect_left(sessions, start), bisect_right(sessions, end)


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


def simulated_implied_vol(*, underlying: str, as_of: date, strike: float, expiry: date) -> float:
    """The simulated implied vol (annualised decimal) of a contract on ``as_of`` (see module doc)."""
    lo, hi = _index_range(as_of, as_of)
    if lo == hi:
        raise SymbolUnavailable(f"{as_of} is not a session of the simulated calendar.")
    series = _series(underlying)
    spot = float(series.close[lo])
    years = max((expiry - as_of).days, 1) / 365.0
    k = max(-2.0, min(2.0, math.log(strike / spot) / math.sqrt(years)))
    is_vix = symbol_spec(underlying).model == "vix_ou"
    smile = 1.0 + 0.25 * k + 0.05 * k * k if is_vix else 1.0 - 0.9 * k + 1.0 * k * k
    term = 1.0 + 0.03 * math.log(years / 0.25)
    return float(min(3.0, max(0.05, _vol_level(underlying)[lo] * smile * term)))


class SimulatedProvider(Provider):
    """Deterministic offline data from the factor model above; labelled ``simulated``."""

    name = "simulated"
    supports_options = True
    supports_profiles = True
    supports_columns = True

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
        open_, high, low, close, volume = _series(symbol).ohlcv(lo, hi)
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
        spot = float(_series(underlying).close[lo])
        vol = simulated_implied_vol(underlying=underlying, as_of=as_of, strike=strike, expiry=expiry)
        years = (expiry - as_of).days / 365.0
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
