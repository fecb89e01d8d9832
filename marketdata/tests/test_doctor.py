"""``doctor``'s market data checks (registered by the marketdata app): freshness, coverage, history, provider."""

from __future__ import annotations

import datetime as dt

import pytest

from core.doctor import FAIL, OK, WARN, CheckResult
from marketdata.calendar import last_trading_days
from marketdata.doctor import (
    check_factor_data,
    check_market_data_coverage,
    check_market_data_freshness,
    check_market_data_provider,
)
from marketdata.factors import FACTOR_SYMBOLS
from marketdata.models import PriceBar
from portfolios.models import Position

pytestmark = pytest.mark.django_db

# Friday 2026-11-20, 22:00 UTC = 17:00 in New York: that day's session is complete.
NOW = dt.datetime(2026, 11, 20, 22, 0, tzinfo=dt.UTC)
SESSION = dt.date(2026, 11, 20)


def bars(symbols: list[str] | tuple[str, ...], *, days: int, end: dt.date = SESSION) -> None:
    PriceBar.objects.bulk_create(
        PriceBar(symbol=s, date=d, open=10, high=11, low=9, close=10, adj_close=10, volume=1, source="simulated")
        for s in symbols
        for d in last_trading_days(count=days, as_of=end)
    )


# --- market data ------------------------------------------------------------------------------


def test_no_prices_warns_with_the_sync_hint():
    result = check_market_data_freshness(now=NOW)
    assert result.status == WARN and result.hint.startswith("python manage.py sync_market_data")


def test_prices_up_to_the_latest_completed_session_are_fresh():
    bars(FACTOR_SYMBOLS, days=3)
    result = check_market_data_freshness(now=NOW)
    assert result.status == OK and "2026-11-20" in result.detail and "simulated" in result.detail


def test_prices_behind_the_latest_completed_session_are_stale():
    bars(FACTOR_SYMBOLS, days=3, end=dt.date(2026, 11, 18))
    result = check_market_data_freshness(now=NOW)
    assert result.status == WARN and "2 sessions behind" in result.detail
    assert result.hint == "python manage.py sync_market_data"
    # Before Friday's close the latest completed session is Thursday: one session behind.
    thursday_evening = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)
    assert "1 sessions behind" in check_market_data_freshness(now=thursday_evening).detail


def test_a_held_symbol_lagging_behind_warns(portfolio):
    Position.objects.create(
        portfolio=portfolio, symbol="AAPL", position_type="LONG", quantity=1, entry_price=1, entry_date=SESSION
    )
    bars(FACTOR_SYMBOLS, days=2)
    bars(["AAPL"], days=2, end=dt.date(2026, 11, 19))
    result = check_market_data_freshness(now=NOW)
    assert result.status == WARN and "AAPL" in result.detail


def test_coverage_lists_held_symbols_and_factor_etfs_without_a_price(portfolio):
    Position.objects.create(
        portfolio=portfolio, symbol="AAPL", position_type="LONG", quantity=1, entry_price=1, entry_date=SESSION
    )
    bars([s for s in FACTOR_SYMBOLS if s != "TLT"], days=1)
    result = check_market_data_coverage(now=NOW)
    assert result.status == WARN and "2 of 9 symbols have no price: AAPL, TLT" in result.detail
    assert result.hint == "python manage.py sync_market_data"
    bars(["AAPL", "TLT"], days=1)
    assert check_market_data_coverage(now=NOW).status == OK


def test_factor_data_needs_252_sessions_per_factor_symbol():
    bars(FACTOR_SYMBOLS, days=252)
    assert check_factor_data(now=NOW).status == OK
    PriceBar.objects.filter(symbol="MTUM").order_by("date").first().delete()
    result = check_factor_data(now=NOW)
    assert result.status == WARN and "MTUM 251/252" in result.detail
    assert result.hint == "python manage.py sync_market_data --ensure-factor-data"


# --- providers --------------------------------------------------------------------------------


def test_simulated_market_data_needs_no_key(settings):
    settings.MARKET_DATA_PROVIDER = "simulated"
    assert check_market_data_provider() == CheckResult("market data provider", OK, "simulated (offline)")


@pytest.mark.parametrize(("provider", "key"), [("fmp", "FMP_API_KEY"), ("polygon", "POLYGON_API_KEY")])
def test_a_vendor_without_its_key_fails_and_with_it_is_ok(settings, provider, key):
    settings.MARKET_DATA_PROVIDER = provider
    setattr(settings, key, "")
    result = check_market_data_provider()
    assert result.status == FAIL and key in result.detail and key in result.hint
    setattr(settings, key, "secret-key-value")
    result = check_market_data_provider()
    assert result.status == OK and "secret-key-value" not in result.detail
