"""Issue 17.10 — an honest batch status: a run refused by the lock is a refusal, not the latest run; a running
run beats a heartbeat; a run whose process died is marked abandoned by the next run, /health, doctor,
batch_history and the agent's status tool."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from agent.tools import ToolContext, tool_execute
from analytics.doctor import check_last_batch
from analytics.models import BatchRefusal, BatchRun, RunStatus
from analytics.selectors import batch_run_latest
from analytics.services.batch import batch_run
from analytics.services.heartbeat import Heartbeat, runs_abandoned_mark
from analytics.services.locking import ADVISORY_NAMESPACE, BatchLocked, batch_lock
from conftest import ANALYTICS_AS_OF
from core.doctor import FAIL, WARN
from portfolios.models import Portfolio

HEDGE_FUND = "fcd71196-e93e-f000-5a74-31a9eead3118"


def _refused_while_locked() -> None:
    """Run a batch for ANALYTICS_AS_OF while another holder keeps the date's lock; it must be refused."""
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
                batch_run(as_of=ANALYTICS_AS_OF, steps=["aggregation"], trigger="second")
        finally:
            release.set()
            thread.join()
    else:
        with (
            batch_lock(as_of=ANALYTICS_AS_OF, run_id=uuid.uuid4()),
            pytest.raises(BatchLocked, match="already running"),
        ):
            batch_run(as_of=ANALYTICS_AS_OF, steps=["aggregation"], trigger="second")


@pytest.mark.django_db
def test_a_refused_run_is_recorded_apart_and_never_becomes_the_latest_run(analytics_demo):
    completed = analytics_demo.run
    runs_before = BatchRun.objects.count()

    _refused_while_locked()

    assert BatchRun.objects.count() == runs_before  # the refusal created no run
    refusal = BatchRefusal.objects.get()
    assert (refusal.as_of, refusal.trigger) == (ANALYTICS_AS_OF, "second")
    assert "already running" in refusal.message
    assert batch_run_latest() == completed

    last_batch = Client().get("/health").json()["checks"]["last_batch"]
    assert (last_batch["status"], last_batch["run_status"], last_batch["run_id"]) == (
        "ok",
        "completed",
        str(completed.pk),
    )

    out = StringIO()
    call_command("batch_history", stdout=out)
    history = out.getvalue()
    assert "Refused (another run held the lock; not runs): 1" in history
    assert "trigger=second" in history
    runs_listed = [line for line in history.splitlines() if " as_of=" in line and " id=" in line]
    assert len(runs_listed) == runs_before and "completed" in runs_listed[0]

    portfolio = Portfolio.objects.get(pk=HEDGE_FUND)
    status = tool_execute(
        name="get_batch_status", arguments={}, context=ToolContext(user=portfolio.user, portfolio_id=portfolio.pk)
    )
    assert status["data"]["status"] == "completed"
    assert str(status["data"]["run_id"]) == str(completed.pk)


@pytest.mark.django_db
def test_the_run_command_refused_by_the_lock_says_so_and_records_no_run(demo_data):
    from django.core.management.base import CommandError

    if connection.vendor == "postgresql":
        pytest.skip("the SQLite lock row is held in-process here; PostgreSQL is covered by the test above")
    with batch_lock(as_of=ANALYTICS_AS_OF, run_id=uuid.uuid4()), pytest.raises(CommandError, match="already running"):
        call_command("run_batch", "--date", ANALYTICS_AS_OF.isoformat(), "--skip-sync", stdout=StringIO())
    assert not BatchRun.objects.exists()
    assert BatchRefusal.objects.filter(trigger="command").count() == 1


def _running_run(*, heartbeat_age_s: float | None, started_age_s: float = 3600) -> BatchRun:
    now = timezone.now()
    return BatchRun.objects.create(
        as_of=ANALYTICS_AS_OF,
        status=RunStatus.RUNNING,
        started_at=now - dt.timedelta(seconds=started_age_s),
        heartbeat_at=None if heartbeat_age_s is None else now - dt.timedelta(seconds=heartbeat_age_s),
    )


@pytest.mark.django_db
def test_a_running_run_with_a_stale_heartbeat_is_abandoned_by_health_and_doctor(demo_data, settings):
    settings.BATCH_HEARTBEAT_STALE_S = 600
    dead = _running_run(heartbeat_age_s=601)
    alive = _running_run(heartbeat_age_s=5)
    BatchRun.objects.filter(pk=alive.pk).update(created_at=dead.created_at - dt.timedelta(seconds=1))

    last_batch = Client().get("/health").json()["checks"]["last_batch"]
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == RunStatus.ABANDONED
    assert "no heartbeat since" in dead.error_summary and dead.finished_at is not None
    assert alive.status == RunStatus.RUNNING  # 5 s old: alive
    assert (last_batch["status"], last_batch["run_status"]) == ("warn", "abandoned")
    assert "no heartbeat" in last_batch["message"]

    check = check_last_batch()
    assert check.status in (WARN, FAIL) and "abandoned" in check.detail


@pytest.mark.django_db
def test_a_run_without_a_heartbeat_goes_stale_from_its_start(demo_data, settings):
    settings.BATCH_HEARTBEAT_STALE_S = 600
    never_beat = _running_run(heartbeat_age_s=None, started_age_s=700)
    young = _running_run(heartbeat_age_s=None, started_age_s=10)
    out = StringIO()
    call_command("batch_history", stdout=out)
    assert "Marked 1 run(s) abandoned" in out.getvalue()
    assert BatchRun.objects.get(pk=never_beat.pk).status == RunStatus.ABANDONED
    assert BatchRun.objects.get(pk=young.pk).status == RunStatus.RUNNING
    assert runs_abandoned_mark() == 0  # idempotent


@pytest.mark.django_db
def test_the_next_run_marks_a_dead_run_of_another_date_abandoned(analytics_demo, settings):
    settings.BATCH_HEARTBEAT_STALE_S = 600
    other_date = BatchRun.objects.create(
        as_of=ANALYTICS_AS_OF - dt.timedelta(days=1),
        status=RunStatus.RUNNING,
        started_at=timezone.now() - dt.timedelta(hours=2),
        heartbeat_at=timezone.now() - dt.timedelta(hours=1),
    )
    outcome = batch_run(as_of=ANALYTICS_AS_OF, steps=["aggregation"], trigger="test")
    assert outcome.run.status == RunStatus.COMPLETED
    other_date.refresh_from_db()
    assert other_date.status == RunStatus.ABANDONED


@pytest.mark.django_db
def test_a_finished_run_is_never_marked_abandoned(analytics_demo, settings):
    settings.BATCH_HEARTBEAT_STALE_S = 1
    BatchRun.objects.update(heartbeat_at=timezone.now() - dt.timedelta(days=1))
    assert runs_abandoned_mark() == 0
    assert analytics_demo.run.__class__.objects.get(pk=analytics_demo.run.pk).status == RunStatus.COMPLETED


@pytest.mark.django_db
def test_a_run_beats_as_its_jobs_are_written(analytics_demo):
    run = analytics_demo.run
    last_job = run.jobs.order_by("-finished_at").first()
    assert run.heartbeat_at is not None or BatchRun.objects.get(pk=run.pk).heartbeat_at is not None
    beat = BatchRun.objects.get(pk=run.pk).heartbeat_at
    # The last stamp is taken when the last jobs were written: not before the run's last job finished.
    assert beat >= last_job.finished_at - dt.timedelta(seconds=1)
    assert beat >= run.started_at


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_heartbeat_thread_stamps_a_long_step_periodically(db):
    run = BatchRun.objects.create(as_of=ANALYTICS_AS_OF, status=RunStatus.RUNNING, started_at=timezone.now())
    seen: list[dt.datetime] = []
    with Heartbeat(run.pk, interval_s=0.05):
        for _ in range(6):
            time.sleep(0.12)  # a "long chunk" in the main thread
            stamp = BatchRun.objects.filter(pk=run.pk).values_list("heartbeat_at", flat=True).get()
            seen.append(stamp)
    assert all(s is not None for s in seen)
    assert len(set(seen)) >= 3, seen  # the stamps moved while the main thread was busy
    BatchRun.objects.filter(pk=run.pk).update(status=RunStatus.COMPLETED)
    before = BatchRun.objects.get(pk=run.pk).heartbeat_at
    time.sleep(0.15)
    assert BatchRun.objects.get(pk=run.pk).heartbeat_at == before  # the thread stopped with the context
