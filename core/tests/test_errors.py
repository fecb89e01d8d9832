"""The one error format ``{"error": {"code", "message", "details"?}}`` on every error path."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from core.testing import assert_error


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/nope", "/api/v1/data/portfolios/xyz/positions", "/nope"])
def test_an_unknown_route_is_a_json_404_under_the_api_and_elsewhere(db, path: str) -> None:
    response = Client().get(path, HTTP_ACCEPT="text/html")

    error = assert_error(response, 404, "not_found")
    assert path in error["message"]


def test_an_unknown_route_is_a_json_404_for_an_authenticated_caller_too(owner_client: APIClient) -> None:
    assert_error(owner_client.get("/api/v1/data/nothing-here"), 404, "not_found")


def test_a_method_the_endpoint_does_not_have_is_a_json_405(owner_client: APIClient) -> None:
    response = owner_client.delete("/api/v1/data/portfolios")

    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


def test_an_xml_body_to_a_json_endpoint_is_a_json_415(owner_client: APIClient) -> None:
    response = owner_client.post("/api/v1/data/portfolios", "<p><name>x</name></p>", content_type="application/xml")

    assert_error(response, 415, "unsupported_media_type")


def test_malformed_json_is_a_json_400(owner_client: APIClient) -> None:
    response = owner_client.post("/api/v1/data/portfolios", '{"name": ', content_type="application/json")

    assert_error(response, 400, "parse_error")


def test_a_body_of_binary_garbage_labelled_json_is_a_400(owner_client: APIClient) -> None:
    response = owner_client.post("/api/v1/data/portfolios", b"\xff\xfe\x00\x81", content_type="application/json")

    assert_error(response, 400)


def test_a_json_body_over_the_upload_limit_is_a_json_413(owner_client: APIClient) -> None:
    body = '{"name": "' + "x" * 3_000_000 + '"}'  # past DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB)

    response = owner_client.post("/api/v1/data/portfolios", body, content_type="application/json")

    assert_error(response, 413, "payload_too_large")


def test_a_deeply_nested_json_body_is_a_400_not_a_500(owner_client: APIClient) -> None:
    body = "[" * 100_000 + "]" * 100_000

    assert_error(owner_client.post("/api/v1/data/portfolios", body, content_type="application/json"), 400)


def test_too_many_form_fields_is_a_400_not_a_500(owner_client: APIClient, portfolio) -> None:
    fields = {f"f{n}": "x" for n in range(1500)}  # past DATA_UPLOAD_MAX_NUMBER_FIELDS (1000)

    response = owner_client.post(f"/api/v1/data/portfolios/{portfolio.pk}/positions/import", fields, format="multipart")

    assert_error(response, 400)


@override_settings(ROOT_URLCONF="core.tests.urls_boom")
def test_an_unhandled_error_in_an_api_view_is_a_json_500_without_the_exception_text(owner) -> None:
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(owner)

    response = client.get("/api/v1/boom")

    error = assert_error(response, 500, "server_error")
    assert "hunter2" not in response.content.decode()
    assert error["message"] == "Internal server error."


@override_settings(ROOT_URLCONF="core.tests.urls_boom")
def test_an_unhandled_error_outside_drf_is_a_json_500(db) -> None:
    response = Client(raise_request_exception=False).get("/boom")

    assert_error(response, 500, "server_error")


@override_settings(ROOT_URLCONF="core.tests.urls_boom")
def test_the_project_routes_still_work_under_the_test_urlconf(db) -> None:
    assert Client().get("/health").status_code == 200


def test_a_browser_gets_the_browsable_api_for_a_page_but_json_for_an_error(owner_client: APIClient) -> None:
    page = owner_client.get("/api/v1/auth/me", HTTP_ACCEPT="text/html")
    error = owner_client.get("/api/v1/data/prices/NOPE", HTTP_ACCEPT="text/html")

    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    assert_error(error, 404, "not_found")


def test_an_anonymous_browser_gets_a_json_401(db) -> None:
    response = APIClient().get("/api/v1/data/portfolios", HTTP_ACCEPT="text/html")

    assert_error(response, 401, "not_authenticated")


def test_the_csrf_failure_view_answers_in_the_error_format(rf) -> None:
    from core.errors import csrf_failure

    response = csrf_failure(rf.post("/admin/login/"), reason="CSRF cookie not set.")

    error = assert_error(response, 403, "csrf_failed")
    assert "CSRF cookie not set." in error["message"]
