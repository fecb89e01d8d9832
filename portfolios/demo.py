"""The demo data set: 3 users, 3 portfolios, 63 positions (``fixtures/demo_portfolios.json``).

Seeding is idempotent: ids are deterministic (portfolio id = UUID of md5("<email>_portfolio"),
position id = UUID of md5("<email>_position_<n>")), passwords are only reset when they no longer
match, and a second run on the same day leaves every row as it was. Only demo users are touched.

Options in the file carry expiries in the past (``original_expiry``). They are rolled forward
to standard monthly expiries 2 to 10 months after the seeding date, keeping their order and
spacing: the earliest original expiry goes 2 months out, later ones keep their month gaps.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import transaction

from portfolios.models import Portfolio, Position, Tag, TagType, User
from portfolios.services import tags_get_or_create
from portfolios.validation import position_input_from_raw

DEMO_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "demo_portfolios.json"
DEMO_PASSWORD = "demo12345"  # noqa: S105 - documented demo credential
DEMO_ADMIN_EMAIL = "admin@sigmasight.com"
DEMO_ADMIN_PASSWORD = "admin12345"  # noqa: S105 - documented demo credential
STRATEGY_TAGS = {"Options Overlay", "Long Momentum", "Short Value Traps", "Risk Hedge"}
INDEX_UNDERLYINGS = {"VIX"}
MIN_ROLL_MONTHS = 2
MAX_ROLL_MONTHS = 10


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


def load_fixture(path: Path = DEMO_FIXTURE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


@dataclass(frozen=True)
class SeedResult:
    users: int
    portfolios: int
    positions: int
    positions_removed: int


def _position_fields(raw: dict[str, Any], expiry: dt.date | None) -> dict[str, Any]:
    option_type = raw.get("option_type")
    if option_type:
        fields = {
            "symbol": "",
            "position_type": raw["position_type"],
            "underlying_symbol": raw["underlying_symbol"],
            "strike": raw["strike"],
            "expiration": expiry,
            "multiplier": raw.get("multiplier", 100),
        }
    else:
        quantity = Decimal(str(raw["quantity"]))
        fields = {
            "symbol": raw["symbol"],
            "position_type": raw.get("position_type") or ("LONG" if quantity > 0 else "SHORT"),
            "asset_class": raw.get("asset_class", "stock"),
        }
    fields.update(quantity=raw["quantity"], entry_price=raw["entry_price"], entry_date=raw["entry_date"])
    return fields


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
    """Create or refresh the demo users, portfolios, tags and positions; idempotent."""
    data = load_fixture(fixture)
    position_count = removed = 0
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
        earliest = min(originals) if originals else None

        tag_names = [name for p in raw_positions for name in p.get("tags", [])]
        strategy = [n for n in dict.fromkeys(tag_names) if n in STRATEGY_TAGS]
        regular = [n for n in dict.fromkeys(tag_names) if n not in STRATEGY_TAGS]
        tags = {t.name: t for t in tags_get_or_create(user=user, names=regular)}
        tags |= {t.name: t for t in tags_get_or_create(user=user, names=strategy, tag_type=TagType.STRATEGY)}

        keep: list[uuid.UUID] = []
        for index, raw in enumerate(raw_positions):
            expiry = None
            if raw.get("original_expiry") and earliest is not None:
                expiry = rolled_expiry(
                    original=dt.date.fromisoformat(raw["original_expiry"]),
                    earliest_original=earliest,
                    seeded_on=seeded_on,
                    underlying=raw["underlying_symbol"],
                )
            checked = position_input_from_raw(_position_fields(raw, expiry))
            position_id = deterministic_uuid(f"{email}_position_{index}")
            values = {
                "portfolio": portfolio,
                **{f: getattr(checked, f) for f in checked.__dataclass_fields__},
            }
            position, created = Position.objects.get_or_create(id=position_id, defaults=values)
            _update_changed(position, values, created=created)
            wanted_tags = {tags[n].pk for n in raw.get("tags", [])}
            if set(position.tags.values_list("pk", flat=True)) != wanted_tags:
                position.tags.set([tags[n] for n in raw.get("tags", [])])
            keep.append(position_id)
        position_count += len(keep)
        removed += (
            Position.objects.filter(portfolio=portfolio).exclude(id__in=keep).delete()[1].get("portfolios.Position", 0)
        )
        Tag.objects.filter(user=user).exclude(name__in=tags).filter(positions__isnull=True).delete()
    return SeedResult(
        users=len(data["users"]),
        portfolios=len(data["users"]),
        positions=position_count,
        positions_removed=removed,
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
