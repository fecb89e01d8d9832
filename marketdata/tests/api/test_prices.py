"""``GET /api/v1/data/prices/{symbol}``: cached daily bars, paginated, with their source."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from core.testing import assert_error
from marketdata.models import PriceBar

START = dt.date(2026, 3, 2)


def url(symbol: str) -> str:
    return f"/api/v1/data/prices/{symbol}"


@pytest.fixture
def bars(db) -> list[PriceBar]:
    """Five AAPL sessions (Mon–Fri) and one SPY bar from another source."""
    rows = [
        PriceBar(
            symbol="AAPL",
            date=START + dt.timedelta(days=n),
            open=100 + n,
            high=101 + n,
            low=99 + n,
            close=100.5 + n,
            adj_close=100.25 + n,
            volume=1_000_000 + n,
            source="simulated",
        )
        for n in range(5)
    ]
    rows.append(
        PriceBar(symbol="SPY", date=START, open=5, high=6, low=4, close=5.5, adj_close=5.5, volume=9, source="csv")
    )
    return PriceBar.objects.bulk_create(rows)


def test_an_authenticated_user_reads_a_symbols_bars_in_date_order_with_their_source(
    owner_client: APIClient, bars
) -> None:
    response = owner_client.get(url("AAPL"))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 5
    first = body["results"][0]
    assert first == {
        "symbol": "AAPL",
        "date": "2026-03-02",
        "open": 100.0,
        "high": 101.0,
        "low": 99.0,
        "close": 100.5,
        "adjusted_close": 100.25,
        "volume": 1_000_000,
        "source": "simulated",
    }
    assert [b["date"] for b in body["results"]] == sorted(b["date"] for b in body["results"])


def test_the_symbol_is_case_insensitive(owner_client: APIClient, bars) -> None:
    assert owner_client.get(url("aapl")).json()["count"] == 5


def test_start_and_end_are_inclusive(owner_client: APIClient, bars) -> None:
    body = owner_client.get(url("AAPL"), {"start": "2026-03-03", "end": "2026-03-05"}).json()

    assert [b["date"] for b in body["results"]] == ["2026-03-03", "2026-03-04", "2026-03-05"]


def test_bars_are_paginated(owner_client: APIClient, bars) -> None:
    body = owner_client.get(url("AAPL"), {"page_size": 2}).json()

    assert body["count"] == 5
    assert len(body["results"]) == 2
    assert "page=2" in body["next"]


def test_a_known_symbol_with_no_bars_in_the_range_is_an_empty_list(owner_client: APIClient, bars) -> None:
    body = owner_client.get(url("AAPL"), {"start": "2030-01-01"}).json()

    assert body["count"] == 0
    assert body["results"] == []


def test_an_unknown_symbol_is_a_404_that_says_how_to_load_it(owner_client: APIClient, bars) -> None:
    error = assert_error(owner_client.get(url("ZZZZ")), 404, "not_found")

    assert "python manage.py sync_market_data --symbols ZZZZ" in error["message"]
    assert error["details"]["hint"] == "python manage.py sync_market_data --symbols ZZZZ"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-13-01"}, "start"),
        ({"end": "yesterday"}, "end"),
        ({"start": "2026-03-05", "end": "2026-03-01"}, "start"),
    ],
    ids=["impossible month", "not a date", "start after end"],
)
def test_bad_dates_are_a_400_naming_the_parameter(owner_client: APIClient, bars, params, field) -> None:
    assert field in assert_error(owner_client.get(url("AAPL"), params), 400, "invalid")["details"]


@pytest.mark.parametrize("symbol", ["A%00B", "x" * 41, "AAPL;DROP", "%F0%9F%92%A5"])
def test_a_malformed_symbol_is_a_400_or_404_never_a_500(owner_client: APIClient, bars, symbol: str) -> None:
    response = owner_client.get(url(symbol))

    assert response.status_code in (400, 404)
    assert_error(response, response.status_code)


def test_staff_read_prices_like_anyone_else(staff_client: APIClient, bars) -> None:
    assert staff_client.get(url("SPY")).json()["results"][0]["source"] == "csv"


def test_anonymous_callers_get_a_401(bars) -> None:
    response = APIClient().get(url("AAPL"))

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_prices_are_read_only(owner_client: APIClient, bars) -> None:
    assert_error(owner_client.post(url("AAPL"), {}, format="json"), 405, "method_not_allowed")


def test_the_prices_list_costs_the_same_queries_for_few_or_many_bars(
    owner_client: APIClient, bars, django_assert_num_queries
) -> None:
    # JWT user, count, page.
    with django_assert_num_queries(3):
        owner_client.get(url("AAPL"), {"page_size": 2})
    with django_assert_num_queries(3):
        owner_client.get(url("AAPL"), {"page_size": 500})
