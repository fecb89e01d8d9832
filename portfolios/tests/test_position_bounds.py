"""Issue 17.1: out-of-range numbers are refused by every way a position enters, on both databases.

``AAPL,LONG,1e308,1,2024-01-02`` used to answer 500 after committing the row on SQLite (which does
not enforce ``max_digits``), and that portfolio could not be read again. Each entry point — the
JSON API, CSV over the API, the web page and ``import_positions``, and the admin's forms — now
answers with the row or field named and stores nothing. Run with ``DATABASE_URL=postgres://…`` for
PostgreSQL.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from rest_framework.test import APIClient

from core.testing import assert_error
from portfolios.models import Portfolio, Position, User
from portfolios.validation import position_input_from_raw

HEADER = "symbol,position_type,quantity,entry_price,entry_date\n"
OK_ROW = "MSFT,LONG,5,400,2024-01-02\n"

# (CSV row, the field it must name). Each is out of the column's range, not finite or too precise.
BAD_ROWS = [
    ("AAPL,LONG,1e308,1,2024-01-02", "quantity"),
    ("AAPL,LONG,1e400,1,2024-01-02", "quantity"),
    ("AAPL,LONG,inf,1,2024-01-02", "quantity"),
    ("AAPL,LONG,NaN,1,2024-01-02", "quantity"),
    ("AAPL,SHORT,-1e13,1,2024-01-02", "quantity"),
    ("AAPL,LONG,1,1e308,2024-01-02", "entry_price"),
    ("AAPL,LONG,1,1e-300,2024-01-02", "entry_price"),
    ("AAPL,LONG,1,1.0000001,2024-01-02", "entry_price"),
    ("AAPL,LONG,0.0000001,1,2024-01-02", "quantity"),
]


def import_url(portfolio: Portfolio) -> str:
    return f"/api/v1/data/portfolios/{portfolio.pk}/positions/import"


@pytest.mark.parametrize(("row", "field"), BAD_ROWS)
def test_a_csv_row_out_of_range_is_a_400_naming_the_row_and_nothing_is_stored(
    owner_client: APIClient, portfolio: Portfolio, row: str, field: str
) -> None:
    file = SimpleUploadedFile("p.csv", (HEADER + OK_ROW + row + "\n").encode(), content_type="text/csv")

    response = owner_client.post(import_url(portfolio), {"file": file}, format="multipart")

    error = assert_error(response, 400, "invalid_rows")
    assert set(error["details"]["rows"]) == {"3"}  # the header is line 1, the good row line 2
    assert set(error["details"]["rows"]["3"]) == {field}
    assert not Position.objects.exists()
    # The portfolio still reads: its positions endpoint answers.
    assert owner_client.get(f"/api/v1/data/portfolios/{portfolio.pk}/positions").status_code == 200


@pytest.mark.parametrize(
    ("field", "value"),
    [("quantity", "1e308"), ("quantity", "1e400"), ("entry_price", "1e13"), ("quantity", "0.0000001")],
)
def test_the_json_api_refuses_the_same_values(
    owner_client: APIClient, portfolio: Portfolio, field: str, value: str
) -> None:
    body = {"symbol": "AAPL", "position_type": "LONG", "quantity": "1", "entry_price": "1", "entry_date": "2024-01-02"}
    body[field] = value

    response = owner_client.post(f"/api/v1/data/portfolios/{portfolio.pk}/positions", body, format="json")

    assert field in assert_error(response, 400)["details"]
    assert not Position.objects.exists()


def test_the_import_command_refuses_the_row_and_writes_nothing(portfolio: Portfolio, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(HEADER + OK_ROW + "AAPL,LONG,1e308,1,2024-01-02\n")

    with pytest.raises(CommandError, match="1 bad row"):
        call_command("import_positions", "--portfolio", str(portfolio.pk), str(path))

    assert not Position.objects.exists()


def test_the_web_import_page_refuses_the_row_and_writes_nothing(owner: User, portfolio: Portfolio) -> None:
    client = Client()
    client.force_login(owner)
    file = SimpleUploadedFile("p.csv", (HEADER + "AAPL,LONG,1e308,1,2024-01-02\n").encode(), content_type="text/csv")

    response = client.post(f"/portfolios/{portfolio.pk}/positions/import/", {"file": file})

    assert response.status_code in (200, 400), response.status_code
    assert b"quantity" in response.content
    assert not Position.objects.exists()


def admin_position_data(portfolio: Portfolio, **changes: str) -> dict[str, str]:
    data = {
        "portfolio": str(portfolio.pk),
        "symbol": "AAPL",
        "position_type": "LONG",
        "asset_class": "stock",
        "quantity": "10",
        "entry_price": "150",
        "entry_date": "2024-01-02",
        "multiplier": "1",
        "notes": "",
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"quantity": "1e13"}, "quantity"),  # fits the form's 20 digits, not the accepted range
        ({"quantity": "-10"}, "quantity"),  # Rule quantity_sign
        ({"position_type": "LC"}, "underlying_symbol"),  # Rule option_fields
    ],
)
def test_the_admin_position_form_applies_the_same_validation(
    staff_user: User, portfolio: Portfolio, changes: dict[str, str], field: str
) -> None:
    client = Client()
    client.force_login(staff_user)

    response = client.post("/admin/portfolios/position/add/", admin_position_data(portfolio, **changes))

    assert response.status_code == 200  # the form again, with its errors
    form = response.context["adminform"].form
    assert field in form.errors, form.errors
    assert not Position.objects.exists()


def test_the_admin_saves_a_valid_position_normalised(staff_user: User, portfolio: Portfolio) -> None:
    client = Client()
    client.force_login(staff_user)

    response = client.post("/admin/portfolios/position/add/", admin_position_data(portfolio, symbol=" aapl "))

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    position = Position.objects.get()
    assert position.symbol == "AAPL"
    assert position.quantity == Decimal(10)


def test_the_service_names_each_bad_number() -> None:
    raw = {"symbol": "A", "position_type": "LONG", "quantity": "1e308", "entry_price": "Infinity"}
    with pytest.raises(ValidationError) as caught:
        position_input_from_raw({**raw, "entry_date": "2024-01-02"})

    errors = caught.value.message_dict
    assert "between -1000000000000 and 1000000000000" in errors["quantity"][0]
    assert "finite" in errors["entry_price"][0]
