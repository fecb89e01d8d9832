"""``backfill_var``: rebuild past days' VaR results from stored prices (the history the VaR backtest reads)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analytics.services.var_backfill import var_backfill
from core.commands import date_option


class Command(BaseCommand):
    help = (
        "Recompute the 1-day VaR results of DAYS sessions ending at --date (default: the latest completed session) "
        "from stored prices, each day as the batch would have computed it then, replacing that day's stored VaR. "
        "Idempotent. Needs each day's lookback of prices (sync_market_data --backfill) and, for the backtest, "
        "the snapshots (backfill_snapshots)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=250, help="Sessions to rebuild (default 250).")
        parser.add_argument("--date", help="Last session YYYY-MM-DD (default: the latest completed session).")
        parser.add_argument("--portfolio", action="append", help="Only this portfolio id (repeatable).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["days"] < 1:
            raise CommandError("--days must be at least 1.")
        end = date_option(options["date"])
        portfolio_ids = None
        if options["portfolio"]:
            try:
                portfolio_ids = [uuid.UUID(p) for p in options["portfolio"]]
            except ValueError:
                raise CommandError(
                    f"--portfolio: expected a portfolio id (UUID), got {options['portfolio']!r}"
                ) from None
        started = time.perf_counter()
        try:
            outcome = var_backfill(
                days=options["days"],
                end=end,
                portfolio_ids=portfolio_ids,
                progress=lambda done, total, day: self.stdout.write(f"  {done}/{total} sessions (to {day})"),
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        elapsed = time.perf_counter() - started
        if outcome.skipped:
            first = min(outcome.skipped)
            self.stdout.write(
                self.style.WARNING(f"{len(outcome.skipped)} session(s) skipped, from {first}: {outcome.skipped[first]}")
            )
        if outcome.without_positions:
            self.stdout.write(
                f"{outcome.without_positions} session(s) before any position was held: nothing to compute."
            )
        span = f" ({outcome.first_day} to {outcome.last_day})" if outcome.first_day else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"VaR results written: {outcome.rows} for {outcome.computed} of {outcome.sessions} sessions{span} "
                f"in {elapsed:.1f}s"
            )
        )
        if outcome.computed == 0 and outcome.skipped:
            raise CommandError("No session could be computed: load more price history (sync_market_data --backfill).")
