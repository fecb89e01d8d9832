"""Issue 17.5 and 17.11: refresh rotation, logout, revocation on password change and deactivation,
and tampered or malformed tokens answered 401 (never 500)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid

import jwt
import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from core.testing import assert_error, login
from portfolios.models import User

REFRESH_URL = "/api/v1/auth/refresh"
LOGOUT_URL = "/api/v1/auth/logout"
ME_URL = "/api/v1/auth/me"
PASSWORD = "owner-pass-1"


def me(access: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get(ME_URL)


def refresh(token: str):
    return APIClient().post(REFRESH_URL, {"refresh_token": token}, format="json")


def test_a_refresh_rotates_the_refresh_token_and_the_old_one_is_refused(owner: User) -> None:
    first = login(owner.email, PASSWORD)

    response = refresh(first["refresh_token"])

    assert response.status_code == 200, response.content
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert me(second["access_token"]).status_code == 200
    assert_error(refresh(first["refresh_token"]), 401, "token_not_valid")  # used once already
    assert refresh(second["refresh_token"]).status_code == 200


def test_logout_revokes_the_refresh_token_and_only_that_one(owner: User) -> None:
    phone = login(owner.email, PASSWORD)
    laptop = login(owner.email, PASSWORD)

    response = APIClient().post(LOGOUT_URL, {"refresh_token": phone["refresh_token"]}, format="json")

    assert response.status_code == 204, response.content
    assert_error(refresh(phone["refresh_token"]), 401, "token_not_valid")
    assert refresh(laptop["refresh_token"]).status_code == 200


def test_logout_of_all_sessions_revokes_every_refresh_token(owner: User) -> None:
    sessions = [login(owner.email, PASSWORD) for _ in range(3)]

    response = APIClient().post(
        LOGOUT_URL, {"refresh_token": sessions[0]["refresh_token"], "all_sessions": True}, format="json"
    )

    assert response.status_code == 204, response.content
    for tokens in sessions:
        assert_error(refresh(tokens["refresh_token"]), 401)


def test_logout_with_a_bad_token_is_a_401_and_without_one_a_400(db) -> None:
    assert_error(APIClient().post(LOGOUT_URL, {"refresh_token": "x.y.z"}, format="json"), 401)
    assert "refresh_token" in assert_error(APIClient().post(LOGOUT_URL, {}, format="json"), 400)["details"]


def test_a_password_change_ends_every_earlier_access_and_refresh_token(owner: User) -> None:
    tokens = login(owner.email, PASSWORD)
    assert me(tokens["access_token"]).status_code == 200

    owner.set_password("a-new-password-2")
    owner.save()

    assert_error(me(tokens["access_token"]), 401)
    assert_error(refresh(tokens["refresh_token"]), 401, "password_changed")
    fresh = login(owner.email, "a-new-password-2")
    assert me(fresh["access_token"]).status_code == 200


def test_the_web_apps_password_change_ends_earlier_tokens(owner: User) -> None:
    tokens = login(owner.email, PASSWORD)
    browser = Client()
    browser.force_login(owner)

    response = browser.post(
        "/account/password/",
        {"old_password": PASSWORD, "new_password1": "Web-changed-pass-9", "new_password2": "Web-changed-pass-9"},
    )

    assert response.status_code == 302, response.content[:500]
    assert_error(me(tokens["access_token"]), 401)
    assert_error(refresh(tokens["refresh_token"]), 401)


def test_deactivation_ends_tokens_and_reactivation_revives_no_refresh_token(owner: User) -> None:
    tokens = login(owner.email, PASSWORD)

    owner.is_active = False
    owner.save()
    assert_error(me(tokens["access_token"]), 401)
    assert_error(refresh(tokens["refresh_token"]), 401)

    owner.is_active = True
    owner.save()
    assert_error(refresh(tokens["refresh_token"]), 401, "token_not_valid")


# --- tampering (17.11 and the standing suite) ------------------------------------------------


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _signed(payload: dict, key: str | None = None, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, key or settings.SECRET_KEY, algorithm=algorithm)


def _claims(owner: User, **changes: object) -> dict:
    claims = dict(AccessToken.for_user(owner).payload)
    claims.update(changes)
    return claims


@pytest.mark.parametrize("user_id", ["not-a-uuid", "1", 12345, None, ["x"], {"a": 1}, ""])
def test_a_signed_token_whose_user_id_is_not_a_uuid_is_a_401(owner: User, user_id: object) -> None:
    token = _signed(_claims(owner, user_id=user_id))

    assert_error(me(token), 401)


def test_a_signed_token_for_a_user_that_does_not_exist_is_a_401(owner: User) -> None:
    assert_error(me(_signed(_claims(owner, user_id=str(uuid.uuid4())))), 401)


def test_a_token_with_alg_none_is_refused(owner: User) -> None:
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(owner))}."

    assert_error(me(token), 401)


def test_a_token_signed_with_another_key_is_refused(owner: User) -> None:
    assert_error(me(_signed(_claims(owner), key="another-key-" + "x" * 40)), 401)


def test_an_expired_token_is_refused(owner: User) -> None:
    past = int((dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).timestamp())

    assert_error(me(_signed(_claims(owner, exp=past))), 401)


def test_a_token_without_the_password_digest_is_refused(owner: User) -> None:
    claims = _claims(owner)
    claims.pop("pwd")

    assert_error(me(_signed(claims)), 401)


def test_a_refresh_token_with_a_non_uuid_user_id_is_a_401(owner: User) -> None:
    from rest_framework_simplejwt.tokens import RefreshToken

    claims = dict(RefreshToken.for_user(owner).payload)
    claims["user_id"] = "not-a-uuid"

    assert_error(refresh(_signed(claims)), 401)
