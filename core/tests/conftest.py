"""Fixtures of the core tests: a clean throttle cache and bearer clients from real logins."""

from __future__ import annotations

from collections.abc import Iterator

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
def owner_client(owner: User) -> APIClient:
    return bearer_client(owner.email)
