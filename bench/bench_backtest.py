"""Benchmark: the liquidity and backtest steps on the demo, and ``backfill_var``'s time per session.

Run it on a database that ``manage.py demo --no-serve`` prepared (prices, a year of snapshots, the past
days' VaR rebuilt): it times, after a warm-up, 5 batch runs of every portfolio step (the "batch steps"
figure of ``bench_batch.py``, now with these kinds), each step's own time (its prepare, builds and
inline write), and ``backfill_var`` over 10 sessions, with the 1-minute load average (the machine is
shared: figures move with it).

Usage:
    DATA_DIR=/tmp/bt_demo_data .venv/bin/python manage.py demo --no-serve
    DATA_DIR=/tmp/bt_demo_data .venv/bin/python bench/bench_backtest.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sigmasight.settings")
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

from analytics.models import PortfolioResult  # noqa: E402
from analytics.services import batch as batch_module  # noqa: E402
from analytics.services.batch import batch_run, portfolio_steps  # noqa: E402
from analytics.services.var_backfill import var_backfill  # noqa: E402
from marketdata.calendar import latest_completed_session, previous_trading_day  # noqa: E402

STEP_TIMES: dict[str, list[float]] = defaultdict(list)
_step_run = batch_module.step_run


def _timed_step(spec: Any, context: Any, recorder: Any) -> int:
    """The batch's step runner, timed: prepare, every build and the (inline on SQLite) write of one step."""
    started = time.perf_counter()
    rows = _step_run(spec, context, recorder)
    STEP_TIMES[spec.name].append(time.perf_counter() - started)
    return rows


batch_module.step_run = _timed_step  # measurement only: the bench counts each step's own time


def timed(steps: list[str], runs: int = 5) -> list[float]:
    as_of = latest_completed_session()
    batch_run(as_of=as_of, steps=steps, trigger="bench")  # warm-up
    STEP_TIMES.clear()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        outcome = batch_run(as_of=as_of, steps=steps, trigger="bench")
        times.append(time.perf_counter() - started)
        assert outcome.ok, outcome.run.error_summary
    return times


def main() -> None:
    as_of = latest_completed_session()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    times = timed(list(portfolio_steps()))
    print(f"batch_run (every portfolio step): median {statistics.median(times):.3f} s, min {min(times):.3f} s")
    medians = {name: statistics.median(t) for name, t in STEP_TIMES.items()}
    for name, median in medians.items():
        print(f"  step {name:>16}: median {median * 1000:.1f} ms, min {min(STEP_TIMES[name]) * 1000:.1f} ms")
    print(f"  batch steps: {sum(medians.values()):.3f} s (sum of the step medians)")
    observations = [r.payload["observations"] for r in PortfolioResult.objects.filter(kind="backtest", as_of=as_of)]
    print(f"backtest observations per portfolio: {observations}")
    started = time.perf_counter()
    outcome = var_backfill(days=10, end=previous_trading_day(as_of))
    elapsed = time.perf_counter() - started
    print(f"backfill_var: {outcome.computed} sessions, {outcome.rows} rows in {elapsed:.2f} s "
          f"({elapsed / max(outcome.computed, 1):.3f} s a session)")  # fmt: skip
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
