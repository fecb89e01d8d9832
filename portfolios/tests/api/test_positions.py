"""``/api/v1/data/portfolios/{id}/positions`` and ``/api/v1/data/positions/{id}``."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from analytics.api import positions as pricing
from analytics.api.positions import OPTION_PRICE_NOTE
from core.testing import assert_error
from marketdata.models import PriceBar
from portfolios import services
from portfolios.api.serializers import PositionOutputSerializer
from portfolios.models import Portfolio, Position, User


def list_url(portfolio_id: object) -> str:
    return f"/api/v1/data/portfolios/{portfolio_id}/positions"


def detail_url(position_id: object) -> str:
    return f"/api/v1/data/positions/{position_id}"


def stock(portfolio: Portfolio, symbol: str, quantity: str = "10", **extra) -> Position:
    return services.position_create(
        portfolio=portfolio,
        symbol=symbol,
        position_type="LONG" if Decimal(quantity) > 0 else "SHORT",
        quantity=Decimal(quantity),
        entry_price=Decimal("100"),
        entry_date=extra.pop("entry_date", dt.date(2026, 1, 5)),
        **extra,
    )


def option(portfolio: Portfolio, underlying: str = "AAPL", position_type: str = "LC", quantity: str = "2") -> Position:
    return services.position_create(
        portfolio=portfolio,
        position_type=position_type,
        quantity=Decimal(quantity),
        entry_price=Decimal("5.5"),
        entry_date=dt.date(2026, 1, 5),
        underlying_symbol=underlying,
        strike=Decimal("200"),
        expiration=dt.date(2027, 1, 15),
    )


TODAY = timezone.localdate()
LAST_CLOSE = TODAY - dt.timedelta(days=3)


def bar(symbol: str, day: dt.date, close: float) -> PriceBar:
    return PriceBar(
        symbol=symbol, date=day, open=close, high=close, low=close, close=close, adj_close=close, source="simulated"
    )


@pytest.fixture
def closes(db, monkeypatch) -> list[dict]:
    """Cached bars for AAPL (150 last) and MSFT (80); returns the record of ``latest_closes`` calls."""
    PriceBar.objects.bulk_create(
        [
            bar("AAPL", LAST_CLOSE - dt.timedelta(days=1), 140.0),
            bar("AAPL", LAST_CLOSE, 150.0),
            bar("AAPL", TODAY + dt.timedelta(days=5), 999.0),  # a bar after today must not be used
            bar("MSFT", LAST_CLOSE, 80.0),
        ]
    )
    calls: list[dict] = []
    real = pricing.latest_closes

    def spy(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(pricing, "latest_closes", spy)
    return calls


# --- list -----------------------------------------------------------------------------------


def test_the_owner_lists_positions_with_every_documented_field(owner_client: APIClient, portfolio, closes) -> None:
    position = stock(portfolio, "AAPL", tags=["Core", "Tech"])

    body = owner_client.get(list_url(portfolio.pk)).json()

    assert body["count"] == 1
    item = body["results"][0]
    assert {
        "id",
        "portfolio_id",
        "symbol",
        "position_type",
        "asset_class",
        "quantity",
        "entry_price",
        "entry_date",
        "exit_price",
        "exit_date",
        "underlying_symbol",
        "strike",
        "expiration",
        "multiplier",
        "tags",
        "price",
        "price_date",
        "market_value",
        "unrealised_pnl",
        "data_source",
    } <= set(item)
    assert item["id"] == str(position.pk)
    assert item["portfolio_id"] == str(portfolio.pk)
    assert item["tags"] == ["Core", "Tech"]
    assert item["quantity"] == 10.0


def test_stock_positions_are_valued_at_the_latest_close(owner_client: APIClient, portfolio, closes) -> None:
    stock(portfolio, "AAPL", "10")
    stock(portfolio, "MSFT", "-20")

    items = {i["symbol"]: i for i in owner_client.get(list_url(portfolio.pk)).json()["results"]}

    # long 10 AAPL bought at 100, now 150: value 1 500, P&L +500
    assert items["AAPL"]["price"] == 150.0
    assert items["AAPL"]["price_date"] == LAST_CLOSE.isoformat()
    assert items["AAPL"]["market_value"] == 1500.0
    assert items["AAPL"]["unrealised_pnl"] == 500.0
    assert items["AAPL"]["data_source"] == "simulated"
    # short 20 MSFT sold at 100, now 80: value −1 600, P&L +400 (a short gains when the price falls)
    assert items["MSFT"]["market_value"] == -1600.0
    assert items["MSFT"]["unrealised_pnl"] == 400.0


def test_one_price_lookup_serves_the_whole_page(owner_client: APIClient, portfolio, closes) -> None:
    stock(portfolio, "AAPL")
    stock(portfolio, "MSFT")
    stock(portfolio, "IBM")

    owner_client.get(list_url(portfolio.pk))

    assert len(closes) == 1
    assert closes[0]["symbols"] == ["AAPL", "IBM", "MSFT"]
    assert closes[0]["as_of"] == TODAY


def test_a_symbol_without_a_cached_price_has_null_market_fields_and_says_how_to_fix_it(
    owner_client: APIClient, portfolio, closes
) -> None:
    stock(portfolio, "IBM")

    item = owner_client.get(list_url(portfolio.pk)).json()["results"][0]

    assert item["price"] is None and item["market_value"] is None and item["unrealised_pnl"] is None
    assert "sync_market_data --symbols IBM" in item["price_note"]


def test_options_leave_their_price_to_the_analytics_batch(owner_client: APIClient, portfolio, closes) -> None:
    option(portfolio)

    item = owner_client.get(list_url(portfolio.pk)).json()["results"][0]

    assert item["position_type"] == "LC"
    assert item["underlying_symbol"] == "AAPL"
    assert item["multiplier"] == 100.0
    assert item["price"] is None and item["market_value"] is None
    assert item["price_note"] == OPTION_PRICE_NOTE


def test_closed_positions_have_no_market_value(owner_client: APIClient, portfolio, closes) -> None:
    stock(portfolio, "AAPL", exit_price=Decimal("120"), exit_date=dt.date(2026, 3, 1))

    item = owner_client.get(list_url(portfolio.pk)).json()["results"][0]

    assert item["market_value"] is None
    assert item["exit_date"] == "2026-03-01"
    assert "closed" in item["price_note"]


def test_the_fields_another_app_provides_are_merged_into_each_item(portfolio, closes) -> None:
    position = option(portfolio)
    market = pricing.position_market_fields(positions=[position], as_of=dt.date.today())
    fields = {position.pk: {**market[position.pk], "price": 7.25, "market_value": 1450.0, "delta": 0.61}}

    data = PositionOutputSerializer(position, context={"fields": fields}).data

    assert data["price"] == 7.25
    assert data["market_value"] == 1450.0
    assert data["delta"] == 0.61
    assert data["symbol"] == position.symbol


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"position_type": "SHORT"}, ["MSFT"]),
        ({"symbol": "aapl"}, ["AAPL", "AAPL270115C00200000"]),
        ({"tag": "core"}, ["AAPL"]),
        ({"status": "closed"}, ["IBM"]),
        ({"status": "open", "position_type": "LONG"}, ["AAPL"]),
        ({"ordering": "-symbol"}, ["MSFT", "IBM", "AAPL270115C00200000", "AAPL"]),
        ({"ordering": "quantity"}, ["MSFT", "AAPL270115C00200000", "IBM", "AAPL"]),
        ({"ordering": "-entry_date,symbol"}, ["IBM", "AAPL", "AAPL270115C00200000", "MSFT"]),
        ({"ordering": "position_type,symbol"}, ["AAPL270115C00200000", "AAPL", "IBM", "MSFT"]),
    ],
    ids=[
        "type",
        "symbol or underlying",
        "tag name",
        "closed",
        "open longs",
        "-symbol",
        "quantity",
        "date",
        "type order",
    ],
)
def test_positions_can_be_filtered_and_ordered(owner_client: APIClient, portfolio, closes, params, expected) -> None:
    stock(portfolio, "AAPL", "30", tags=["Core"])
    stock(portfolio, "MSFT", "-5", entry_date=dt.date(2025, 6, 1))
    stock(portfolio, "IBM", "7", entry_date=dt.date(2026, 2, 1), exit_price=Decimal("1"), exit_date=dt.date(2026, 3, 1))
    option(portfolio)

    response = owner_client.get(list_url(portfolio.pk), params)

    assert response.status_code == 200, response.content
    assert [i["symbol"] for i in response.json()["results"]] == expected


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"ordering": "password"}, "ordering"),
        ({"position_type": "BOND"}, "position_type"),
        ({"status": "sometimes"}, "status"),
    ],
)
def test_bad_list_parameters_are_a_400_naming_the_parameter(owner_client, portfolio, params, field) -> None:
    assert field in assert_error(owner_client.get(list_url(portfolio.pk), params), 400, "invalid")["details"]


def test_the_positions_list_costs_the_same_queries_for_one_or_many_positions(
    owner_client: APIClient, portfolio, closes, django_assert_num_queries
) -> None:
    stock(portfolio, "AAPL", tags=["Core"])
    # JWT user, portfolio, count, page, tags prefetch, latest closes, analytics position metrics.
    with django_assert_num_queries(7):
        assert owner_client.get(list_url(portfolio.pk)).json()["count"] == 1
    for n in range(25):
        stock(portfolio, f"S{n:02d}", tags=["Core", f"T{n}"])
        option(portfolio, underlying=f"S{n:02d}")
    with django_assert_num_queries(7):
        assert owner_client.get(list_url(portfolio.pk)).json()["count"] == 51


@pytest.mark.parametrize("who", ["other", "staff"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_users_positions_are_a_404_even_for_staff(request, portfolio, who, method) -> None:
    stock(portfolio, "AAPL")
    client = request.getfixturevalue(f"{who}_client")
    payload = {"symbol": "X", "position_type": "LONG", "quantity": 1, "entry_price": 1, "entry_date": "2026-01-02"}

    response = getattr(client, method)(list_url(portfolio.pk), payload, format="json")

    assert_error(response, 404, "not_found")
    assert portfolio.positions.count() == 1


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_callers_get_a_401_on_positions(anon_client: APIClient, portfolio, method) -> None:
    assert_error(getattr(anon_client, method)(list_url(portfolio.pk), {}, format="json"), 401)


def test_positions_of_a_portfolio_that_does_not_exist_are_a_404(owner_client: APIClient, db) -> None:
    assert_error(owner_client.get(list_url(uuid.uuid4())), 404)


# --- create ---------------------------------------------------------------------------------


def test_the_owner_adds_a_stock_position_with_tags(owner_client: APIClient, portfolio, owner: User, closes) -> None:
    response = owner_client.post(
        list_url(portfolio.pk),
        {
            "symbol": "aapl",
            "position_type": "LONG",
            "quantity": "10",
            "entry_price": "101.5",
            "entry_date": "2026-01-05",
            "tags": ["Core", "Tech"],
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["symbol"] == "AAPL"
    assert body["tags"] == ["Core", "Tech"]
    assert body["market_value"] == 1500.0
    position = Position.objects.get(pk=body["id"])
    assert position.portfolio == portfolio
    assert sorted(t.user_id for t in position.tags.all()) == [owner.pk, owner.pk]


def test_the_owner_adds_an_option_and_the_occ_symbol_is_built(owner_client: APIClient, portfolio, closes) -> None:
    response = owner_client.post(
        list_url(portfolio.pk),
        {
            "position_type": "SP",
            "quantity": -3,
            "entry_price": 4.2,
            "entry_date": "2026-01-05",
            "underlying_symbol": "SPY",
            "strike": 460,
            "expiration": "2027-09-17",
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["symbol"] == "SPY270917P00460000"
    assert body["multiplier"] == 100.0
    assert body["asset_class"] == "option"


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({"position_type": "SHORT", "quantity": 5}, "quantity", "negative quantity"),
        ({"position_type": "LONG", "quantity": 0}, "quantity", "must not be 0"),
        ({"position_type": "LC", "quantity": 1, "symbol": ""}, "strike", "strike"),
        ({"position_type": "LONG", "quantity": 1, "strike": 10}, "strike", "stock_fields"),
        ({"position_type": "LONG", "quantity": 1, "exit_date": "2020-01-01"}, "exit_date", "before"),
        ({"position_type": "LONG", "quantity": "1e13"}, "quantity", "less than or equal"),
        (
            {
                "position_type": "LC",
                "quantity": 1,
                "underlying_symbol": "A",
                "strike": "1e9",
                "expiration": "2027-01-15",
            },
            "strike",
            "less than or equal",
        ),
        ({"position_type": "LONG", "quantity": 1, "entry_date": "yesterday"}, "entry_date", "format"),
        ({"position_type": "LONG", "quantity": 1, "symbol": "A\x00B"}, "symbol", "Null"),
        ({"position_type": "LONG", "quantity": 1, "portfolio": "x"}, "portfolio", "Unknown"),
    ],
    ids=[
        "short sign",
        "zero",
        "option fields",
        "stock with strike",
        "exit before entry",
        "huge quantity",
        "huge strike",
        "bad date",
        "nul byte",
        "unknown field",
    ],
)
def test_a_position_that_breaks_a_rule_is_a_400_naming_the_field_and_the_rule(
    owner_client: APIClient, portfolio, payload, field, words
) -> None:
    base = {"symbol": "AAPL", "entry_price": 10, "entry_date": "2026-01-05"}

    response = owner_client.post(list_url(portfolio.pk), {**base, **payload}, format="json")

    error = assert_error(response, 400, "invalid")
    assert field in error["details"], error
    assert any(words.lower() in m.lower() for m in error["details"][field]), error
    assert not portfolio.positions.exists()


# --- update and delete ----------------------------------------------------------------------


def test_the_owner_changes_quantity_and_tags_of_a_position(owner_client: APIClient, portfolio, closes) -> None:
    position = stock(portfolio, "AAPL", tags=["Old"])

    response = owner_client.patch(detail_url(position.pk), {"quantity": "12.5", "tags": ["New"]}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["quantity"] == 12.5
    assert response.json()["tags"] == ["New"]
    position.refresh_from_db()
    assert position.quantity == Decimal("12.5")


def test_an_update_is_checked_by_the_same_rules_as_a_new_position(owner_client: APIClient, portfolio) -> None:
    position = stock(portfolio, "AAPL")

    response = owner_client.patch(detail_url(position.pk), {"quantity": -1}, format="json")

    assert "quantity_sign" in assert_error(response, 400)["details"]["quantity"][0]
    position.refresh_from_db()
    assert position.quantity == Decimal("10")


def test_the_owner_closes_a_position_by_setting_an_exit(owner_client: APIClient, portfolio, closes) -> None:
    position = stock(portfolio, "AAPL")

    response = owner_client.patch(
        detail_url(position.pk), {"exit_price": 130, "exit_date": "2026-06-01"}, format="json"
    )

    assert response.json()["exit_date"] == "2026-06-01"
    assert response.json()["market_value"] is None


def test_the_owner_deletes_a_position(owner_client: APIClient, portfolio) -> None:
    position = stock(portfolio, "AAPL")

    assert owner_client.delete(detail_url(position.pk)).status_code == 204
    assert not Position.objects.filter(pk=position.pk).exists()


@pytest.mark.parametrize("who", ["other", "staff"])
@pytest.mark.parametrize("method", ["patch", "delete", "get"])
def test_another_users_position_is_a_404_and_stays_unchanged(request, portfolio, who, method) -> None:
    position = stock(portfolio, "AAPL")
    client = request.getfixturevalue(f"{who}_client")

    response = getattr(client, method)(detail_url(position.pk), {"quantity": 99}, format="json")

    if method == "get":  # the route has no GET at all; still no hint about the position
        assert_error(response, 405)
    else:
        assert_error(response, 404, "not_found")
    position.refresh_from_db()
    assert position.quantity == Decimal("10")


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_anonymous_callers_get_a_401_on_a_position(anon_client: APIClient, portfolio, method) -> None:
    position = stock(portfolio, "AAPL")

    assert_error(getattr(anon_client, method)(detail_url(position.pk), {}, format="json"), 401)
