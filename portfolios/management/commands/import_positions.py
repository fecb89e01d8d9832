"""``import_positions``: add positions to a portfolio from a CSV file (all rows or none)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portfolios.models import Portfolio
from portfolios.services import CsvImportError, positions_import_csv


class Command(BaseCommand):
    help = (
        "Import positions from CSV into a portfolio. Columns: symbol, position_type, quantity, entry_price, "
        "entry_date [, underlying_symbol, strike, expiration, multiplier, asset_class, tags (';'-separated)]. "
        "Every row is checked first; if any is bad nothing is written."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--portfolio", required=True, help="Portfolio id (see list_portfolios).")
        parser.add_argument("file", type=Path, help="CSV file to import.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            portfolio = Portfolio.objects.select_related("user").get(pk=options["portfolio"])
        except (Portfolio.DoesNotExist, ValidationError, ValueError):
            raise CommandError(f"No portfolio with id {options['portfolio']}.") from None
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"File not found: {path}")
        try:
            created = positions_import_csv(portfolio=portfolio, content=path.read_bytes())
        except CsvImportError as exc:
            for line, fields in exc.rows.items():
                for field, messages in fields.items():
                    self.stderr.write(f"line {line}: {field}: {'; '.join(messages)}")
            raise CommandError(f"{len(exc.rows)} bad row(s); nothing was imported.") from None
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(self.style.SUCCESS(f"Imported {len(created)} positions into {portfolio.name}."))
