"""``market_data_status``: what the price cache holds, how fresh it is, and its quality flags."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from marketdata.selectors import market_data_summary, quarantines_open


class Command(BaseCommand):
    help = (
        "Print records, unique symbols, date range, source, stale symbols, gaps, extreme jumps and quarantined "
        "prices of the price cache."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=20, help="Rows to list per flag (20).")

    def handle(self, *args: Any, **options: Any) -> None:
        summary = market_data_summary()
        limit = options["limit"]
        self.stdout.write(self.style.MIGRATE_HEADING("Market data status"))
        self.stdout.write(f"  Records: {summary.records}")
        self.stdout.write(f"  Unique symbols: {summary.unique_symbols}")
        self.stdout.write(f"  Date range: {summary.first_date or '-'} … {summary.last_date or '-'}")
        self.stdout.write(f"  Source: {summary.data_source}")
        for source, n in sorted(summary.sources.items()):
            self.stdout.write(f"    {source}: {n} bars")
        self.stdout.write(f"  Option quotes: {summary.option_quotes}")
        self.stdout.write(f"  Latest completed session: {summary.expected_last_date}")
        if summary.records == 0:
            self.stdout.write(
                self.style.WARNING("  No prices stored. Run `python manage.py sync_market_data --backfill 252`.")
            )
        if summary.stale_symbols:
            self.stdout.write(self.style.WARNING(f"  Stale symbols ({len(summary.stale_symbols)}):"))
            for symbol in summary.stale_symbols[:limit]:
                self.stdout.write(f"    {symbol}: last bar {summary.last_date_by_symbol[symbol]}")
        else:
            self.stdout.write(self.style.SUCCESS("  Stale symbols: none"))
        if summary.gaps:
            self.stdout.write(self.style.WARNING(f"  Gaps ({len(summary.gaps)} symbols):"))
            for gap in summary.gaps[:limit]:
                self.stdout.write(f"    {gap.symbol}: {gap.missing} missing sessions, first {gap.first_missing}")
        else:
            self.stdout.write(self.style.SUCCESS("  Gaps: none"))
        if summary.jumps:
            self.stdout.write(self.style.WARNING(f"  Extreme jumps ({len(summary.jumps)}):"))
            for jump in summary.jumps[:limit]:
                self.stdout.write(f"    {jump.symbol} {jump.date}: {jump.change:+.1%}")
        held_back = quarantines_open()
        if held_back:
            self.stdout.write(
                self.style.ERROR(
                    f"  Quarantined prices ({len(held_back)}; not used by analytics until confirmed or corrected in "
                    "the admin, Market data › Price quarantines):"
                )
            )
            for q in held_back[:limit]:
                self.stdout.write(
                    f"    {q.symbol} {q.date}: {q.adj_close:g} is ×{q.multiple:.4g} the {q.reference_date} close "
                    f"{q.reference_close:g} (source {q.source})"
                )
        else:
            self.stdout.write(self.style.SUCCESS("  Quarantined prices: none"))
        run = summary.last_sync
        if run is not None:
            self.stdout.write(
                f"  Last sync: {run.started_at:%Y-%m-%d %H:%M} UTC, {run.kind} from {run.provider}, {run.status}, "
                f"{run.symbols_ok}/{run.symbols_requested} ok, {run.symbols_failed} failed, {run.rows_written} rows"
            )
            for symbol, reason in sorted(run.failures.items())[:limit]:
                self.stdout.write(self.style.ERROR(f"    failed {symbol}: {reason}"))
            for symbol, reason in sorted(run.unavailable.items())[:limit]:
                self.stdout.write(self.style.WARNING(f"    unavailable {symbol}: {reason}"))
