"""Shared pytest fixtures: the access-case users (owner, other user, staff, anonymous) and demo data."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from portfolios.models import Portfolio, User

SEED_DATE = dt.date(2026, 11, 23)


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
