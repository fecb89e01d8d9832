"""Reads: close frames, latest closes, option quotes, sources, history counts, the summary."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from marketdata.models import OptionQuote, PriceBar
from marketdata.selectors import (
    close_prices,
    data_source_for,
    instruments_by_symbol,
    latest_closes,
    market_data_summary,
    option_quotes_latest,
    price_bars,
    symbols_with_history,
)
from marketdata.services import prices_sync

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 20)


def bar(symbol: str, day: date, close: float, source: str = "simulated") -> PriceBar:
    return PriceBar(
        symbol=symbol, date=day, open=close, high=close, low=close, close=close + 1, adj_close=close, volume=1,
        source=source,
    )  # fmt: skip


@pytest.fixture
def bars() -> None:
    PriceBar.objects.bulk_create(
        [
            bar("AAPL", date(2026, 11, 16), 100.0),
            bar("AAPL", date(2026, 11, 17), 101.0),
            bar("AAPL", date(2026, 11, 19), 103.0),
            bar("SPY", date(2026, 11, 16), 500.0),
            bar("SPY", date(2026, 11, 17), 505.0),
            bar("SPY", date(2026, 11, 18), 510.0),
            bar("TLT", date(2026, 11, 18), 90.0, source="csv"),
        ]
    )


def test_close_prices_is_a_float_frame_of_adjusted_closes_in_the_asked_order(bars, django_assert_num_queries) -> None:
    with django_assert_num_queries(1):
        frame = close_prices(symbols=["spy", "NONE", "AAPL"], start=date(2026, 11, 16), end=date(2026, 11, 19))
    assert list(frame.columns) == ["SPY", "AAPL"]
    assert isinstance(frame.index, pd.DatetimeIndex) and frame.index.name == "date"
    assert list(frame.index.date) == [date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 18), date(2026, 11, 19)]
    assert frame.dtypes.tolist() == [np.float64, np.float64]
    assert frame.loc["2026-11-17", "AAPL"] == 101.0  # adj_close, not close
    assert np.isnan(frame.loc["2026-11-18", "AAPL"]) and np.isnan(frame.loc["2026-11-19", "SPY"])
    assert close_prices(symbols=["NONE"]).empty


@pytest.mark.parametrize("column", ["adj_close", "volume"])
def test_the_grouped_bar_frame_equals_the_pivoted_one(db, column) -> None:
    """On PostgreSQL ``close_prices`` and ``daily_volumes`` read one row per symbol (two arrays) instead of one per
    bar: the same frame, bit for bit, on a universe with gaps, a quarantined bar and a symbol outside the window."""
    from django.db import connection

    from marketdata.selectors import _analytics_bars, _bars_grouped, _bars_pivoted

    if connection.vendor != "postgresql":
        pytest.skip("array_agg: PostgreSQL only (elsewhere the frames pivot the rows)")
    rng = np.random.default_rng(7)
    days = pd.bdate_range("2026-06-01", "2026-11-20").date
    rows = [
        bar(f"S{j:03d}", day, float(np.round(rng.uniform(5, 500), 4)))
        for j in range(40)
        for i, day in enumerate(days)
        if (i + j) % 7  # every symbol misses some sessions, each its own
    ]
    for row in rows:
        row.volume = int(rng.integers(0, 10**12))  # up to a trillion shares: exact in a float64
    quarantined = next(r for r in reversed(rows) if r.symbol == "S001")  # inside both windows below
    quarantined.quarantined = True
    rows.append(bar("OLD", date(2025, 1, 2), 10.0))
    PriceBar.objects.bulk_create(rows)
    for start in (None, date(2026, 7, 1)):
        bars = _analytics_bars(symbols=["OLD", *(f"S{j:03d}" for j in range(40))], start=start, end=AS_OF).order_by()
        grouped, pivoted = _bars_grouped(bars, column), _bars_pivoted(bars, column).astype("float64")
        pivoted.columns.name = None  # the pivot names its columns; the frames drop the name of either
        pd.testing.assert_frame_equal(grouped[sorted(grouped.columns)], pivoted[sorted(pivoted.columns)])
        assert np.isnan(grouped.loc[pd.Timestamp(quarantined.date), "S001"])  # the quarantined bar left out
        kept = [r for r in rows if not r.quarantined and (start is None or r.date >= start)]
        assert grouped.notna().sum().sum() == len(kept)  # every other bar of the window is there


def test_latest_closes_take_the_last_bar_on_or_before_as_of(bars, django_assert_num_queries) -> None:
    with django_assert_num_queries(1):
        latest = latest_closes(symbols=["AAPL", "SPY", "TLT", "NONE"], as_of=date(2026, 11, 18))
    assert latest["AAPL"].date == date(2026, 11, 17) and latest["AAPL"].close == 101.0
    assert latest["SPY"].close == 510.0 and latest["TLT"].source == "csv"
    assert "NONE" not in latest


def test_data_source_names_one_source_or_a_mix(bars) -> None:
    assert data_source_for(symbols=["AAPL", "SPY"]) == "simulated"
    assert data_source_for(symbols=["AAPL", "TLT"]) == "mixed:csv+simulated"
    assert data_source_for(symbols=["NONE"]) == "none"


def test_price_bars_are_ordered_by_date(bars) -> None:
    rows = list(price_bars(symbol="aapl", start=date(2026, 11, 17), end=None))
    assert [r.date for r in rows] == [date(2026, 11, 17), date(2026, 11, 19)]


def test_symbols_with_history_counts_bars_in_the_window(bars) -> None:
    assert symbols_with_history(symbols=["AAPL", "SPY", "NONE"], min_days=3, as_of=date(2026, 11, 18)) == {
        "AAPL": 2,
        "SPY": 3,
        "NONE": 0,
    }


def test_option_quotes_latest(db) -> None:
    OptionQuote.objects.create(contract="SPY270917C00460000", date=date(2026, 11, 19), bid=1, ask=2, last=1.5,
                               implied_vol=0.2, open_interest=10, source="simulated")  # fmt: skip
    OptionQuote.objects.create(contract="SPY270917C00460000", date=date(2026, 11, 20), bid=3, ask=4, last=3.5,
                               implied_vol=0.25, open_interest=11, source="simulated")  # fmt: skip
    quotes = option_quotes_latest(contracts=["SPY270917C00460000", "X"], as_of=date(2026, 11, 19))
    assert list(quotes) == ["SPY270917C00460000"]
    assert quotes["SPY270917C00460000"].implied_vol == 0.2 and quotes["SPY270917C00460000"].source == "simulated"


def test_summary_flags_gaps_stale_symbols_and_extreme_jumps(bars) -> None:
    PriceBar.objects.bulk_create([bar("SPY", date(2026, 11, 19), 900.0), bar("SPY", date(2026, 11, 20), 905.0)])
    summary = market_data_summary(as_of=AS_OF)
    assert summary.records == 9 and summary.unique_symbols == 3
    assert (summary.first_date, summary.last_date) == (date(2026, 11, 16), AS_OF)
    assert summary.stale_symbols == ["AAPL", "TLT"]
    assert [(g.symbol, g.missing, g.first_missing) for g in summary.gaps] == [("AAPL", 1, date(2026, 11, 18))]
    assert [(j.symbol, j.date) for j in summary.jumps] == [("SPY", date(2026, 11, 19))]
    assert summary.jumps[0].change == pytest.approx(900 / 510 - 1)
    assert summary.data_source == "mixed:csv+simulated"


def test_instruments_by_symbol_after_a_sync(db) -> None:
    prices_sync(symbols=["AAPL", "FXNAX"], days=1, as_of=AS_OF)
    instruments = instruments_by_symbol(symbols=["aapl", "FXNAX", "NONE"])
    assert set(instruments) == {"AAPL", "FXNAX"}
    assert instruments["AAPL"].sector == "Technology" and instruments["FXNAX"].asset_class == "mutual_fund"
