"""``demo``: the whole demo day in one command, then serve it (``serve``: daphne on 127.0.0.1:8000)."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portfolios.demo import DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, demo_admin_ensure

# The VaR of each past day the backtest reads needs its own 252 daily returns before it: the demo books were
# entered over the 85 sessions before the seed date, so 252 + 85 sessions and a margin.
HISTORY_SESSIONS = 360
SNAPSHOT_SESSIONS = 252
BACKTEST_SESSIONS = 250  # the Basel window; days before a book's first position have no VaR to rebuild


class Command(BaseCommand):
    help = (
        "The demo day: migrate, seed the demo data, create the demo admin, load a year of (simulated by "
        "default) prices, run the batch with reports, backfill a year of snapshots, then start daphne on "
        "127.0.0.1:8000. Also rebuilds 250 past days' VaR (backfill_var) and backtests it against the snapshots' "
        "P&L. --no-serve runs the same path without starting the server (CI)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-serve", action="store_true", help="Do everything but start the server.")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def step(self, title: str) -> float:
        self.stdout.write(self.style.MIGRATE_HEADING(f"==> {title}"))
        return time.perf_counter()

    def done(self, started: float) -> None:
        self.stdout.write(f"    ({time.perf_counter() - started:.1f}s)")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.KEY_ORIGIN == "file":  # created by manage.py before the settings loaded
            self.stdout.write(f"SECRET_KEY: this installation's random key, kept in {settings.SECRET_KEY_FILE}")
        started = self.step("Applying migrations")
        call_command("migrate", interactive=False, verbosity=0)
        self.done(started)

        started = self.step("Seeding demo data")
        call_command("seed_demo", stdout=self.stdout)
        demo_admin_ensure()
        self.stdout.write(f"Demo admin: {DEMO_ADMIN_EMAIL} / {DEMO_ADMIN_PASSWORD}")
        call_command("check_database_content", stdout=self.stdout)
        self.done(started)

        started = self.step(f"Loading {HISTORY_SESSIONS} sessions of prices")
        call_command("sync_market_data", backfill=HISTORY_SESSIONS, stdout=self.stdout)
        self.done(started)

        started = self.step("Running the daily batch (analytics and reports)")
        try:
            call_command("run_batch", "--skip-sync", stdout=self.stdout)
        except CommandError as exc:
            self.stderr.write(self.style.ERROR(f"The batch reported failures: {exc}"))
            raise
        self.done(started)

        started = self.step(f"Backfilling {SNAPSHOT_SESSIONS} sessions of daily snapshots")
        call_command("backfill_snapshots", days=SNAPSHOT_SESSIONS, stdout=self.stdout)
        self.done(started)

        started = self.step(f"Rebuilding {BACKTEST_SESSIONS} past sessions of VaR and backtesting them")
        self._backtest()
        self.done(started)

        call_command("list_portfolios", stdout=self.stdout)
        self.step("Demo ready")
        if options["no_serve"]:
            self.stdout.write("Not starting the server (--no-serve).")
            return
        call_command("serve", host=options["host"], port=options["port"], stdout=self.stdout)

    def _backtest(self) -> None:
        """Past days' VaR up to the session before the batch's (whose VaR the batch stored), then the backtest
        step and the reports again; says how many days the backtest had."""
        from analytics.models import PortfolioResult
        from marketdata.calendar import latest_completed_session, previous_trading_day

        as_of = latest_completed_session()
        previous = previous_trading_day(as_of)
        call_command("backfill_var", days=BACKTEST_SESSIONS, date=previous.isoformat(), stdout=self.stdout)
        call_command("run_batch", "--skip-sync", "--steps", "backtest,reports", stdout=self.stdout)
        days = [r.payload.get("observations", 0) for r in PortfolioResult.objects.filter(kind="backtest", as_of=as_of)]
        if days:
            self.stdout.write(
                f"VaR backtest: {min(days)} to {max(days)} days of VaR against the next session's P&L per portfolio "
                f"(the Basel zone asks {BACKTEST_SESSIONS}; a demo book has no VaR before its first position)"
            )
