"""``run_batch``: the daily batch — market data, every analytics step, then reports."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from analytics.results import registry
from analytics.services.batch import batch_run, steps_all, steps_resolve
from analytics.services.locking import BatchLocked
from marketdata.calendar import is_trading_day, latest_completed_session


class Command(BaseCommand):
    # A worker command: the system checks (URL conf, every view) cost a second of start-up and test
    # nothing the batch uses; `manage.py check` and `doctor` run them.
    requires_system_checks: list[str] = []
    help = (
        "Run the daily batch for a trading day: " + ", ".join(steps_all()) + ". "
        "Exit code 1 when any job failed. Safe to rerun: results for a portfolio and date are replaced."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--portfolio", action="append", help="Portfolio id (repeatable). Default: all.")
        parser.add_argument("--date", help="As-of trading day YYYY-MM-DD (default: the latest completed session).")
        earlier = ", ".join(f"{old}={new}" for old, new in sorted(registry.aliases().items()))
        parser.add_argument(
            "--steps",
            help=f"Comma-separated subset of: {','.join(steps_all())}. Earlier names still accepted: {earlier}.",
        )
        parser.add_argument("--skip-batch", action="store_true", help="Reports only.")
        parser.add_argument("--skip-reports", action="store_true", help="Everything but the reports.")
        parser.add_argument("--skip-sync", action="store_true", help="Do not sync market data (use cached prices).")
        parser.add_argument("--cluster", action="store_true", help="Fan out per portfolio chunk to django-q2 workers.")

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = self._as_of(options["date"])
        try:
            steps, notes = steps_resolve(
                [s.strip() for s in options["steps"].split(",") if s.strip()] if options["steps"] else None
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        for note in notes:
            self.stdout.write(self.style.WARNING(f"Note: {note}."))
        if options["skip_batch"]:
            steps = [s for s in steps if s == "reports"]
        if options["skip_reports"]:
            steps = [s for s in steps if s != "reports"]
        if options["skip_sync"]:
            steps = [s for s in steps if s != "market_data"]
        if not steps:
            raise CommandError("Nothing to run: the options removed every step.")
        portfolio_ids = None
        if options["portfolio"]:
            try:
                portfolio_ids = [uuid.UUID(p) for p in options["portfolio"]]
            except ValueError as exc:
                raise CommandError(f"--portfolio: not a portfolio id: {exc}") from None
        self.stdout.write(self.style.MIGRATE_HEADING(f"Batch for {as_of.isoformat()}: {', '.join(steps)}"))
        try:
            outcome = batch_run(
                as_of=as_of,
                portfolio_ids=portfolio_ids,
                steps=steps,
                use_cluster=options["cluster"],
                progress=lambda message: self.stdout.write(f"  {message}"),
            )
        except BatchLocked as exc:
            raise CommandError(str(exc)) from None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        except DatabaseError as exc:
            raise CommandError(
                f"The database failed mid-batch ({exc.__class__.__name__}: {str(exc).strip()[:300]}). "
                "The run is recorded as failed where the database could be reached again. Rerun the same "
                "command: results are replaced, never duplicated."
            ) from None
        run = outcome.run
        source = run.data_source or "n/a"
        label = " (offline simulated market data)" if source == "simulated" else ""
        summary = (
            f"Run {run.pk}: {run.status} in {(run.duration_ms or 0) / 1000:.2f}s — {outcome.completed_jobs} completed, "
            f"{outcome.failed_jobs} failed, {outcome.skipped_jobs} skipped; data source: {source}{label}"
        )
        if outcome.ok and outcome.skipped_jobs == 0:
            if run.warnings:
                self.stdout.write(self.style.WARNING(summary))
                for line in run.warnings.splitlines():
                    self.stdout.write(self.style.WARNING(f"  {line}"))
                return
            self.stdout.write(self.style.SUCCESS(summary))
            return
        self.stdout.write(self.style.WARNING(summary))
        for line in run.error_summary.splitlines():
            self.stdout.write(f"  {line}")
        if not outcome.ok:
            raise CommandError(f"{outcome.failed_jobs} job(s) failed; see `python manage.py batch_history`.")

    @staticmethod
    def _as_of(raw: str | None) -> dt.date:
        if not raw:
            return latest_completed_session()
        try:
            as_of = dt.date.fromisoformat(raw)
        except ValueError:
            raise CommandError(f"--date: expected YYYY-MM-DD, got {raw!r}") from None
        if not is_trading_day(as_of):
            raise CommandError(f"--date: {as_of} is not an NYSE trading day.")
        if as_of > latest_completed_session():
            raise CommandError(
                f"--date: {as_of} has not closed yet (latest completed session: {latest_completed_session()})."
            )
        return as_of
