"""Signs of life of a running batch, and the runs whose process died.

A running ``BatchRun`` stamps ``heartbeat_at`` (UTC) when each chunk or universe step completes
(:func:`heartbeat_beat`, called by the orchestrator and by cluster workers) and, from a daemon
thread, every ``settings.BATCH_HEARTBEAT_INTERVAL_S`` seconds (:class:`Heartbeat`), so a long
chunk still shows life. A run still ``running`` whose last sign of life (its heartbeat, else its
start) is older than ``settings.BATCH_HEARTBEAT_STALE_S`` seconds was left by a process that died
(``kill -9``, OOM, a lost machine) or hung: :func:`runs_abandoned_mark` marks it ``abandoned``.
The next run, ``/health``, ``doctor`` and ``batch_history`` call it before they read.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from types import TracebackType

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from analytics.models import BatchLock, BatchRun, RunStatus

logger = logging.getLogger("sigmasight.batch")


def heartbeat_beat(run_id: uuid.UUID | str) -> None:
    """Stamp the run's heartbeat (and its lock row's) now; a no-op once the run is no longer running."""
    now = timezone.now()
    BatchRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(heartbeat_at=now)
    BatchLock.objects.filter(holder=run_id).update(heartbeat_at=now)


def runs_abandoned_mark(*, now: dt.datetime | None = None, stale_s: float | None = None) -> int:
    """Mark ``abandoned`` every running run silent for more than ``stale_s`` seconds (default: the setting).

    Returns how many were marked. Idempotent: a second call finds none.
    """
    now = now or timezone.now()
    stale_s = settings.BATCH_HEARTBEAT_STALE_S if stale_s is None else stale_s
    cutoff = now - dt.timedelta(seconds=stale_s)
    stale = (
        BatchRun.objects.filter(status=RunStatus.RUNNING)
        .annotate(last_sign=Coalesce("heartbeat_at", "started_at", "created_at"))
        .filter(Q(last_sign__lt=cutoff))
    )
    marked = 0
    for run in stale.only("pk", "heartbeat_at", "started_at", "created_at"):
        last = run.heartbeat_at or run.started_at or run.created_at
        summary = (
            f"abandoned: no heartbeat since {last:%Y-%m-%d %H:%M:%S} UTC (more than {stale_s:.0f} s); "
            "its process died or hung. Rerun the date: results are replaced, never duplicated."
        )
        # Conditional on still running: a run that finished meanwhile keeps its own status.
        marked += BatchRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
            status=RunStatus.ABANDONED, finished_at=now, error_summary=summary
        )
    if marked:
        logger.warning("Marked %d batch run(s) abandoned (heartbeat older than %.0f s)", marked, stale_s)
    return marked


class Heartbeat:
    """Context manager: a daemon thread stamps the run's heartbeat every ``interval_s`` seconds until exit.

    The thread uses its own database connection and closes it when it stops; a failed stamp (a
    database busy for a moment) is logged and retried on the next tick, never raised into the run.
    """

    def __init__(self, run_id: uuid.UUID, *, interval_s: float | None = None) -> None:
        self.run_id = run_id
        self.interval_s = settings.BATCH_HEARTBEAT_INTERVAL_S if interval_s is None else interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"batch-heartbeat-{run_id}", daemon=True)

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.interval_s):
                try:
                    heartbeat_beat(self.run_id)
                except Exception:
                    logger.warning("Batch heartbeat for run %s failed; retrying", self.run_id, exc_info=True)
        finally:
            connection.close()

    def __enter__(self) -> Heartbeat:
        heartbeat_beat(self.run_id)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=max(5.0, self.interval_s))
