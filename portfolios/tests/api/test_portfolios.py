"""``/api/v1/data/portfolios[/{id}]`` as owner, another user, staff and anonymous."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from core.testing import assert_error
from portfolios.models import Portfolio, Position, User

LIST_URL = "/api/v1/data/portfolios"


def detail_url(portfolio_id: object) -> str:
    return f"/api/v1/data/portfolios/{portfolio_id}"


def _add_stock(portfolio: Portfolio, symbol: str = "AAPL", *, closed: bool = False) -> Position:
    return Position.objects.create(
        portfolio=portfolio,
        symbol=symbol,
        position_type="LONG",
        quantity=Decimal("10"),
        entry_price=Decimal("100"),
        entry_date=dt.date(2026, 1, 5),
        exit_price=Decimal("110") if closed else None,
        exit_date=dt.date(2026, 2, 5) if closed else None,
    )


def test_the_owner_lists_their_portfolios_with_open_position_counts(
    owner_client: APIClient, portfolio: Portfolio
) -> None:
    _add_stock(portfolio, "AAPL")
    _add_stock(portfolio, "MSFT")
    _add_stock(portfolio, "IBM", closed=True)

    response = owner_client.get(LIST_URL)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 1
    item = body["results"][0]
    assert set(item) == {
        "id",
        "name",
        "description",
        "currency",
        "equity_balance",
        "benchmark_symbol",
        "position_count",
        "created_at",
        "updated_at",
    }
    assert item["id"] == str(portfolio.pk)
    assert item["position_count"] == 2
    assert item["equity_balance"] == 100000.0


def test_another_user_does_not_see_the_owners_portfolio_in_their_list(
    other_client: APIClient, portfolio: Portfolio
) -> None:
    body = other_client.get(LIST_URL).json()

    assert body["count"] == 0
    assert body["results"] == []


def test_staff_see_only_their_own_portfolios_under_data(staff_client: APIClient, staff_user: User, portfolio) -> None:
    own = Portfolio.objects.create(user=staff_user, name="Staff book")

    body = staff_client.get(LIST_URL).json()

    assert [p["id"] for p in body["results"]] == [str(own.pk)]


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_callers_get_a_401_on_the_portfolio_list(anon_client: APIClient, db, method: str) -> None:
    response = getattr(anon_client, method)(LIST_URL, {}, format="json")

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_the_portfolio_list_is_paginated_and_ordered_by_name(owner_client: APIClient, owner: User) -> None:
    for name in ["Charlie", "alpha", "Bravo"]:
        Portfolio.objects.create(user=owner, name=name)

    first = owner_client.get(LIST_URL, {"page_size": 2}).json()
    second = owner_client.get(first["next"]).json()

    assert first["count"] == 3
    assert first["previous"] is None
    names = [p["name"] for p in first["results"] + second["results"]]
    assert names == sorted(names)
    assert second["next"] is None


def test_a_page_past_the_end_is_a_404_in_the_error_format(owner_client: APIClient, portfolio: Portfolio) -> None:
    assert_error(owner_client.get(LIST_URL, {"page": 99}), 404, "not_found")


def test_the_portfolio_list_costs_the_same_queries_for_one_or_many_portfolios(
    owner_client: APIClient, owner: User, django_assert_num_queries
) -> None:
    Portfolio.objects.create(user=owner, name="Only")
    # 1 JWT user lookup, 1 count, 1 page (position counts are an annotation, not a query per row).
    with django_assert_num_queries(3):
        assert owner_client.get(LIST_URL).json()["count"] == 1
    for n in range(30):
        portfolio = Portfolio.objects.create(user=owner, name=f"Book {n:02d}")
        _add_stock(portfolio)
    with django_assert_num_queries(3):
        assert owner_client.get(LIST_URL).json()["count"] == 31


def test_the_owner_creates_a_portfolio(owner_client: APIClient, owner: User) -> None:
    response = owner_client.post(
        LIST_URL,
        {"name": "Growth", "description": "tilted", "equity_balance": "250000.50", "currency": "EUR"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Growth"
    assert body["currency"] == "EUR"
    assert body["equity_balance"] == 250000.5
    assert body["position_count"] == 0
    created = Portfolio.objects.get(pk=body["id"])
    assert created.user == owner
    assert created.equity_balance == Decimal("250000.50")


def test_creating_a_portfolio_with_a_name_the_user_already_has_is_a_400_on_the_name(
    owner_client: APIClient, portfolio: Portfolio
) -> None:
    response = owner_client.post(LIST_URL, {"name": portfolio.name}, format="json")

    error = assert_error(response, 400, "invalid")
    assert "name" in error["details"]


def test_two_users_may_use_the_same_portfolio_name(other_client: APIClient, portfolio: Portfolio) -> None:
    assert other_client.post(LIST_URL, {"name": portfolio.name}, format="json").status_code == 201


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "Neg", "equity_balance": -1}, "equity_balance"),
        ({"name": "Huge", "equity_balance": "1e30"}, "equity_balance"),
        ({"name": "Cur", "currency": "dollars"}, "currency"),
        ({"name": "Extra", "owner": "someone"}, "owner"),
    ],
    ids=["missing", "blank", "too long", "negative balance", "huge balance", "bad currency", "unknown field"],
)
def test_invalid_portfolio_input_is_a_400_naming_the_field(owner_client: APIClient, db, payload, field) -> None:
    response = owner_client.post(LIST_URL, payload, format="json")

    assert field in assert_error(response, 400, "invalid")["details"]


def test_a_json_array_body_is_a_400_not_a_500(owner_client: APIClient) -> None:
    assert_error(owner_client.post(LIST_URL, [1, 2], format="json"), 400)


def test_a_form_encoded_body_is_a_415(owner_client: APIClient) -> None:
    response = owner_client.post(LIST_URL, "name=x", content_type="application/x-www-form-urlencoded")

    assert_error(response, 415, "unsupported_media_type")


def test_the_owner_reads_one_portfolio(owner_client: APIClient, portfolio: Portfolio) -> None:
    _add_stock(portfolio)

    body = owner_client.get(detail_url(portfolio.pk)).json()

    assert body["id"] == str(portfolio.pk)
    assert body["position_count"] == 1


@pytest.mark.parametrize("who", ["other", "staff"])
@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_users_portfolio_is_a_404_for_every_method_even_for_staff(
    request, portfolio: Portfolio, who: str, method: str
) -> None:
    client = request.getfixturevalue(f"{who}_client")

    response = getattr(client, method)(detail_url(portfolio.pk), {"name": "Stolen"}, format="json")

    error = assert_error(response, 404, "not_found")
    assert "another" not in error["message"].lower()
    portfolio.refresh_from_db()
    assert portfolio.name == "Owner book"


def test_another_users_portfolio_and_a_missing_one_look_exactly_alike(
    other_client: APIClient, portfolio: Portfolio
) -> None:
    missing = uuid.uuid4()
    theirs = other_client.get(detail_url(portfolio.pk)).json()["error"]
    nobody = other_client.get(detail_url(missing)).json()["error"]

    assert theirs["code"] == nobody["code"]
    assert theirs["message"].replace(str(portfolio.pk), "ID") == nobody["message"].replace(str(missing), "ID")


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_anonymous_callers_get_a_401_on_a_portfolio(anon_client: APIClient, portfolio: Portfolio, method) -> None:
    assert_error(getattr(anon_client, method)(detail_url(portfolio.pk)), 401)


def test_a_malformed_portfolio_id_is_a_json_404(owner_client: APIClient) -> None:
    assert_error(owner_client.get(detail_url("not-a-uuid")), 404, "not_found")


def test_the_owner_renames_a_portfolio_and_changes_its_balance(owner_client: APIClient, portfolio: Portfolio) -> None:
    response = owner_client.patch(detail_url(portfolio.pk), {"name": "Renamed", "equity_balance": 5}, format="json")

    assert response.status_code == 200
    assert response.json()["name"] == "Renamed"
    portfolio.refresh_from_db()
    assert (portfolio.name, portfolio.equity_balance) == ("Renamed", Decimal("5"))


def test_the_owner_may_clear_the_equity_balance(owner_client: APIClient, portfolio: Portfolio) -> None:
    response = owner_client.patch(detail_url(portfolio.pk), {"equity_balance": None}, format="json")

    assert response.json()["equity_balance"] is None


def test_renaming_onto_another_of_ones_own_portfolios_is_a_400(
    owner_client: APIClient, owner: User, portfolio: Portfolio
) -> None:
    Portfolio.objects.create(user=owner, name="Taken")

    response = owner_client.patch(detail_url(portfolio.pk), {"name": "Taken"}, format="json")

    assert "name" in assert_error(response, 400)["details"]


def test_the_currency_cannot_be_changed_after_creation(owner_client: APIClient, portfolio: Portfolio) -> None:
    response = owner_client.patch(detail_url(portfolio.pk), {"currency": "EUR"}, format="json")

    assert "currency" in assert_error(response, 400)["details"]


def test_the_owner_deletes_a_portfolio_with_its_positions(owner_client: APIClient, portfolio: Portfolio) -> None:
    position = _add_stock(portfolio)

    response = owner_client.delete(detail_url(portfolio.pk))

    assert response.status_code == 204
    assert not Portfolio.objects.filter(pk=portfolio.pk).exists()
    assert not Position.objects.filter(pk=position.pk).exists()
    assert_error(owner_client.get(detail_url(portfolio.pk)), 404)


def test_put_is_not_allowed_on_a_portfolio(owner_client: APIClient, portfolio: Portfolio) -> None:
    assert_error(owner_client.put(detail_url(portfolio.pk), {}, format="json"), 405, "method_not_allowed")


def test_the_browsable_api_still_renders_html_for_a_browser(owner_client: APIClient, portfolio: Portfolio) -> None:
    response = owner_client.get(LIST_URL, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert portfolio.name in response.content.decode()


def test_a_portfolio_is_benchmarked_against_spy_unless_told_otherwise(owner_client: APIClient) -> None:
    response = owner_client.post(LIST_URL, {"name": "Core"}, format="json")

    assert response.status_code == 201
    assert response.json()["benchmark_symbol"] == "SPY"


def test_the_benchmark_is_any_symbol_with_stored_prices(owner_client: APIClient, portfolio: Portfolio) -> None:
    from marketdata.models import PriceBar

    PriceBar.objects.create(
        symbol="QQQ", date=dt.date(2026, 11, 20), open=1, high=1, low=1, close=1, adj_close=1, source="simulated"
    )

    response = owner_client.patch(detail_url(portfolio.pk), {"benchmark_symbol": "qqq"}, format="json")

    assert response.status_code == 200
    assert response.json()["benchmark_symbol"] == "QQQ"
    portfolio.refresh_from_db()
    assert portfolio.benchmark_symbol == "QQQ"


@pytest.mark.parametrize("symbol", ["NOPRICES", "", "A B"])
def test_a_benchmark_without_prices_is_a_400_naming_the_field(owner_client: APIClient, symbol: str) -> None:
    response = owner_client.post(LIST_URL, {"name": "Bad", "benchmark_symbol": symbol}, format="json")

    assert "benchmark_symbol" in assert_error(response, 400)["details"]
    assert not Portfolio.objects.filter(name="Bad").exists()
