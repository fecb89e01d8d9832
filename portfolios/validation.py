"""Position shape rules, checked before the database's CHECK constraints.

Each rule has a stable code and a message that names it, so a rejected position tells the user
exactly what to fix (e.g. ``quantity_sign``: "SHORT positions need a negative quantity").

This is the one validation of every way a position enters: the JSON API (its serializers take
their bounds from ``NUMBER_BOUNDS`` here), CSV import (API, web page and ``import_positions``), the
admin's forms (``portfolios.admin.PositionAdminForm``) and the demo seed. Numbers are checked for
being finite, within range and within the column's digits here, not by the database: SQLite does
not enforce ``max_digits``, and a value it stores but cannot read back (``1e308``) would break
every later read of the portfolio.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError

from marketdata.occ import MAX_STRIKE, occ_symbol
from portfolios.models import LONG_TYPES, OPTION_TYPES, SHORT_TYPES, AssetClass, PositionType

SYMBOL_MAX = 40
# The symbol character set (issue 17.8): upper-case letters and digits, then also ``.`` ``-`` ``/``
# (BRK.B, BRK-B, BF/B); an index may start with ``^`` (^VIX). Nothing a spreadsheet or a Markdown/HTML
# renderer could read as a formula or markup (= + @ < > | ` … and spaces are all refused). Input is
# upper-cased before the check.
SYMBOL_PATTERN = re.compile(r"\^?[A-Z0-9][A-Z0-9./-]*")
SYMBOL_CHARSET = "A-Z, 0-9, '.', '-', '/' (a leading '^' for an index); starting with a letter or digit"


def symbol_problem(symbol: str, field: str = "symbol") -> str | None:
    """Why ``symbol`` (already upper-cased) is not an acceptable symbol, or None."""
    if symbol and not SYMBOL_PATTERN.fullmatch(symbol):
        return f"{field} may only contain {SYMBOL_CHARSET}; got {symbol[:60]!r}."
    return None


UNDERLYING_MAX = 20
NOTES_MAX = 10_000


@dataclass(frozen=True)
class NumberBounds:
    """Accepted range of a numeric position field (inclusive) and its column's digits.

    The range keeps integer digits + ``decimal_places`` within ``max_digits`` even after SQLite's
    float round trip (a 20-digit value comes back as a float that no longer fits the column).
    """

    max_digits: int
    decimal_places: int
    min_value: Decimal
    max_value: Decimal


# Quantity in shares or contracts (signed); prices in USD per share; strike as OCC symbols code it
# (8 digits, 3 decimals); multiplier in shares per contract.
NUMBER_BOUNDS: dict[str, NumberBounds] = {
    "quantity": NumberBounds(20, 6, Decimal("-1e12"), Decimal("1e12")),
    "entry_price": NumberBounds(20, 6, Decimal(0), Decimal("1e12")),
    "exit_price": NumberBounds(20, 6, Decimal(0), Decimal("1e12")),
    "strike": NumberBounds(20, 6, Decimal(0), MAX_STRIKE),
    "multiplier": NumberBounds(12, 4, Decimal(0), Decimal("1e6")),
}


@dataclass(frozen=True)
class PositionInput:
    """Normalised, typed fields of a position as a client or a file gave them."""

    symbol: str
    position_type: str
    quantity: Decimal
    entry_price: Decimal
    entry_date: dt.date
    asset_class: str = AssetClass.STOCK
    underlying_symbol: str = ""
    strike: Decimal | None = None
    expiration: dt.date | None = None
    multiplier: Decimal = Decimal("1")
    exit_price: Decimal | None = None
    exit_date: dt.date | None = None
    notes: str = ""


def _decimal(value: Any, field: str, errors: dict[str, list[str]]) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        result = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errors.setdefault(field, []).append(f"{field} must be a number, got {value!r}.")
        return None
    if not result.is_finite():
        errors.setdefault(field, []).append(f"{field} must be a finite number, got {value!r}.")
        return None
    bounds = NUMBER_BOUNDS[field]
    if not bounds.min_value <= result <= bounds.max_value:
        errors.setdefault(field, []).append(
            f"{field} must be between {bounds.min_value:f} and {bounds.max_value:f}, got {value!r}."
        )
        return None
    places = Decimal(1).scaleb(-bounds.decimal_places)
    if result != result.quantize(places):  # in range, so the quantize cannot overflow
        errors.setdefault(field, []).append(
            f"{field} has more than {bounds.decimal_places} decimal places, got {value!r}."
        )
        return None
    return result


def _date(value: Any, field: str, errors: dict[str, list[str]]) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        errors.setdefault(field, []).append(f"{field} must be a date as YYYY-MM-DD, got {value!r}.")
        return None


def position_input_from_raw(raw: dict[str, Any]) -> PositionInput:
    """Parse and check a raw mapping of position fields; raise ``ValidationError`` per field.

    Rules (their codes in brackets): quantity ≠ 0 [quantity_zero]; LONG/LC/LP positive and
    SHORT/SC/SP negative [quantity_sign]; option types need underlying, strike > 0, expiration
    and multiplier > 0 [option_fields]; stock types must not have them [stock_fields].
    """
    errors: dict[str, list[str]] = {}
    symbol = str(raw.get("symbol") or "").strip().upper()
    position_type = str(raw.get("position_type") or "").strip().upper()
    if position_type not in PositionType.values:
        errors["position_type"] = [f"position_type must be one of {', '.join(PositionType.values)}."]
    quantity = _decimal(raw.get("quantity"), "quantity", errors)
    entry_price = _decimal(raw.get("entry_price"), "entry_price", errors)
    entry_date = _date(raw.get("entry_date"), "entry_date", errors)
    strike = _decimal(raw.get("strike"), "strike", errors)
    expiration = _date(raw.get("expiration"), "expiration", errors)
    multiplier_raw = _decimal(raw.get("multiplier"), "multiplier", errors)
    exit_price = _decimal(raw.get("exit_price"), "exit_price", errors)
    exit_date = _date(raw.get("exit_date"), "exit_date", errors)
    underlying = str(raw.get("underlying_symbol") or "").strip().upper()
    is_option = position_type in OPTION_TYPES
    asset_class = str(raw.get("asset_class") or (AssetClass.OPTION if is_option else AssetClass.STOCK)).lower()

    if not symbol and not is_option:
        errors.setdefault("symbol", []).append("symbol is required.")
    if len(symbol) > SYMBOL_MAX:
        errors.setdefault("symbol", []).append(f"symbol is longer than {SYMBOL_MAX} characters.")
    for field, named in (("symbol", symbol), ("underlying_symbol", underlying)):
        problem = symbol_problem(named, field)
        if problem:
            errors.setdefault(field, []).append(problem)
    if len(underlying) > UNDERLYING_MAX:
        errors.setdefault("underlying_symbol", []).append(
            f"underlying_symbol is longer than {UNDERLYING_MAX} characters."
        )
    notes = str(raw.get("notes") or "")
    if len(notes) > NOTES_MAX:
        errors.setdefault("notes", []).append(f"notes are longer than {NOTES_MAX} characters.")
    if quantity is None and "quantity" not in errors:
        errors["quantity"] = ["quantity is required."]
    if entry_price is None and "entry_price" not in errors:
        errors["entry_price"] = ["entry_price is required."]
    if entry_price is not None and entry_price < 0:
        errors.setdefault("entry_price", []).append("entry_price must not be negative.")
    if entry_date is None and "entry_date" not in errors:
        errors["entry_date"] = ["entry_date is required."]
    if asset_class not in AssetClass.values:
        errors.setdefault("asset_class", []).append(f"asset_class must be one of {', '.join(AssetClass.values)}.")

    if quantity is not None:
        if quantity == 0:
            errors.setdefault("quantity", []).append("Rule quantity_zero: quantity must not be 0.")
        elif position_type in LONG_TYPES and quantity < 0:
            errors.setdefault("quantity", []).append(
                f"Rule quantity_sign: {position_type} positions need a positive quantity, got {quantity}."
            )
        elif position_type in SHORT_TYPES and quantity > 0:
            errors.setdefault("quantity", []).append(
                f"Rule quantity_sign: {position_type} positions need a negative quantity, got {quantity}."
            )

    if is_option:
        multiplier = Decimal("100") if multiplier_raw is None else multiplier_raw
        if not underlying:
            errors.setdefault("underlying_symbol", []).append(
                f"Rule option_fields: {position_type} options need an underlying_symbol."
            )
        if strike is None or strike <= 0:
            errors.setdefault("strike", []).append(f"Rule option_fields: {position_type} options need a strike > 0.")
        if expiration is None and "expiration" not in errors:
            errors["expiration"] = [f"Rule option_fields: {position_type} options need an expiration date."]
        if multiplier <= 0:
            errors.setdefault("multiplier", []).append("Rule option_fields: options need a multiplier > 0.")
        asset_class = AssetClass.OPTION
    else:
        multiplier = Decimal("1") if multiplier_raw is None else multiplier_raw
        for field, value in (
            ("underlying_symbol", underlying),
            ("strike", strike),
            ("expiration", expiration),
        ):
            if value:
                errors.setdefault(field, []).append(
                    f"Rule stock_fields: {position_type or 'stock'} positions must not have {field}."
                )
        if multiplier != 1:
            errors.setdefault("multiplier", []).append(
                f"Rule stock_fields: {position_type or 'stock'} positions have multiplier 1, got {multiplier}."
            )
        if asset_class == AssetClass.OPTION:
            errors.setdefault("asset_class", []).append("Rule stock_fields: stock positions cannot be options.")
    if exit_date is not None and entry_date is not None and exit_date < entry_date:
        errors.setdefault("exit_date", []).append("exit_date must not be before entry_date.")

    if errors:
        raise ValidationError(dict(errors))

    if is_option and not symbol:
        symbol = occ_symbol(
            underlying=underlying,
            expiration=expiration,  # type: ignore[arg-type]
            is_call=position_type in ("LC", "SC"),
            strike=strike,  # type: ignore[arg-type]
        )
    return PositionInput(
        symbol=symbol,
        position_type=position_type,
        quantity=quantity,  # type: ignore[arg-type]
        entry_price=entry_price,  # type: ignore[arg-type]
        entry_date=entry_date,  # type: ignore[arg-type]
        asset_class=asset_class,
        underlying_symbol=underlying if is_option else "",
        strike=strike if is_option else None,
        expiration=expiration if is_option else None,
        multiplier=multiplier,
        exit_price=exit_price,
        exit_date=exit_date,
        notes=notes,
    )
