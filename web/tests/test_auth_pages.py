"""Session login at ``/`` and ``/api-auth/login/``, logout, password change, and the browsable API."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.settings import api_settings

from core.throttling import LoginEmailThrottle

pytestmark = pytest.mark.django_db

LOGIN = "/"


def test_the_login_page_is_the_sites_root_and_has_a_csrf_protected_form(db) -> None:
    response = Client().get(LOGIN)
    body = response.content.decode()
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert 'name="username"' in body and 'name="password"' in body and "csrfmiddlewaretoken" in body
    assert Client(enforce_csrf_checks=True).post(LOGIN, {"username": "x", "password": "y"}).status_code == 403


def test_a_user_logs_in_with_any_case_of_email_and_lands_on_the_portfolio_list(owner) -> None:
    client = Client()
    response = client.post(LOGIN, {"username": "  Owner@Example.com ", "password": "owner-pass-1"})
    assert response.status_code == 302 and response["Location"] == reverse("web:portfolio_list")
    assert client.get(reverse("web:portfolio_list")).status_code == 200
    assert client.get(LOGIN)["Location"] == reverse("web:portfolio_list")  # already signed in


def test_a_wrong_password_is_an_error_on_the_form(owner) -> None:
    response = Client().post(LOGIN, {"username": "owner@example.com", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct email and password" in response.content.decode()


def test_login_redirects_back_to_the_page_asked_for(owner, portfolio) -> None:
    dashboard = reverse("web:dashboard", args=[portfolio.pk])
    response = Client().post(LOGIN, {"username": "owner@example.com", "password": "owner-pass-1", "next": dashboard})
    assert response["Location"] == dashboard


def test_login_attempts_share_the_api_logins_throttle(owner) -> None:
    # As many attempts as the per-email budget allows (the rate comes from the environment) ...
    allowed, _ = LoginEmailThrottle().parse_rate(api_settings.DEFAULT_THROTTLE_RATES[LoginEmailThrottle.scope])
    client = Client()
    for n in range(allowed):
        # ... from different addresses, so the per-IP budget is not what stops them
        response = client.post(LOGIN, {"username": "owner@example.com", "password": "bad"}, REMOTE_ADDR=f"10.0.0.{n}")
        assert response.status_code == 200
    blocked = client.post(LOGIN, {"username": "owner@example.com", "password": "owner-pass-1"}, REMOTE_ADDR="10.0.1.1")
    assert blocked.status_code == 429 and int(blocked["Retry-After"]) >= 1
    assert "Too many sign-in attempts" in blocked.content.decode()
    api = Client().post(
        "/api/v1/auth/login",
        {"email": "OWNER@example.com", "password": "owner-pass-1"},
        content_type="application/json",
        REMOTE_ADDR="10.0.2.1",
    )
    assert api.status_code == 429  # the same budget: the form's attempts count for the API too


def test_logout_is_a_post_and_ends_the_session(owner) -> None:
    client = Client()
    client.force_login(owner)
    assert client.get(reverse("web:logout")).status_code == 405
    response = client.post(reverse("web:logout"))
    assert response.status_code == 302 and response["Location"] == reverse("web:login")
    assert client.get(reverse("web:portfolio_list")).status_code == 302


def test_a_user_changes_their_password_and_stays_signed_in(owner) -> None:
    client = Client()
    client.force_login(owner)
    url = reverse("web:password_change")
    short = client.post(url, {"old_password": "owner-pass-1", "new_password1": "short", "new_password2": "short"})
    assert short.status_code == 200 and "too short" in short.content.decode()
    data = {"old_password": "owner-pass-1", "new_password1": "a-new-pass-42", "new_password2": "a-new-pass-42"}
    assert client.post(url, data)["Location"] == reverse("web:password_change_done")
    assert client.get(reverse("web:portfolio_list")).status_code == 200
    owner.refresh_from_db()
    assert owner.check_password("a-new-pass-42")


def test_a_demo_user_browses_the_api_after_the_session_login(owner, portfolio) -> None:
    client = Client()
    page = client.get("/api-auth/login/")
    assert page.status_code == 200 and "Django REST framework" in page.content.decode()
    response = client.post("/api-auth/login/", {"username": "owner@example.com", "password": "owner-pass-1"})
    assert response.status_code == 302
    browsable = client.get("/api/v1/data/portfolios", HTTP_ACCEPT="text/html")
    assert browsable.status_code == 200 and browsable["Content-Type"].startswith("text/html")
    assert portfolio.name in browsable.content.decode()
    assert client.get("/api/v1/data/portfolios").json()["count"] == 1
    # The session is for reading and writing through the browsable API: writes need the CSRF token.
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner)
    refused = strict.post("/api/v1/data/portfolios", {"name": "x"}, content_type="application/json")
    assert refused.status_code == 403


def test_the_login_page_lists_the_demo_accounts_only_when_they_exist(demo_data) -> None:
    body = Client().get(LOGIN).content.decode()
    assert "demo_hedgefundstyle@sigmasight.com" in body and "demo12345" in body


def test_no_demo_hint_without_the_demo_users(db) -> None:
    assert "Demo accounts" not in Client().get(LOGIN).content.decode()


def test_the_favicon_is_served(db) -> None:
    response = Client().get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("web/img/favicon.svg")


def test_the_browsable_apis_logout_is_a_form_without_inline_script(owner) -> None:
    # DRF's own page logs out from an inline onclick, which the site's CSP (script-src 'self') blocks.
    import re

    client = Client()
    client.force_login(owner)
    page = client.get("/api/v1/data/portfolios", HTTP_ACCEPT="text/html")
    body = page.content.decode()
    assert page.status_code == 200 and "script-src 'self'" in page["Content-Security-Policy"]
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", body) and "javascript:" not in body
    form = re.search(r'<form method="post" action="(/api-auth/logout/[^"]*)"', body)
    assert form and 'type="submit"' in body
    assert client.post(form.group(1).replace("&amp;", "&")).status_code in (200, 302)
    assert client.get("/api/v1/data/portfolios", HTTP_ACCEPT="text/html").status_code == 401
