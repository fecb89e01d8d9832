"""Job bookkeeping of a batch run: the step graph (derived from the registered result kinds) and a
recorder of ``BatchJob`` rows.

A portfolio's step is skipped when a step it depends on failed (or was skipped) for that
portfolio, or for the whole universe (``portfolio_id`` None), in the same run.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass, field

from django.utils import timezone

from analytics.models import BatchJob, BatchRun, RunStatus
from analytics.results import registry
from analytics.services.heartbeat import heartbeat_beat
from analytics.services.persist import bulk_upsert
from analytics.services.writer import ResultWriter

logger = logging.getLogger("sigmasight.batch")

MARKET_DATA_STEP = "market_data"
EXPIRIES_STEP = "expiries"
REPORTS_STEP = "reports"


def portfolio_steps() -> tuple[str, ...]:
    """The portfolio steps: one per registered result kind, in step order (dependencies first)."""
    return registry.names()


def steps_all() -> tuple[str, ...]:
    """Every step of a run, in order: the market data sync, the settlement of expired options, the result
    kinds, the reports."""
    return (MARKET_DATA_STEP, EXPIRIES_STEP, *portfolio_steps(), REPORTS_STEP)


def depends_on(step: str) -> tuple[str, ...]:
    """The steps whose results ``step`` reads (a failure of one skips it for that portfolio)."""
    return registry.spec_for(step).depends_on


def needs_factor_model() -> frozenset[str]:
    """The steps that cannot run without the day's factor model."""
    return frozenset(spec.name for spec in registry.specs() if spec.needs_factor_model)


def step_label(step: str) -> str:
    """How ``batch_history`` names a step: the kind's title, or the universe-level step's description."""
    universe = {
        MARKET_DATA_STEP: "Market data sync",
        EXPIRIES_STEP: "Expired options settled",
        "factor_model": "Factor model (every symbol)",
        "position_metrics": "Per-position metrics",
        REPORTS_STEP: "Reports",
        "chunk_task": "Cluster chunk task",
    }
    if step in universe:
        return universe[step]
    try:
        return registry.spec_for(step).title
    except registry.UnknownKind:
        return step


def error_text(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {exc}"


@dataclass
class JobRecorder:
    """Collects ``BatchJob`` rows (written in bulk by ``flush``) and remembers what failed."""

    run: BatchRun
    sequence: int = 0
    failed: dict[uuid.UUID | None, set[str]] = field(default_factory=dict)
    pending: list[BatchJob] = field(default_factory=list)

    def record(
        self,
        *,
        step: str,
        portfolio_id: uuid.UUID | None,
        status: str,
        started: float,
        rows: int = 0,
        error: str = "",
        flush: bool = False,
        blocks_dependants: bool = True,
    ) -> BatchJob:
        """Record one job. A failed or skipped step blocks the steps that depend on it for that portfolio,
        unless ``blocks_dependants`` is False (its results were computed but could not be stored: the
        steps after it ran on them in memory, whether or not the write had failed yet)."""
        self.sequence += 1
        elapsed = (time.perf_counter() - started) * 1000
        now = timezone.now()
        if status in (RunStatus.FAILED, RunStatus.SKIPPED) and blocks_dependants:
            self.failed.setdefault(portfolio_id, set()).add(step)
        job = BatchJob(
            run=self.run,
            step=step,
            portfolio_id=portfolio_id,
            status=status,
            started_at=now - dt.timedelta(milliseconds=elapsed),
            finished_at=now,
            duration_ms=round(elapsed, 2),
            rows_written=rows,
            error_summary=error[:2000],
            sequence=self.sequence,
        )
        self.pending.append(job)
        if flush:
            self.flush()
        return job

    def record_failure(
        self, *, step: str, started: float, exc: Exception, portfolio_id: uuid.UUID | None = None
    ) -> BatchJob:
        """Record ``step`` as failed with the exception's summary, written at once."""
        return self.record(
            step=step,
            portfolio_id=portfolio_id,
            status=RunStatus.FAILED,
            started=started,
            error=error_text(exc),
            flush=True,
        )

    def flush(self, writer: ResultWriter | None = None) -> None:
        """Write the collected jobs (a later record of the same step and portfolio replaces an earlier one),
        now or, given the batch's ``writer``, after the writes already handed to it."""
        if not self.pending:
            return
        latest = {(j.step, j.portfolio_id): j for j in self.pending}
        self.pending = []
        rows = list(latest.values())
        if writer is None:
            self._write(rows)
            return

        def on_error(exc: Exception) -> None:
            logger.error("Recording %d batch jobs failed: %s", len(rows), exc, exc_info=exc)

        writer.submit(lambda: self._write(rows), on_done=lambda _: None, on_error=on_error)

    def _write(self, rows: list[BatchJob]) -> int:
        with_portfolio = [j for j in rows if j.portfolio_id is not None]
        if with_portfolio:
            # Through the results' bulk path: COPY on PostgreSQL (a run of 1,000 portfolios records 9,000 jobs).
            bulk_upsert(
                BatchJob,
                with_portfolio,
                unique_fields=["run", "step", "portfolio"],
                update_fields=[
                    "status",
                    "started_at",
                    "finished_at",
                    "duration_ms",
                    "rows_written",
                    "error_summary",
                    "sequence",
                ],
            )
        for job in (j for j in rows if j.portfolio_id is None):  # NULLs never conflict: replace by hand
            BatchJob.objects.filter(run=self.run, step=job.step, portfolio__isnull=True).delete()
            job.save()
        heartbeat_beat(self.run.pk)  # jobs written = the run is alive (inline, cluster worker or writer thread)
        return len(rows)

    def blocked_by(self, portfolio_id: uuid.UUID, step: str) -> str | None:
        failed = self.failed.get(portfolio_id, set()) | self.failed.get(None, set())
        for dependency in depends_on(step):
            if dependency in failed:
                return dependency
        return None
