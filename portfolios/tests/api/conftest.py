"""Fixtures of the auth and data API tests: a bearer client per access case, a clean throttle cache."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from core.testing import bearer_client
from portfolios.models import User


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    """Throttle counters live in the cache: start and end every test with an empty one."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def client_for(db) -> Callable[[User], APIClient]:
    """``client_for(user)``: an APIClient carrying a real access token for a fixture user."""
    return lambda user: bearer_client(user.email)


@pytest.fixture
def owner_client(owner: User, client_for: Callable[[User], APIClient]) -> APIClient:
    return client_for(owner)


@pytest.fixture
def other_client(other_user: User, client_for: Callable[[User], APIClient]) -> APIClient:
    return client_for(other_user)


@pytest.fixture
def staff_client(staff_user: User, client_for: Callable[[User], APIClient]) -> APIClient:
    return client_for(staff_user)
