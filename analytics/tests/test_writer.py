"""The batch's result writer: order and callbacks, and on PostgreSQL the background thread storing
exactly what the inline path stores, with a failed write recorded as failed rather than completed."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from analytics.models import BatchJob, PortfolioResult, PortfolioSnapshot, PositionMetrics, RunStatus
from analytics.services import persist
from analytics.services.writer import ResultWriter
from conftest import ANALYTICS_AS_OF, SEED_DATE


@pytest.mark.parametrize("background", [False, True], ids=["inline", "background"])
def test_writes_run_in_order_and_report_through_their_callbacks(background: bool) -> None:
    writer = ResultWriter(background=background)
    ran: list[int] = []
    settled: list[tuple[str, int]] = []
    threads: set[str] = set()

    def write(n: int):
        def run() -> int:
            threads.add(threading.current_thread().name)
            if n == 3:
                raise RuntimeError("disk full")
            ran.append(n)
            return n * 10

        return run

    for n in range(1, 6):
        writer.submit(
            write(n),
            on_done=lambda rows, n=n: settled.append(("done", rows)),
            on_error=lambda exc, n=n: settled.append(("error", n)),
        )
    writer.close()
    assert ran == [1, 2, 4, 5]
    assert settled == [("done", 10), ("done", 20), ("error", 3), ("done", 40), ("done", 50)]
    assert (threads == {threading.current_thread().name}) is not background


def test_waiting_for_one_write_settles_the_writes_up_to_it_and_not_the_later_ones() -> None:
    """``wait_for`` returns once that write is done, with the callbacks of it and of the writes before it run in
    order, while a later write is still running; inline writes have nothing to wait for."""
    writer = ResultWriter(background=True)
    release = threading.Event()
    settled: list[int] = []
    first = writer.submit(lambda: 1, on_done=settled.append, on_error=lambda exc: None)
    second = writer.submit(lambda: 2, on_done=settled.append, on_error=lambda exc: None)
    later = writer.submit(lambda: int(release.wait(10)) + 2, on_done=settled.append, on_error=lambda exc: None)
    try:
        writer.wait_for(second)
        assert first is not None and second is not None and later is not None
        assert first.done() and second.done() and not later.done()
        assert settled == [1, 2]
    finally:
        release.set()
        writer.close()
    assert settled == [1, 2, 3]
    inline = ResultWriter(background=False)
    assert inline.submit(lambda: 4, on_done=settled.append, on_error=lambda exc: None) is None
    inline.wait_for(None)
    assert settled == [1, 2, 3, 4]


def _stored() -> dict[str, list[tuple]]:
    return {
        "results": sorted(
            (str(r.portfolio_id), r.kind, r.as_of.isoformat(), repr(r.payload), r.is_stale)
            for r in PortfolioResult.objects.all()
        ),
        "metrics": sorted(
            (str(m.position_id), m.market_value, m.delta, repr(m.factor_exposures))
            for m in PositionMetrics.objects.all()
        ),
        "snapshots": sorted((str(s.portfolio_id), s.total_value, s.daily_pnl) for s in PortfolioSnapshot.objects.all()),
    }


@pytest.mark.skipif(connection.vendor != "postgresql", reason="background writes are a PostgreSQL path")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_background_writes_store_what_inline_writes_store_and_a_failed_write_is_not_completed(
    settings, monkeypatch
) -> None:
    from analytics.services.batch import batch_run, portfolio_steps
    from marketdata.services import prices_sync
    from portfolios.demo import demo_seed

    demo_seed(seeded_on=SEED_DATE)
    prices_sync(backfill_days=300, as_of=ANALYTICS_AS_OF, provider="simulated")

    settings.BATCH_BACKGROUND_WRITES = False
    assert ResultWriter.for_batch().background is False
    inline = batch_run(as_of=ANALYTICS_AS_OF, steps=list(portfolio_steps()), trigger="test")
    assert inline.ok
    stored_inline = _stored()
    PortfolioResult.objects.all().delete()
    PositionMetrics.objects.all().delete()
    PortfolioSnapshot.objects.all().delete()

    settings.BATCH_BACKGROUND_WRITES = True
    assert ResultWriter.for_batch().background is True
    background = batch_run(as_of=ANALYTICS_AS_OF, steps=list(portfolio_steps()), trigger="test")
    assert background.ok
    assert _stored() == stored_inline
    # Every kind but snapshots (its own table) for each of the 3 portfolios.
    assert len(stored_inline["results"]) == 3 * (len(portfolio_steps()) - 1) and len(stored_inline["metrics"]) == 63

    original = persist.portfolio_results_upsert

    def refuse_var(*, rows):
        if any(r["kind"] in ("var", "greeks") for r in rows):
            raise RuntimeError("injected write failure")
        return original(rows=rows)

    monkeypatch.setattr(persist, "portfolio_results_upsert", refuse_var)
    PortfolioResult.objects.filter(kind__in=["var", "greeks"]).delete()
    PositionMetrics.objects.all().delete()
    failed = batch_run(as_of=ANALYTICS_AS_OF, steps=list(portfolio_steps()), trigger="test")
    assert not failed.ok
    for step in ("var", "greeks"):
        jobs = BatchJob.objects.filter(run=failed.run, step=step)
        assert {j.status for j in jobs} == {RunStatus.FAILED}
        assert all("injected write failure" in j.error_summary for j in jobs)
    # The metrics of a step whose results were not stored are left out; the other steps' columns are there.
    metrics = list(PositionMetrics.objects.all())
    assert len(metrics) == 63
    assert all(m.delta is None and m.greeks_inputs == {} for m in metrics)
    assert all(m.market_value is not None for m in metrics)
    others = BatchJob.objects.filter(run=failed.run, step="stress_test")
    assert {j.status for j in others} == {RunStatus.COMPLETED}
    assert not PortfolioResult.objects.filter(kind="var").exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="background writes are a PostgreSQL path")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_backtest_waits_for_the_days_snapshots_however_slow_their_write(monkeypatch) -> None:
    """The backtest pairs the previous session's stored VaR with today's P&L from the snapshot this very run stores:
    it waits for that write (here held back 1.5 s in the writer thread) before it reads the stored history."""
    import time

    from analytics.results.snapshots import Snapshots
    from analytics.services.batch import batch_run, portfolio_steps
    from marketdata.calendar import last_trading_days
    from marketdata.services import prices_sync
    from portfolios.demo import demo_seed

    demo_seed(seeded_on=SEED_DATE)
    prices_sync(backfill_days=300, as_of=ANALYTICS_AS_OF, provider="simulated")
    previous = last_trading_days(count=2, as_of=ANALYTICS_AS_OF)[0]
    assert batch_run(as_of=previous, steps=list(portfolio_steps()), trigger="test").ok

    original = Snapshots.write
    held: list[str] = []

    def slow_write(self: Snapshots, rows: list) -> int:
        held.append(threading.current_thread().name)
        time.sleep(1.5)
        return original(self, rows)

    monkeypatch.setattr(Snapshots, "write", slow_write)
    assert batch_run(as_of=ANALYTICS_AS_OF, steps=list(portfolio_steps()), trigger="test").ok
    assert held and all(name.startswith("batch-writer") for name in held)  # written in the background
    backtests = PortfolioResult.objects.filter(kind="backtest", as_of=ANALYTICS_AS_OF)
    assert backtests.count() == 3
    for result in backtests:
        assert result.payload["last_pnl_date"] == ANALYTICS_AS_OF.isoformat()
        assert result.payload["series"]["var_dates"][-1] == previous.isoformat()
