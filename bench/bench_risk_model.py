"""Benchmark: the demo batch's steps with the risk-model kinds, against another code tree on the same data.

Times the batch steps in-process (5 runs after a warm-up), wall clock and CPU time (``process_time``),
with the 1-minute load average before and after. Run it for this tree and for a checkout of the code
before the risk-model kinds (``git archive <commit> | tar -x -C /tmp/base``), each on its own copy of
one prepared database (``bench/bench_batch.py`` prepares one), alternating, under the shared lock:
on a shared 2-CPU machine only figures taken side by side at the same load compare.

Usage:
    .venv/bin/python bench/bench_risk_model.py <code root> <DATABASE_URL>
"""

from __future__ import annotations

import os
import statistics
import sys
import time


def main() -> None:
    root, database = sys.argv[1], sys.argv[2]
    sys.path.insert(0, root)
    os.chdir(root)
    os.environ["DJANGO_SETTINGS_MODULE"] = "sigmasight.settings"
    os.environ["DATABASE_URL"] = database
    os.environ.setdefault("DEBUG", "true")
    import django

    django.setup()
    import analytics
    from analytics.services.batch import batch_run, portfolio_steps
    from marketdata.calendar import latest_completed_session

    assert analytics.__file__.startswith(root), analytics.__file__  # the tree asked for, not an installed copy
    as_of = latest_completed_session()
    steps = list(portfolio_steps())
    batch_run(as_of=as_of, steps=steps, trigger="bench")  # warm-up (imports, caches)
    load = os.getloadavg()[0]
    wall, cpu = [], []
    for _ in range(5):
        started, cpu_started = time.perf_counter(), time.process_time()
        outcome = batch_run(as_of=as_of, steps=steps, trigger="bench")
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
        assert outcome.ok, outcome.run.error_summary
    print(
        f"{root}: {len(steps)} steps: wall median {statistics.median(wall):.3f}s min {min(wall):.3f}s; "
        f"CPU median {statistics.median(cpu):.3f}s min {min(cpu):.3f}s; load {load:.2f} -> {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
