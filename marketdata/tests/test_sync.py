"""Cache-first sync, backfill, per-symbol isolation, the retry budget, factor data and CSV import."""

from __future__ import annotations

import socket
from datetime import date, timedelta

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from marketdata.calendar import last_trading_days
from marketdata.factors import FACTOR_SYMBOLS
from marketdata.models import Instrument, OptionQuote, PriceBar, SyncRun, SyncStatus
from marketdata.providers.simulated import SimulatedProvider
from marketdata.services import factor_data_ensure, prices_import_csv, prices_sync, universe_symbols

AS_OF = date(2026, 11, 20)
SIM = SimulatedProvider()
pytestmark = pytest.mark.django_db


def test_the_universe_is_held_symbols_factor_etfs_tlt_and_option_underlyings(demo_data) -> None:
    universe = universe_symbols()
    assert set(FACTOR_SYMBOLS) <= set(universe)
    assert {"AAPL", "FXNAX", "VIX", "BRK-B", "ZM"} <= set(universe)
    assert universe["FXNAX"] == "mutual_fund" and universe["VIX"] == "index" and universe["TLT"] == "etf"
    assert not any(len(s) > 10 for s in universe)  # no OCC contracts, their underlyings instead


def test_a_simulated_sync_stores_every_symbol_labelled_simulated_then_hits_the_cache(demo_data) -> None:
    run = prices_sync(days=5, as_of=AS_OF)
    universe = universe_symbols()
    assert run.status == SyncStatus.SUCCESS and run.provider == "simulated"
    assert run.symbols_requested == len(universe) == run.symbols_ok
    assert run.rows_written == 5 * len(universe) == PriceBar.objects.count()
    assert set(PriceBar.objects.values_list("source", flat=True)) == {"simulated"}
    # The simulated provider quotes past sessions: each held contract's quote on every session of the window.
    assert (
        run.option_quotes_written == 8 * 5 and OptionQuote.objects.filter(source="simulated", date=AS_OF).count() == 8
    )
    assert set(OptionQuote.objects.values_list("date", flat=True)) == set(last_trading_days(count=5, as_of=AS_OF))
    assert Instrument.objects.get(symbol="FXNAX").asset_class == "mutual_fund"
    aapl = PriceBar.objects.get(symbol="AAPL", date=AS_OF)
    assert aapl.close == SIM.daily_bars(symbol="AAPL", start=AS_OF, end=AS_OF)[0].close

    again = prices_sync(days=5, as_of=AS_OF)
    assert again.rows_written == 0 and again.symbols_cached == len(universe) and again.option_quotes_written == 0


def test_a_backfill_fills_only_the_missing_sessions(db) -> None:
    prices_sync(symbols=["AAPL"], days=5, as_of=AS_OF)
    PriceBar.objects.filter(symbol="AAPL", date=date(2026, 11, 18)).delete()
    run = prices_sync(symbols=["AAPL", "SPY"], backfill_days=20, as_of=AS_OF)
    assert run.kind == SyncRun.Kind.BACKFILL
    assert run.rows_written == 15 + 1 + 20
    assert PriceBar.objects.filter(symbol="AAPL").count() == 20


def test_fmp_sync_is_cache_first_counted_at_the_server(fmp_settings, vendor) -> None:
    run = prices_sync(symbols=["AAPL", "MSFT"], days=5, as_of=AS_OF)
    assert run.status == SyncStatus.SUCCESS and run.rows_written == 10
    history = [r for r in vendor.requests if r.path == "/stable/historical-price-eod/full"]
    assert len(history) == 2
    assert {(r.query["from"], r.query["to"]) for r in history} == {("2026-11-16", "2026-11-20")}
    assert set(PriceBar.objects.values_list("source", flat=True)) == {"fmp"}

    before = vendor.count("/stable/historical-price-eod/full")
    again = prices_sync(symbols=["AAPL", "MSFT"], days=5, as_of=AS_OF)
    assert vendor.count("/stable/historical-price-eod/full") == before  # nothing asked
    assert again.requests_made == 0 and again.symbols_cached == 2

    PriceBar.objects.filter(symbol="MSFT", date=date(2026, 11, 18)).delete()
    prices_sync(symbols=["AAPL", "MSFT"], days=5, as_of=AS_OF)
    history = [r for r in vendor.requests if r.path == "/stable/historical-price-eod/full"]
    assert len(history) == before + 1
    assert history[-1].query | {"apikey": ""} == {
        "symbol": "MSFT",
        "from": "2026-11-18",
        "to": "2026-11-18",
        "apikey": "",
    }


def test_one_bad_symbol_never_stops_a_sync_and_is_retried_next_run(fmp_settings, vendor) -> None:
    run = prices_sync(symbols=["AAPL", "NOPE", "BADJSON", "BADROWS", "MSFT"], days=10, as_of=AS_OF)
    assert run.status == SyncStatus.PARTIAL
    assert run.symbols_ok == 3  # AAPL, MSFT and BADROWS' good rows
    assert set(run.failures) == {"BADJSON"} and "malformed JSON" in run.failures["BADJSON"]
    assert set(run.unavailable) == {"NOPE"}
    assert run.rows_rejected == 5
    assert PriceBar.objects.filter(symbol="BADROWS").count() == 6  # 10 sessions − 3 bad − 1 sent twice
    assert not PriceBar.objects.filter(symbol__in=["NOPE", "BADJSON"]).exists()
    assert PriceBar.objects.filter(symbol="AAPL").count() == 10

    asked = vendor.count("BADJSON")
    prices_sync(days=1, as_of=AS_OF)  # the default universe plus last run's failures
    assert vendor.count("BADJSON") == asked + 1


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_down_provider_costs_a_bounded_time_and_the_sync_fails_honestly(fmp_settings) -> None:
    fmp_settings.FMP_BASE_URL = f"http://127.0.0.1:{_closed_port()}"
    fmp_settings.MARKET_DATA_RETRY_BUDGET_S = 0.3
    symbols = [f"S{i:03d}" for i in range(30)]
    run = prices_sync(symbols=symbols, days=5, as_of=AS_OF)
    assert run.status == SyncStatus.FAILED and run.symbols_failed == 30 and run.symbols_ok == 0
    assert run.duration_s < 3.0
    assert "connection error" in run.failures["S000"]
    assert "retry budget" in run.failures["S029"]
    with pytest.raises(CommandError, match="all 30 symbols failed"):
        call_command("sync_market_data", "--symbols", *symbols, "--quiet-progress", stdout=_Sink())


def test_factor_data_ensure_backfills_what_is_short(demo_data) -> None:
    prices_sync(symbols=["SPY"], backfill_days=253, as_of=AS_OF)
    report = factor_data_ensure(min_days=252, as_of=AS_OF)
    assert report.ok and report.source == "simulated"
    assert report.enough["SPY"] == 252 and report.enough["AAPL"] == 252
    assert report.sync_run is not None and "SPY" not in report.enough.keys() - set(universe_symbols())
    assert report.sync_run.symbols_requested == len(universe_symbols()) - 1  # SPY already had enough
    second = factor_data_ensure(min_days=252, as_of=AS_OF)
    assert second.sync_run is None and second.ok


CSV_TEXT = """symbol,date,open,high,low,close,adj_close,volume
AAPL,2024-01-16,182.16,184.26,180.93,183.63,183.04,65603000
AAPL,2024-01-17,181.27,182.93,180.30,182.68,182.09,47317400
msft,2024-01-17,,,,390.0,,
AAPL,2024-01-13,1,1,1,1,1,1
AAPL,2024-01-18,-1,2,1,1,1,1
AAPL,2024-01-19,1,2,1,oops,1,1
"""


def test_csv_import_stores_good_rows_and_rejects_bad_ones(db) -> None:
    result = prices_import_csv(path_or_text=CSV_TEXT)
    assert result.rows_read == 6 and result.rows_written == 3 and result.rows_rejected == 3
    assert result.symbols == ["AAPL", "MSFT"]
    msft = PriceBar.objects.get(symbol="MSFT")
    assert (msft.open, msft.high, msft.adj_close, msft.volume, msft.source) == (390.0, 390.0, 390.0, 0, "csv")
    assert PriceBar.objects.get(symbol="AAPL", date=date(2024, 1, 16)).adj_close == 183.04
    errors = " ".join(result.errors)
    assert "not an NYSE session" in errors and "non-positive" in errors and "line 7" in errors
    assert result.sync_run.kind == SyncRun.Kind.IMPORT and result.sync_run.status == SyncStatus.SUCCESS


def test_import_prices_command(db, tmp_path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(CSV_TEXT, encoding="utf-8")
    out = _Sink()
    call_command("import_prices", str(path), stdout=out)
    assert "Imported 3 bars for 2 symbols" in out.text and "source: csv" in out.text
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_prices", str(tmp_path / "missing.csv"))
    empty = tmp_path / "empty.csv"
    empty.write_text("symbol,date\n", encoding="utf-8")
    with pytest.raises(CommandError, match="Nothing imported"):
        call_command("import_prices", str(empty), stdout=_Sink())


class _Sink:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


def test_sync_command_says_simulated_and_rejects_bad_input(demo_data) -> None:
    out = _Sink()
    call_command("sync_market_data", "--days", "2", "--symbols", "AAPL,SPY", "VIX", stdout=out)
    assert "from simulated" in out.text and "source: simulated" in out.text
    assert "3 requested, 3 ok" in out.text
    with pytest.raises(CommandError, match="--days must be at least 1"):
        call_command("sync_market_data", "--days", "0")
    with pytest.raises(CommandError):
        call_command("sync_market_data", "--provider", "bloomberg")


def test_sync_command_reports_a_missing_api_key_as_a_command_error(settings) -> None:
    settings.FMP_API_KEY = ""
    with pytest.raises(CommandError, match="FMP_API_KEY"):
        call_command("sync_market_data", "--provider", "fmp", "--symbols", "AAPL")


def test_ensure_factor_data_command_lists_which_symbols_have_enough(demo_data) -> None:
    out = _Sink()
    call_command("sync_market_data", "--ensure-factor-data", "--min-days", "30", "--quiet-progress", stdout=out)
    assert "source: simulated" in out.text
    assert f"{len(universe_symbols())} symbols with ≥ 30 sessions" in out.text
    assert "ok       SPY      30 sessions" in out.text


def test_market_data_status_prints_counts_stale_symbols_and_gaps(db) -> None:
    last = last_trading_days(count=1)[0]
    prices_sync(symbols=["AAPL", "SPY"], days=10, as_of=last)
    prices_sync(symbols=["MSFT"], days=10, as_of=last - timedelta(days=14))
    PriceBar.objects.filter(symbol="AAPL").order_by("date")[3].delete()
    out = _Sink()
    call_command("market_data_status", stdout=out)
    assert "Records: 29" in out.text and "Unique symbols: 3" in out.text
    assert "Source: simulated" in out.text
    assert "Stale symbols (1)" in out.text and "MSFT" in out.text
    assert "AAPL: 1 missing sessions" in out.text


def test_the_simulated_backfill_supports_factor_regressions_end_to_end(db) -> None:
    from marketdata.selectors import close_prices

    prices_sync(symbols=["SPY", "TLT", "JPM"], backfill_days=60, as_of=AS_OF)
    frame = close_prices(symbols=["JPM", "SPY", "TLT"], end=AS_OF)
    returns = frame.pct_change().dropna()
    x = np.column_stack([np.ones(len(returns)), returns["SPY"], returns["TLT"]])
    beta = np.linalg.lstsq(x, returns["JPM"], rcond=None)[0]
    assert 0.7 < beta[1] < 1.5  # JPM's market loading is 1.10 (styles omitted here)
