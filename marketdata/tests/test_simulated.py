"""The simulated provider: determinism, levels, the factor model's truth, option quotes (no database)."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest

from marketdata.calendar import trading_days
from marketdata.factors import FACTOR_NAMES, FACTOR_PROXIES, RATE_PROXY
from marketdata.providers.simulated import (
    SimulatedProvider,
    factor_returns,
    parse_occ,
    simulated_implied_vol,
    symbol_loadings,
    symbol_spec,
)

SIM = SimulatedProvider()
END = date(2026, 11, 20)
DEMO_SYMBOLS = [
    "AAPL", "MSFT", "AMZN", "GOOGL", "TSLA", "NVDA", "JNJ", "JPM", "V", "FXNAX", "FCNTX", "FMAGX", "VTIAX",
    "VTI", "BND", "VNQ", "QQQ", "BRK-B", "META", "UNH", "HD", "PG", "GLD", "DJP", "AMD", "NFLX", "SHOP",
    "ZM", "PTON", "ROKU", "XOM", "F", "GE", "C",
]  # fmt: skip
# Recovery tolerance the analytics rely on: every loading within ±0.05 from 252 daily returns.
TOLERANCE = 0.05


def closes(symbol: str, sessions: int = 253, end: date = END) -> np.ndarray:
    bars = SIM.daily_bars(symbol=symbol, start=date(2019, 1, 1), end=end)
    return np.array([b.adj_close for b in bars[-sessions:]])


def simple_returns(prices: np.ndarray) -> np.ndarray:
    return prices[1:] / prices[:-1] - 1.0


def factor_design(end: date = END) -> np.ndarray:
    """[1, SPY, ETF−SPY for the six styles, TLT] from the provider's own bars."""
    spy = simple_returns(closes("SPY", end=end))
    columns = [np.ones_like(spy), spy]
    for name in FACTOR_NAMES[1:7]:
        columns.append(simple_returns(closes(FACTOR_PROXIES[name], end=end)) - spy)
    columns.append(simple_returns(closes(RATE_PROXY, end=end)))
    return np.column_stack(columns)


def test_the_same_symbol_and_date_give_the_same_bar_whatever_range_is_asked() -> None:
    wide = {b.date: b for b in SIM.daily_bars(symbol="AAPL", start=date(2023, 1, 1), end=date(2026, 11, 20))}
    narrow = SIM.daily_bars(symbol="AAPL", start=date(2024, 3, 4), end=date(2024, 3, 8))
    single = SIM.daily_bars(symbol="AAPL", start=date(2024, 3, 6), end=date(2024, 3, 6))
    assert len(narrow) == 5
    assert all(wide[b.date] == b for b in narrow)
    assert single == [wide[date(2024, 3, 6)]]


def test_bars_exist_only_on_sessions_and_are_internally_consistent() -> None:
    bars = SIM.daily_bars(symbol="TSLA", start=date(2024, 11, 1), end=date(2024, 12, 31))
    assert [b.date for b in bars] == trading_days(start=date(2024, 11, 1), end=date(2024, 12, 31))
    for b in bars:
        assert b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high
        assert b.low > 0 and b.volume > 0 and b.adj_close == b.close


def test_levels_are_calibrated_to_the_reference_prices_on_16_january_2024() -> None:
    on = date(2024, 1, 16)
    expected = {"SPY": 475, "VTV": 150, "VUG": 320, "MTUM": 160, "QUAL": 150, "IWM": 195, "USMV": 80, "TLT": 95}
    expected |= {"AAPL": 225, "MSFT": 420, "NVDA": 700, "FXNAX": 20, "BRK-B": 440}
    for symbol, price in expected.items():
        [bar] = SIM.daily_bars(symbol=symbol, start=on, end=on)
        assert bar.close == pytest.approx(price, abs=0.01), symbol


def test_volatilities_are_realistic() -> None:
    def annual_vol(symbol: str) -> float:
        return float(np.std(np.diff(np.log(closes(symbol, 1000)))) * math.sqrt(252))

    assert 0.13 < annual_vol("SPY") < 0.19
    assert 0.11 < annual_vol("TLT") < 0.17
    assert 0.25 < annual_vol("TSLA") < 0.50
    assert annual_vol("FXNAX") < 0.08
    assert annual_vol("PG") < annual_vol("SPY") < annual_vol("NVDA")


def test_spy_tlt_correlation_is_slightly_negative() -> None:
    spy, tlt = simple_returns(closes("SPY", 1000)), simple_returns(closes("TLT", 1000))
    assert -0.35 < np.corrcoef(spy, tlt)[0, 1] < -0.05


def test_the_factor_etfs_are_exactly_the_market_plus_their_spread() -> None:
    truth = factor_returns(start=date(2025, 1, 1), end=END)
    spy = simple_returns(closes("SPY"))
    vtv = simple_returns(closes("VTV"))
    assert truth.index[-1].date() == END and len(truth) > len(spy)
    truth = truth.iloc[-len(spy) :]
    # Closes are rounded to 1/10,000 of a dollar: the returns agree to ~1e-6.
    np.testing.assert_allclose(spy, truth["market"].to_numpy(), atol=2e-6)
    np.testing.assert_allclose(vtv - spy, truth["value"].to_numpy(), atol=4e-6)


@pytest.mark.parametrize("end", [END, date(2024, 6, 28)])
def test_regressing_on_the_factor_proxies_recovers_the_configured_loadings(end: date) -> None:
    design = factor_design(end)
    worst = 0.0
    for symbol in [*DEMO_SYMBOLS, *(f"ZZ{i:02d}" for i in range(20))]:
        y = simple_returns(closes(symbol, end=end))
        betas = np.linalg.lstsq(design, y, rcond=None)[0][1:]
        truth = np.array([symbol_loadings(symbol)[name] for name in FACTOR_NAMES])
        error = np.abs(betas - truth)
        worst = max(worst, float(error.max()))
        assert error.max() < TOLERANCE, (symbol, dict(zip(FACTOR_NAMES, betas.round(3), strict=True)))
    assert worst > 0.001  # the recovery is statistical, not a tautology


def test_loadings_are_sector_aware_and_keyed_by_factor_names() -> None:
    assert list(symbol_loadings("AAPL")) == list(FACTOR_NAMES)
    assert symbol_loadings("SPY") == {n: (1.0 if n == "market" else 0.0) for n in FACTOR_NAMES}
    assert symbol_loadings("TLT")["interest_rate"] == 1.0 and symbol_loadings("TLT")["market"] == 0.0
    assert symbol_loadings("VTV")["value"] == 1.0
    assert symbol_loadings("JPM")["value"] > 0.3 and symbol_loadings("NVDA")["growth"] > 0.3
    assert symbol_loadings("FXNAX")["interest_rate"] > 0.3 and symbol_loadings("FXNAX")["market"] < 0.1
    assert symbol_spec("FXNAX").asset_class == "mutual_fund"
    unknown = symbol_spec("QWERTY")
    assert unknown == symbol_spec("QWERTY") and unknown.sector and 10 <= unknown.reference_price <= 500
    assert symbol_loadings("QWERTY") == symbol_loadings("qwerty")


def test_vix_is_a_mean_reverting_index_that_rises_when_the_market_falls() -> None:
    vix = closes("VIX", 1500)
    assert vix.min() >= 9 and vix.max() <= 90
    assert 12 < np.median(vix) < 25
    spy = simple_returns(closes("SPY", 1500))
    assert np.corrcoef(spy, simple_returns(vix))[0, 1] < -0.5
    assert symbol_spec("VIX").model == "vix_ou" and symbol_spec("VIX").asset_class == "index"


def test_option_quotes_sit_around_a_smile_with_put_skew() -> None:
    as_of = date(2026, 11, 20)
    spot = closes("SPY", 1)[-1]
    expiry = date(2027, 6, 18)
    vols = [
        simulated_implied_vol(underlying="SPY", as_of=as_of, strike=k, expiry=expiry)
        for k in (0.8 * spot, spot, 1.2 * spot)
    ]
    assert vols[0] > vols[1]  # skew: downside puts dearer
    assert vols[1] * 0.7 < vols[2] < vols[1] and 0.08 < vols[1] < 0.35  # calls: skew flattens, curvature lifts
    quote = SIM.option_quote(contract="SPY270618P00500000", as_of=as_of)
    assert quote.bid is not None and quote.ask is not None and quote.last is not None
    assert 0 <= quote.bid < quote.last < quote.ask
    assert quote.implied_vol == pytest.approx(
        simulated_implied_vol(underlying="SPY", as_of=as_of, strike=500, expiry=expiry), abs=1e-6
    )
    assert quote.underlying == "SPY" and quote.open_interest and quote.open_interest > 0
    assert SIM.option_quote(contract="SPY270618P00500000", as_of=as_of) == quote  # deterministic


def test_a_deep_in_the_money_call_is_worth_at_least_its_discounted_intrinsic_value() -> None:
    as_of = date(2026, 11, 20)
    spot = closes("SPY", 1)[-1]
    quote = SIM.option_quote(contract="SPY270917C00300000", as_of=as_of)
    years = (date(2027, 9, 17) - as_of).days / 365
    assert quote.last >= spot - 300 * math.exp(-0.045 * years) - 0.01


def test_occ_symbols_are_parsed() -> None:
    assert parse_occ("SPY270917C00460000") == ("SPY", date(2027, 9, 17), True, 460.0)
    assert parse_occ("O:VIX270120P00022500") == ("VIX", date(2027, 1, 20), False, 22.5)
    with pytest.raises(ValueError):
        parse_occ("SPY")
