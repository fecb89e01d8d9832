"""``sync_market_data``: cache-first price sync, backfill and the factor-data check."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketdata.models import SyncRun, SyncStatus
from marketdata.providers import PROVIDER_NAMES, ProviderError
from marketdata.services import factor_data_ensure, prices_sync


class Command(BaseCommand):
    help = (
        "Sync daily bars, asking the provider only for missing sessions. Default: the last 5 trading days "
        "for every held symbol, the factor ETFs, TLT and option underlyings. --backfill DAYS fills a longer "
        "window; --ensure-factor-data makes sure every symbol factor analysis needs has 252 sessions. "
        "Exits non-zero when every symbol failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=5, help="Sessions to sync, ending at the latest close (5).")
        parser.add_argument("--backfill", type=int, metavar="DAYS", help="Backfill this many sessions instead.")
        parser.add_argument(
            "--ensure-factor-data",
            action="store_true",
            help="Backfill any symbol factor analysis needs that has fewer than --min-days sessions.",
        )
        parser.add_argument("--min-days", type=int, default=252, help="Sessions --ensure-factor-data wants (252).")
        parser.add_argument("--symbols", nargs="+", metavar="SYMBOL", help="Only these symbols (space or comma).")
        parser.add_argument("--provider", choices=PROVIDER_NAMES, help="Override MARKET_DATA_PROVIDER.")
        parser.add_argument("--quiet-progress", action="store_true", help="No progress lines.")

    def _progress(self, enabled: bool) -> Any:
        if not enabled:
            return None
        state = {"last": -1}

        def report(done: int, total: int, symbol: str) -> None:
            step = max(1, total // 10)
            if total >= 100 and (done % step == 0 or done == total) and done != state["last"]:
                state["last"] = done
                self.stdout.write(f"  … {done}/{total} symbols ({100 * done // total}%), last {symbol}")
                sys.stdout.flush()

        return report

    def handle(self, *args: Any, **options: Any) -> None:
        for name in ("days", "backfill", "min_days"):
            if options.get(name) is not None and options[name] < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be at least 1.")
        symbols = None
        if options["symbols"]:
            symbols = [s.strip().upper() for raw in options["symbols"] for s in raw.split(",") if s.strip()]
            if not symbols:
                raise CommandError("--symbols needs at least one symbol.")
        progress = self._progress(not options["quiet_progress"])
        try:
            if options["ensure_factor_data"]:
                self._ensure(options, progress)
                return
            run = prices_sync(
                symbols=symbols,
                days=options["days"],
                backfill_days=options["backfill"],
                provider=options["provider"],
                progress=progress,
            )
        except (ProviderError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self._report(run)
        if run.status == SyncStatus.FAILED:
            raise CommandError(f"Sync failed: all {run.symbols_failed} symbols failed (source: {run.provider}).")

    def _report(self, run: SyncRun) -> None:
        styles: dict[str, Callable[[str], str]] = {
            SyncStatus.SUCCESS: self.style.SUCCESS,
            SyncStatus.PARTIAL: self.style.WARNING,
        }
        style = styles.get(run.status, self.style.ERROR)
        self.stdout.write(
            style(
                f"Market data {run.get_kind_display().lower()} from {run.provider} "
                f"({run.start_date} … {run.end_date}): {run.status}"
            )
        )
        self.stdout.write(
            f"  Symbols: {run.symbols_requested} requested, {run.symbols_ok} ok "
            f"({run.symbols_cached} already cached), {run.symbols_failed} failed, "
            f"{run.symbols_unavailable} unavailable"
        )
        self.stdout.write(
            f"  Rows written: {run.rows_written} (source: {run.provider}); rejected: {run.rows_rejected}; "
            f"option quotes: {run.option_quotes_written}; requests: {run.requests_made}; {run.duration_s:.2f} s"
        )
        for symbol, reason in sorted(run.unavailable.items()):
            self.stdout.write(self.style.WARNING(f"  Unavailable {symbol}: {reason}"))
        for symbol, reason in sorted(run.failures.items()):
            self.stdout.write(self.style.ERROR(f"  Failed {symbol}: {reason} (retried next run)"))

    def _ensure(self, options: dict[str, Any], progress: Any) -> None:
        report = factor_data_ensure(min_days=options["min_days"], provider=options["provider"], progress=progress)
        if report.sync_run is not None:
            self._report(report.sync_run)
        self.stdout.write(
            f"Factor data as of {report.as_of} (source: {report.source}): "
            f"{len(report.enough)} symbols with ≥ {report.min_days} sessions"
        )
        for symbol, n in sorted(report.enough.items()):
            self.stdout.write(f"  ok       {symbol:<8} {n} sessions")
        for symbol, n in sorted(report.insufficient.items()):
            reason = report.unavailable.get(symbol) or (report.sync_run.failures.get(symbol) if report.sync_run else "")
            self.stdout.write(
                self.style.WARNING(f"  short    {symbol:<8} {n} sessions {('— ' + reason) if reason else ''}")
            )
        if report.insufficient and not report.enough:
            raise CommandError("No symbol has enough history for factor analysis.")
