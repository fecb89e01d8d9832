"""The demo data set: 3 users, 3 portfolios, 63 positions (``fixtures/demo_portfolios.json``).

Seeding is idempotent: ids are deterministic (portfolio id = UUID of md5("<email>_portfolio"),
position id = UUID of md5("<email>_position_<n>")), passwords are only reset when they no longer
match, and a second run in the same calendar month leaves every row as it was. Only demo users and
their demo positions are touched: a position or tag a user added is never changed or deleted.

Anchoring. The fixture was written at early-2024 prices. The seed anchors the book to the latest
month-end session before the seeding date (``demo_anchor``), so the demo looks like a book a few
months old on whatever day it is run, in the simulated world the prices come from:

- Entry dates keep the fixture's spacing, the latest one ``ENTRY_LAG_DAYS`` (14) before the anchor —
  entries fall 2 to 14 weeks back (the session on or before each date).
- Entry prices are the simulated close on the entry date; an option's entry price is its simulated
  quote (the mid) on its entry date.
- Sizes are the fixture's *dollar* sizes: a stock keeps its dollar value at entry (fixture quantity ×
  fixture entry price ÷ today's entry price, rounded to whole shares) and an option its premium
  (fixture contracts × fixture premium ÷ the simulated premium at entry, whole contracts). The
  fixture's share counts were sized at early-2024 prices; re-used at other price levels they would
  leave the hedge fund 5-6× delta-adjusted and its options far in or out of the money.
- Strikes keep the fixture's moneyness: strike = spot at entry × (fixture strike ÷ the underlying's
  early-2024 reference price), rounded to the listed strike grid (``strike_step``), so strikes are
  near the money when the option is bought.
- Options expire on standard monthly expiries 2 to 10 months after the seeding month, keeping the
  fixture's order and spacing: the earliest original expiry goes 2 months out, later ones keep their
  month gaps (third Fridays; VIX on its Wednesday).

A demo option that expired and was settled by the batch (closed, its delivered stock added) is
rolled into a live option again by the next seed in another month; the stock its settlement
delivered is removed with it (it is the batch's, not a position the user added).

Prices come from the ``simulated`` provider in the configured ``SIMULATED_WORLD`` whatever
``MARKET_DATA_PROVIDER`` is: the demo is a simulated book.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from django.db import transaction

from portfolios.models import Portfolio, Position, TagType, User
from portfolios.services import delivery_position_id, tags_get_or_create
from portfolios.validation import position_input_from_raw

DEMO_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "demo_portfolios.json"
DEMO_PASSWORD = "demo12345"  # noqa: S105 - documented demo credential
DEMO_ADMIN_EMAIL = "admin@sigmasight.com"
DEMO_ADMIN_PASSWORD = "admin12345"  # noqa: S105 - documented demo credential
STRATEGY_TAGS = {"Options Overlay", "Long Momentum", "Short Value Traps", "Risk Hedge"}
INDEX_UNDERLYINGS = {"VIX"}
MIN_ROLL_MONTHS = 2
MAX_ROLL_MONTHS = 10
ENTRY_LAG_DAYS = 14


def deterministic_uuid(key: str) -> uuid.UUID:
    """The UUID whose hex is md5(key), as the original system derived its demo ids."""
    digest = hashlib.md5(key.encode(), usedforsecurity=False).hexdigest()  # an id scheme, not security
    return uuid.UUID(digest)


def demo_portfolio_id(email: str) -> uuid.UUID:
    return deterministic_uuid(f"{email}_portfolio")


def third_friday(year: int, month: int) -> dt.date:
    first_weekday, _ = calendar.monthrange(year, month)
    first_friday = 1 + (calendar.FRIDAY - first_weekday) % 7
    return dt.date(year, month, first_friday + 14)


def vix_expiry(year: int, month: int) -> dt.date:
    """VIX monthly expiry: the Wednesday 30 days before the third Friday of the following month."""
    next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
    return third_friday(next_year, next_month) - dt.timedelta(days=30)


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def rolled_expiry(*, original: dt.date, earliest_original: dt.date, seeded_on: dt.date, underlying: str) -> dt.date:
    """Roll an expired demo option forward, keeping the month gaps between the original expiries."""
    gap = (original.year - earliest_original.year) * 12 + (original.month - earliest_original.month)
    offset = min(MIN_ROLL_MONTHS + gap, MAX_ROLL_MONTHS)
    year, month = _add_months(seeded_on.year, seeded_on.month, offset)
    return vix_expiry(year, month) if underlying in INDEX_UNDERLYINGS else third_friday(year, month)


def demo_anchor(seeded_on: dt.date) -> dt.date:
    """The session the demo book is anchored to: the last session of the month before ``seeded_on``'s."""
    from marketdata.calendar import session_on_or_before

    return session_on_or_before(seeded_on.replace(day=1) - dt.timedelta(days=1))


def demo_entry_date(*, fixture_entry: dt.date, fixture_last_entry: dt.date, anchor: dt.date) -> dt.date:
    """The anchored entry date: the fixture's spacing kept, the latest entry ``ENTRY_LAG_DAYS`` before ``anchor``."""
    from marketdata.calendar import session_on_or_before

    return session_on_or_before(anchor - dt.timedelta(days=ENTRY_LAG_DAYS) - (fixture_last_entry - fixture_entry))


def strike_step(*, spot: float, underlying: str) -> Decimal:
    """The listed strike grid near ``spot``: VIX 1 point; equities 0.5 under $25, 1 under $200, 5 under
    $1,000, else 10."""
    if underlying in INDEX_UNDERLYINGS:
        return Decimal("1")
    for limit, step in ((25, "0.5"), (200, "1"), (1000, "5")):
        if spot < limit:
            return Decimal(step)
    return Decimal("10")


def demo_strike(*, fixture_strike: float, reference_price: float, spot: float, underlying: str) -> Decimal:
    """spot × (fixture strike ÷ reference price), on the strike grid (half up), at least one step."""
    step = strike_step(spot=spot, underlying=underlying)
    raw = Decimal(str(spot * fixture_strike / reference_price))
    return max(step, (raw / step).quantize(Decimal("1"), rounding=ROUND_HALF_UP) * step)


def _resized(*, fixture_quantity: Decimal, fixture_price: Decimal, price: Decimal) -> Decimal:
    """The whole quantity with the fixture's dollar size at ``price`` (sign kept, at least 1)."""
    size = (abs(fixture_quantity) * fixture_price / price).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    return max(Decimal("1"), size) * (1 if fixture_quantity > 0 else -1)


def load_fixture(path: Path = DEMO_FIXTURE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


@dataclass(frozen=True)
class SeedResult:
    users: int
    portfolios: int
    positions: int  # demo positions created or refreshed
    user_positions: int  # positions users added to demo portfolios: kept as they are


class _SimulatedPrices:
    """Closes and option premiums from the simulated provider, one provider call per symbol and date."""

    def __init__(self) -> None:
        from marketdata.providers import get_provider

        self.provider = get_provider("simulated")
        self._closes: dict[tuple[str, dt.date], Decimal] = {}

    def close(self, symbol: str, day: dt.date) -> Decimal:
        key = (symbol, day)
        if key not in self._closes:
            [bar] = self.provider.daily_bars(symbol=symbol, start=day, end=day)
            self._closes[key] = Decimal(str(bar.close))
        return self._closes[key]

    def premium(self, contract: str, day: dt.date) -> Decimal:
        quote = self.provider.option_quote(contract=contract, as_of=day)
        return Decimal(str(quote.last))


@dataclass(frozen=True)
class _Anchoring:
    """What every position of one seed shares: the seeding date, the anchor, the fixture's dates."""

    seeded_on: dt.date
    anchor: dt.date
    fixture_last_entry: dt.date
    earliest_original_expiry: dt.date | None
    prices: _SimulatedPrices


def _position_fields(raw: dict[str, Any], anchoring: _Anchoring) -> dict[str, Any]:
    """The demo position's fields, anchored (see the module doc)."""
    from marketdata.providers.simulated import symbol_spec
    from portfolios.validation import occ_symbol

    prices = anchoring.prices
    entry_date = demo_entry_date(
        fixture_entry=dt.date.fromisoformat(raw["entry_date"]),
        fixture_last_entry=anchoring.fixture_last_entry,
        anchor=anchoring.anchor,
    )
    fixture_quantity = Decimal(str(raw["quantity"]))
    fixture_price = Decimal(str(raw["entry_price"]))
    if raw.get("option_type"):
        underlying = raw["underlying_symbol"]
        assert anchoring.earliest_original_expiry is not None
        expiry = rolled_expiry(
            original=dt.date.fromisoformat(raw["original_expiry"]),
            earliest_original=anchoring.earliest_original_expiry,
            seeded_on=anchoring.seeded_on,
            underlying=underlying,
        )
        spot = prices.close(underlying, entry_date)
        strike = demo_strike(
            fixture_strike=float(raw["strike"]),
            reference_price=symbol_spec(underlying).reference_price,
            spot=float(spot),
            underlying=underlying,
        )
        is_call = raw["option_type"] == "call"
        contract = occ_symbol(underlying=underlying, expiration=expiry, is_call=is_call, strike=strike)
        premium = max(prices.premium(contract, entry_date), Decimal("0.01"))
        return {
            "symbol": "",
            "position_type": raw["position_type"],
            "underlying_symbol": underlying,
            "strike": strike,
            "expiration": expiry,
            "multiplier": raw.get("multiplier", 100),
            "quantity": _resized(fixture_quantity=fixture_quantity, fixture_price=fixture_price, price=premium),
            "entry_price": premium,
            "entry_date": entry_date,
        }
    price = prices.close(raw["symbol"], entry_date)
    quantity = _resized(fixture_quantity=fixture_quantity, fixture_price=fixture_price, price=price)
    return {
        "symbol": raw["symbol"],
        "position_type": raw.get("position_type") or ("LONG" if quantity > 0 else "SHORT"),
        "asset_class": raw.get("asset_class", "stock"),
        "quantity": quantity,
        "entry_price": price,
        "entry_date": entry_date,
    }


def _update_changed(obj: Portfolio | Position, values: dict[str, Any], *, created: bool) -> None:
    """Save only the fields that differ, so a re-run leaves rows (and ``updated_at``) untouched."""
    if created:
        return
    changed = [field for field, value in values.items() if getattr(obj, field) != value]
    if changed:
        for field in changed:
            setattr(obj, field, values[field])
        obj.save(update_fields=[*changed, "updated_at"])


@transaction.atomic
def demo_seed(*, seeded_on: dt.date, fixture: Path = DEMO_FIXTURE) -> SeedResult:
    """Create or refresh the demo users, portfolios, tags and positions, anchored to ``seeded_on``.

    Idempotent within a calendar month. Positions and tags that users added are kept untouched:
    the seed only creates or refreshes the fixture's own positions (deterministic ids).
    """
    data = load_fixture(fixture)
    every_position = [p for u in data["users"] for p in u["portfolio"]["positions"]]
    anchoring = _Anchoring(
        seeded_on=seeded_on,
        anchor=demo_anchor(seeded_on),
        fixture_last_entry=max(dt.date.fromisoformat(p["entry_date"]) for p in every_position),
        earliest_original_expiry=None,
        prices=_SimulatedPrices(),
    )
    position_count = user_positions = 0
    for user_data in data["users"]:
        email = user_data["email"].lower()
        user, _ = User.objects.get_or_create(email=email, defaults={"full_name": user_data["full_name"]})
        if user.full_name != user_data["full_name"] or not user.is_active:
            user.full_name, user.is_active = user_data["full_name"], True
            user.save(update_fields=["full_name", "is_active"])
        password = user_data.get("password", DEMO_PASSWORD)
        if not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])

        spec = user_data["portfolio"]
        portfolio_values = {
            "user": user,
            "name": spec["name"],
            "description": spec.get("description", ""),
            "equity_balance": Decimal(str(spec["equity_balance"])).quantize(Decimal("0.01")),
        }
        portfolio, created = Portfolio.objects.get_or_create(id=demo_portfolio_id(email), defaults=portfolio_values)
        _update_changed(portfolio, portfolio_values, created=created)
        raw_positions = spec["positions"]
        originals = [dt.date.fromisoformat(p["original_expiry"]) for p in raw_positions if p.get("original_expiry")]
        portfolio_anchoring = replace(anchoring, earliest_original_expiry=min(originals) if originals else None)

        tag_names = [name for p in raw_positions for name in p.get("tags", [])]
        strategy = [n for n in dict.fromkeys(tag_names) if n in STRATEGY_TAGS]
        regular = [n for n in dict.fromkeys(tag_names) if n not in STRATEGY_TAGS]
        tags = {t.name: t for t in tags_get_or_create(user=user, names=regular)}
        tags |= {t.name: t for t in tags_get_or_create(user=user, names=strategy, tag_type=TagType.STRATEGY)}

        demo_ids: list[uuid.UUID] = []
        for index, raw in enumerate(raw_positions):
            checked = position_input_from_raw(_position_fields(raw, portfolio_anchoring))
            position_id = deterministic_uuid(f"{email}_position_{index}")
            values = {
                "portfolio": portfolio,
                **{f: getattr(checked, f) for f in checked.__dataclass_fields__},
            }
            position, created = Position.objects.get_or_create(id=position_id, defaults=values)
            if not created and position.is_option and position.exit_date is not None:
                # A demo option settled at expiry is rolled into a live one again: the stock its exercise
                # or assignment delivered (the batch's, not the user's) goes with the settlement.
                Position.objects.filter(id=delivery_position_id(position)).delete()
            _update_changed(position, values, created=created)
            wanted_tags = {tags[n].pk for n in raw.get("tags", [])}
            if set(position.tags.values_list("pk", flat=True)) != wanted_tags:
                position.tags.set([tags[n] for n in raw.get("tags", [])])
            demo_ids.append(position_id)
        position_count += len(demo_ids)
        # Positions a user added to a demo portfolio are theirs: counted, never changed or removed.
        user_positions += Position.objects.filter(portfolio=portfolio).exclude(id__in=demo_ids).count()
    return SeedResult(
        users=len(data["users"]),
        portfolios=len(data["users"]),
        positions=position_count,
        user_positions=user_positions,
    )


def demo_admin_ensure(*, email: str = DEMO_ADMIN_EMAIL, password: str = DEMO_ADMIN_PASSWORD) -> User:
    """Create (or repair) the documented demo admin account for the Django admin."""
    user, created = User.objects.get_or_create(
        email=email, defaults={"full_name": "SigmaSight Demo Admin", "is_staff": True, "is_superuser": True}
    )
    if not (user.is_staff and user.is_superuser and user.is_active):
        user.is_staff = user.is_superuser = user.is_active = True
        user.save(update_fields=["is_staff", "is_superuser", "is_active"])
    if created or not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    return user
