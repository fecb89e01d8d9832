"""The ``liquidity`` kind on a small hand-made book with hand-made volumes, through the real batch.

The book: 30,000 AAA shares and 100 AAA calls (their delta from py_vollib at the stored implied vol)
sharing AAA's volume; 5,000 BBB shares short; a ZZZ stock whose bars report no volume (flagged, not
hidden) and a mutual fund (redeemed at NAV in a day). Every expected figure is computed here by hand.
"""

from __future__ import annotations

import datetime as dt
import warnings
from decimal import Decimal

import pytest
from django.conf import settings

from analytics.models import PortfolioResult
from analytics.services.batch import batch_run
from marketdata.calendar import last_trading_days
from marketdata.models import OptionQuote, PriceBar
from portfolios.services import position_create

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from py_vollib.black_scholes_merton.greeks.analytical import delta as bsm_delta

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 11, 20)
EXPIRY = dt.date(2027, 1, 15)
SESSIONS = last_trading_days(count=25, as_of=DAY)
PRICES = {"AAA": 50.0, "BBB": 20.0, "ZZZ": 10.0, "FFF": 25.0}


def _volumes(symbol: str) -> list[int]:
    """25 sessions of volume, oldest first; only the last 20 count."""
    if symbol == "AAA":  # 80k and 120k alternating over the window: ADV 100,000; huge before it
        return [5_000_000] * 5 + [80_000 if i % 2 else 120_000 for i in range(20)]
    if symbol == "BBB":
        return [1_000] * 5 + [10_000] * 20
    return [0] * 25  # ZZZ (no volume reported) and the fund FFF


@pytest.fixture
def book(portfolio):
    for symbol, price in PRICES.items():
        PriceBar.objects.bulk_create(
            PriceBar(
                symbol=symbol,
                date=day,
                open=price,
                high=price,
                low=price,
                close=price,
                adj_close=price,
                volume=volume,
                source="csv",
            )
            for day, volume in zip(SESSIONS, _volumes(symbol), strict=True)
        )
    position_create(portfolio=portfolio, symbol="AAA", position_type="LONG", quantity=30_000, entry_price=40,
                    entry_date=dt.date(2026, 1, 5))  # fmt: skip
    call = position_create(portfolio=portfolio, symbol="", position_type="LC", quantity=100, entry_price=3,
                           entry_date=dt.date(2026, 10, 1), underlying_symbol="AAA", strike=Decimal(52),
                           expiration=EXPIRY, multiplier=100, asset_class="option")  # fmt: skip
    OptionQuote.objects.create(contract=call.symbol, underlying="AAA", date=DAY, bid=2.9, ask=3.1, implied_vol=0.30,
                               source="csv")  # fmt: skip
    position_create(portfolio=portfolio, symbol="BBB", position_type="SHORT", quantity=-5_000, entry_price=22,
                    entry_date=dt.date(2026, 1, 5))  # fmt: skip
    position_create(portfolio=portfolio, symbol="ZZZ", position_type="LONG", quantity=1_000, entry_price=10,
                    entry_date=dt.date(2026, 1, 5))  # fmt: skip
    position_create(portfolio=portfolio, symbol="FFF", position_type="LONG", quantity=2_000, entry_price=25,
                    entry_date=dt.date(2026, 1, 5), asset_class="mutual_fund")  # fmt: skip
    return portfolio


def test_days_to_liquidate_and_the_profile_match_the_hand_computation(book):
    batch_run(as_of=DAY, portfolio_ids=[book.pk], steps=["overview", "greeks", "liquidity"], trigger="test")
    payload = PortfolioResult.objects.get(portfolio=book, kind="liquidity", as_of=DAY).payload
    by_symbol = {p["symbol"]: p for p in payload["positions"]}
    years = (EXPIRY - DAY).days / 365.0
    call_shares = 100 * 100 * bsm_delta("c", 50.0, 52.0, years, settings.RISK_FREE_RATE, 0.30, 0.0)
    aaa_days = (30_000 + call_shares) / (0.20 * 100_000)
    [call] = [p for p in payload["positions"] if p["volume_symbol"] == "AAA" and p["symbol"] != "AAA"]
    assert call["shares"] == pytest.approx(call_shares, abs=0.01)
    assert by_symbol["AAA"]["adv_shares"] == 100_000 and by_symbol["AAA"]["volume_days"] == 20
    assert by_symbol["AAA"]["days_to_liquidate"] == pytest.approx(aaa_days, abs=1e-4)
    assert call["days_to_liquidate"] == pytest.approx(aaa_days, abs=1e-4)  # one volume for both
    assert by_symbol["BBB"]["days_to_liquidate"] == pytest.approx(5_000 / 2_000)
    assert by_symbol["ZZZ"]["flag"] == "no_volume" and by_symbol["ZZZ"]["days_to_liquidate"] is None
    assert by_symbol["FFF"]["flag"] == "nav_redemption" and by_symbol["FFF"]["days_to_liquidate"] == 1.0

    values = {"AAA": 30_000 * 50.0, "call": 100 * 100 * 3.0, "BBB": 5_000 * 20.0, "ZZZ": 10_000.0, "FFF": 50_000.0}
    gross = sum(values.values())
    assert payload["gross_value"] == pytest.approx(gross)

    def sold(h: int) -> float:
        aaa = min(1.0, h / aaa_days) * (values["AAA"] + values["call"])
        return aaa + min(1.0, h / 2.5) * values["BBB"] + values["FFF"]  # ZZZ never counts

    shares = {h["days"]: h["share"] for h in payload["horizons"]}
    assert shares == {1: pytest.approx(sold(1) / gross, abs=1e-6), 5: pytest.approx(sold(5) / gross, abs=1e-6),
                      20: pytest.approx(sold(20) / gross, abs=1e-6)}  # fmt: skip
    assert payload["no_volume_count"] == 1
    assert payload["no_volume_share"] == pytest.approx(10_000 / gross, abs=1e-6)
    assert payload["max_days_to_liquidate"] == pytest.approx(max(aaa_days, 2.5), abs=1e-4)


def test_the_participation_rate_is_a_setting(book, settings):
    settings.LIQUIDITY_PARTICIPATION = 0.10
    batch_run(as_of=DAY, portfolio_ids=[book.pk], steps=["overview", "greeks", "liquidity"], trigger="test")
    result = PortfolioResult.objects.get(portfolio=book, kind="liquidity", as_of=DAY)
    by_symbol = {p["symbol"]: p for p in result.payload["positions"]}
    assert by_symbol["BBB"]["days_to_liquidate"] == pytest.approx(5_000 / 1_000)
    assert result.payload["participation_rate"] == 0.10 and result.inputs["participation_rate"] == 0.10


def test_the_api_the_agent_and_the_dashboard_answer_the_stored_figures_to_their_owner_only(book, other_user):
    from django.test import Client
    from django.urls import reverse

    from agent.tools import ToolContext, tool_execute
    from core.testing import bearer_client

    batch_run(as_of=DAY, portfolio_ids=[book.pk], steps=["overview", "greeks", "liquidity"], trigger="test")
    stored = PortfolioResult.objects.get(portfolio=book, kind="liquidity", as_of=DAY).payload
    url = f"/api/v1/analytics/portfolios/{book.pk}/liquidity"
    body = bearer_client("owner@example.com", "owner-pass-1").get(url).json()
    assert body["data"] == stored and body["provenance"]["as_of"] == DAY.isoformat()
    assert bearer_client("other@example.com", "other-pass-1").get(url).status_code == 404

    web = Client()
    web.force_login(book.user)
    html = web.get(reverse("web:dashboard", args=[book.pk])).content.decode()
    one_day = next(h["share"] for h in stored["horizons"] if h["days"] == 1)
    assert f'data-figure="liquidatable_1d">{one_day * 100:.1f}%<' in html
    assert "1 position without volume" in html and "ZZZ" in html

    tool = tool_execute(name="get_liquidity", arguments={"limit": 2}, context=ToolContext(book.user, book.pk))
    assert tool["data"]["horizons"] == stored["horizons"]
    assert [p["symbol"] for p in tool["data"]["positions"]] == ["ZZZ", "BBB"]  # no volume first, then slowest
    other = tool_execute(name="get_liquidity", arguments={}, context=ToolContext(other_user, book.pk))
    assert other["error"]["code"] == "not_found"
