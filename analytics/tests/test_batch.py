"""The daily batch: step order, isolation of a failing portfolio, rerun idempotency, the lock, schedules."""

from __future__ import annotations

import datetime as dt
import gc
import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections

from analytics.models import BatchJob, PortfolioResult, PortfolioSnapshot, PositionMetrics, RunStatus
from analytics.results import spec_for
from analytics.services import batch as batch_service
from analytics.services.batch import batch_run, portfolio_steps
from analytics.services.locking import ADVISORY_NAMESPACE, BatchLocked, batch_lock
from conftest import ANALYTICS_AS_OF
from portfolios.models import Portfolio

pytestmark = pytest.mark.django_db

HEDGE_FUND = "fcd71196-e93e-f000-5a74-31a9eead3118"


def _result_table() -> list[tuple]:
    return sorted(
        (str(r.portfolio_id), r.kind, r.as_of.isoformat(), repr(r.payload), r.data_source, r.is_stale)
        for r in PortfolioResult.objects.all()
    )


def test_every_portfolio_gets_every_step_in_order(analytics_demo):
    run = analytics_demo.run
    assert run.status == RunStatus.COMPLETED
    jobs = list(run.jobs.order_by("sequence"))
    steps_in_order = [j.step for j in jobs if j.portfolio_id is not None]
    first_seen = list(dict.fromkeys(steps_in_order))
    assert first_seen == list(portfolio_steps())
    for step in portfolio_steps():
        assert run.jobs.filter(step=step, status=RunStatus.COMPLETED).count() == 3, step
    assert run.jobs.get(step="factor_model").status == RunStatus.COMPLETED
    # Every kind but snapshots (stored in its own table), for each of the 3 portfolios.
    assert PortfolioResult.objects.filter(as_of=ANALYTICS_AS_OF).count() == 3 * (len(portfolio_steps()) - 1)
    assert PortfolioSnapshot.objects.filter(as_of=ANALYTICS_AS_OF).count() == 3
    assert PositionMetrics.objects.filter(as_of=ANALYTICS_AS_OF).count() == 63
    assert run.data_source == "simulated"


def test_a_failing_portfolio_is_recorded_and_the_others_proceed(analytics_demo, monkeypatch):
    overview = spec_for("overview")
    original = overview.build

    def explode_for_hedge_fund(chunk, part, prepared):
        if str(part.info.id) == HEDGE_FUND:
            raise RuntimeError("injected failure")
        return original(chunk, part, prepared)

    monkeypatch.setattr(overview, "build", explode_for_hedge_fund)
    outcome = batch_run(as_of=ANALYTICS_AS_OF, steps=list(portfolio_steps()), trigger="test")
    run = outcome.run
    assert run.status == RunStatus.PARTIAL and not outcome.ok
    failed = run.jobs.get(step="overview", portfolio_id=HEDGE_FUND)
    assert failed.status == RunStatus.FAILED and "injected failure" in failed.error_summary
    for step in portfolio_steps()[1:]:  # every kind depends on the overview, directly or through another
        job = run.jobs.get(step=step, portfolio_id=HEDGE_FUND)
        assert job.status == RunStatus.SKIPPED, step
        assert "failed" in job.error_summary
    others = run.jobs.exclude(portfolio_id=HEDGE_FUND).exclude(portfolio__isnull=True)
    assert set(others.values_list("status", flat=True)) == {RunStatus.COMPLETED}
    assert others.count() == 2 * len(portfolio_steps())


def test_run_batch_exits_non_zero_when_a_job_failed(analytics_demo, monkeypatch):
    def explode(chunk, part, prepared):
        raise RuntimeError("boom")

    monkeypatch.setattr(spec_for("var"), "build", explode)
    out = StringIO()
    with pytest.raises(CommandError, match="3 job"):
        call_command("run_batch", "--date", ANALYTICS_AS_OF.isoformat(), "--skip-sync", "--skip-reports", stdout=out)
    assert "var" in out.getvalue() and "boom" in out.getvalue()


def test_a_rerun_replaces_results_without_duplicates_and_identical_values(analytics_demo):
    before_counts = (
        PortfolioResult.objects.count(),
        PositionMetrics.objects.count(),
        PortfolioSnapshot.objects.count(),
    )
    before = _result_table()
    batch_run(as_of=ANALYTICS_AS_OF, steps=list(portfolio_steps()), trigger="test")
    after_counts = (PortfolioResult.objects.count(), PositionMetrics.objects.count(), PortfolioSnapshot.objects.count())
    assert after_counts == before_counts
    assert _result_table() == before


def test_a_rerun_removes_the_metrics_of_a_position_closed_since(analytics_demo):
    """The day's first run has no metrics to remove (the write skips the removal); a rerun after a position was
    closed removes that position's row and rewrites the others."""
    from portfolios.models import Position

    closed = Position.objects.filter(metrics__as_of=ANALYTICS_AS_OF).order_by("id").first()
    assert closed is not None
    before = PositionMetrics.objects.filter(as_of=ANALYTICS_AS_OF).count()
    Position.objects.filter(pk=closed.pk).update(exit_date=ANALYTICS_AS_OF - dt.timedelta(days=1))
    batch_run(as_of=ANALYTICS_AS_OF, steps=list(portfolio_steps()), trigger="test")
    assert not PositionMetrics.objects.filter(as_of=ANALYTICS_AS_OF, position=closed).exists()
    assert PositionMetrics.objects.filter(as_of=ANALYTICS_AS_OF).count() == before - 1


def test_a_step_subset_runs_only_those_steps(analytics_demo):
    outcome = batch_run(as_of=ANALYTICS_AS_OF, steps=["var"], trigger="test")
    assert set(outcome.run.jobs.exclude(step="factor_model").values_list("step", flat=True)) == {"var"}


def test_unknown_steps_and_bad_dates_are_refused(db):
    with pytest.raises(CommandError, match="Unknown step"):
        call_command("run_batch", "--steps", "aggregation,teleport")
    with pytest.raises(CommandError, match="not an NYSE trading day"):
        call_command("run_batch", "--date", "2026-11-26")  # Thanksgiving
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("run_batch", "--date", "yesterday")


def test_a_second_run_for_the_same_date_is_refused_while_one_holds_the_lock(demo_data):
    if connection.vendor == "postgresql":
        holding, release = threading.Event(), threading.Event()

        def hold() -> None:
            other = connections["default"]
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s, %s)", [ADVISORY_NAMESPACE, ANALYTICS_AS_OF.toordinal()])
                holding.set()
                release.wait(10)
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [ADVISORY_NAMESPACE, ANALYTICS_AS_OF.toordinal()])
            other.close()

        thread = threading.Thread(target=hold)
        thread.start()
        holding.wait(10)
        try:
            with pytest.raises(BatchLocked, match="already running"):
                batch_run(as_of=ANALYTICS_AS_OF, steps=["aggregation"], trigger="test")
        finally:
            release.set()
            thread.join()
    else:
        import uuid

        with (
            batch_lock(as_of=ANALYTICS_AS_OF, run_id=uuid.uuid4()),
            pytest.raises(BatchLocked, match="already running"),
        ):
            batch_run(as_of=ANALYTICS_AS_OF, steps=["aggregation"], trigger="test")
    assert not PortfolioResult.objects.exists()


def test_the_market_data_step_failing_leaves_steps_running_on_cached_prices_flagged(analytics_demo):
    def provider_down(**kwargs):
        raise ConnectionError("provider unreachable")

    portfolio = Portfolio.objects.get(pk=HEDGE_FUND)
    outcome = batch_run(
        as_of=ANALYTICS_AS_OF,
        portfolio_ids=[portfolio.pk],
        steps=["market_data", "aggregation"],
        trigger="test",
        market_data_sync=provider_down,
    )
    jobs = {j.step: j for j in outcome.run.jobs.all()}
    assert jobs["market_data"].status == RunStatus.FAILED
    assert "provider unreachable" in jobs["market_data"].error_summary
    assert jobs["overview"].status == RunStatus.COMPLETED
    assert outcome.run.status == RunStatus.PARTIAL


def test_results_are_flagged_stale_when_prices_are_older_than_the_date(analytics_demo):
    from marketdata.models import PriceBar

    PriceBar.objects.filter(symbol="NFLX", date=ANALYTICS_AS_OF).delete()
    batch_run(as_of=ANALYTICS_AS_OF, portfolio_ids=[HEDGE_FUND], steps=["aggregation"], trigger="test")
    overview = PortfolioResult.objects.get(portfolio_id=HEDGE_FUND, kind="overview", as_of=ANALYTICS_AS_OF)
    assert overview.is_stale and "NFLX" in overview.stale_reason


def test_setup_schedules_creates_each_schedule_once(db):
    from django_q.models import Schedule

    call_command("setup_schedules", stdout=StringIO())
    call_command("setup_schedules", stdout=StringIO())
    assert Schedule.objects.count() == 2
    daily = Schedule.objects.get(name="sigmasight-daily-batch")
    assert daily.func == "analytics.tasks.daily_batch_task" and daily.cron == "30 21 * * 1-5"


def test_cluster_fan_out_in_sync_mode_gives_the_inline_results(analytics_demo, monkeypatch):
    from django_q.conf import Conf

    inline = _result_table()
    monkeypatch.setattr(Conf, "SYNC", True)
    outcome = batch_run(as_of=ANALYTICS_AS_OF, steps=list(portfolio_steps()), trigger="test", use_cluster=True)
    assert outcome.run.mode == "cluster"
    assert outcome.ok, outcome.run.error_summary
    assert BatchJob.objects.filter(run=outcome.run, step="overview", status=RunStatus.COMPLETED).count() == 3
    assert _result_table() == inline


def test_batch_history_lists_runs_and_failed_jobs(analytics_demo):
    out = StringIO()
    call_command("batch_history", "--jobs", stdout=out)
    text = out.getvalue()
    assert str(analytics_demo.run.pk) in text and "completed" in text and "stress_test" in text


def test_chunking_gives_the_same_numbers(analytics_demo, monkeypatch):
    inline = _result_table()
    PortfolioResult.objects.all().delete()
    monkeypatch.setattr(batch_service, "CHUNK_SIZE", 1)
    outcome = batch_run(as_of=ANALYTICS_AS_OF, steps=list(portfolio_steps()), trigger="test")
    assert outcome.ok, outcome.run.error_summary
    assert _result_table() == inline


def test_the_stress_catalog_holds_the_22_scenarios_and_reseeding_keeps_admin_edits(db):
    from analytics.models import StressScenario
    from analytics.services.catalog import stress_scenarios_seed

    assert StressScenario.objects.count() == 22
    StressScenario.objects.filter(pk="market_crash_35").update(implied_vol_shift=0.5)
    StressScenario.objects.filter(pk="rates_up_25bp").delete()
    assert stress_scenarios_seed() == 1
    assert StressScenario.objects.count() == 22
    assert StressScenario.objects.get(pk="market_crash_35").implied_vol_shift == 0.5


def test_catalog_version_2_is_loaded_by_a_migration_that_keeps_admin_edits(db):
    import importlib

    from django.apps import apps

    from analytics.models import StressScenario

    migration = importlib.import_module("analytics.migrations.0007_stress_catalog_v2")
    # A fresh database is at version 2: the rotations hold the market at 0.0.
    assert StressScenario.objects.get(pk="value_rotation_20").shocks["market"] == 0.0
    assert StressScenario.objects.get(pk="small_cap_outperformance_10").shocks["market"] == 0.0
    # A database seeded from version 1 (no market shock), where an admin set one on the size rotation:
    for pk in ("value_rotation_20", "small_cap_outperformance_10"):
        row = StressScenario.objects.get(pk=pk)
        row.shocks = {k: v for k, v in row.shocks.items() if k != "market"}
        row.save()
    edited = StressScenario.objects.get(pk="small_cap_outperformance_10")
    edited.shocks = {**edited.shocks, "market": 0.02, "size": 0.12}
    edited.save()
    migration.apply_v2(apps, None)
    assert StressScenario.objects.get(pk="value_rotation_20").shocks == {"value": 0.2, "growth": -0.1, "market": 0.0}
    assert StressScenario.objects.get(pk="small_cap_outperformance_10").shocks == {"size": 0.12, "market": 0.02}
    migration.apply_v2(apps, None)  # running it again changes nothing
    assert StressScenario.objects.get(pk="value_rotation_20").shocks["market"] == 0.0
    migration.revert_v2(apps, None)
    assert "market" not in StressScenario.objects.get(pk="value_rotation_20").shocks
    assert StressScenario.objects.get(pk="small_cap_outperformance_10").shocks["market"] == 0.02


def test_a_worker_loads_the_runs_inputs_once_for_all_its_chunks(analytics_demo, monkeypatch):
    """Cluster chunks get the run's prices and factor model from the driver through the cache, or load them
    once per worker process (here the sync-mode process runs all three chunks); the results stay the
    inline run's."""
    import django_q.tasks
    from django_q.conf import Conf

    from analytics.services import batch

    inline = _result_table()
    monkeypatch.setattr(Conf, "SYNC", True)
    monkeypatch.setattr(batch, "CHUNK_SIZE", 1)  # one chunk per demo portfolio: three chunks
    loads: list[dict] = []
    load = batch.market_inputs_load

    def counted(**kwargs):
        loads.append(kwargs)
        return load(**kwargs)

    monkeypatch.setattr(batch, "market_inputs_load", counted)
    queued: list[tuple[tuple, dict]] = []
    queue = django_q.tasks.async_task

    def recorded(func, *args, **kwargs):
        queued.append((args, kwargs))
        return queue(func, *args, **kwargs)

    monkeypatch.setattr(django_q.tasks, "async_task", recorded)
    outcome = batch_run(as_of=ANALYTICS_AS_OF, steps=list(portfolio_steps()), trigger="test", use_cluster=True)
    assert outcome.ok, outcome.run.error_summary
    assert BatchJob.objects.filter(run=outcome.run, step="overview", status=RunStatus.COMPLETED).count() == 3
    # the driver once; the worker (this process) reads the driver's inputs from the cache
    assert len(loads) == 1
    # a task carries its chunk, not the run's instruments (they reach the workers with the inputs)
    assert [len(args[1]) for args, _ in queued] == [1, 1, 1]
    assert all(set(kwargs) == {"shared_inputs", "group"} for _, kwargs in queued)
    assert _result_table() == inline

    # without the handed inputs (a per-process cache), a worker loads the run's inputs once, not per chunk
    monkeypatch.setattr(batch.cache, "get", lambda key, default=None: default)
    loads.clear()
    batch._shared_inputs = None
    outcome = batch_run(as_of=ANALYTICS_AS_OF, steps=list(portfolio_steps()), trigger="test", use_cluster=True)
    assert outcome.ok, outcome.run.error_summary
    assert len(loads) == 2 and loads[0]["symbols"] == loads[1]["symbols"]
    assert _result_table() == inline


def test_the_runs_instruments_are_the_symbols_and_contracts_of_its_positions_frame(analytics_demo):
    """``run_instruments`` (one DISTINCT query) names exactly what the run's positions frame prices: the driver
    of a cluster run no longer reads every position to learn them."""
    from analytics.services.inputs import portfolios_load, positions_frame

    portfolios = portfolios_load()
    ids = list(portfolios)
    frame = positions_frame(portfolio_ids=ids, as_of=ANALYTICS_AS_OF)
    symbols, contracts = batch_service.run_instruments(portfolio_ids=ids, as_of=ANALYTICS_AS_OF, portfolios=portfolios)
    options = frame[frame["is_option"].astype(bool)]
    assert len(options) > 0
    assert contracts == sorted(set(options["symbol"]))
    benchmarks = {p.benchmark_symbol for p in portfolios.values()}
    assert symbols == sorted(set(frame["price_symbol"].dropna()) | benchmarks)
    # a position closed before the day prices nothing
    held = frame.iloc[0]
    from portfolios.models import Position

    Position.objects.filter(portfolio_id=held["portfolio_id"], symbol=held["symbol"]).update(
        exit_date=ANALYTICS_AS_OF - dt.timedelta(days=1)
    )
    later = positions_frame(portfolio_ids=ids, as_of=ANALYTICS_AS_OF)
    symbols_after, contracts_after = batch_service.run_instruments(
        portfolio_ids=ids, as_of=ANALYTICS_AS_OF, portfolios=portfolios
    )
    assert symbols_after == sorted(set(later["price_symbol"].dropna()) | benchmarks)
    assert contracts_after == sorted(set(later.loc[later["is_option"].astype(bool), "symbol"]))


def test_the_symbol_stage_handed_on_equals_the_stored_one_read_back(analytics_demo):
    """The batch fits and stores the factor model, then hands its chunks the stage built from the rows it wrote
    instead of reading them back: every number equals the read-back's (``symbol_stage_load``)."""
    import pandas as pd

    from analytics.services.inputs import portfolios_load

    portfolios = portfolios_load()
    symbols, contracts = batch_service.run_instruments(
        portfolio_ids=list(portfolios), as_of=ANALYTICS_AS_OF, portfolios=portfolios
    )
    market = batch_service.market_inputs_load(symbols=symbols, option_contracts=contracts, as_of=ANALYTICS_AS_OF)
    recorder = batch_service.JobRecorder(run=analytics_demo.run, sequence=10_000)
    handed = batch_service._symbol_stage_step(run=analytics_demo.run, recorder=recorder, market=market)
    stored = batch_service.symbol_stage_load(market=market, as_of=ANALYTICS_AS_OF)
    assert handed is not None and stored is not None
    for name in ("betas", "quality", "r_squared", "residual_vol", "univariate"):
        left, right = getattr(handed.fit, name), getattr(stored.fit, name)
        if isinstance(left, pd.DataFrame):
            pd.testing.assert_frame_equal(left, right, check_exact=True)
        else:
            pd.testing.assert_series_equal(left, right, check_exact=True)
    pd.testing.assert_frame_equal(handed.factor_cov, stored.factor_cov, check_exact=True)
    # the stored JSON's key order is the database's (jsonb sorts keys); the stage reads it by name
    in_memory, read_back = (s.proxy_cov.sort_index().sort_index(axis=1) for s in (handed, stored))
    pd.testing.assert_frame_equal(in_memory, read_back, check_exact=True)
    pd.testing.assert_series_equal(handed.univariate_beta, stored.univariate_beta, check_exact=True)
    pd.testing.assert_series_equal(handed.realised_vol, stored.realised_vol, check_exact=True)
    assert (handed.condition_number, handed.n_observations) == (stored.condition_number, stored.n_observations)
    assert (handed.covariance_estimator, handed.ewma_lambda) == (stored.covariance_estimator, stored.ewma_lambda)


@pytest.mark.parametrize(
    ("portfolios", "workers", "sizes"),
    [
        (1000, 1, [250] * 4),
        (1001, 1, [201] + [200] * 4),
        (5000, 14, [179] * 16 + [178] * 12),  # 28 chunks: two rounds of 14, none idle
        (1000, 14, [72] * 6 + [71] * 8),  # a run smaller than a round spreads over every worker
        (5, 14, [1] * 5),
        (0, 4, []),
    ],
)
def test_chunks_are_balanced_and_a_multiple_of_the_workers(portfolios, workers, sizes):
    import uuid

    ids = [uuid.UUID(int=i) for i in range(portfolios)]
    chunks = batch_service.chunks_split(ids, workers=workers)
    assert [len(c) for c in chunks] == sizes
    assert [p for c in chunks for p in c] == ids  # every portfolio once, in order


@pytest.mark.parametrize(("cores", "workers", "threads"), [(16, 14, 1), (16, 4, 4), (16, 1, 16), (2, 4, 1)])
def test_a_workers_blas_threads_are_its_share_of_the_cores(monkeypatch, cores, workers, threads):
    monkeypatch.setattr(batch_service.os, "sched_getaffinity", lambda _pid: set(range(cores)))
    assert batch_service.worker_blas_threads(workers) == threads


def test_a_chunk_task_runs_its_blas_on_its_share_of_the_cores(analytics_demo, settings, monkeypatch):
    import os

    from threadpoolctl import threadpool_info

    from analytics.tasks import portfolio_chunk_task

    def blas_threads() -> list[int]:
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    before = blas_threads()
    seen: list[list[int]] = []
    monkeypatch.setattr(batch_service, "portfolio_chunk_run", lambda **_kwargs: seen.append(blas_threads()) or {})
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "workers": len(os.sched_getaffinity(0))}
    portfolio_chunk_task(str(analytics_demo.run.pk), [HEDGE_FUND], ["overview"])
    assert seen and seen[0] and set(seen[0]) == {1}  # one thread each: as many workers as cores
    assert blas_threads() == before  # restored after the task


def test_the_collector_is_relaxed_in_the_block_and_restored_after_it():
    before = gc.get_threshold()
    with batch_service.collector_relaxed(threshold=12_345):
        assert gc.get_threshold() == (12_345, *before[1:])
    assert gc.get_threshold() == before


def test_overlapping_blocks_of_two_threads_restore_the_thresholds_once_both_have_left():
    before = gc.get_threshold()
    entered, release = threading.Event(), threading.Event()

    def other_thread() -> None:
        with batch_service.collector_relaxed(threshold=12_345):
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=other_thread)
    thread.start()
    assert entered.wait(10)
    with batch_service.collector_relaxed(threshold=12_345):
        release.set()
        thread.join(10)
        assert gc.get_threshold()[0] == 12_345  # the other thread left first: still relaxed for this one
    assert gc.get_threshold() == before


@pytest.mark.parametrize("configured", [(50_000, 10, 10), (0, 10, 10)])
def test_a_higher_threshold_or_a_disabled_collector_is_left_as_it_is(configured):
    before = gc.get_threshold()
    gc.set_threshold(*configured)
    try:
        with batch_service.collector_relaxed(threshold=12_345):
            assert gc.get_threshold() == configured
        assert gc.get_threshold() == configured
    finally:
        gc.set_threshold(*before)


def test_a_run_and_a_chunk_task_compute_under_the_relaxed_collector(analytics_demo, monkeypatch):
    from analytics.tasks import portfolio_chunk_task

    before = gc.get_threshold()
    seen: list[int] = []
    batch_run(as_of=ANALYTICS_AS_OF, steps=["overview"], progress=lambda _message: seen.append(gc.get_threshold()[0]))
    assert seen and set(seen) == {batch_service.BATCH_GC_THRESHOLD}
    assert gc.get_threshold() == before

    in_task: list[int] = []
    monkeypatch.setattr(batch_service, "portfolio_chunk_run", lambda **_kwargs: in_task.append(gc.get_threshold()[0]))
    portfolio_chunk_task(str(analytics_demo.run.pk), [HEDGE_FUND], ["overview"])
    assert in_task == [batch_service.BATCH_GC_THRESHOLD]
    assert gc.get_threshold() == before


@pytest.mark.parametrize(("workers", "cluster", "fan_out"), [(1, False, 1), (2, True, 1), (14, True, 13)])
def test_the_daily_task_fans_out_to_its_clusters_other_workers(db, settings, monkeypatch, workers, cluster, fan_out):
    """The scheduled run holds one worker of its cluster while it waits: its chunks go to the others (balanced
    over them), and a cluster of one worker runs them inline instead of waiting for itself."""
    import marketdata.calendar
    from analytics.tasks import daily_batch_task

    calls: list[dict] = []

    class Outcome:
        run = type("Run", (), {"status": "completed"})
        failed_jobs = skipped_jobs = 0

    monkeypatch.setattr(batch_service, "batch_run", lambda **kwargs: calls.append(kwargs) or Outcome)
    monkeypatch.setattr(marketdata.calendar, "latest_completed_session", lambda: dt.date(2026, 11, 27))
    monkeypatch.setattr(marketdata.calendar, "is_trading_day", lambda day: True)
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "workers": workers}
    assert daily_batch_task() == "2026-11-27: completed (0 failed, 0 skipped)"
    assert calls[0]["use_cluster"] is cluster and calls[0]["fan_out_workers"] == fan_out
