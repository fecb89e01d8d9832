"""``import_prices FILE``: load daily bars from a CSV file (format in ``marketdata.providers.csv``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketdata.services import prices_import_csv


class Command(BaseCommand):
    help = (
        "Import daily bars from CSV: header symbol,date,open,high,low,close,adj_close,volume "
        "(symbol, date, close required). Bad rows are rejected and listed; good rows are upserted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="CSV file to import.")
        parser.add_argument("--source", default="csv", help="Source label stored with the bars (csv).")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            result = prices_import_csv(path_or_text=path, source=options["source"])
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path} is not UTF-8 text: {exc}") from exc
        self.stdout.write(
            f"Imported {result.rows_written} bars for {len(result.symbols)} symbols from {path} "
            f"(source: {options['source']}); {result.rows_rejected} rows rejected of {result.rows_read} read."
        )
        for error in result.errors[:50]:
            self.stdout.write(self.style.WARNING(f"  rejected: {error}"))
        if result.rows_written == 0:
            raise CommandError("Nothing imported.")
