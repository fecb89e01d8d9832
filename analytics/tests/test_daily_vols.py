"""Each day's implied vol: snapshot P&L revalues an option at that day's vol, and historical VaR moves vols
by each historical day's change — both from the stored quotes.

The snapshot test stores quotes that carry only an implied vol (as a vendor without bid/ask would), so
the option is marked at its model value, and checks the day's P&L against a Black–Scholes–Merton
revaluation by py_vollib at the two days' spots, vols and times to expiry — and that the same
revaluation at one fixed vol would have been far off.
"""

from __future__ import annotations

import datetime as dt
import warnings
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.conf import settings

from analytics.models import PortfolioSnapshot
from analytics.services.batch import batch_run, portfolio_steps
from analytics.services.compute import implied_vol_ratios
from analytics.services.inputs import MarketInputs
from analytics.services.snapshots import snapshots_backfill
from marketdata.models import OptionQuote
from marketdata.providers.simulated import SimulatedProvider
from marketdata.selectors import OptionQuoteRow
from marketdata.services import prices_sync
from portfolios.services import position_create

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from py_vollib.black_scholes_merton import black_scholes_merton as bsm

PREVIOUS, DAY = dt.date(2026, 11, 19), dt.date(2026, 11, 20)
EXPIRY = dt.date(2027, 1, 15)
VOLS = {PREVIOUS: 0.19, DAY: 0.27}  # a vol spike between the two closes


def _close(symbol: str, day: dt.date) -> float:
    [bar] = SimulatedProvider().daily_bars(symbol=symbol, start=day, end=day)
    return bar.close


@pytest.mark.django_db
def test_snapshot_pnl_revalues_the_option_at_each_days_implied_vol(portfolio) -> None:
    position_create(
        portfolio=portfolio,
        symbol="AAPL",
        position_type="LONG",
        quantity=40,
        entry_price=200,
        entry_date=dt.date(2026, 10, 1),
    )
    prices_sync(backfill_days=300, as_of=DAY, provider="simulated")  # no option held yet: no simulated quotes
    strike = round(_close("SPY", DAY))
    option = position_create(
        portfolio=portfolio,
        symbol="",
        position_type="LC",
        quantity=10,
        entry_price=Decimal("12"),
        entry_date=dt.date(2026, 10, 1),
        underlying_symbol="SPY",
        strike=Decimal(strike),
        expiration=EXPIRY,
        multiplier=100,
        asset_class="option",
    )
    for day, vol in VOLS.items():  # a vendor's quote with an implied vol and no prices
        OptionQuote.objects.create(
            contract=option.symbol, underlying="SPY", date=day, implied_vol=vol, source="polygon"
        )
    for day in (PREVIOUS, DAY):
        outcome = batch_run(as_of=day, portfolio_ids=[portfolio.pk], steps=list(portfolio_steps()), trigger="test")
        assert outcome.ok, outcome.run.error_summary

    rate = settings.RISK_FREE_RATE

    def value(day: dt.date, vol: float) -> float:
        years = (EXPIRY - day).days / 365.0
        return bsm("c", _close("SPY", day), strike, years, rate, vol, 0.0) * 10 * 100

    stock = 40 * (_close("AAPL", DAY) - _close("AAPL", PREVIOUS))
    by_hand = value(DAY, VOLS[DAY]) - value(PREVIOUS, VOLS[PREVIOUS]) + stock
    at_todays_vol = value(DAY, VOLS[DAY]) - value(PREVIOUS, VOLS[DAY]) + stock  # what the batch did before
    snapshot = PortfolioSnapshot.objects.get(portfolio=portfolio, as_of=DAY)
    assert snapshot.daily_pnl == pytest.approx(by_hand, abs=0.02)
    assert abs(by_hand - at_todays_vol) > 1_000  # 8 vol points of vega on 10 contracts: the test can fail
    before = PortfolioSnapshot.objects.get(portfolio=portfolio, as_of=PREVIOUS)
    assert snapshot.total_value - before.total_value == pytest.approx(snapshot.daily_pnl + snapshot.flows, abs=0.02)

    # The backfill marks the past day at its own vol too (not at the last day's).
    snapshots_backfill(days=2, end=DAY, portfolio_ids=[portfolio.pk])
    assert PortfolioSnapshot.objects.get(portfolio=portfolio, as_of=DAY).daily_pnl == pytest.approx(by_hand, abs=0.02)


def _quote(contract: str, day: str, vol: float | None) -> OptionQuoteRow:
    return OptionQuoteRow(contract, dt.date.fromisoformat(day), None, None, None, vol, None, "simulated")


def test_historical_vol_changes_come_from_the_stored_quotes_contract_then_underlying_then_none() -> None:
    days = pd.DatetimeIndex(["2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20"])
    history = {
        "A1": [_quote("A1", "2026-11-16", 0.20), _quote("A1", "2026-11-17", 0.22), _quote("A1", "2026-11-18", 0.11)],
        "A2": [_quote("A2", d, v) for d, v in (("2026-11-18", 0.30), ("2026-11-19", 0.36), ("2026-11-20", 0.27))],
    }
    market = MarketInputs(
        as_of=dt.date(2026, 11, 20),
        prices=pd.DataFrame(),
        spot=pd.Series(dtype=float),
        spot_date=pd.Series(dtype=object),
        data_source="simulated",
        option_quotes={},
        rate=0.045,
        option_quote_history=history,
    )
    positions = pd.DataFrame(
        {
            "symbol": ["A1", "AAPL", "A2", "B1"],
            "price_symbol": ["AAPL", "AAPL", "AAPL", "MSFT"],
            "is_option": [True, False, True, True],
        }
    )
    ratios = implied_vol_ratios(market=market, positions=positions, dates=days)
    # A1: its own changes on the 17th (0.22/0.20) and 18th (0.11/0.22); none stored after → AAPL's other
    # contract (A2: 0.36/0.30 on the 19th, 0.27/0.36 on the 20th). A2: no quote before the 18th → A1's
    # changes on the 17th and 18th. B1: no quote on MSFT at all → held (1).
    np.testing.assert_allclose(ratios[:, 0], [0.22 / 0.20, 0.11 / 0.22, 0.36 / 0.30, 0.27 / 0.36])
    np.testing.assert_allclose(ratios[:, 1], 1.0)  # a stock has no vol
    np.testing.assert_allclose(ratios[:, 2], [0.22 / 0.20, 0.11 / 0.22, 0.36 / 0.30, 0.27 / 0.36])
    np.testing.assert_allclose(ratios[:, 3], 1.0)


def test_a_contract_without_its_own_quotes_follows_its_own_portfolios_contracts_only() -> None:
    days = pd.DatetimeIndex(["2026-11-18", "2026-11-19"])
    history = {
        "A1": [_quote("A1", d, v) for d, v in (("2026-11-17", 0.20), ("2026-11-18", 0.25), ("2026-11-19", 0.20))],
        "A2": [_quote("A2", d, v) for d, v in (("2026-11-17", 0.40), ("2026-11-18", 0.30), ("2026-11-19", 0.45))],
    }
    market = MarketInputs(
        as_of=dt.date(2026, 11, 19),
        prices=pd.DataFrame(),
        spot=pd.Series(dtype=float),
        spot_date=pd.Series(dtype=object),
        data_source="simulated",
        option_quotes={},
        rate=0.045,
        option_quote_history=history,
    )
    # A3 (no quotes) is held by both portfolios; p holds A1 beside it, q holds A2.
    positions = pd.DataFrame(
        {
            "portfolio_id": ["p", "p", "q", "q"],
            "symbol": ["A1", "A3", "A2", "A3"],
            "price_symbol": ["AAPL"] * 4,
            "is_option": [True] * 4,
        }
    )
    ratios = implied_vol_ratios(market=market, positions=positions, dates=days)
    np.testing.assert_allclose(ratios[:, 1], [0.25 / 0.20, 0.20 / 0.25])  # p's A1, not q's A2
    np.testing.assert_allclose(ratios[:, 3], [0.30 / 0.40, 0.45 / 0.30])  # q's A2
    # Each portfolio alone gives its rows the same ratios as the chunk of both.
    for rows in ([0, 1], [2, 3]):
        alone = implied_vol_ratios(market=market, positions=positions.iloc[rows].reset_index(drop=True), dates=days)
        np.testing.assert_allclose(alone, ratios[:, rows])
    # With a stock among the rows: the option rows' columns alone, the same numbers to the last bit.
    stock = pd.DataFrame({"portfolio_id": ["p"], "symbol": ["AAPL"], "price_symbol": ["AAPL"], "is_option": [False]})
    mixed = pd.concat([positions.iloc[:2], stock, positions.iloc[2:]], ignore_index=True)
    every = implied_vol_ratios(market=market, positions=mixed, dates=days)
    assert np.all(every[:, 2] == 1.0)
    options_only = implied_vol_ratios(market=market, positions=mixed, dates=days, options_only=True)
    np.testing.assert_array_equal(options_only, every[:, [0, 1, 3, 4]])
    np.testing.assert_array_equal(options_only, ratios)


def _ratios_by_series(market: MarketInputs, positions: pd.DataFrame, dates: pd.DatetimeIndex) -> np.ndarray:
    """The ratios as first written (one pandas Series per contract, ``fillna`` per row): the reference."""
    out = np.ones((len(dates), len(positions)))
    is_option = positions["is_option"].to_numpy(dtype=bool)
    contracts = positions["symbol"].to_numpy()[is_option]
    owners = positions["portfolio_id"].to_numpy()[is_option]
    underlyings = positions["price_symbol"].to_numpy()[is_option]
    groups = list(zip(owners, underlyings, strict=True))
    data = {
        c: pd.Series(
            [q.implied_vol if q.implied_vol and q.implied_vol > 0 else np.nan for q in rows],
            index=pd.DatetimeIndex([pd.Timestamp(q.date) for q in rows]),
            dtype=float,
        )
        for c in dict.fromkeys(contracts)
        if (rows := market.option_quote_history.get(c))
    }
    ivs = pd.DataFrame(data).reindex(columns=list(dict.fromkeys(contracts))).sort_index()
    with np.errstate(divide="ignore", invalid="ignore"):
        changes = np.log(ivs).diff().reindex(dates)
    members = {g: list(dict.fromkeys(c for c, h in zip(contracts, groups, strict=True) if h == g)) for g in groups}
    means = {g: changes[columns].mean(axis=1, skipna=True) for g, columns in members.items()}
    columns = [changes[c].fillna(means[g]).fillna(0.0).to_numpy() for c, g in zip(contracts, groups, strict=True)]
    out[:, np.flatnonzero(is_option)] = np.exp(np.column_stack(columns))
    return out


def test_the_ratios_equal_the_series_by_series_computation_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    sessions = pd.bdate_range("2026-06-01", "2026-11-20")
    contracts = [f"C{i}" for i in range(9)]
    history = {}
    for contract in contracts[:-1]:  # the last one has no quotes at all
        held = rng.random(len(sessions)) > 0.3  # gaps
        vols = rng.uniform(0.1, 0.6, len(sessions))
        vols[rng.random(len(sessions)) < 0.05] = 0.0  # a quote without a usable vol
        history[contract] = [
            _quote(contract, day.date().isoformat(), float(vol) if vol > 0 else None)
            for day, vol, keep in zip(sessions, vols, held, strict=True)
            if keep
        ]
    market = MarketInputs(
        as_of=dt.date(2026, 11, 20),
        prices=pd.DataFrame(),
        spot=pd.Series(dtype=float),
        spot_date=pd.Series(dtype=object),
        data_source="simulated",
        option_quotes={},
        rate=0.045,
        option_quote_history=history,
    )
    rows = 40
    positions = pd.DataFrame(
        {
            "portfolio_id": rng.choice(["p", "q", "r"], rows),
            "symbol": rng.choice([*contracts, "AAPL"], rows),
            "price_symbol": rng.choice(["AAPL", "MSFT"], rows),
        }
    )
    positions["is_option"] = positions["symbol"] != "AAPL"
    dates = pd.DatetimeIndex(sessions[-120:])
    np.testing.assert_array_equal(
        implied_vol_ratios(market=market, positions=positions, dates=dates),
        _ratios_by_series(market, positions, dates),
    )
