"""The simulated provider: determinism, levels, the factor model's truth, a market-like world, option quotes.

No database. The numbers are checked with numpy and statsmodels on the generated prices, never
against the model's own parameters alone.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
import statsmodels.api as sm

from marketdata.calendar import trading_days
from marketdata.factors import FACTOR_NAMES, FACTOR_PROXIES, RATE_PROXY
from marketdata.providers import get_provider
from marketdata.providers.simulated import (
    WORLDS,
    SimulatedProvider,
    factor_returns,
    implied_vol_history,
    parse_occ,
    sector_returns,
    simulated_implied_vol,
    symbol_loadings,
    symbol_spec,
)

SIM = SimulatedProvider()  # the market world, the demo's
TEST_WORLD = SimulatedProvider(world="factor_test")
END = date(2026, 11, 20)
STOCKS = [
    "AAPL", "MSFT", "AMZN", "GOOGL", "TSLA", "NVDA", "JNJ", "JPM", "V", "BRK-B", "META", "UNH", "HD", "PG",
    "AMD", "NFLX", "SHOP", "ZM", "PTON", "ROKU", "XOM", "F", "GE", "C",
]  # fmt: skip
BROAD_FUNDS = ["VTI", "QQQ", "FCNTX", "FMAGX", "BND", "FXNAX"]
DEMO_SYMBOLS = [
    "AAPL", "MSFT", "AMZN", "GOOGL", "TSLA", "NVDA", "JNJ", "JPM", "V", "FXNAX", "FCNTX", "FMAGX", "VTIAX",
    "VTI", "BND", "VNQ", "QQQ", "BRK-B", "META", "UNH", "HD", "PG", "GLD", "DJP", "AMD", "NFLX", "SHOP",
    "ZM", "PTON", "ROKU", "XOM", "F", "GE", "C",
]  # fmt: skip
# Recovery tolerance the analytics rely on: every loading within ±0.05 from 252 daily returns.
TOLERANCE = 0.05


def closes(symbol: str, sessions: int = 253, end: date = END, provider: SimulatedProvider = SIM) -> np.ndarray:
    bars = provider.daily_bar_columns(symbol=symbol, start=date(2019, 1, 1), end=end)
    return np.asarray(bars.adj_close[-sessions:], dtype=float)


def simple_returns(prices: np.ndarray) -> np.ndarray:
    return prices[1:] / prices[:-1] - 1.0


def factor_design(end: date = END, provider: SimulatedProvider = SIM) -> np.ndarray:
    """[1, SPY, ETF−SPY for the six styles, TLT] from the provider's own bars."""
    spy = simple_returns(closes("SPY", end=end, provider=provider))
    columns = [np.ones_like(spy), spy]
    for name in FACTOR_NAMES[1:7]:
        columns.append(simple_returns(closes(FACTOR_PROXIES[name], end=end, provider=provider)) - spy)
    columns.append(simple_returns(closes(RATE_PROXY, end=end, provider=provider)))
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

    assert 0.13 < annual_vol("SPY") < 0.20
    assert 0.11 < annual_vol("TLT") < 0.17
    assert 0.40 < annual_vol("TSLA") < 0.75
    assert 0.20 < annual_vol("AAPL") < 0.40
    assert annual_vol("FXNAX") < 0.08
    assert annual_vol("SPY") < annual_vol("NVDA")


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
def test_in_the_factor_test_world_regressing_on_the_proxies_recovers_the_configured_loadings(end: date) -> None:
    design = factor_design(end, TEST_WORLD)
    worst = 0.0
    for symbol in [*DEMO_SYMBOLS, *(f"ZZ{i:02d}" for i in range(20))]:
        y = simple_returns(closes(symbol, end=end, provider=TEST_WORLD))
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


def test_vix_is_a_mean_reverting_index_that_jumps_when_the_market_falls_and_is_never_zero() -> None:
    vix = closes("VIX", 4000, end=date(2035, 12, 29))
    assert vix.min() > 0
    low, median, high = np.percentile(vix, [5, 50, 95])
    assert 9 < low < 14 and 13 < median < 20 and 22 < high < 35  # VIX's own 1990-2024 range: ~11, 18, 31
    # Mean reversion: regress Δ ln VIX on ln VIX (an AR(1) in logs); the slope is −κ per session.
    x = np.log(vix)
    fit = sm.OLS(np.diff(x), sm.add_constant(x[:-1])).fit()
    kappa = -fit.params[1]
    assert 0.01 < kappa < 0.05 and fit.tvalues[1] < -4
    spy = simple_returns(closes("SPY", 4000, end=date(2035, 12, 29)))
    vix_returns = simple_returns(vix)
    assert np.corrcoef(spy, vix_returns)[0, 1] < -0.6
    # Jumps on sell-offs: on days SPY falls more than 2 %, VIX rises on average by more than 8 %.
    assert vix_returns[spy < -0.02].mean() > 0.08 and (vix_returns[spy < -0.02] > 0).mean() > 0.9
    assert symbol_spec("VIX").model == "vix_ou" and symbol_spec("VIX").asset_class == "index"


def _pairwise_stock_correlations(end: date) -> np.ndarray:
    returns = np.column_stack([simple_returns(closes(s, end=end)) for s in STOCKS])
    corr = np.corrcoef(returns.T)
    return corr[np.triu_indices(len(STOCKS), 1)]


@pytest.mark.parametrize("end", [END, date(2025, 3, 31), date(2027, 11, 19)])
def test_the_demo_world_stock_correlations_look_like_a_market(end: date) -> None:
    # 276 pairs of the 24 demo stocks over 252 daily returns: mostly 0.2-0.7, none near 1.
    corr = _pairwise_stock_correlations(end)
    assert corr.size == 276
    assert ((corr >= 0.2) & (corr <= 0.7)).mean() >= 0.75
    assert 0.25 <= np.median(corr) <= 0.50
    assert corr.max() < 0.80 and corr.min() > -0.2


def test_stocks_of_one_sector_move_together_more_than_across_sectors() -> None:
    returns = np.column_stack([simple_returns(closes(s, 1000)) for s in STOCKS])
    corr = np.corrcoef(returns.T)
    sector = [symbol_spec(s).sector for s in STOCKS]
    same, cross = [], []
    for i in range(len(STOCKS)):
        for j in range(i + 1, len(STOCKS)):
            (same if sector[i] == sector[j] else cross).append(corr[i, j])
    assert len(same) >= 20
    assert np.mean(same) > np.mean(cross) + 0.08
    jpm, c = STOCKS.index("JPM"), STOCKS.index("C")
    assert corr[jpm, c] > 0.5  # two banks
    # What the factors leave of a bank's return follows the financial sector's own factor.
    residual = sm.OLS(simple_returns(closes("JPM")), factor_design()).fit().resid
    sector = sector_returns(start=END, end=END).columns
    financials = sector_returns(start=date(2019, 1, 1), end=END)["Financial Services"].to_numpy()[-252:]
    assert "Technology" in sector and np.corrcoef(residual, financials)[0, 1] > 0.3
    assert (sector_returns(start=date(2026, 1, 2), end=END, world="factor_test") == 0).all().all()


@pytest.mark.parametrize("end", [END, date(2027, 11, 19)])
def test_the_demo_world_factor_r_squared_is_like_real_ones(end: date) -> None:
    design = factor_design(end)
    r2 = {}
    residual_vol = {}
    for symbol in [*STOCKS, *BROAD_FUNDS, "VNQ", "VTIAX"]:
        fit = sm.OLS(simple_returns(closes(symbol, end=end)), design).fit()
        r2[symbol] = fit.rsquared
        residual_vol[symbol] = math.sqrt(fit.mse_resid * 252)
    stock_r2 = np.array([r2[s] for s in STOCKS])
    assert stock_r2.min() > 0.08 and stock_r2.max() < 0.80
    assert 0.25 <= np.median(stock_r2) <= 0.60
    # A stock's own risk (sector + idiosyncratic) is 15-55 % a year, as real single names carry.
    assert all(0.15 <= residual_vol[s] <= 0.60 for s in STOCKS), residual_vol
    # Broad ETFs and funds track the factors tightly; sector and international funds less so.
    assert all(r2[s] > 0.9 for s in BROAD_FUNDS), {s: r2[s] for s in BROAD_FUNDS}
    assert r2["VNQ"] > 0.5 and r2["VTIAX"] > 0.75


def test_the_two_worlds_share_the_factors_and_differ_in_idiosyncratic_risk() -> None:
    assert TEST_WORLD.daily_bars(symbol="SPY", start=END, end=END) == SIM.daily_bars(symbol="SPY", start=END, end=END)
    assert closes("AAPL", 1) != closes("AAPL", 1, provider=TEST_WORLD)
    test_corr = np.corrcoef(
        simple_returns(closes("JPM", provider=TEST_WORLD)), simple_returns(closes("AAPL", provider=TEST_WORLD))
    )
    assert test_corr[0, 1] > 0.8 > _pairwise_stock_correlations(END).max()
    assert set(WORLDS) == {"market", "factor_test"}
    with pytest.raises(ValueError, match="Unknown simulated world"):
        SimulatedProvider(world="mars")


def test_the_provider_takes_its_world_from_the_settings(settings) -> None:
    assert get_provider("simulated").world == "market"
    settings.SIMULATED_WORLD = "factor_test"
    assert get_provider("simulated").world == "factor_test"


def test_implied_vols_move_with_the_market_every_day() -> None:
    start = date(2024, 1, 2)
    spy_bars = SIM.daily_bar_columns(symbol="SPY", start=start, end=END)
    market = np.diff(np.log(np.asarray(spy_bars.close, dtype=float)))
    for symbol, floor in (("SPY", -0.6), ("AAPL", -0.4)):
        iv = implied_vol_history(underlying=symbol, start=start, end=END).to_numpy()
        assert iv.size == market.size + 1 and np.isfinite(iv).all() and (iv > 0.05).all()
        change = np.diff(np.log(iv))
        assert np.corrcoef(market, change)[0, 1] < floor, symbol
        # The day's vol is what the quotes carry: an at-the-money 30-day quote on any day.
        assert np.std(change) > 0.01  # it moves, day to day
    spy_iv = implied_vol_history(underlying="SPY", start=start, end=END)
    vix = closes("VIX", len(spy_iv))
    assert np.corrcoef(spy_iv.to_numpy(), vix)[0, 1] > 0.9  # the index's vol is the VIX story
    day = spy_iv.index[100].date()
    spot = float(SIM.daily_bars(symbol="SPY", start=day, end=day)[0].close)
    quote_vol = simulated_implied_vol(
        underlying="SPY", as_of=day, strike=spot, expiry=day + (date(2024, 2, 1) - date(2024, 1, 2))
    )
    assert quote_vol == pytest.approx(spy_iv.iloc[100], rel=1e-9)


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
