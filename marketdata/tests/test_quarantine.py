"""Issue 17.7 — bad vendor prices never reach the analytics.

Against the local server that answers like FMP and Polygon (``conftest.vendor``): rows the vendor
labels with another ticker are refused and logged; a price jump beyond the bound is stored
quarantined, left out of every price read, visible in the admin, ``market_data_status``,
``doctor`` and ``/health``; a batch on such data is ``completed_with_warnings``; a confirmation or
a correction releases it. The reference for "left out" is independent: the same batch on a
database where that bar was never stored.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.test import Client

from analytics.models import PortfolioResult, PortfolioSnapshot, RunStatus
from analytics.services.batch import batch_run, portfolio_steps
from conftest import ANALYTICS_AS_OF
from core.doctor import OK, WARN
from marketdata.calendar import last_trading_days
from marketdata.doctor import check_price_quarantine
from marketdata.models import PriceBar, PriceQuarantine, QuarantineStatus
from marketdata.quality import jumps_beyond
from marketdata.selectors import close_prices, latest_closes
from marketdata.services import prices_sync, quarantine_confirm, quarantine_correct
from marketdata.tests.conftest import SIM

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 11, 20)
HEDGE_FUND = "fcd71196-e93e-f000-5a74-31a9eead3118"


@pytest.fixture
def polygon_settings(settings, vendor):
    settings.MARKET_DATA_PROVIDER = "polygon"
    settings.POLYGON_API_KEY = "test-polygon-key"
    settings.POLYGON_BASE_URL = vendor.url
    settings.POLYGON_PLAN = "starter"
    settings.MARKET_DATA_TIMEOUT_S = 0.5
    settings.MARKET_DATA_RETRY_BUDGET_S = 0.5
    return settings


# --- The pure rule --------------------------------------------------------------------------------


def test_jumps_are_measured_from_the_last_good_bar_by_hand():
    days = [date(2026, 11, d) for d in (16, 17, 18, 19, 20)]
    closes = np.array([100.0, 101.0, 101_000.0, 102.0, 250.0])
    new = np.array([False, True, True, True, True])
    jumps = jumps_beyond(dates=days, closes=closes, is_new=new, quarantined=np.zeros(5, bool), bound=0.75)
    # 101 → 101,000: ln(1000) = 6.908 > 0.75, quarantined; 102 vs 101 (not vs 101,000): fine;
    # 250 vs 102: ln(2.45) = 0.896 > 0.75, quarantined.
    assert [(j.date.day, j.reference_date.day) for j in jumps] == [(18, 17), (20, 19)]
    assert jumps[0].log_return == pytest.approx(math.log(1000.0))
    assert jumps[1].log_return == pytest.approx(math.log(250.0 / 102.0))
    # Old bars are never quarantined, and an already quarantined bar is never a reference.
    old_only = jumps_beyond(
        dates=days, closes=closes, is_new=np.zeros(5, bool), quarantined=np.zeros(5, bool), bound=0.75
    )
    assert old_only == []
    held = np.array([False, False, True, False, False])
    assert [j.date.day for j in jumps_beyond(dates=days, closes=closes, is_new=new, quarantined=held, bound=0.75)] == [
        20
    ]
    # A real -50% day (ln 0.5 = -0.69) is under the default bound.
    assert jumps_beyond(
        dates=days[:2], closes=np.array([100.0, 50.0]), is_new=np.array([False, True]),
        quarantined=np.zeros(2, bool), bound=0.75,
    ) == []  # fmt: skip


# --- Rows for another ticker ---------------------------------------------------------------------


@pytest.mark.parametrize("vendor_name", ["fmp", "polygon"])
def test_rows_labelled_with_another_ticker_are_refused_and_logged(vendor_name, request, vendor, caplog):
    request.getfixturevalue("fmp_settings" if vendor_name == "fmp" else "polygon_settings")
    vendor.impostors["META"] = "SPY"
    with caplog.at_level("WARNING", logger="sigmasight.marketdata"):
        run = prices_sync(symbols=["META", "AAPL"], days=5, as_of=AS_OF)
    assert not PriceBar.objects.filter(symbol="META").exists()
    assert PriceBar.objects.filter(symbol="AAPL").count() == 5
    assert "META" in run.failures and "rejected" in run.failures["META"]
    assert run.rows_rejected == 5
    assert sum("row for another symbol (SPY)" in e for e in run.errors) == 5
    assert sum("row for another symbol (SPY)" in r.getMessage() for r in caplog.records) == 5


def test_fmp_rows_named_with_the_vendor_spelling_are_ours(fmp_settings, vendor):
    run = prices_sync(symbols=["VIX"], days=5, as_of=AS_OF)  # asked as ^VIX, rows labelled VIX
    assert run.rows_rejected == 0 and PriceBar.objects.filter(symbol="VIX").count() == 5


# --- Quarantine ---------------------------------------------------------------------------------


@pytest.mark.parametrize("vendor_name", ["fmp", "polygon"])
def test_a_1000x_print_is_stored_quarantined_and_left_out_of_every_read(vendor_name, request, vendor):
    request.getfixturevalue("fmp_settings" if vendor_name == "fmp" else "polygon_settings")
    days = last_trading_days(count=10, as_of=AS_OF)
    bad_day = days[6]
    vendor.bad_prints[("GE", bad_day.isoformat())] = 1000.0
    run = prices_sync(symbols=["GE", "AAPL"], days=10, as_of=AS_OF)

    true_close = SIM.daily_bars(symbol="GE", start=bad_day, end=bad_day)[0].close
    stored = PriceBar.objects.get(symbol="GE", date=bad_day)
    assert stored.quarantined and stored.close == pytest.approx(true_close * 1000)
    assert PriceBar.objects.filter(quarantined=True).count() == 1  # the day after, back to normal, is fine
    record = PriceQuarantine.objects.get()
    assert (record.symbol, record.date, record.status) == ("GE", bad_day, QuarantineStatus.OPEN)
    assert record.reference_date == days[5]
    assert record.log_return == pytest.approx(math.log(stored.adj_close / record.reference_close))
    assert any("GE" in e and "quarantined" in e for e in run.errors)

    frame = close_prices(symbols=["GE"], start=days[0], end=AS_OF)
    assert bad_day not in {d.date() for d in frame.index}  # left out of the analytics' prices
    assert frame["GE"].max() < true_close * 2
    assert latest_closes(symbols=["GE"], as_of=bad_day)["GE"].date == days[5]  # valuations skip it too


def test_quarantines_are_visible_in_status_doctor_health_and_the_admin(fmp_settings, vendor, admin_client):
    bad_day = last_trading_days(count=3, as_of=AS_OF)[1]
    vendor.bad_prints[("GE", bad_day.isoformat())] = 1000.0
    prices_sync(symbols=["GE"], days=3, as_of=AS_OF)

    out = StringIO()
    call_command("market_data_status", stdout=out)
    assert f"GE {bad_day}" in out.getvalue() and "Quarantined prices (1" in out.getvalue()
    check = check_price_quarantine()
    assert check.status == WARN and "GE" in check.detail
    market = Client().get("/health").json()["checks"]["market_data"]
    assert market["status"] == "warn" and market["quarantined_prices"] == 1
    listing = admin_client.get("/admin/marketdata/pricequarantine/")
    assert listing.status_code == 200 and b"GE" in listing.content

    record = PriceQuarantine.objects.get()
    response = admin_client.post(
        "/admin/marketdata/pricequarantine/",
        {"action": "confirm_selected", "_selected_action": [record.pk]},
    )
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.status == QuarantineStatus.CONFIRMED and record.resolved_by == "admin@example.com"
    assert not PriceBar.objects.get(symbol="GE", date=bad_day).quarantined
    assert check_price_quarantine().status == OK


def test_the_admin_corrects_a_price_to_a_typed_close(fmp_settings, vendor, admin_client):
    bad_day = last_trading_days(count=3, as_of=AS_OF)[1]
    vendor.bad_prints[("GE", bad_day.isoformat())] = 1000.0
    prices_sync(symbols=["GE"], days=3, as_of=AS_OF)
    record = PriceQuarantine.objects.get()
    true_bar = SIM.daily_bars(symbol="GE", start=bad_day, end=bad_day)[0]
    url = f"/admin/marketdata/pricequarantine/{record.pk}/change/"
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"corrected_close": str(true_bar.close)})
    assert response.status_code == 302, response.content[:2000]
    bar = PriceBar.objects.get(symbol="GE", date=bad_day)
    assert not bar.quarantined and bar.adj_close == true_bar.close
    assert bar.high == pytest.approx(true_bar.high) and bar.low == pytest.approx(true_bar.low)
    record.refresh_from_db()
    assert record.status == QuarantineStatus.CORRECTED
    with pytest.raises(ValueError, match="corrected_close"):
        quarantine_correct(record, close=-1.0, by="t")


def test_a_simulated_year_quarantines_nothing(db):
    run = prices_sync(symbols=["AAPL", "SPY", "TLT", "GE", "NVDA"], backfill_days=260, as_of=AS_OF)
    assert run.rows_written == 5 * 260
    assert not PriceQuarantine.objects.exists()


# --- The batch -----------------------------------------------------------------------------------


def _payloads() -> dict[tuple[str, str], str]:
    return {
        (str(r.portfolio_id), r.kind): repr(r.payload) for r in PortfolioResult.objects.filter(as_of=ANALYTICS_AS_OF)
    }


def _hedge_fund_stock() -> str:
    from portfolios.models import Position

    symbols = (
        Position.objects.filter(portfolio_id=HEDGE_FUND, asset_class="stock")
        .order_by("symbol")
        .values_list("symbol", flat=True)
    )
    return next(s for s in symbols if s not in ("SPY", "TLT", "QQQ"))


def test_a_batch_on_quarantined_data_is_flagged_and_equals_a_batch_without_that_bar(
    analytics_demo, fmp_settings, vendor
):
    symbol = _hedge_fund_stock()
    steps = list(portfolio_steps())
    # The independent reference: the batch on a database where the symbol's as-of bar was never stored.
    PriceBar.objects.filter(symbol=symbol, date=ANALYTICS_AS_OF).delete()
    reference = batch_run(as_of=ANALYTICS_AS_OF, steps=steps, trigger="test")
    assert reference.run.status == RunStatus.COMPLETED
    without_bar = _payloads()
    value_without = PortfolioSnapshot.objects.get(portfolio_id=HEDGE_FUND, as_of=ANALYTICS_AS_OF).total_value

    # The vendor now sends the missing bar at 1,000× the price.
    vendor.bad_prints[(symbol, ANALYTICS_AS_OF.isoformat())] = 1000.0
    prices_sync(symbols=[symbol], days=1, as_of=ANALYTICS_AS_OF)
    assert PriceBar.objects.get(symbol=symbol, date=ANALYTICS_AS_OF).quarantined
    flagged = batch_run(as_of=ANALYTICS_AS_OF, steps=steps, trigger="test")
    assert flagged.run.status == RunStatus.WARNINGS
    assert flagged.ok and flagged.failed_jobs == 0
    assert symbol in flagged.run.warnings and "quarantined" in flagged.run.warnings
    assert _payloads() == without_bar  # the bad print changed nothing
    value = PortfolioSnapshot.objects.get(portfolio_id=HEDGE_FUND, as_of=ANALYTICS_AS_OF).total_value
    assert value == value_without

    last_batch = Client().get("/health").json()["checks"]["last_batch"]
    assert (last_batch["status"], last_batch["run_status"]) == ("warn", "completed_with_warnings")
    out = StringIO()
    call_command("run_batch", "--date", ANALYTICS_AS_OF.isoformat(), "--skip-sync", "--skip-reports", stdout=out)
    assert "completed_with_warnings" in out.getvalue() and symbol in out.getvalue()

    # Corrected to the true close: the next batch is plainly completed and uses it.
    true_close = SIM.daily_bars(symbol=symbol, start=ANALYTICS_AS_OF, end=ANALYTICS_AS_OF)[0].adj_close
    quarantine_correct(PriceQuarantine.objects.get(symbol=symbol), close=true_close, by="test")
    corrected = batch_run(as_of=ANALYTICS_AS_OF, steps=steps, trigger="test")
    assert corrected.run.status == RunStatus.COMPLETED and corrected.run.warnings == ""
    assert _payloads() != without_bar


def test_confirming_releases_the_price_to_the_analytics(analytics_demo, fmp_settings, vendor):
    symbol = _hedge_fund_stock()
    PriceBar.objects.filter(symbol=symbol, date=ANALYTICS_AS_OF).delete()
    vendor.bad_prints[(symbol, ANALYTICS_AS_OF.isoformat())] = 3.0  # ln 3 = 1.10 > 0.75
    prices_sync(symbols=[symbol], days=1, as_of=ANALYTICS_AS_OF)
    quarantine_confirm(PriceQuarantine.objects.get(), by="ops")
    frame = close_prices(symbols=[symbol], start=ANALYTICS_AS_OF - timedelta(days=7), end=ANALYTICS_AS_OF)
    true_close = SIM.daily_bars(symbol=symbol, start=ANALYTICS_AS_OF, end=ANALYTICS_AS_OF)[0].close
    assert frame[symbol].iloc[-1] == pytest.approx(3.0 * true_close)
    outcome = batch_run(as_of=ANALYTICS_AS_OF, steps=["aggregation"], trigger="test")
    assert outcome.run.status == RunStatus.COMPLETED
