"""Every bad position shape is refused by the service with a message naming the rule, and by the database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from portfolios.models import Position
from portfolios.services import position_create, position_update

STOCK = {
    "symbol": "AAPL",
    "position_type": "LONG",
    "quantity": 10,
    "entry_price": 100,
    "entry_date": "2024-01-02",
}
OPTION = {
    "position_type": "LC",
    "underlying_symbol": "SPY",
    "strike": 460,
    "expiration": "2027-01-15",
    "quantity": 2,
    "entry_price": 7.5,
    "entry_date": "2024-01-10",
}

BAD_SHAPES = [
    ("zero quantity", {**STOCK, "quantity": 0}, "quantity", "quantity_zero"),
    ("long with negative quantity", {**STOCK, "quantity": -5}, "quantity", "quantity_sign"),
    (
        "short with positive quantity",
        {**STOCK, "position_type": "SHORT", "quantity": 5},
        "quantity",
        "quantity_sign",
    ),
    ("long call negative", {**OPTION, "quantity": -1}, "quantity", "quantity_sign"),
    ("long put negative", {**OPTION, "position_type": "LP", "quantity": -1}, "quantity", "quantity_sign"),
    ("short call positive", {**OPTION, "position_type": "SC", "quantity": 1}, "quantity", "quantity_sign"),
    ("short put positive", {**OPTION, "position_type": "SP", "quantity": 1}, "quantity", "quantity_sign"),
    ("option without underlying", {**OPTION, "underlying_symbol": ""}, "underlying_symbol", "option_fields"),
    ("option without strike", {**OPTION, "strike": None}, "strike", "option_fields"),
    ("option with zero strike", {**OPTION, "strike": 0}, "strike", "option_fields"),
    ("option with negative strike", {**OPTION, "strike": -10}, "strike", "option_fields"),
    ("option without expiration", {**OPTION, "expiration": None}, "expiration", "option_fields"),
    ("option with zero multiplier", {**OPTION, "multiplier": 0}, "multiplier", "option_fields"),
    ("stock with underlying", {**STOCK, "underlying_symbol": "SPY"}, "underlying_symbol", "stock_fields"),
    ("stock with strike", {**STOCK, "strike": 100}, "strike", "stock_fields"),
    ("stock with expiration", {**STOCK, "expiration": "2027-01-15"}, "expiration", "stock_fields"),
    ("stock with multiplier", {**STOCK, "multiplier": 100}, "multiplier", "stock_fields"),
]


@pytest.mark.parametrize(("case", "fields", "field", "rule"), BAD_SHAPES, ids=[c[0] for c in BAD_SHAPES])
def test_the_service_rejects_each_bad_shape_naming_the_rule(portfolio, case, fields, field, rule):
    with pytest.raises(ValidationError) as excinfo:
        position_create(portfolio=portfolio, **fields)
    messages = excinfo.value.message_dict[field]
    assert any(f"Rule {rule}" in m for m in messages), messages
    assert Position.objects.count() == 0


def _raw_position(portfolio, **overrides) -> Position:
    base = {
        "portfolio": portfolio,
        "symbol": "AAPL",
        "position_type": "LONG",
        "asset_class": "stock",
        "quantity": Decimal(10),
        "entry_price": Decimal(100),
        "entry_date": dt.date(2024, 1, 2),
    }
    return Position(**{**base, **overrides})


DB_BAD_SHAPES = [
    ("position_quantity_not_zero", {"quantity": Decimal(0)}),
    ("position_long_types_positive_quantity", {"quantity": Decimal(-1)}),
    ("position_short_types_negative_quantity", {"position_type": "SHORT", "quantity": Decimal(1)}),
    (
        "position_option_fields_required",
        {"position_type": "LC", "asset_class": "option", "multiplier": Decimal(100), "strike": Decimal(5)},
    ),
    ("position_stock_fields_absent", {"strike": Decimal(100)}),
    ("position_stock_fields_absent", {"multiplier": Decimal(100)}),
    ("position_entry_price_not_negative", {"entry_price": Decimal(-1)}),
]


@pytest.mark.parametrize(
    ("constraint", "overrides"), DB_BAD_SHAPES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(DB_BAD_SHAPES)]
)
def test_the_database_refuses_bad_shapes_that_skip_the_service(portfolio, constraint, overrides):
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        _raw_position(portfolio, **overrides).save()
    message = str(excinfo.value)
    # PostgreSQL names the first violated constraint (a zero quantity also breaks the sign rule);
    # SQLite names it too ("CHECK constraint failed: <name>").
    assert constraint in message or ("quantity" in constraint and "quantity" in message), message


def test_a_valid_option_gets_its_occ_symbol_and_default_multiplier(portfolio):
    position = position_create(portfolio=portfolio, tags=["Overlay"], **OPTION)
    assert position.symbol == "SPY270115C00460000"
    assert position.multiplier == 100
    assert position.asset_class == "option"
    assert [t.name for t in position.tags.all()] == ["Overlay"]


def test_an_update_that_breaks_a_rule_is_refused_and_leaves_the_row(portfolio):
    position = position_create(portfolio=portfolio, **STOCK)
    with pytest.raises(ValidationError) as excinfo:
        position_update(position=position, quantity=-3)
    assert "quantity_sign" in str(excinfo.value)
    position.refresh_from_db()
    assert position.quantity == 10


def test_changing_an_option_strike_rebuilds_its_symbol(portfolio):
    position = position_create(portfolio=portfolio, **OPTION)
    position_update(position=position, strike=Decimal("470.5"))
    position.refresh_from_db()
    assert position.symbol == "SPY270115C00470500"
