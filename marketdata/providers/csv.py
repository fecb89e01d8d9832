"""The ``csv`` provider and the CSV price format used by ``import_prices``.

CSV price format
----------------
UTF-8 text, comma-separated, one header row, then one row per symbol per trading day::

    symbol,date,open,high,low,close,adj_close,volume
    AAPL,2024-01-16,182.16,184.26,180.93,183.63,183.04,65603000
    AAPL,2024-01-17,181.27,182.93,180.30,182.68,182.09,47317400

- ``symbol`` (ticker, case-insensitive; stored upper-case), ``date`` (``YYYY-MM-DD``, an NYSE
  session) and ``close`` are required. Header names are case-insensitive; ``adj close``,
  ``adjclose`` and ``adjusted_close`` are accepted for ``adj_close``; column order is free.
- ``open``, ``high`` and ``low`` default to ``close``; ``adj_close`` defaults to ``close``;
  ``volume`` (shares, a whole number) defaults to 0.
- Prices are per share in the instrument's currency, positive, with ``.`` as the decimal point
  and no thousands separators.
- Rows that break a rule (a missing or non-numeric value, a non-positive price, high below low, a
  date that is not a session, the same symbol and date twice) are rejected with the line number
  and logged to ``logs/market_data.log``; the other rows are imported. Existing bars for the same
  symbol and date are replaced (upsert), labelled with the import's source (``csv``).

As a provider (``MARKET_DATA_PROVIDER=csv``) it serves the bars of every ``*.csv`` file under
``MARKET_DATA_CSV_DIR`` (default ``data/prices/`` in the project) in this format.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from marketdata.providers.base import Bar, Provider, SymbolUnavailable

_ALIASES = {
    "adj close": "adj_close",
    "adjclose": "adj_close",
    "adjusted_close": "adj_close",
    "adj_close": "adj_close",
    "ticker": "symbol",
}
REQUIRED = ("symbol", "date", "close")


@dataclass
class ParsedCSV:
    """Bars read from a CSV text and the lines that could not be read."""

    bars: list[Bar] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lines: int = 0


def _float(raw: str | None, default: float | None = None) -> float:
    if raw is None or raw.strip() == "":
        if default is None:
            raise ValueError("missing value")
        return default
    value = float(raw.strip())
    if not math.isfinite(value):
        raise ValueError(f"non-finite value {raw!r}")
    return value


def price_csv_parse(text: str) -> ParsedCSV:
    """Parse the CSV price format (see module doc); shape checks only — values are checked later."""
    result = ParsedCSV()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if reader.fieldnames is None:
        result.errors.append("line 1: empty file (expected a header row)")
        return result
    headers = {name: _ALIASES.get(name.strip().lower(), name.strip().lower()) for name in reader.fieldnames if name}
    missing = [column for column in REQUIRED if column not in headers.values()]
    if missing:
        result.errors.append(f"line 1: missing column(s) {', '.join(missing)}")
        return result
    for line_no, raw_row in enumerate(reader, start=2):
        result.lines += 1
        row = {headers[k]: (v or "") for k, v in raw_row.items() if k in headers and isinstance(v, str)}
        try:
            symbol = row["symbol"].strip().upper()
            if not symbol or len(symbol) > 40:
                raise ValueError("missing or too long symbol")
            when = date.fromisoformat(row["date"].strip())
            close = _float(row.get("close"))
            volume_raw = row.get("volume", "").strip()
            volume = int(float(volume_raw)) if volume_raw else 0
            result.bars.append(
                Bar(
                    symbol,
                    when,
                    _float(row.get("open"), close),
                    _float(row.get("high"), close),
                    _float(row.get("low"), close),
                    close,
                    _float(row.get("adj_close"), close),
                    volume,
                )
            )
        except (ValueError, KeyError) as exc:
            result.errors.append(f"line {line_no}: {exc}")
    return result


class CSVProvider(Provider):
    """Bars from the CSV files of a directory (or one file), read once per provider instance."""

    name = "csv"

    def __init__(self, *, path: Path) -> None:
        self.path = Path(path)
        self._bars: dict[str, list[Bar]] | None = None
        self.errors: list[str] = []

    def _load(self) -> dict[str, list[Bar]]:
        if self._bars is None:
            files = sorted(self.path.glob("*.csv")) if self.path.is_dir() else [self.path]
            bars: dict[str, list[Bar]] = {}
            for file in files:
                if not file.is_file():
                    continue
                parsed = price_csv_parse(file.read_text(encoding="utf-8"))
                self.errors.extend(f"{file.name} {e}" for e in parsed.errors)
                for bar in parsed.bars:
                    bars.setdefault(bar.symbol, []).append(bar)
            self._bars = bars
        return self._bars

    def daily_bars(self, *, symbol: str, start: date, end: date, asset_class: str | None = None) -> list[Bar]:
        bars = self._load().get(symbol.upper())
        if bars is None:
            raise SymbolUnavailable(f"No CSV file under {self.path} has rows for {symbol}.")
        return sorted((b for b in bars if start <= b.date <= end), key=lambda b: b.date)
