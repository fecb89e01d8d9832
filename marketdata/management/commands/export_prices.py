"""``export_prices``: stored daily bars as CSV in the format ``import_prices`` reads (correct, move, back up)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketdata.calendar import last_trading_days
from marketdata.selectors import price_bars

COLUMNS = ("symbol", "date", "open", "high", "low", "close", "adj_close", "volume")


class Command(BaseCommand):
    help = (
        "Write stored daily bars as CSV (symbol,date,open,high,low,close,adj_close,volume — the format "
        "import_prices reads; prices exactly as stored) for --symbols over the last --days sessions. Round trip: "
        "export, correct a value, import_prices the file: the corrected bars replace the stored ones."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--symbols", required=True, help="Comma-separated symbols, e.g. AAPL,MSFT.")
        parser.add_argument("--days", type=int, default=5, help="Sessions up to the latest completed one (5).")
        parser.add_argument("--output", metavar="FILE", help="Write here instead of standard output.")

    def handle(self, *args: Any, **options: Any) -> None:
        symbols = [s.strip().upper() for s in options["symbols"].split(",") if s.strip()]
        if not symbols:
            raise CommandError("--symbols: name at least one symbol.")
        if options["days"] < 1:
            raise CommandError("--days must be at least 1.")
        sessions = last_trading_days(count=options["days"])
        if options["output"]:
            with Path(options["output"]).open("w", encoding="utf-8", newline="") as handle:
                count = self._write(handle, symbols=symbols, start=sessions[0], end=sessions[-1])
            self.stderr.write(f"Wrote {count} bars to {options['output']}.")
        else:
            count = self._write(sys.stdout, symbols=symbols, start=sessions[0], end=sessions[-1])
        if count == 0:
            raise CommandError(f"No stored bars for {', '.join(symbols)} from {sessions[0]} to {sessions[-1]}.")

    @staticmethod
    def _write(handle: TextIO, *, symbols: list[str], start: Any, end: Any) -> int:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        count = 0
        for symbol in symbols:
            for bar in price_bars(symbol=symbol, start=start, end=end):
                # repr: the shortest text that reads back as the same float.
                prices = [repr(float(getattr(bar, name))) for name in ("open", "high", "low", "close", "adj_close")]
                writer.writerow([bar.symbol, bar.date.isoformat(), *prices, bar.volume])
                count += 1
        return count
