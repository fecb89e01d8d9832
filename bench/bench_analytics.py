"""Benchmark: all analytics for a synthetic universe of N portfolios × 60 positions, prices cached.

~1,500 symbols from the simulated provider (300 sessions), 10% options (calls and puts, strikes
near spot, 2–10 months out). Times every portfolio step of the batch (every registered kind, from
overview to VaR with Monte Carlo, risk decomposition, tracking error, liquidity, backtest and limits)
— the symbol stage included, market data sync and reports excluded — and reports the wall time, the
process's CPU time, peak RSS, the 1-minute load average and each step's summed per-portfolio build
time (its ``BatchJob`` durations; a step's shared ``prepare`` is not in them).

Usage (PostgreSQL, as the issue asks; N defaults to 250 500 1000):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sigmasight_bench_analytics \
        .venv/bin/python bench/bench_analytics.py 250 500 1000
"""

from __future__ import annotations

import datetime as dt
import os
import random
import resource
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sigmasight.settings")
os.environ.setdefault("DATABASE_URL", "sqlite:////tmp/bench_analytics.sqlite3")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db.models import Sum  # noqa: E402

from analytics.models import BatchJob  # noqa: E402
from analytics.services.batch import batch_run, portfolio_steps  # noqa: E402
from analytics.services.persist import bulk_upsert  # noqa: E402
from marketdata.calendar import latest_completed_session  # noqa: E402
from marketdata.factors import FACTOR_SYMBOLS  # noqa: E402
from marketdata.selectors import latest_closes  # noqa: E402
from marketdata.services import prices_sync  # noqa: E402
from portfolios.demo import third_friday  # noqa: E402
from portfolios.models import Portfolio, Position, User  # noqa: E402
from portfolios.validation import occ_symbol  # noqa: E402

SYMBOLS = [f"SYN{i:04d}" for i in range(1500)]
POSITIONS_PER_PORTFOLIO = 60


def universe_prepare(as_of: dt.date) -> dict[str, float]:
    started = time.perf_counter()
    prices_sync(symbols=[*SYMBOLS, *FACTOR_SYMBOLS], backfill_days=300, as_of=as_of, provider="simulated")
    print(
        f"prices: {len(SYMBOLS) + len(FACTOR_SYMBOLS)} symbols × 300 sessions in {time.perf_counter() - started:.1f}s"
    )
    return {s: c.close for s, c in latest_closes(symbols=SYMBOLS, as_of=as_of).items()}


def portfolios_create(count: int, spots: dict[str, float], as_of: dt.date) -> list[uuid.UUID]:
    rng = random.Random(count)
    Portfolio.objects.filter(name__startswith="bench-").delete()
    user, _ = User.objects.get_or_create(email="bench@sigmasight.invalid")
    portfolios = [Portfolio(user=user, name=f"bench-{i:05d}", equity_balance=Decimal("1000000")) for i in range(count)]
    Portfolio.objects.bulk_create(portfolios)
    rows: list[dict[str, object]] = []  # the positions' fields by name; those left out take the model's defaults
    for portfolio in portfolios:
        for symbol in rng.sample(SYMBOLS, POSITIONS_PER_PORTFOLIO):
            spot = spots[symbol]
            if rng.random() < 0.10:
                is_call, long = rng.random() < 0.5, rng.random() < 0.6
                strike = Decimal(str(round(spot * rng.uniform(0.8, 1.2), 0) or 1))
                month = (as_of.month + rng.randint(2, 10) - 1) % 12 + 1
                year = as_of.year + (as_of.month + rng.randint(2, 10) - 1) // 12
                expiry = third_friday(year, month)
                kind = ("LC" if is_call else "LP") if long else ("SC" if is_call else "SP")
                rows.append(
                    {
                        "id": uuid.uuid4(),
                        "portfolio_id": portfolio.pk,
                        "symbol": occ_symbol(underlying=symbol, expiration=expiry, is_call=is_call, strike=strike),
                        "position_type": kind,
                        "asset_class": "option",
                        "quantity": Decimal(rng.randint(1, 20) * (1 if long else -1)),
                        "entry_price": Decimal("5"),
                        "entry_date": as_of - dt.timedelta(days=30),
                        "underlying_symbol": symbol,
                        "strike": strike,
                        "expiration": expiry,
                        "multiplier": Decimal(100),
                    }
                )
            else:
                short = rng.random() < 0.2
                rows.append(
                    {
                        "id": uuid.uuid4(),
                        "portfolio_id": portfolio.pk,
                        "symbol": symbol,
                        "position_type": "SHORT" if short else "LONG",
                        "quantity": Decimal(rng.randint(10, 500) * (-1 if short else 1)),
                        "entry_price": Decimal(str(round(spot, 2))),
                        "entry_date": as_of - dt.timedelta(days=60),
                    }
                )
    # The project's COPY write (PostgreSQL; batches elsewhere) of plain rows: the ORM's INSERTs of model instances
    # took 136 s for 20,000 portfolios on the 16-core machine.
    bulk_upsert(Position, rows, unique_fields=["id"], update_fields=["quantity"])
    return [p.pk for p in portfolios]


def main(sizes: list[int]) -> None:
    call_command("migrate", verbosity=0)
    as_of = latest_completed_session()
    spots = universe_prepare(as_of)
    print(f"database: {django.db.connection.vendor}; as_of {as_of}")
    for count in sizes:
        ids = portfolios_create(count, spots, as_of)
        load = os.getloadavg()[0]
        started, cpu = time.perf_counter(), time.process_time()
        outcome = batch_run(as_of=as_of, portfolio_ids=ids, steps=list(portfolio_steps()), trigger="bench")
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{count:>5} portfolios × {POSITIONS_PER_PORTFOLIO}: {elapsed:6.1f}s wall, {cpu:6.1f}s CPU, "
            f"status {outcome.run.status}, peak RSS {peak:.0f} MB, load {load:.2f} / {os.getloadavg()[0]:.2f}"
        )
        steps = BatchJob.objects.filter(run=outcome.run).values("step").annotate(ms=Sum("duration_ms"))
        print("       " + ", ".join(f"{r['step']} {r['ms'] / 1000:.2f}s" for r in steps.order_by("-ms")))


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [250, 500, 1000])
