"""Agent test fixtures: API clients authenticated with a real JWT, a fresh throttle budget per test."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def bearer(user) -> str:
    return f"Bearer {AccessToken.for_user(user)}"


@pytest.fixture
def api(owner) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer(owner))
    return client


@pytest.fixture
def other_api(other_user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer(other_user))
    return client
