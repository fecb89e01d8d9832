"""Benchmark: the whole demo batch (3 portfolios, 63 positions), prices already cached.

Measures, on the database that DATABASE_URL names (SQLite by default):
- the batch steps alone (aggregation … VaR, in-process, after a warm-up run),
- the whole ``manage.py run_batch --skip-sync`` command (steps + reports) as a subprocess, wall time
  (one untimed run first, so byte-code compilation is not counted, then 5 timed runs) and peak RSS
  (``resource.getrusage`` of the children), with the 1-minute load average before and after: on a
  shared 2-CPU machine the figures move by ±0.3 s with the load, so they are only comparable with it.

Usage:
    DATABASE_URL=sqlite:////tmp/bench_batch.sqlite3 .venv/bin/python bench/bench_batch.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sigmasight_bench_batch .venv/bin/python bench/bench_batch.py
The script prepares the database itself (migrate, seed, 300 sessions of simulated prices) when empty.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sigmasight.settings")
os.environ.setdefault("DATABASE_URL", "sqlite:////tmp/bench_batch.sqlite3")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from analytics.services.batch import batch_run, portfolio_steps  # noqa: E402
from marketdata.calendar import latest_completed_session  # noqa: E402
from portfolios.models import Position  # noqa: E402


def main() -> None:
    call_command("migrate", verbosity=0)
    if Position.objects.count() != 63:
        call_command("seed_demo")
    call_command("sync_market_data", backfill=300, quiet_progress=True)
    as_of = latest_completed_session()
    batch_run(as_of=as_of, steps=list(portfolio_steps()), trigger="bench")  # warm-up (imports, caches)
    step_times = []
    for _ in range(5):
        started = time.perf_counter()
        outcome = batch_run(as_of=as_of, steps=list(portfolio_steps()), trigger="bench")
        step_times.append(time.perf_counter() - started)
        assert outcome.ok, outcome.run.error_summary
    command = [sys.executable, "manage.py", "run_batch", "--skip-sync"]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)  # untimed: writes byte-code caches
    load_before = os.getloadavg()[0]
    command_times = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        command_times.append(time.perf_counter() - started)
    load_after = os.getloadavg()[0]
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    vendor = django.db.connection.vendor
    print(f"database: {vendor}")
    print(f"batch steps (in-process, 5 runs): median {statistics.median(step_times):.3f}s, min {min(step_times):.3f}s")
    runs = ", ".join(f"{t:.2f}" for t in command_times)
    print(
        f"run_batch --skip-sync command (5 runs): median {statistics.median(command_times):.2f}s, "
        f"max {max(command_times):.2f}s ({runs})"
    )
    print(f"load average (1 min) before / after the command runs: {load_before:.2f} / {load_after:.2f}")
    print(f"peak RSS of the command: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
