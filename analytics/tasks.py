"""django-q2 task functions (they take ids, never model instances)."""

from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone

from analytics.models import BatchRun


def portfolio_chunk_task(
    run_id: str,
    portfolio_ids: list[str],
    steps: list[str],
    symbols: list[str] | None = None,
    contracts: list[str] | None = None,
    shared_inputs: bool = False,
) -> dict[str, int]:
    """Run the portfolio steps of one chunk of a batch run (the fan-out unit of a cluster run). With
    ``shared_inputs`` (or the run's ``symbols`` and option ``contracts``, as an earlier version queued it) the
    worker takes the run's prices and factor model once for all the chunks of the run it gets
    (:func:`~analytics.services.batch.run_inputs_shared`); without (a task of a still earlier version) per
    chunk. Its BLAS runs on the worker's share of the cores (:func:`~analytics.services.batch.worker_blas_threads`), and
    Python's collector as in an inline run (:func:`~analytics.services.batch.collector_relaxed`).
    """
    from threadpoolctl import threadpool_limits

    from analytics.services.batch import (
        cluster_workers,
        collector_relaxed,
        portfolio_chunk_run,
        run_inputs_shared,
        worker_blas_threads,
    )

    run = BatchRun.objects.get(pk=run_id)
    with threadpool_limits(limits=worker_blas_threads(cluster_workers()), user_api="blas"), collector_relaxed():
        preloaded = None
        if shared_inputs or symbols is not None:
            preloaded = run_inputs_shared(run=run, symbols=symbols, contracts=contracts)
        return portfolio_chunk_run(
            run=run, portfolio_ids=[uuid.UUID(p) for p in portfolio_ids], steps=steps, preloaded=preloaded
        )


def daily_batch_task(use_cluster: bool = True) -> str:
    """The scheduled daily run: latest completed NYSE session, every portfolio, reports included. It runs in a
    worker of the cluster it fans out to, and holds that worker while the chunks run: they go to the others, and
    a cluster of one worker runs them inline (queued, they would wait for the worker that waits for them)."""
    from analytics.services.batch import batch_run, cluster_workers
    from marketdata.calendar import is_trading_day, latest_completed_session

    today = timezone.localtime(timezone.now(), timezone=dt.UTC).date()
    as_of = latest_completed_session()
    if not is_trading_day(as_of):
        return f"{today}: no completed session"
    free = cluster_workers() - 1
    outcome = batch_run(
        as_of=as_of, trigger="schedule:daily", use_cluster=use_cluster and free > 0, fan_out_workers=max(free, 1)
    )
    return f"{as_of}: {outcome.run.status} ({outcome.failed_jobs} failed, {outcome.skipped_jobs} skipped)"


def weekly_backfill_task(days: int = 30) -> str:
    """The scheduled weekly backfill: top up factor history and rebuild recent snapshots."""
    from analytics.services.snapshots import snapshots_backfill
    from marketdata.services import factor_data_ensure

    report = factor_data_ensure()
    written = snapshots_backfill(days=days)
    return f"factor data: {report}; snapshots rebuilt: {written}"
