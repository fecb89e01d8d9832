"""Django's stock middleware under the ASGI handler: the same answers as under WSGI, without a thread
hand-off per hook unless a hook may block (a session or messages being saved, a CSRF check)."""

from __future__ import annotations

from collections.abc import Iterator
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import AsyncClient, Client

from core import middleware
from core.testing import FIXTURE_PASSWORDS, login

STOCK = {
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
}


@pytest.fixture
def hand_offs() -> Iterator[list[str]]:
    """Names of the middleware hooks that core.middleware handed to a thread."""
    calls: list[str] = []
    real = middleware.sync_to_async

    def spy(func, *args, **kwargs):
        calls.append(getattr(func, "__qualname__", repr(func)))
        return real(func, *args, **kwargs)

    with mock.patch.object(middleware, "sync_to_async", spy):
        yield calls


def test_every_stock_middleware_is_replaced_by_its_subclass() -> None:
    from django.utils.module_loading import import_string

    classes = [import_string(path) for path in settings.MIDDLEWARE]
    stock = {f"{base.__module__}.{base.__name__}" for cls in classes for base in cls.__mro__[1:]}
    assert stock >= STOCK
    assert not STOCK & set(settings.MIDDLEWARE)


def test_an_api_get_crosses_the_middleware_without_a_hand_off(owner, hand_offs: list[str]) -> None:
    token = login(owner.email, FIXTURE_PASSWORDS[owner.email])["access_token"]
    hand_offs.clear()

    response = async_to_sync(AsyncClient().get)("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert hand_offs == []


def test_the_same_security_headers_as_under_wsgi(owner) -> None:
    token = login(owner.email, FIXTURE_PASSWORDS[owner.email])["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    asgi = async_to_sync(AsyncClient().get)("/api/v1/auth/me", headers=headers)
    wsgi = Client().get("/api/v1/auth/me", headers=headers)

    assert asgi.content == wsgi.content
    assert dict(asgi.headers.items()) == dict(wsgi.headers.items())
    for name in ("X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy", "Content-Length"):
        assert asgi.has_header(name), name


def test_the_admin_logs_in_under_asgi_with_csrf_and_session(staff_user, hand_offs: list[str]) -> None:
    client = AsyncClient(enforce_csrf_checks=True)
    get, post = async_to_sync(client.get), async_to_sync(client.post)

    page = get("/admin/login/")
    assert page.status_code == 200
    csrf_token = client.cookies["csrftoken"].value

    refused = post("/admin/login/", {"username": staff_user.email, "password": FIXTURE_PASSWORDS[staff_user.email]})
    assert refused.status_code == 403  # no CSRF token: still refused

    logged_in = post(
        "/admin/login/",
        {
            "username": staff_user.email,
            "password": FIXTURE_PASSWORDS[staff_user.email],
            "csrfmiddlewaretoken": csrf_token,
        },
    )
    assert logged_in.status_code == 302, logged_in.content[:300]
    assert settings.SESSION_COOKIE_NAME in client.cookies
    assert any("process_view" in name for name in hand_offs)  # the enforcing CSRF check ran in a thread
    assert any("SessionMiddleware.process_response" in name for name in hand_offs)  # the session was saved

    assert get("/admin/").status_code == 200


def test_messages_are_stored_and_shown_under_asgi(staff_user) -> None:
    from portfolios.models import User

    client = AsyncClient()
    async_to_sync(client.aforce_login)(staff_user)
    user = User.objects.create_user(email="someone@example.com", password="someone-pass-1")

    response = async_to_sync(client.post)(f"/admin/portfolios/user/{user.pk}/delete/", {"post": "yes"}, follow=True)

    assert response.status_code == 200
    assert b"deleted successfully" in response.content
