"""``export_prices`` writes what ``import_prices`` reads: the README's correction round trip leaves no gap."""

from __future__ import annotations

import csv
import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from marketdata.calendar import last_trading_days
from marketdata.models import PriceBar
from marketdata.selectors import market_data_summary

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored() -> list[dt.date]:
    days = last_trading_days(count=10)
    PriceBar.objects.bulk_create(
        PriceBar(
            symbol="AAPL",
            date=d,
            open=100 + i,
            high=101.5 + i,
            low=99.25 + i,
            close=100.1 + i / 3,
            adj_close=100.1 + i / 3,
            volume=1000 + i,
            source="simulated",
        )
        for i, d in enumerate(days)
    )
    return days


def test_it_writes_the_last_sessions_in_the_import_format_with_exact_prices(stored, tmp_path) -> None:
    path = tmp_path / "aapl.csv"
    call_command("export_prices", symbols="aapl", days=3, output=str(path), stderr=StringIO())
    rows = list(csv.DictReader(path.open()))
    assert [r["date"] for r in rows] == [d.isoformat() for d in stored[-3:]]
    assert list(rows[0]) == ["symbol", "date", "open", "high", "low", "close", "adj_close", "volume"]
    assert float(rows[-1]["close"]) == 100.1 + 9 / 3  # bit for bit
    assert rows[-1]["volume"] == "1009"


def test_a_corrected_export_imports_back_over_the_same_bars_and_leaves_no_gap(stored, tmp_path) -> None:
    path = tmp_path / "aapl.csv"
    call_command("export_prices", symbols="AAPL", days=5, output=str(path), stderr=StringIO())
    text = path.read_text()
    last = stored[-1].isoformat()
    lines = [
        ",".join([*line.split(",")[:5], "104.0", "104.0", line.split(",")[7]]) if f",{last}," in line else line
        for line in text.splitlines()
    ]
    path.write_text("\n".join(lines) + "\n")

    call_command("import_prices", str(path), stdout=StringIO())

    corrected = PriceBar.objects.get(symbol="AAPL", date=stored[-1])
    assert (corrected.close, corrected.source) == (104.0, "csv")
    assert PriceBar.objects.filter(symbol="AAPL").count() == 10
    summary = market_data_summary(jump_lookback_days=0)
    assert summary.gaps == [] and summary.stale_symbols == []


def test_nothing_stored_is_an_error() -> None:
    with pytest.raises(CommandError, match="No stored bars for MSFT"):
        call_command("export_prices", symbols="MSFT", stdout=StringIO())
