"""FMP and Polygon clients against a local server that answers like them (no database).

Retry timing uses a recorded fake ``sleep``: the production client runs unchanged, but the test
sees the delays it asked for instead of waiting them out.
"""

from __future__ import annotations

import email.utils
import time
from datetime import date

import pytest

from marketdata.providers.base import ProviderError, SymbolUnavailable
from marketdata.providers.fmp import FMPProvider
from marketdata.providers.http import BudgetedRetry, RetryBudgetExhausted, rate_limiter, redact
from marketdata.providers.polygon import PolygonProvider
from marketdata.providers.simulated import SimulatedProvider
from marketdata.quality import bars_validate

START, END = date(2026, 11, 9), date(2026, 11, 20)  # 10 sessions
SIM = SimulatedProvider()


def fmp(vendor, sleep, **kwargs) -> FMPProvider:
    options = {"timeout_s": 2.0, "retry_budget_s": 30.0, "max_retries": 3, "backoff_base_s": 0.5, "sleep": sleep}
    return FMPProvider(api_key="test-fmp-key", base_url=vendor.url, **(options | kwargs))


def polygon(vendor, sleep, **kwargs) -> PolygonProvider:
    options = {"plan": "starter", "timeout_s": 2.0, "max_retries": 3, "sleep": sleep}
    return PolygonProvider(api_key="test-polygon-key", base_url=vendor.url, **(options | kwargs))


# --- FMP -------------------------------------------------------------------------------------


def test_fmp_daily_history_is_parsed_sorted_and_keyed_by_the_api_key(vendor, sleeps) -> None:
    bars = fmp(vendor, sleeps[1]).daily_bars(symbol="AAPL", start=START, end=END)
    assert [b.date for b in bars] == [b.date for b in SIM.daily_bars(symbol="AAPL", start=START, end=END)]
    assert bars[0].close == SIM.daily_bars(symbol="AAPL", start=START, end=START)[0].close
    assert bars[0].adj_close == bars[0].close  # no adjClose in the stable shape → close
    [seen] = vendor.requests
    assert seen.path == "/stable/historical-price-eod/full"
    assert seen.query == {"symbol": "AAPL", "from": "2026-11-09", "to": "2026-11-20", "apikey": "test-fmp-key"}


def test_fmp_asks_for_vix_as_its_index_symbol(vendor, sleeps) -> None:
    bars = fmp(vendor, sleeps[1]).daily_bars(symbol="VIX", start=START, end=END, asset_class="index")
    assert len(bars) == 10 and bars[0].symbol == "VIX"
    assert vendor.requests[0].query["symbol"] == "^VIX"


def test_fmp_unknown_symbol_is_unavailable_with_a_reason(vendor, sleeps) -> None:
    with pytest.raises(SymbolUnavailable, match="no daily history for mutual fund NOPE"):
        fmp(vendor, sleeps[1]).daily_bars(symbol="NOPE", start=START, end=END, asset_class="mutual_fund")


def test_fmp_malformed_json_is_a_provider_error_not_a_crash(vendor, sleeps) -> None:
    with pytest.raises(ProviderError, match="malformed JSON"):
        fmp(vendor, sleeps[1]).daily_bars(symbol="BADJSON", start=START, end=END)
    assert vendor.count() == 1  # a malformed body is not retried


def test_fmp_bad_rows_are_rejected_by_validation_and_never_kept(vendor, sleeps, caplog) -> None:
    raw = fmp(vendor, sleeps[1]).daily_bars(symbol="BADROWS", start=START, end=END)
    with caplog.at_level("WARNING", logger="sigmasight.marketdata"):
        checked = bars_validate(bars=raw, symbol="BADROWS", source="fmp")
    # 10 sessions: NaN close, negative low, null open, and one date sent twice (both copies out).
    assert len(checked.valid) == 6
    assert len(checked.rejected) == 5
    reasons = " ".join(checked.rejected)
    assert "non-finite" in reasons and "non-positive" in reasons and "duplicate date" in reasons
    assert sum("Rejected bar" in r.message for r in caplog.records) == 5


def test_fmp_429_waits_for_retry_after_then_succeeds(vendor, sleeps) -> None:
    recorded, sleep = sleeps
    bars = fmp(vendor, sleep).daily_bars(symbol="RATE", start=START, end=END)
    assert len(bars) == 10
    assert vendor.count("RATE") == 2
    assert recorded == [1.0]  # the server's Retry-After, not our own backoff


def test_fmp_500_is_retried_with_exponential_backoff_and_jitter_then_fails(vendor, sleeps) -> None:
    recorded, sleep = sleeps
    client = fmp(vendor, sleep, max_retries=3, backoff_base_s=0.5, backoff_max_s=8.0)
    with pytest.raises(ProviderError, match=r"HTTP 500.*after 4 attempts"):
        client.daily_bars(symbol="DOWN", start=START, end=END)
    assert vendor.count("DOWN") == 4
    assert len(recorded) == 3
    for attempt, delay in enumerate(recorded):
        assert 0.5 * 0.5 * 2**attempt <= delay <= 0.5 * 2**attempt  # base·2^n × U(0.5, 1)


def test_fmp_timeouts_are_retried_and_reported(vendor, sleeps) -> None:
    recorded, sleep = sleeps
    client = fmp(vendor, sleep, max_retries=1, timeout_s=0.2)
    started = time.monotonic()
    with pytest.raises(ProviderError, match=r"timeout after 0\.2 s"):
        client.daily_bars(symbol="SLOW", start=START, end=END)
    assert vendor.count("SLOW") == 2 and len(recorded) == 1
    assert time.monotonic() - started < 1.5


def test_a_total_retry_budget_stops_retrying_a_down_provider(vendor, sleeps) -> None:
    recorded, sleep = sleeps
    client = fmp(vendor, sleep, max_retries=10, backoff_base_s=1.0, backoff_max_s=4.0, retry_budget_s=5.0)
    client.start_run(retry_budget_s=5.0)
    with pytest.raises(RetryBudgetExhausted):
        client.daily_bars(symbol="DOWN", start=START, end=END)
    assert sum(recorded) <= 5.0
    asked = vendor.count("DOWN")
    with pytest.raises(RetryBudgetExhausted, match="retry budget of 5 s exhausted"):
        client.daily_bars(symbol="AAPL", start=START, end=END)
    assert vendor.count() == asked  # the next symbol fails at once, without a request


def test_fmp_bad_api_key_is_a_clear_error(vendor, sleeps) -> None:
    client = FMPProvider(api_key="wrong", base_url=vendor.url, sleep=sleeps[1])
    with pytest.raises(ProviderError, match="HTTP 401: Invalid API KEY"):
        client.daily_bars(symbol="AAPL", start=START, end=END)


def test_fmp_quote_and_profile(vendor, sleeps) -> None:
    client = fmp(vendor, sleeps[1])
    quote = client.quote(symbol="AAPL")
    assert quote.price == 187.5 and quote.timestamp is not None and quote.source == "fmp"
    profile = client.profile(symbol="AAPL")
    assert profile is not None
    assert (profile.name, profile.sector, profile.asset_class, profile.exchange) == (
        "AAPL Inc.",
        "Technology",
        "stock",
        "NASDAQ",
    )
    assert client.profile(symbol="SPY").asset_class == "etf"
    assert client.profile(symbol="NOPE") is None


def test_the_fmp_provider_needs_a_key() -> None:
    with pytest.raises(ProviderError, match="FMP_API_KEY"):
        FMPProvider(api_key="")


# --- Polygon ---------------------------------------------------------------------------------


def test_polygon_follows_next_url_pages_and_sends_the_key_as_a_header(vendor, sleeps) -> None:
    vendor.page_size = 3
    bars = polygon(vendor, sleeps[1]).daily_bars(symbol="MSFT", start=START, end=END)
    expected = SIM.daily_bars(symbol="MSFT", start=START, end=END)
    assert [(b.date, b.close, b.volume) for b in bars] == [(b.date, b.close, b.volume) for b in expected]
    assert vendor.count("/v2/aggs/ticker/MSFT") == 4  # 10 bars, 3 a page
    assert all(r.headers.get("Authorization") == "Bearer test-polygon-key" for r in vendor.requests)
    assert all("apiKey" not in r.query for r in vendor.requests)
    assert vendor.requests[0].query == {"adjusted": "true", "sort": "asc", "limit": "50000"}


def test_polygon_unknown_ticker_is_unavailable(vendor, sleeps) -> None:
    with pytest.raises(SymbolUnavailable, match="no daily bars for NOPE"):
        polygon(vendor, sleeps[1]).daily_bars(symbol="NOPE", start=START, end=END)


def test_polygon_reports_mutual_funds_and_vix_as_unavailable_with_the_reason(vendor, sleeps) -> None:
    client = polygon(vendor, sleeps[1])
    with pytest.raises(SymbolUnavailable, match="does not carry mutual fund NAVs"):
        client.daily_bars(symbol="FXNAX", start=START, end=END, asset_class="mutual_fund")
    assert vendor.count() == 0
    with pytest.raises(SymbolUnavailable, match="VIX is not covered by the starter plan"):
        client.daily_bars(symbol="VIX", start=START, end=END, asset_class="index")
    assert vendor.requests[0].path.startswith("/v2/aggs/ticker/I:VIX/")


def test_polygon_429_and_500_are_retried(vendor, sleeps) -> None:
    recorded, sleep = sleeps
    client = polygon(vendor, sleep)
    assert len(client.daily_bars(symbol="RATE", start=START, end=START)) == 1
    assert recorded == [1.0]
    with pytest.raises(ProviderError, match="HTTP 500"):
        client.daily_bars(symbol="DOWN", start=START, end=END)
    assert vendor.count("/DOWN/") == 4


def test_polygon_option_snapshot_gives_bid_ask_and_implied_vol(vendor, sleeps) -> None:
    quote = polygon(vendor, sleeps[1]).option_quote(contract="SPY270917C00460000", as_of=END)
    assert (quote.bid, quote.ask, quote.last, quote.implied_vol, quote.open_interest) == (
        12.15,
        12.45,
        12.31,
        0.1834,
        4321,
    )
    assert quote.underlying == "SPY" and quote.underlying_price == 478.2 and quote.date == END
    assert vendor.requests[0].path == "/v3/snapshot/options/SPY/O:SPY270917C00460000"


def test_polygon_option_contracts_follow_pages(vendor, sleeps) -> None:
    contracts = polygon(vendor, sleeps[1]).option_contracts(underlying="SPY")
    assert contracts == ["SPY270917C00460000", "SPY270917P00400000", "SPY271217C00500000"]
    assert vendor.count("/v3/reference/options/contracts") == 2


def test_polygon_expired_contract_is_unavailable_without_a_request(vendor, sleeps) -> None:
    with pytest.raises(SymbolUnavailable, match="expired"):
        polygon(vendor, sleeps[1]).option_quote(contract="SPY250919C00460000", as_of=END)
    assert vendor.count() == 0


def test_the_rate_limit_is_a_token_bucket_burst_then_the_rate() -> None:
    limiter = rate_limiter(per_minute=300, burst=5)  # 5 at once, then one every 200 ms
    started, times = time.monotonic(), []
    for _ in range(7):
        limiter.try_acquire("vendor")
        times.append(time.monotonic() - started)
    assert times[4] < 0.1
    assert 0.15 < times[5] < 0.6 and 0.35 < times[6] < 1.0
    free = PolygonProvider(api_key="k", plan="free").http.rate_limit.bucket_factory.get_buckets()[0]
    assert [(r.limit, r.interval, r.burst) for r in free.rates] == [(5, 60_000, 5)]  # 5 a minute, 5 at once


def test_retry_after_accepts_seconds_and_http_dates_and_ignores_the_unreadable() -> None:
    retry = BudgetedRetry(total=3, respect_retry_after_header=True)

    def answer(value: str) -> object:
        return type("Answer", (), {"headers": {"Retry-After": value}})()

    in_ten_seconds = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert retry.get_retry_after(answer("3")) == 3.0
    assert retry.get_retry_after(answer(in_ten_seconds)) == pytest.approx(10.0, abs=1.5)
    assert retry.get_retry_after(answer("soon")) is None


def test_api_keys_are_redacted_from_messages() -> None:
    assert redact("GET /x?symbol=A&apikey=SECRET123&from=1") == "GET /x?symbol=A&apikey=***&from=1"
    assert "SECRET" not in redact("url: /v2?apiKey=SECRET")
