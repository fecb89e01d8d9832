"""Shared pytest fixtures: the access-case users (owner, other user, staff, anonymous) and demo data."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from django.core.cache import cache

from portfolios.models import Portfolio, User

SEED_DATE = dt.date(2026, 11, 23)


@pytest.fixture(autouse=True)
def _clear_cache(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts and ends with an empty cache, and leaves no throttle counters behind.

    The throttle counters live in the database cache (``core.throttling``): a ``db`` test's
    rollback discards them, but a transactional test's flush leaves a table that is not a model's,
    so it is emptied here, after the test (when the test database surely exists)."""
    cache.clear()
    yield
    cache.clear()
    if request.node.get_closest_marker("django_db") or {"db", "transactional_db"} & set(request.fixturenames):
        from django.db import DatabaseError

        from core.throttling import throttle_cache

        # DatabaseError: a test that dropped or never made the table.
        with request.getfixturevalue("django_db_blocker").unblock(), contextlib.suppress(DatabaseError):
            throttle_cache.clear()


@pytest.fixture
def owner(db) -> User:
    return User.objects.create_user(email="owner@example.com", password="owner-pass-1", full_name="Owner")


@pytest.fixture
def other_user(db) -> User:
    return User.objects.create_user(email="other@example.com", password="other-pass-1", full_name="Other")


@pytest.fixture
def staff_user(db) -> User:
    return User.objects.create_superuser(email="staff@example.com", password="staff-pass-1", full_name="Staff")


@pytest.fixture
def portfolio(owner: User) -> Portfolio:
    return Portfolio.objects.create(user=owner, name="Owner book", equity_balance=Decimal("100000"))


@pytest.fixture
def demo_data(db):
    """The full demo seed (3 users, 3 portfolios, 63 positions) rolled from ``SEED_DATE``."""
    from portfolios.demo import demo_seed

    return demo_seed(seeded_on=SEED_DATE)


ANALYTICS_AS_OF = dt.date(2026, 11, 20)  # a Friday; every demo option expires after it


@pytest.fixture
def analytics_demo(demo_data):
    """Demo data, 300 sessions of simulated prices up to ``ANALYTICS_AS_OF``, and the analytics batch.

    Returns the ``BatchOutcome`` (its ``run.as_of`` is ``ANALYTICS_AS_OF``). No reports are written.
    """
    from analytics.services.batch import batch_run, portfolio_steps
    from marketdata.services import prices_sync

    prices_sync(backfill_days=300, as_of=ANALYTICS_AS_OF, provider="simulated")
    outcome = batch_run(as_of=ANALYTICS_AS_OF, steps=list(portfolio_steps()), trigger="test")
    assert outcome.ok, outcome.run.error_summary
    return outcome


# API clients for every access case; their tokens come from the real login endpoint.
@pytest.fixture
def anon_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def client_for(db) -> Callable[[User], object]:
    """``client_for(user)``: an APIClient carrying a real access token for a fixture user."""
    from core.testing import bearer_client

    return lambda user: bearer_client(user.email)


@pytest.fixture
def owner_client(owner: User, client_for):
    return client_for(owner)


@pytest.fixture
def other_client(other_user: User, client_for):
    return client_for(other_user)


@pytest.fixture
def staff_client(staff_user: User, client_for):
    return client_for(staff_user)


def _slow_without_database(item: pytest.Item) -> bool:
    """A ``slow`` test (servers, subprocesses, their own databases) that does not use the test database."""
    if item.get_closest_marker("slow") is None or item.get_closest_marker("django_db") is not None:
        return False
    return not {"db", "transactional_db", "live_server"} & set(getattr(item, "fixturenames", ()))


@pytest.hookimpl(trylast=True)  # after pytest-django's ordering (database tests, transactional ones, the rest)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every transactional test restores the serialized database; slow tests that use no database go first.

    A transactional test's teardown flushes the tables; without serialized rollback Django then re-creates
    the content types, and the next serialized-rollback test fails restoring its own copy (a unique
    constraint on ``django_content_type``) — and every such test after it. One forgotten flag broke 25
    tests on CI; this makes it a collection error naming the test instead.

    The slow tests that need no test database (servers, subprocesses, browsers over their own files and
    databases: about half the suite's time in a few dozen tests) are moved to the front, in their
    collection order; the order of the database tests among themselves is pytest-django's. Under
    pytest-xdist (``make test``: ``-n 2 --dist loadfile --no-loadscope-reorder``) the workers therefore
    start with the long files and finish on the short ones, instead of one worker running a 90-second
    file alone at the end.
    """
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is not None and marker.kwargs.get("transaction") and not marker.kwargs.get("serialized_rollback"):
            raise pytest.UsageError(f"{item.nodeid}: a transactional test needs serialized_rollback=True too")
    items.sort(key=lambda item: not _slow_without_database(item))  # stable: each group keeps its order
