"""``seed_demo``: load the demo users, portfolios and positions (idempotent)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from portfolios.demo import demo_seed


class Command(BaseCommand):
    help = (
        "Create or refresh the 3 demo users (password demo12345), their 3 portfolios and 63 positions, "
        "anchored to the latest month-end: entries a few months back at simulated prices, options near the "
        "money on monthly expiries 2-10 months out. Idempotent within a month; positions and tags users "
        "added are never changed or removed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="Seeding date YYYY-MM-DD the demo is anchored to (default: today).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            seeded_on = dt.date.fromisoformat(options["date"]) if options["date"] else timezone.localdate()
        except ValueError as exc:
            raise CommandError(f"--date: expected YYYY-MM-DD, got {options['date']!r}") from exc
        result = demo_seed(seeded_on=seeded_on)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {result.users} users, {result.portfolios} portfolios, "
                f"{result.positions} positions; {result.user_positions} positions added by users kept "
                "(never changed or removed)."
            )
        )
