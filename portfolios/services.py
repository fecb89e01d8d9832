"""Writes for portfolios, positions and tags. Every write validates first and is atomic."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from portfolios.models import DEFAULT_BENCHMARK, AssetClass, Portfolio, Position, PositionType, Tag, TagType, User
from portfolios.validation import PositionInput, position_input_from_raw

logger = logging.getLogger("sigmasight.portfolios")

POSITION_FIELDS = tuple(PositionInput.__dataclass_fields__)
CSV_REQUIRED_COLUMNS = ("symbol", "position_type", "quantity", "entry_price", "entry_date")
CSV_MAX_ROWS = 5000


def benchmark_symbol_clean(value: Any) -> str:
    """A benchmark symbol, upper-cased: one with stored prices, or a factor proxy (always priced by the batch).

    ValidationError naming ``benchmark_symbol`` otherwise."""
    from marketdata.factors import FACTOR_SYMBOLS
    from marketdata.models import PriceBar

    symbol = str(value or "").strip().upper()
    if not symbol:
        raise ValidationError({"benchmark_symbol": ["benchmark_symbol must not be blank."]})
    if len(symbol) > 20 or not all(c.isalnum() or c in ".-^" for c in symbol):
        raise ValidationError({"benchmark_symbol": [f"{symbol[:40]!r} is not a symbol."]})
    if symbol not in FACTOR_SYMBOLS and not PriceBar.objects.filter(symbol=symbol).exists():
        raise ValidationError(
            {"benchmark_symbol": [f"No prices are stored for {symbol!r}; sync them first or choose another symbol."]}
        )
    return symbol


def portfolio_create(
    *,
    user: User,
    name: str,
    description: str = "",
    equity_balance: Decimal | None = None,
    currency: str = "USD",
    benchmark_symbol: str = DEFAULT_BENCHMARK,
) -> Portfolio:
    """Create a portfolio for ``user``; names are unique per user."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": ["name is required."]})
    if equity_balance is not None and equity_balance < 0:
        raise ValidationError({"equity_balance": ["equity_balance must not be negative."]})
    benchmark_symbol = benchmark_symbol_clean(benchmark_symbol)
    if Portfolio.objects.filter(user=user, name=name).exists():
        raise ValidationError({"name": [f"You already have a portfolio named {name!r}."]})
    return Portfolio.objects.create(
        user=user,
        name=name,
        description=description,
        equity_balance=equity_balance,
        currency=currency,
        benchmark_symbol=benchmark_symbol,
    )


def portfolio_update(*, portfolio: Portfolio, **changes: Any) -> Portfolio:
    """Change name, description, equity balance or benchmark symbol of a portfolio."""
    allowed = {"name", "description", "equity_balance", "benchmark_symbol"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError({field: ["This field cannot be changed."] for field in sorted(unknown)})
    if "name" in changes:
        changes["name"] = str(changes["name"]).strip()
        if not changes["name"]:
            raise ValidationError({"name": ["name is required."]})
        clash = Portfolio.objects.filter(user_id=portfolio.user_id, name=changes["name"]).exclude(pk=portfolio.pk)
        if clash.exists():
            raise ValidationError({"name": [f"You already have a portfolio named {changes['name']!r}."]})
    if "benchmark_symbol" in changes:
        changes["benchmark_symbol"] = benchmark_symbol_clean(changes["benchmark_symbol"])
    balance = changes.get("equity_balance")
    if balance is not None and balance < 0:
        raise ValidationError({"equity_balance": ["equity_balance must not be negative."]})
    for field, value in changes.items():
        setattr(portfolio, field, value)
    portfolio.save(update_fields=[*changes, "updated_at"])
    return portfolio


def portfolio_delete(*, portfolio: Portfolio) -> None:
    portfolio.delete()


def tags_get_or_create(*, user: User, names: Iterable[str], tag_type: str = TagType.REGULAR) -> list[Tag]:
    """Return the user's tags with these names, creating the missing ones."""
    wanted = list(dict.fromkeys(n.strip() for n in names if n and n.strip()))
    existing = {t.name: t for t in Tag.objects.filter(user=user, name__in=wanted)}
    missing = [Tag(user=user, name=n, tag_type=tag_type) for n in wanted if n not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {t.name: t for t in Tag.objects.filter(user=user, name__in=wanted)}
    return [existing[n] for n in wanted]


def _save_checked(position: Position) -> Position:
    try:
        with transaction.atomic():
            position.save()
    except IntegrityError as exc:  # the CHECK constraints are the last line of defence
        raise ValidationError({"non_field_errors": [f"Rejected by a database constraint: {exc}"]}) from exc
    return position


@transaction.atomic
def position_create(*, portfolio: Portfolio, tags: Iterable[str] = (), **fields: Any) -> Position:
    """Validate the fields (see ``validation.position_input_from_raw``) and add a position."""
    data = position_input_from_raw(fields)
    position = _save_checked(Position(portfolio=portfolio, **asdict(data)))
    if tags:
        position.tags.set(tags_get_or_create(user=portfolio.user, names=tags))
    return position


@transaction.atomic
@transaction.atomic
def position_update(*, position: Position, tags: Iterable[str] | None = None, **changes: Any) -> Position:
    """Apply ``changes`` to a position; the result must satisfy the same rules as a new one.

    The changes are merged into the row as it is *now*, read under a lock (``SELECT … FOR UPDATE`` on
    PostgreSQL; on SQLite the transaction's ``BEGIN IMMEDIATE`` holds the write lock), not into the
    copy the caller loaded earlier: two simultaneous updates of different fields both survive
    (issue 17 standing suite, ``agent/tests/test_concurrency.py``). ``position`` is refreshed too.
    """
    unknown = set(changes) - set(POSITION_FIELDS)
    if unknown:
        raise ValidationError({field: ["Unknown or read-only field."] for field in sorted(unknown)})
    locked = Position.objects.select_for_update().get(pk=position.pk)
    for field in POSITION_FIELDS:
        setattr(position, field, getattr(locked, field))
    current = {field: getattr(position, field) for field in POSITION_FIELDS}
    merged = {**current, **changes}
    if (
        "symbol" not in changes
        and position.is_option
        and any(k in changes for k in ("underlying_symbol", "strike", "expiration", "position_type"))
    ):
        merged["symbol"] = ""  # rebuild the OCC symbol from the new contract terms
    data = position_input_from_raw(merged)
    for field, value in asdict(data).items():
        setattr(position, field, value)
    _save_checked(position)
    if tags is not None:
        position.tags.set(tags_get_or_create(user=position.portfolio.user, names=tags))
    return position


def position_delete(*, position: Position) -> None:
    position.delete()


def delivery_position_id(option: Position) -> uuid.UUID:
    """The id of the stock position an option's exercise or assignment delivers (one per contract held)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"sigmasight:delivery:{option.pk}:{option.symbol}")


@dataclass(frozen=True)
class ExpirySettlement:
    """What settling one expired option did: ``outcome`` is ``exercised`` (a long option in the money),
    ``assigned`` (a short one), ``cash_settled`` (in the money, no delivery) or ``expired_worthless``."""

    option_id: uuid.UUID
    outcome: str
    exit_price: Decimal
    delivered: Position | None


@transaction.atomic
def position_expiry_settle(
    *,
    option: Position,
    settlement_price: Decimal,
    delivery_date: dt.date | None,
    asset_class: str = AssetClass.STOCK,
) -> ExpirySettlement:
    """Settle an option after its expiration: close it at its intrinsic value and deliver the stock.

    ``settlement_price`` is the underlying's close on the expiration day. The option is closed with
    ``exit_date`` = its expiration (the last day it is held) and ``exit_price`` = its intrinsic value per
    share — max(S − K, 0) for a call, max(K − S, 0) for a put; 0 out of (or at) the money. In the money
    with a ``delivery_date`` (physical settlement: equity options), a stock position of
    quantity × multiplier shares — long for a long call or a short put, short for a long put or a short
    call — is created, entered on ``delivery_date`` (the session after expiry) at the settlement price,
    with the option's tags and a note naming the contract. ``delivery_date`` None: cash settlement
    (index options), nothing delivered. Idempotent: an option already closed is left as it is and its
    delivered position (if any) returned.
    """
    option = Position.objects.select_for_update().get(pk=option.pk)
    if not option.is_option or option.expiration is None or option.strike is None:
        raise ValidationError({"position": ["Only an option position can be settled at expiry."]})
    delivered_id = delivery_position_id(option)
    long_option = option.quantity > 0
    if option.exit_date is not None:
        existing = Position.objects.filter(pk=delivered_id).first()
        outcome = "exercised" if long_option else "assigned"
        if existing is None:
            outcome = "cash_settled" if option.exit_price else "expired_worthless"
        return ExpirySettlement(option.pk, outcome, option.exit_price or Decimal("0"), existing)
    strike = option.strike
    moneyness = settlement_price - strike if option.is_call else strike - settlement_price
    intrinsic = max(moneyness, Decimal("0"))
    option.exit_date = option.expiration
    option.exit_price = intrinsic
    in_the_money = intrinsic > 0
    delivered = None
    if not in_the_money:
        outcome = "expired_worthless"
        note = f"Expired worthless on {option.expiration} ({option.underlying_symbol} {settlement_price}; K {strike})."
    elif delivery_date is None:
        outcome = "cash_settled"
        note = f"Cash-settled on {option.expiration} at {intrinsic} ({option.underlying_symbol} {settlement_price})."
    else:
        outcome = "exercised" if long_option else "assigned"
        shares = option.quantity * option.multiplier * (1 if option.is_call else -1)
        note = (
            f"{outcome.capitalize()} on {option.expiration} ({option.underlying_symbol} {settlement_price}): "
            f"{abs(shares):f} shares {'received' if shares > 0 else 'delivered'} at strike {strike}."
        )
        delivered, _ = Position.objects.get_or_create(
            pk=delivered_id,
            defaults={
                "portfolio_id": option.portfolio_id,
                "symbol": option.underlying_symbol,
                "position_type": PositionType.LONG if shares > 0 else PositionType.SHORT,
                "asset_class": asset_class,
                "quantity": shares,
                "entry_price": settlement_price,
                "entry_date": delivery_date,
                "notes": f"Delivered by the {'exercise' if long_option else 'assignment'} of {option.symbol} on "
                f"{option.expiration} (strike {strike}; settlement close {settlement_price}).",
            },
        )
        delivered.tags.set(option.tags.all())
    option.notes = f"{option.notes}\n{note}".strip()
    option.save(update_fields=["exit_date", "exit_price", "notes", "updated_at"])
    logger.info("Settled %s (%s) in portfolio %s: %s", option.symbol, option.pk, option.portfolio_id, outcome)
    return ExpirySettlement(option.pk, outcome, intrinsic, delivered)


class CsvImportError(ValidationError):
    """Row-level errors of a CSV import; ``rows`` maps line numbers to field messages."""

    def __init__(self, rows: dict[str, Any]) -> None:
        self.rows = rows
        first_line, first = next(iter(rows.items()))
        field, messages = next(iter(first.items()))
        super().__init__(f"{len(rows)} row(s) rejected; line {first_line}: {field}: {messages[0]}")


def positions_import_csv(*, portfolio: Portfolio, content: str | bytes) -> list[Position]:
    """Import positions from CSV text: all rows or none.

    Columns: ``symbol, position_type, quantity, entry_price, entry_date`` (required) and
    ``underlying_symbol, strike, expiration, multiplier, asset_class, tags`` (tags separated by
    ``;``). Raises ``ValidationError`` with ``{"rows": {<line>: {field: [messages]}}}`` listing
    every bad row, and writes nothing in that case.
    """
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationError({"file": ["The file is not UTF-8 text."]}) from exc
    reader = csv.DictReader(io.StringIO(content, newline=""))
    try:
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise ValidationError({"file": [f"Not readable as CSV: {exc}"]}) from exc
    missing = [c for c in CSV_REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ValidationError({"file": [f"Missing required column(s): {', '.join(missing)}."]})
    reader.fieldnames = header

    parsed: list[tuple[PositionInput, list[str]]] = []
    row_errors: dict[str, Any] = {}
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise ValidationError({"file": [f"Not readable as CSV (line {reader.line_num}): {exc}"]}) from exc
    for line, row in enumerate(rows, start=2):
        if line - 1 > CSV_MAX_ROWS:
            raise ValidationError({"file": [f"More than {CSV_MAX_ROWS} rows; split the file."]})
        clean = {k: (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k}
        tags = [t.strip() for t in (clean.pop("tags", "") or "").split(";") if t.strip()]
        try:
            parsed.append((position_input_from_raw(clean), tags))
        except ValidationError as exc:
            row_errors[str(line)] = exc.message_dict
    if row_errors:
        raise CsvImportError(row_errors)
    if not parsed:
        raise ValidationError({"file": ["The file has no data rows."]})

    with transaction.atomic():
        positions = [Position(portfolio=portfolio, **asdict(data)) for data, _ in parsed]
        Position.objects.bulk_create(positions)
        tag_map = {
            t.name: t for t in tags_get_or_create(user=portfolio.user, names=[n for _, ts in parsed for n in ts])
        }
        links = [
            Position.tags.through(position_id=position.pk, tag_id=tag_map[name].pk)
            for position, (_, names) in zip(positions, parsed, strict=True)
            for name in dict.fromkeys(names)
        ]
        Position.tags.through.objects.bulk_create(links)
    logger.info("Imported %d positions into portfolio %s", len(positions), portfolio.pk)
    return positions
