"""The demo seed: counts, deterministic ids, option roll-forward, idempotency, other users untouched."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import pytest
from django.core import serializers

from conftest import SEED_DATE
from portfolios.demo import demo_seed, rolled_expiry, third_friday, vix_expiry
from portfolios.models import Portfolio, Position, Tag, User

pytestmark = pytest.mark.django_db


def _dump() -> list[str]:
    rows = []
    for model in (User, Portfolio, Position, Tag, Position.tags.through):
        objs = model.objects.order_by("pk")
        rows += [serializers.serialize("json", [o]) for o in objs]
    return rows


def test_it_loads_3_users_3_portfolios_63_positions(demo_data):
    assert User.objects.count() == 3
    assert Portfolio.objects.count() == 3
    assert Position.objects.count() == 63
    counts = {p.name: p.positions.count() for p in Portfolio.objects.all()}
    assert sorted(counts.values()) == [16, 17, 30]


def test_portfolio_ids_are_md5_of_email_portfolio(demo_data):
    for user in User.objects.all():
        expected = uuid.UUID(hashlib.md5(f"{user.email}_portfolio".encode()).hexdigest())
        assert user.portfolios.get().pk == expected
    assert Portfolio.objects.filter(pk="1d8ddd95-3b45-0ac5-35bf-cf81af94a5fe").exists()


def test_demo_users_log_in_with_demo12345(demo_data):
    user = User.objects.get(email="demo_individual@sigmasight.com")
    assert user.check_password("demo12345")


def test_running_it_twice_leaves_exactly_the_same_data(demo_data):
    before = _dump()
    demo_seed(seeded_on=SEED_DATE)
    assert _dump() == before


def test_it_never_touches_non_demo_users(other_user, demo_data):
    other_user.refresh_from_db()
    before = serializers.serialize("json", [other_user])
    demo_seed(seeded_on=SEED_DATE)
    other_user.refresh_from_db()
    assert serializers.serialize("json", [other_user]) == before
    assert not other_user.portfolios.exists()


def test_it_restores_a_deleted_demo_position(demo_data):
    Position.objects.filter(symbol="AAPL").first().delete()
    demo_seed(seeded_on=SEED_DATE)
    assert Position.objects.count() == 63


def test_options_roll_to_monthly_expiries_2_to_10_months_out_in_original_order(demo_data):
    options = list(Position.objects.filter(position_type__in=["LC", "LP", "SC", "SP"]).order_by("symbol"))
    assert len(options) == 8
    for option in options:
        months_out = (option.expiration.year - SEED_DATE.year) * 12 + option.expiration.month - SEED_DATE.month
        assert 1 <= months_out <= 11
        assert option.expiration > SEED_DATE + dt.timedelta(days=45)
        if option.underlying_symbol == "VIX":
            assert option.expiration.weekday() == 2  # Wednesday
        else:
            assert option.expiration.weekday() == 4 and 15 <= option.expiration.day <= 21
        assert option.symbol.startswith(option.underlying_symbol)
    spy = next(o for o in options if o.underlying_symbol == "SPY")
    assert spy.symbol == f"SPY{spy.expiration:%y%m%d}C00460000"
    # Original order: VIX (Jul) < QQQ/AAPL/TSLA (Aug) < SPY/MSFT/META (Sep) < NVDA (Oct).
    by_underlying = {o.underlying_symbol: o.expiration for o in options}
    assert by_underlying["VIX"] < by_underlying["QQQ"] == by_underlying["AAPL"] == by_underlying["TSLA"]
    assert by_underlying["TSLA"] < by_underlying["SPY"] == by_underlying["MSFT"] < by_underlying["NVDA"]


def test_third_friday_and_vix_expiry_known_dates():
    assert third_friday(2025, 9) == dt.date(2025, 9, 19)
    assert third_friday(2025, 8) == dt.date(2025, 8, 15)
    # VIX July 2025 monthly expiry was Wednesday 16 July 2025 (30 days before 15 August).
    assert vix_expiry(2025, 7) == dt.date(2025, 7, 16)
    assert rolled_expiry(
        original=dt.date(2025, 9, 19),
        earliest_original=dt.date(2025, 7, 16),
        seeded_on=SEED_DATE,
        underlying="SPY",
    ) == third_friday(2027, 3)
