"""The positions pages write through the API's validation: add, edit, close, delete, CSV import, and the
table's filters and sort (full page and htmx partial)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from agent.tests.factories import positions_make
from portfolios.models import Portfolio, Position

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(owner) -> Client:
    client = Client()
    assert (
        client.post(reverse("web:login"), {"username": "owner@example.com", "password": "owner-pass-1"}).status_code
        == 302
    )
    return client


@pytest.fixture
def held(portfolio: Portfolio) -> list[Position]:
    """Long AAPL (tagged Core), short XOM, a long NVDA call."""
    return positions_make(portfolio)


def _symbols(html: str) -> list[str]:
    import re

    return re.findall(r'<tr id="pos-[^"]+" data-symbol="([^"]+)"', html)


def test_adding_a_valid_position_stores_it_and_shows_it_highlighted(web: Client, portfolio: Portfolio) -> None:
    data = {
        "position_type": "LONG",
        "symbol": "msft",
        "quantity": "25",
        "entry_price": "410.5",
        "entry_date": "2026-06-01",
        "tags": "Core, Tech",
    }
    response = web.post(reverse("web:position_new", args=[portfolio.pk]), data)
    assert response.status_code == 302
    position = Position.objects.get(portfolio=portfolio, symbol="MSFT")
    assert position.quantity == Decimal(25) and position.entry_price == Decimal("410.5")
    assert sorted(t.name for t in position.tags.all()) == ["Core", "Tech"]
    page = web.get(response["Location"])
    assert "Added MSFT" in page.content.decode()
    assert f'id="pos-{position.pk}" data-symbol="MSFT" data-type="LONG" class="highlight"' in page.content.decode()


def test_the_form_shows_the_same_rule_messages_as_the_api_and_writes_nothing(web, portfolio, owner_client) -> None:
    bad = {
        "position_type": "SHORT",
        "symbol": "XOM",
        "quantity": "50",
        "entry_price": "110",
        "entry_date": "2026-02-05",
    }
    response = web.post(reverse("web:position_new", args=[portfolio.pk]), bad)
    api = owner_client.post(f"/api/v1/data/portfolios/{portfolio.pk}/positions", bad, format="json")
    assert response.status_code == 200 and api.status_code == 400  # the form is shown again
    message = api.json()["error"]["details"]["quantity"][0]
    assert "Rule quantity_sign" in message
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not Position.objects.filter(portfolio=portfolio).exists()


def test_an_out_of_range_number_is_refused_by_the_apis_serializer(web: Client, portfolio: Portfolio) -> None:
    data = {"position_type": "LONG", "symbol": "X", "quantity": "1e30", "entry_price": "1", "entry_date": "2026-01-02"}
    response = web.post(reverse("web:position_new", args=[portfolio.pk]), data)
    assert (
        response.status_code == 200
        and "quantity" in response.content.decode()
        and "field-error" in response.content.decode()
    )
    assert not Position.objects.filter(portfolio=portfolio).exists()


def test_an_option_gets_its_occ_symbol_and_multiplier(web: Client, portfolio: Portfolio) -> None:
    data = {
        "position_type": "SP",
        "quantity": "-2",
        "entry_price": "4.10",
        "entry_date": "2026-02-03",
        "underlying_symbol": "MSFT",
        "strike": "380",
        "expiration": "2027-03-19",
    }
    assert web.post(reverse("web:position_new", args=[portfolio.pk]), data).status_code == 302
    position = Position.objects.get(portfolio=portfolio)
    assert position.symbol == "MSFT270319P00380000" and position.multiplier == Decimal(100)


def test_editing_a_position_revalidates_it_and_keeps_what_was_not_changed(web, held) -> None:
    aapl = held[0]
    url = reverse("web:position_edit", args=[aapl.pk])
    form = web.get(url).content.decode()
    assert 'value="AAPL"' in form and 'value="100"' in form and 'value="Core"' in form
    data = {"position_type": "LONG", "symbol": "AAPL", "quantity": "150", "entry_price": "150",
            "entry_date": "2026-01-05", "tags": "Core, Growth"}  # fmt: skip
    assert web.post(url, data).status_code == 302
    aapl.refresh_from_db()
    assert aapl.quantity == Decimal(150) and sorted(t.name for t in aapl.tags.all()) == ["Core", "Growth"]
    rejected = web.post(url, {**data, "strike": "100"})  # a stock with a strike: rule stock_fields
    assert rejected.status_code == 200 and "Rule stock_fields" in rejected.content.decode()
    aapl.refresh_from_db()
    assert aapl.strike is None


def test_closing_a_position_sets_its_exit_and_it_leaves_the_open_list(web, held) -> None:
    xom = held[1]
    url = reverse("web:position_close", args=[xom.pk])
    assert web.get(url).status_code == 200
    early = web.post(url, {"exit_price": "100", "exit_date": "2026-01-01"})  # before the entry date
    assert early.status_code == 200 and "exit_date must not be before entry_date" in early.content.decode()
    assert web.post(url, {"exit_price": "100", "exit_date": "2026-11-20"}).status_code == 302
    xom.refresh_from_db()
    assert xom.exit_date == dt.date(2026, 11, 20) and xom.exit_price == Decimal(100)
    open_rows = _symbols(web.get(reverse("web:positions", args=[xom.portfolio_id])).content.decode())
    closed_rows = _symbols(
        web.get(reverse("web:positions", args=[xom.portfolio_id]) + "?status=closed").content.decode()
    )
    assert "XOM" not in open_rows and closed_rows == ["XOM"]


def test_deleting_asks_first_then_deletes(web, held) -> None:
    aapl = held[0]
    url = reverse("web:position_delete", args=[aapl.pk])
    assert web.get(url).status_code == 200 and Position.objects.filter(pk=aapl.pk).exists()
    assert web.post(url).status_code == 302
    assert not Position.objects.filter(pk=aapl.pk).exists()


def test_a_csv_with_a_bad_row_lists_it_by_line_and_imports_nothing(web: Client, portfolio: Portfolio) -> None:
    content = (
        "symbol,position_type,quantity,entry_price,entry_date\n"
        "AAPL,LONG,10,180,2026-01-05\n"
        "XOM,SHORT,50,110,2026-02-05\n"
        "MSFT,LONG,abc,410,2026-01-05\n"
    )
    upload = SimpleUploadedFile("positions.csv", content.encode(), content_type="text/csv")
    response = web.post(reverse("web:positions_import", args=[portfolio.pk]), {"file": upload})
    body = response.content.decode()
    assert response.status_code == 200
    assert "2 row(s) rejected" in body
    assert '<td class="num">3</td><td><code>quantity</code></td>' in body
    assert '<td class="num">4</td><td><code>quantity</code></td>' in body
    assert not Position.objects.filter(portfolio=portfolio).exists()


def test_a_good_csv_is_imported_with_its_tags(web: Client, portfolio: Portfolio) -> None:
    content = "symbol,position_type,quantity,entry_price,entry_date,tags\nAAPL,LONG,10,180,2026-01-05,Core;Tech\n"
    upload = SimpleUploadedFile("positions.csv", content.encode(), content_type="text/csv")
    response = web.post(reverse("web:positions_import", args=[portfolio.pk]), {"file": upload})
    assert response.status_code == 302
    position = Position.objects.get(portfolio=portfolio)
    assert position.symbol == "AAPL" and sorted(t.name for t in position.tags.all()) == ["Core", "Tech"]


def test_the_table_filters_by_type_tag_and_underlying(web, held, portfolio) -> None:
    url = reverse("web:positions", args=[portfolio.pk])
    assert _symbols(web.get(url).content.decode()) == ["AAPL", "NVDA270115C00200000", "XOM"]
    assert _symbols(web.get(url + "?type=SHORT").content.decode()) == ["XOM"]
    assert _symbols(web.get(url + "?tag=core").content.decode()) == ["AAPL"]
    assert _symbols(web.get(url + "?underlying=NVDA").content.decode()) == ["NVDA270115C00200000"]
    # an unknown filter value is ignored rather than an error
    assert len(_symbols(web.get(url + "?type=BOGUS&sort=nonsense").content.decode())) == 3


def test_the_table_sorts_by_a_column_both_ways(web, held, portfolio) -> None:
    url = reverse("web:positions", args=[portfolio.pk])
    by_quantity = _symbols(web.get(url + "?sort=quantity").content.decode())
    assert by_quantity == ["XOM", "NVDA270115C00200000", "AAPL"]  # -50, 2, 100
    assert _symbols(web.get(url + "?sort=-quantity").content.decode()) == ["AAPL", "NVDA270115C00200000", "XOM"]
    page = web.get(url + "?sort=-quantity").content.decode()
    assert 'aria-sort="descending"' in page


def test_an_htmx_request_for_the_table_gets_only_the_table(web, held, portfolio) -> None:
    url = reverse("web:positions", args=[portfolio.pk]) + "?type=LONG"
    partial = web.get(url, headers={"HX-Request": "true", "HX-Target": "positions-table"})
    body = partial.content.decode()
    assert partial.status_code == 200 and body.lstrip().startswith('<div id="positions-table"')
    assert "<html" not in body and _symbols(body) == ["AAPL"]
    assert "HX-Request" in partial["Vary"]
    full = web.get(url).content.decode()
    assert "<html" in full and 'id="positions-table"' in full


def test_a_post_without_the_csrf_token_is_refused(owner, portfolio: Portfolio) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    data = {"position_type": "LONG", "symbol": "AAPL", "quantity": "1", "entry_price": "1", "entry_date": "2026-01-02"}
    assert client.post(reverse("web:position_new", args=[portfolio.pk]), data).status_code == 403
    assert not Position.objects.filter(portfolio=portfolio).exists()
