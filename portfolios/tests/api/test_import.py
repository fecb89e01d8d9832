"""``POST /api/v1/data/portfolios/{id}/positions/import``: CSV upload, all rows or none."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from core.testing import assert_error
from portfolios.api.views import CSV_MAX_BYTES
from portfolios.models import Portfolio, Position

GOOD_CSV = """symbol,position_type,quantity,entry_price,entry_date,underlying_symbol,strike,expiration,tags
AAPL,LONG,10,150.25,2026-01-05,,,,Core;Tech
MSFT,SHORT,-5,400,2026-01-06,,,,
,LC,2,5.5,2026-01-07,SPY,460,2027-09-17,Options Overlay
"""

BAD_CSV = """symbol,position_type,quantity,entry_price,entry_date
AAPL,LONG,10,150.25,2026-01-05
MSFT,SHORT,5,400,2026-01-06
IBM,LONG,3,abc,2026-01-07
"""


def import_url(portfolio_id: object) -> str:
    return f"/api/v1/data/portfolios/{portfolio_id}/positions/import"


def upload(client: APIClient, portfolio_id: object, content: str | bytes, name: str = "positions.csv"):
    data = content.encode() if isinstance(content, str) else content
    file = SimpleUploadedFile(name, data, content_type="text/csv")
    return client.post(import_url(portfolio_id), {"file": file}, format="multipart")


def test_the_owner_imports_a_csv_file_as_a_multipart_upload(owner_client: APIClient, portfolio: Portfolio) -> None:
    response = upload(owner_client, portfolio.pk, GOOD_CSV)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["imported"] == 3
    symbols = sorted(p["symbol"] for p in body["positions"])
    assert symbols == ["AAPL", "MSFT", "SPY270917C00460000"]
    aapl = next(p for p in body["positions"] if p["symbol"] == "AAPL")
    assert aapl["tags"] == ["Core", "Tech"]
    assert portfolio.positions.count() == 3


def test_the_owner_imports_a_csv_sent_as_a_text_csv_body(owner_client: APIClient, portfolio: Portfolio) -> None:
    response = owner_client.post(import_url(portfolio.pk), GOOD_CSV, content_type="text/csv")

    assert response.status_code == 201, response.content
    assert response.json()["imported"] == 3


def test_an_import_with_bad_rows_writes_nothing_and_reports_every_bad_row(
    owner_client: APIClient, portfolio: Portfolio
) -> None:
    response = upload(owner_client, portfolio.pk, BAD_CSV)

    error = assert_error(response, 400, "invalid_rows")
    rows = error["details"]["rows"]
    assert set(rows) == {"3", "4"}  # CSV line numbers, the header being line 1
    assert "quantity_sign" in rows["3"]["quantity"][0]
    assert "entry_price" in rows["4"]
    assert not portfolio.positions.exists()


def test_a_csv_missing_a_required_column_is_a_400_on_the_file(owner_client: APIClient, portfolio: Portfolio) -> None:
    response = upload(owner_client, portfolio.pk, "symbol,quantity\nAAPL,1\n")

    error = assert_error(response, 400, "invalid_file")
    assert "position_type" in error["details"]["file"][0]


def test_a_csv_with_only_a_header_is_a_400(owner_client: APIClient, portfolio: Portfolio) -> None:
    response = upload(owner_client, portfolio.pk, "symbol,position_type,quantity,entry_price,entry_date\n")

    assert_error(response, 400, "invalid_file")


def test_a_binary_file_is_a_400_not_a_500(owner_client: APIClient, portfolio: Portfolio) -> None:
    response = upload(owner_client, portfolio.pk, b"\xff\xfe\x00garbage\x89PNG", name="x.png")

    assert_error(response, 400)


def test_an_upload_without_the_file_field_is_a_400(owner_client: APIClient, portfolio: Portfolio) -> None:
    response = owner_client.post(import_url(portfolio.pk), {"other": "x"}, format="multipart")

    assert "file" in assert_error(response, 400)["details"]


def test_an_empty_text_csv_body_is_a_400(owner_client: APIClient, portfolio: Portfolio) -> None:
    assert_error(owner_client.post(import_url(portfolio.pk), "", content_type="text/csv"), 400)


def test_a_json_body_is_a_415(owner_client: APIClient, portfolio: Portfolio) -> None:
    response = owner_client.post(import_url(portfolio.pk), {"file": "x"}, format="json")

    assert_error(response, 415, "unsupported_media_type")


def test_an_oversized_csv_is_a_413(owner_client: APIClient, portfolio: Portfolio) -> None:
    big = "symbol,position_type,quantity,entry_price,entry_date\n" + "x" * (CSV_MAX_BYTES + 10)

    assert_error(upload(owner_client, portfolio.pk, big), 413, "payload_too_large")
    assert_error(owner_client.post(import_url(portfolio.pk), big, content_type="text/csv"), 413)
    assert not Position.objects.exists()


def test_another_user_cannot_import_into_the_owners_portfolio(other_client: APIClient, portfolio: Portfolio) -> None:
    assert_error(upload(other_client, portfolio.pk, GOOD_CSV), 404, "not_found")
    assert not portfolio.positions.exists()


def test_staff_cannot_import_into_someone_elses_portfolio(staff_client: APIClient, portfolio: Portfolio) -> None:
    assert_error(upload(staff_client, portfolio.pk, GOOD_CSV), 404)


def test_anonymous_callers_cannot_import(anon_client: APIClient, portfolio: Portfolio) -> None:
    assert_error(upload(anon_client, portfolio.pk, GOOD_CSV), 401)


def test_a_csv_the_csv_module_cannot_read_is_a_400_not_a_500(owner_client: APIClient, portfolio: Portfolio) -> None:
    response = owner_client.post(import_url(portfolio.pk), 'symbol\rposition_type\n"a\rb', content_type="text/csv")

    assert_error(response, 400, "invalid_file")
