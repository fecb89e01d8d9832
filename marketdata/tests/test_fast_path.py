"""The columnar fast path: simulated columns, vectorised validation, the binary COPY writer.

It must store exactly what the row path stores: the same bars (bit for bit), the same rejections
with the same messages, the same upsert behaviour when rows overlap.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest

from marketdata.calendar import last_trading_days
from marketdata.models import PriceBar
from marketdata.providers.base import Bar, BarColumns
from marketdata.providers.simulated import (
    SimulatedProvider,
    _anchor,
    _seed,
    _series,
    _unit,
    symbol_spec,
)
from marketdata.quality import bar_columns_validate, bars_validate
from marketdata.services import _bars_writer, bar_columns_upsert, bars_upsert, prices_sync

SIM = SimulatedProvider()
AS_OF = date(2026, 11, 20)
SYMBOLS = ["AAPL", "FXNAX", "VIX", "SPY", "BRK-B", "ZZFAST1", "ZZFAST2"]


def _reference_bars(symbol: str, start: date, end: date) -> list[Bar]:
    """The simulated bars as the model computed them before the fast path (the whole series at once).

    Closes and returns come from the model's series (the world model is tested in test_simulated);
    open, high, low and volume are rebuilt here over the whole calendar, then sliced.
    """
    spec = symbol_spec(symbol)
    sessions, _ = _anchor()
    n = len(sessions)
    series = _series(symbol)
    close, returns = np.asarray(series.close_raw), np.asarray(series.returns)
    daily_vol = float(np.std(returns[1:])) or 0.001
    ohlc = np.random.default_rng(_seed(symbol + ":ohlc"))
    previous = np.concatenate([[close[0] / (1.0 + returns[0])], close[:-1]])
    if spec.asset_class == "mutual_fund":
        open_ = high = low = close
    else:
        open_ = previous * np.exp(ohlc.standard_normal(n) * 0.25 * daily_vol)
        high = np.maximum(open_, close) * (1.0 + np.abs(ohlc.standard_normal(n)) * 0.5 * daily_vol)
        low = np.minimum(open_, close) * (1.0 - np.minimum(np.abs(ohlc.standard_normal(n)) * 0.5 * daily_vol, 0.5))
    if spec.asset_class in ("index", "mutual_fund"):
        volume = np.zeros(n, dtype=np.int64)
    else:
        base = 10 ** (5 + 2.5 * _unit(symbol + ":volume"))
        volume = (base * np.exp(ohlc.standard_normal(n) * 0.3) * (1.0 + 20.0 * np.abs(returns))).astype(np.int64)
    o, h, lw, c = (np.round(a, 4).tolist() for a in (open_, high, low, close))
    v = volume.tolist()
    return [Bar(symbol, d, o[i], h[i], lw[i], c[i], c[i], v[i]) for i, d in enumerate(sessions) if start <= d <= end]


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_the_simulated_bars_are_bit_for_bit_those_of_the_whole_series_model(symbol: str) -> None:
    for start, end in [
        (date(2019, 1, 1), date(2035, 12, 31)),
        (date(2019, 1, 2), date(2019, 1, 3)),
        (date(2025, 11, 1), AS_OF),
        (date(2024, 3, 6), date(2024, 3, 6)),
    ]:
        bars = SIM.daily_bars(symbol=symbol, start=start, end=end)
        assert bars == _reference_bars(symbol, start, end)
        assert all(type(x) is float for b in bars for x in b[2:7]) and all(type(b.volume) is int for b in bars)
        columns = SIM.daily_bar_columns(symbol=symbol, start=start, end=end)
        assert columns.rows() == bars and columns.date.dtype == np.dtype("datetime64[D]")


def _columns(rows: list[tuple[date, float, float, float, float, int]], symbol: str = "BAD") -> BarColumns:
    return BarColumns(
        symbol,
        np.array([r[0] for r in rows], dtype="datetime64[D]"),
        *(np.array([r[i] for r in rows], dtype=np.float64) for i in (1, 2, 3, 4, 4)),
        np.array([r[5] for r in rows], dtype=np.int64),
    )


def test_column_validation_keeps_and_rejects_exactly_what_row_validation_does(caplog) -> None:
    sessions = last_trading_days(count=12, as_of=AS_OF)
    rows = [(d, 10.0, 11.0, 9.0, 10.5, 1000) for d in sessions]
    rows[1] = (sessions[1], math.nan, 11.0, 9.0, 10.5, 1000)
    rows[2] = (sessions[2], 10.0, 11.0, -9.0, 10.5, 1000)
    rows[3] = (sessions[3], 10.0, 8.0, 9.0, 10.5, 1000)  # high below low
    rows[4] = (sessions[4], 10.0, 11.0, 9.0, 10.5, -1)
    rows[5] = (sessions[5], 10.0, math.inf, 9.0, 10.5, 1000)
    rows.append((sessions[6], 10.1, 11.1, 9.1, 10.6, 1001))  # the same date twice: both rejected
    rows.append((date(2026, 11, 21), 10.0, 11.0, 9.0, 10.5, 1000))  # a Saturday
    rows.append((date(2040, 1, 3), 10.0, 11.0, 9.0, 10.5, 1000))  # outside the calendar
    rows.append((date(2026, 1, 2), 10.0, 11.0, 9.0, 10.5, 1000))  # a session, but not wanted
    columns = _columns(rows)
    bars = columns.rows()
    wanted = {*sessions, date(2026, 11, 21), date(2040, 1, 3)}

    by_rows = bars_validate(bars=bars, symbol="BAD", source="fmp", wanted=wanted)
    row_log = [r.getMessage() for r in caplog.records]
    caplog.clear()
    by_columns = bar_columns_validate(columns=columns, source="fmp", wanted=wanted)

    assert by_columns.valid.rows() == by_rows.valid and len(by_rows.valid) == 6
    assert by_columns.rejected == by_rows.rejected and len(by_rows.rejected) == 9
    assert [r.getMessage() for r in caplog.records] == row_log
    array_wanted = np.array(sorted(wanted), dtype="datetime64[D]")
    assert bar_columns_validate(columns=columns, source="fmp", wanted=array_wanted).valid.rows() == by_rows.valid
    clean = SIM.daily_bar_columns(symbol="AAPL", start=sessions[0], end=sessions[-1])
    assert bar_columns_validate(columns=clean, source="simulated").valid is clean  # nothing to drop: no copy


class _RowsOnly(SimulatedProvider):
    """The simulated provider without its columnar answer: the sync takes the row path."""

    supports_columns = False


def _stored() -> list[tuple]:
    fields = ("symbol", "date", "open", "high", "low", "close", "adj_close", "volume", "source")
    return list(PriceBar.objects.order_by("symbol", "date").values_list(*fields))


@pytest.mark.django_db
def test_the_columnar_sync_stores_exactly_the_bars_the_row_path_stores(monkeypatch) -> None:
    monkeypatch.setattr("marketdata.services.get_provider", lambda name=None: _RowsOnly())
    by_rows = prices_sync(symbols=SYMBOLS, backfill_days=40, as_of=AS_OF)
    stored_by_rows = _stored()
    PriceBar.objects.all().delete()
    monkeypatch.setattr("marketdata.services.get_provider", lambda name=None: SimulatedProvider())
    by_columns = prices_sync(symbols=SYMBOLS, backfill_days=40, as_of=AS_OF)
    stored = _stored()

    assert by_rows.rows_written == by_columns.rows_written == 40 * len(SYMBOLS) == len(stored)
    assert stored == stored_by_rows
    start = last_trading_days(count=40, as_of=AS_OF)[0]
    expected = sorted(
        (*bar, "simulated") for s in SYMBOLS for bar in SIM.daily_bars(symbol=s.upper(), start=start, end=AS_OF)
    )
    assert stored == expected  # floats bit for bit through the binary COPY, volumes, dates

    # Cache-first on the fast path too: delete two sessions of one symbol, only those come back.
    PriceBar.objects.filter(symbol="AAPL", date__in=[start, AS_OF]).delete()
    again = prices_sync(symbols=SYMBOLS, backfill_days=40, as_of=AS_OF)
    assert again.rows_written == 2 and again.symbols_cached == len(SYMBOLS) - 1 and _stored() == expected


@pytest.mark.django_db
def test_overlapping_bars_are_replaced_not_duplicated() -> None:
    bars = SIM.daily_bars(symbol="AAPL", start=date(2026, 1, 5), end=date(2026, 1, 9))
    assert bars_upsert(bars=bars[:3], source="simulated") == 3
    changed = [bar._replace(close=bar.close + 1.0, adj_close=bar.adj_close + 1.0) for bar in bars]
    assert bars_upsert(bars=changed, source="csv") == 5
    stored = PriceBar.objects.order_by("date")
    assert [(p.close, p.source) for p in stored] == [(b.close, "csv") for b in changed]

    # A streamed COPY that meets a stored row falls back to the upsert and keeps every block.
    more = [SIM.daily_bar_columns(symbol=s, start=date(2026, 1, 5), end=date(2026, 1, 9)) for s in ("MSFT", "AAPL")]
    with _bars_writer(source="simulated", stream=True) as writer:
        for columns in more:
            writer.add(columns)
    assert writer.written == 10 and PriceBar.objects.count() == 10
    assert set(PriceBar.objects.values_list("source", flat=True)) == {"simulated"}
    assert bar_columns_upsert(columns=more, source="simulated") == 10 and PriceBar.objects.count() == 10


@pytest.mark.django_db
def test_a_sync_interrupted_midway_stores_nothing() -> None:
    def progress(done: int, total: int, symbol: str) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        prices_sync(symbols=["AAPL", "MSFT", "SPY"], backfill_days=30, as_of=AS_OF, progress=progress)
    assert PriceBar.objects.count() == 0
    assert prices_sync(symbols=["AAPL"], days=5, as_of=AS_OF).rows_written == 5  # the connection is usable
