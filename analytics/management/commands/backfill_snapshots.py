"""``backfill_snapshots``: rebuild daily portfolio snapshots from stored prices."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analytics.services.snapshots import snapshots_backfill
from core.commands import date_option


class Command(BaseCommand):
    help = "Rebuild DAYS sessions of daily snapshots (values, exposures, P&L, Greeks) ending at --date from prices."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=252)
        parser.add_argument("--date", help="Last session YYYY-MM-DD (default: the latest completed session).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["days"] < 1:
            raise CommandError("--days must be at least 1.")
        end = date_option(options["date"])
        written = snapshots_backfill(
            days=options["days"],
            end=end,
            progress=lambda done, total: self.stdout.write(f"  {done}/{total} sessions"),
        )
        self.stdout.write(self.style.SUCCESS(f"Snapshots written: {written}"))
