"""The demo seed: counts, deterministic ids, anchoring, option roll-forward, idempotency, user data kept."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from decimal import Decimal

import pytest
from django.core import serializers
from django.core.management import call_command

from conftest import SEED_DATE
from marketdata.calendar import is_trading_day
from marketdata.providers.simulated import SimulatedProvider
from portfolios.demo import demo_seed, load_fixture, rolled_expiry, third_friday, vix_expiry
from portfolios.models import Portfolio, Position, Tag, User
from portfolios.services import position_expiry_settle, tags_get_or_create

SIM = SimulatedProvider()

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
    # The fixture's SPY 460 call at SPY 475 (its 16 Jan 2024 level): 0.968 × the spot at entry, on the $5 grid.
    [bar] = SIM.daily_bars(symbol="SPY", start=spy.entry_date, end=spy.entry_date)
    expected_strike = round(bar.close * 460 / 475 / 5) * 5
    assert spy.strike == expected_strike
    assert spy.symbol == f"SPY{spy.expiration:%y%m%d}C{expected_strike * 1000:08d}"
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


def _fixture_rows() -> dict[str, dict]:
    rows = {}
    for user in load_fixture()["users"]:
        for index, raw in enumerate(user["portfolio"]["positions"]):
            rows[str(uuid.UUID(hashlib.md5(f"{user['email']}_position_{index}".encode()).hexdigest()))] = raw
    return rows


def test_entries_are_a_few_months_back_at_the_simulated_price_of_their_date(demo_data):
    # Seeded on 23 November 2026: anchored to the last October session (30 October 2026).
    anchor = dt.date(2026, 10, 30)
    raw_by_id = _fixture_rows()
    for position in Position.objects.all():
        raw = raw_by_id[str(position.pk)]
        assert is_trading_day(position.entry_date)
        assert anchor - dt.timedelta(days=100) <= position.entry_date <= anchor - dt.timedelta(days=14)
        if position.is_option:
            quote = SIM.option_quote(contract=position.symbol, as_of=position.entry_date)
            assert float(position.entry_price) == quote.last
            premium = float(raw["quantity"]) * raw["entry_price"]  # the fixture's premium, per 100-share unit
            assert abs(float(position.quantity) * quote.last - premium) <= quote.last / 2 + 1e-9
        else:
            [bar] = SIM.daily_bars(symbol=position.symbol, start=position.entry_date, end=position.entry_date)
            assert float(position.entry_price) == bar.close
            # The fixture's dollar size at the new price, to the nearest share.
            dollars = float(raw["quantity"]) * raw["entry_price"]
            assert abs(float(position.quantity) * bar.close - dollars) <= bar.close / 2 + 1e-9
        assert (position.quantity > 0) == (raw["quantity"] > 0)


def test_option_strikes_are_near_the_money_when_bought(demo_data):
    for option in Position.objects.filter(position_type__in=["LC", "LP", "SC", "SP"]):
        [bar] = SIM.daily_bars(symbol=option.underlying_symbol, start=option.entry_date, end=option.entry_date)
        moneyness = float(option.strike) / bar.close
        limits = (1.0, 1.6) if option.underlying_symbol == "VIX" else (0.8, 1.25)
        assert limits[0] <= moneyness <= limits[1], (option.symbol, moneyness)


def test_a_run_later_in_the_same_month_changes_nothing_and_a_new_month_re_anchors(demo_data):
    before = _dump()
    demo_seed(seeded_on=dt.date(2026, 11, 2))
    assert _dump() == before
    entry_before = dict(Position.objects.values_list("pk", "entry_date"))
    demo_seed(seeded_on=dt.date(2026, 12, 7))
    after = dict(Position.objects.values_list("pk", "entry_date"))
    assert set(after) == set(entry_before) and Position.objects.count() == 63
    assert all(after[pk] > entry_before[pk] for pk in after)


def test_positions_and_tags_a_user_added_are_never_changed_or_removed(demo_data):
    portfolio = Portfolio.objects.get(pk="1d8ddd95-3b45-0ac5-35bf-cf81af94a5fe")
    mine = Position.objects.create(
        portfolio=portfolio, symbol="IBM", position_type="LONG", quantity=7, entry_price=150, entry_date=SEED_DATE
    )
    [tag] = tags_get_or_create(user=portfolio.user, names=["My watchlist"])
    [unused] = tags_get_or_create(user=portfolio.user, names=["Unused label"])
    mine.tags.set([tag])
    mine.refresh_from_db()
    snapshot = serializers.serialize("json", [mine, tag, unused])
    result = demo_seed(seeded_on=SEED_DATE)
    assert result.user_positions == 1 and result.positions == 63
    demo_seed(seeded_on=dt.date(2027, 2, 3))  # a new month: the demo's own rows re-anchor, the user's stay
    mine.refresh_from_db()
    tag.refresh_from_db()
    unused.refresh_from_db()
    assert serializers.serialize("json", [mine, tag, unused]) == snapshot
    assert list(mine.tags.all()) == [tag]
    assert Position.objects.count() == 64


def test_a_settled_demo_option_rolls_again_without_the_stock_it_delivered(demo_data):
    """The batch settled a demo option (closed, stock delivered); the next month's seed rolls the option into
    a live one again and removes that delivered stock — the batch's, not a user's — keeping the user's."""
    option = Position.objects.filter(position_type="LC").exclude(underlying_symbol="VIX").order_by("pk").first()
    portfolio = option.portfolio
    mine = Position.objects.create(
        portfolio=portfolio, symbol="IBM", position_type="LONG", quantity=7, entry_price=150, entry_date=SEED_DATE
    )
    settled = position_expiry_settle(
        option=option, settlement_price=option.strike + Decimal(10), delivery_date=option.expiration + dt.timedelta(1)
    )
    assert settled.outcome == "exercised" and settled.delivered is not None
    assert Position.objects.count() == 63 + 2
    demo_seed(seeded_on=dt.date(2027, 2, 3))
    option.refresh_from_db()
    assert option.exit_date is None and option.exit_price is None and option.expiration > dt.date(2027, 2, 3)
    assert not Position.objects.filter(pk=settled.delivered.pk).exists()
    assert Position.objects.filter(pk=mine.pk).exists() and Position.objects.count() == 63 + 1


def test_the_seed_command_says_what_it_kept(demo_data, capsys):
    portfolio = Portfolio.objects.get(pk="1d8ddd95-3b45-0ac5-35bf-cf81af94a5fe")
    Position.objects.create(
        portfolio=portfolio, symbol="IBM", position_type="LONG", quantity=7, entry_price=150, entry_date=SEED_DATE
    )
    call_command("seed_demo", "--date", SEED_DATE.isoformat())
    out = capsys.readouterr().out
    assert "63 positions; 1 positions added by users kept (never changed or removed)." in out
    assert Position.objects.filter(symbol="IBM").exists()
