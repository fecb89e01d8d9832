"""``doctor``'s demo data check (registered by the portfolios app)."""

from __future__ import annotations

import pytest

from core.doctor import OK, WARN
from portfolios.doctor import check_demo_data
from portfolios.models import Position

pytestmark = pytest.mark.django_db


# --- demo data --------------------------------------------------------------------------------


def test_demo_data_absent_warns_with_the_seed_hint():
    result = check_demo_data()
    assert (result.status, result.hint) == (WARN, "python manage.py seed_demo")


def test_demo_data_present_is_ok(demo_data):
    result = check_demo_data()
    assert (result.status, result.detail) == (OK, "3 users, 3 portfolios, 63 positions")


def test_incomplete_demo_data_warns(demo_data):
    Position.objects.filter(portfolio__user__email="demo_individual@sigmasight.com").first().delete()
    result = check_demo_data()
    assert result.status == WARN and "62 positions" in result.detail and "expected" in result.detail
