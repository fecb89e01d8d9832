"""Benchmark: backfill 252 sessions for 1,000 symbols from the simulated provider, then a 5-day sync.

Not a test. End to end through ``prices_sync`` (cache check, generation, validation, COPY + upsert,
instrument profiles, the SyncRun record) into PostgreSQL. Targets: ≥ 100,000 bars stored per
second for the backfill; the following 5-session incremental sync of the same universe < 2 s.

    createdb: psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE sigmasight_bench_md'
    run:      DATABASE_URL=postgres://postgres@127.0.0.1:5432/sigmasight_bench_md \
              .venv/bin/python bench/bench_marketdata.py [--symbols 1000] [--days 252] [--no-record]

Prints the load average (``/proc/loadavg``) before and after: the figures are wall-clock. Writes
the figures into the "Market data" section of BENCHMARKS.md (replacing that section's measured
lines, leaving the rest of the file alone) unless --no-record.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sigmasight_bench_md")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sigmasight.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from marketdata.calendar import last_trading_days  # noqa: E402
from marketdata.models import Instrument, OptionQuote, PriceBar, SyncRun  # noqa: E402
from marketdata.services import prices_sync  # noqa: E402

BACKFILL_AS_OF = date(2026, 10, 30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=1000)
    parser.add_argument("--days", type=int, default=252)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE marketdata_pricebar, marketdata_optionquote, marketdata_instrument, marketdata_syncrun"
            )
    else:
        for model in (PriceBar, OptionQuote, Instrument, SyncRun):
            model.objects.all().delete()

    symbols = [f"B{i:04d}" for i in range(args.symbols)]
    incremental_as_of = last_trading_days(count=6, as_of=date(2026, 11, 13))[-1]
    assert incremental_as_of > BACKFILL_AS_OF

    load_before = _loadavg()
    started = time.perf_counter()
    backfill = prices_sync(symbols=symbols, backfill_days=args.days, as_of=BACKFILL_AS_OF)
    backfill_s = time.perf_counter() - started
    assert backfill.status == "success", backfill.failures
    rate = backfill.rows_written / backfill_s

    started = time.perf_counter()
    incremental = prices_sync(symbols=symbols, days=5, as_of=incremental_as_of)
    incremental_s = time.perf_counter() - started
    assert incremental.status == "success"

    started = time.perf_counter()
    cached = prices_sync(symbols=symbols, days=5, as_of=incremental_as_of)
    cached_s = time.perf_counter() - started

    stored = PriceBar.objects.count()
    lines = [
        f"- backfill: {backfill.rows_written:,} bars ({args.symbols:,} symbols × {args.days} sessions) "
        f"in {backfill_s:.2f} s → **{rate:,.0f} bars/s** (target ≥ 100,000)",
        f"- incremental 5-session sync of the same universe: {incremental.rows_written:,} new bars "
        f"in **{incremental_s:.2f} s** (target < 2 s)",
        f"- repeat sync, everything cached: {cached.rows_written} bars, {cached.symbols_cached:,} symbols "
        f"cached, in {cached_s:.2f} s",
        f"- bars stored: {stored:,}; database: {connection.vendor}; simulated generation is inside the timings",
        f"- load average (1/5/15 min) before: {load_before}; after: {_loadavg()}",
    ]
    print("\n".join(lines))
    if not args.no_record:
        header = (
            f"{SECTION}\n\n"
            f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node()} "
            f"({platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}), "
            "simulated provider into PostgreSQL, end to end through `prices_sync` "
            "(cache check, generation, validation, binary COPY, profiles, SyncRun):\n\n"
        )
        command = (
            "\nReproduce: `psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE sigmasight_bench_md'` then "
            "`DATABASE_URL=postgres://postgres@127.0.0.1:5432/sigmasight_bench_md "
            ".venv/bin/python bench/bench_marketdata.py`\n"
        )
        _record(header + "\n".join(lines) + "\n" + command)


SECTION = "## Market data (`bench/bench_marketdata.py`)"


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3])
    except OSError:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _record(section: str) -> None:
    """Replace the Market data section of BENCHMARKS.md (up to the next ``## `` heading), or append it."""
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start = text.find(SECTION)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + ("\n" + text[end + 1 :] if end >= 0 else "")
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
