"""``/api/v1/auth``: login, refresh, me, throttling and the 401 contract."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from rest_framework.settings import api_settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from core.testing import LOGIN_URL, assert_error, login
from core.throttling import LoginEmailThrottle, LoginIPThrottle
from portfolios.models import User

REFRESH_URL = "/api/v1/auth/refresh"
ME_URL = "/api/v1/auth/me"


def _rate(throttle: type[SimpleRateThrottle]) -> int:
    """Requests allowed per window by a throttle, as configured (the rates come from the environment)."""
    num_requests, _ = throttle().parse_rate(api_settings.DEFAULT_THROTTLE_RATES[throttle.scope])
    assert num_requests is not None
    return num_requests


def _attempt(client: APIClient, email: str, password: str = "wrong-password", ip: str = "10.0.0.1"):
    return client.post(LOGIN_URL, {"email": email, "password": password}, format="json", REMOTE_ADDR=ip)


def test_login_returns_a_bearer_token_pair_that_expires_with_the_configured_lifetime(owner: User) -> None:
    body = login("owner@example.com", "owner-pass-1")

    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    lifetime: Any = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]
    assert body["expires_in"] == int(lifetime.total_seconds())


def test_the_access_token_from_login_opens_the_me_endpoint(owner: User) -> None:
    token = login("owner@example.com", "owner-pass-1")["access_token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = client.get(ME_URL)

    assert response.status_code == 200
    body = response.json()
    assert body["email"] == "owner@example.com"
    assert body["id"] == str(owner.pk)
    assert body["is_staff"] is False
    assert body["portfolio_count"] == 0


def test_login_ignores_the_case_and_surrounding_spaces_of_the_email(owner: User) -> None:
    body = login("  Owner@Example.COM ", "owner-pass-1")

    assert body["token_type"] == "bearer"


@pytest.mark.parametrize(
    ("email", "password"),
    [("owner@example.com", "not-the-password"), ("nobody@example.com", "owner-pass-1")],
    ids=["wrong password", "unknown email"],
)
def test_a_failed_login_is_a_401_that_does_not_say_whether_the_email_exists(
    owner: User, email: str, password: str
) -> None:
    response = APIClient().post(LOGIN_URL, {"email": email, "password": password}, format="json")

    error = assert_error(response, 401)
    assert error["message"] == "Invalid email or password."
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_inactive_user_cannot_log_in_and_gets_the_same_message(owner: User) -> None:
    owner.is_active = False
    owner.save(update_fields=["is_active"])

    response = _attempt(APIClient(), "owner@example.com", "owner-pass-1")

    assert assert_error(response, 401)["message"] == "Invalid email or password."


def test_login_without_a_password_is_a_400_naming_the_field(db) -> None:
    response = APIClient().post(LOGIN_URL, {"email": "owner@example.com"}, format="json")

    error = assert_error(response, 400, "invalid")
    assert "password" in error["details"]


def test_login_with_malformed_json_is_a_400_in_the_error_format(db) -> None:
    response = APIClient().post(LOGIN_URL, data='{"email": "a@b.c", ', content_type="application/json")

    assert_error(response, 400, "parse_error")


def test_login_with_an_xml_body_is_a_415_in_the_error_format(db) -> None:
    response = APIClient().post(LOGIN_URL, data="<login/>", content_type="application/xml")

    assert_error(response, 415, "unsupported_media_type")


def test_login_only_accepts_post(db) -> None:
    assert_error(APIClient().get(LOGIN_URL), 405, "method_not_allowed")


def test_refresh_gives_a_new_working_access_token(owner: User) -> None:
    tokens = login("owner@example.com", "owner-pass-1")

    response = APIClient().post(REFRESH_URL, {"refresh_token": tokens["refresh_token"]}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert client.get(ME_URL).status_code == 200


@pytest.mark.parametrize("token", ["garbage", "a.b.c", ""], ids=["garbage", "three dots", "empty"])
def test_refresh_with_an_invalid_token_is_refused(db, token: str) -> None:
    response = APIClient().post(REFRESH_URL, {"refresh_token": token}, format="json")

    assert response.status_code in (400, 401)
    assert_error(response, response.status_code)


def test_an_access_token_cannot_be_used_as_a_refresh_token(owner: User) -> None:
    tokens = login("owner@example.com", "owner-pass-1")

    response = APIClient().post(REFRESH_URL, {"refresh_token": tokens["access_token"]}, format="json")

    assert_error(response, 401, "token_not_valid")


def test_a_deactivated_users_refresh_token_stops_working(owner: User) -> None:
    tokens = login("owner@example.com", "owner-pass-1")
    owner.is_active = False
    owner.save(update_fields=["is_active"])

    response = APIClient().post(REFRESH_URL, {"refresh_token": tokens["refresh_token"]}, format="json")

    assert_error(response, 401)


def test_a_deleted_users_refresh_token_is_a_401_not_a_500(owner: User) -> None:
    tokens = login("owner@example.com", "owner-pass-1")
    owner.delete()

    response = APIClient().post(REFRESH_URL, {"refresh_token": tokens["refresh_token"]}, format="json")

    assert_error(response, 401)


def test_me_without_a_token_is_a_401_with_a_bearer_challenge(db) -> None:
    response = APIClient().get(ME_URL)

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_me_with_a_forged_token_is_a_401(db) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoxfQ.forged")

    assert_error(client.get(ME_URL), 401)


def test_a_deactivated_users_access_token_stops_working(owner: User) -> None:
    token = login("owner@example.com", "owner-pass-1")["access_token"]
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    assert_error(client.get(ME_URL), 401)


def test_me_tells_staff_they_are_staff(staff_user: User) -> None:
    token = login("staff@example.com", "staff-pass-1")["access_token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    assert client.get(ME_URL).json()["is_staff"] is True


def test_login_is_throttled_per_email_across_ip_addresses(owner: User) -> None:
    client = APIClient()
    limit = _rate(LoginEmailThrottle)
    for n in range(limit):
        assert _attempt(client, "owner@example.com", ip=f"10.0.{n // 250}.{n % 250 + 1}").status_code == 401

    response = _attempt(client, "OWNER@example.com", ip="10.9.9.9")

    error = assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    assert error["details"]["retry_after_s"] > 0
    # Even the right password waits: the budget counts attempts, not failures.
    assert _attempt(client, "owner@example.com", "owner-pass-1", ip="10.9.9.8").status_code == 429
    # Another account from a fresh address is unaffected.
    assert _attempt(client, "other@example.com", ip="10.9.9.7").status_code == 401


def test_login_is_throttled_per_ip_address_across_emails(db) -> None:
    client = APIClient()
    limit = _rate(LoginIPThrottle)
    for n in range(limit):
        assert _attempt(client, f"user{n}@example.com", ip="10.1.1.1").status_code == 401

    response = _attempt(client, "fresh@example.com", ip="10.1.1.1")

    assert_error(response, 429, "throttled")
    assert "Retry-After" in response
    assert _attempt(client, "fresh@example.com", ip="10.1.1.2").status_code == 401
