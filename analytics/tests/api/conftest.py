"""Fixtures of the analytics API tests: a bearer client per access case, a clean throttle cache."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from core.testing import bearer_client
from portfolios.models import User


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    """Login throttle counters live in the cache: start and end every test with an empty one."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def owner_client(owner: User) -> APIClient:
    return bearer_client(owner.email)


@pytest.fixture
def other_client(other_user: User) -> APIClient:
    return bearer_client(other_user.email)


@pytest.fixture
def staff_client(staff_user: User) -> APIClient:
    return bearer_client(staff_user.email)
