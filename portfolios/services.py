"""Writes for portfolios, positions and tags. Every write validates first and is atomic."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from portfolios.models import Portfolio, Position, Tag, TagType, User
from portfolios.validation import PositionInput, position_input_from_raw

logger = logging.getLogger("sigmasight.portfolios")

POSITION_FIELDS = tuple(PositionInput.__dataclass_fields__)
CSV_REQUIRED_COLUMNS = ("symbol", "position_type", "quantity", "entry_price", "entry_date")
CSV_MAX_ROWS = 5000


def portfolio_create(
    *,
    user: User,
    name: str,
    description: str = "",
    equity_balance: Decimal | None = None,
    currency: str = "USD",
) -> Portfolio:
    """Create a portfolio for ``user``; names are unique per user."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": ["name is required."]})
    if equity_balance is not None and equity_balance < 0:
        raise ValidationError({"equity_balance": ["equity_balance must not be negative."]})
    if Portfolio.objects.filter(user=user, name=name).exists():
        raise ValidationError({"name": [f"You already have a portfolio named {name!r}."]})
    return Portfolio.objects.create(
        user=user, name=name, description=description, equity_balance=equity_balance, currency=currency
    )


def portfolio_update(*, portfolio: Portfolio, **changes: Any) -> Portfolio:
    """Change name, description or equity balance of a portfolio."""
    allowed = {"name", "description", "equity_balance"}
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
def position_update(*, position: Position, tags: Iterable[str] | None = None, **changes: Any) -> Position:
    """Apply ``changes`` to a position; the result must satisfy the same rules as a new one."""
    unknown = set(changes) - set(POSITION_FIELDS)
    if unknown:
        raise ValidationError({field: ["Unknown or read-only field."] for field in sorted(unknown)})
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
