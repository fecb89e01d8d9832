"""The factor model's proxies (DESIGN §3): 7 equity factors with ETF proxies, plus rates.

Style factors are used as *spreads over the market* (e.g. value = VTV − SPY) so that their
betas are not confounded with the market's; the interest-rate sensitivity is measured against
TLT's return. Shared by the market data layer (which must have these prices) and the analytics.
"""

from __future__ import annotations

FACTOR_PROXIES: dict[str, str] = {
    "market": "SPY",
    "value": "VTV",
    "growth": "VUG",
    "momentum": "MTUM",
    "quality": "QUAL",
    "size": "IWM",
    "low_volatility": "USMV",
}
MARKET_FACTOR = "market"
STYLE_FACTORS: tuple[str, ...] = ("value", "growth", "momentum", "quality", "size", "low_volatility")
RATE_FACTOR = "interest_rate"
RATE_PROXY = "TLT"
# TLT's modified duration in years: a +1 percentage point (0.01) move in the long yield changes
# TLT's price by about −17%. Used to turn yield shocks into rate-factor returns and back.
RATE_PROXY_DURATION = 17.0
FACTOR_NAMES: tuple[str, ...] = (MARKET_FACTOR, *STYLE_FACTORS, RATE_FACTOR)
FACTOR_SYMBOLS: tuple[str, ...] = (*FACTOR_PROXIES.values(), RATE_PROXY)
# Lookback for factor regressions, in trading days, and the minimum below which betas are flagged.
FACTOR_LOOKBACK_DAYS = 252
FACTOR_MIN_OBSERVATIONS = 60
# Volatility indices: not stocks. Their level is quoted in vol points, mean-reverts and jumps when the
# market falls; their options are priced on the index's forward and their scenario moves come from
# their own model (``analytics.engines.volatility_index``), never from a linear beta.
VOLATILITY_INDICES: frozenset[str] = frozenset({"VIX"})
