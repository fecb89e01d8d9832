"""One batch per as-of date at a time, held by the database (never a lock file).

PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) keyed by the date; the
server releases it by itself if the process dies. SQLite (one machine): a conditional UPDATE on
the date's ``BatchLock`` row claims it for this process; a holder whose process no longer exists
(killed mid-run) is taken over, so an interrupted run never blocks the next one.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from analytics.models import BatchLock, BatchRun, RunStatus

logger = logging.getLogger("sigmasight.batch")

ADVISORY_NAMESPACE = 0x5167  # "SigmaSight batch", first half of the two-int advisory key


class BatchLocked(Exception):
    """Another batch holds the lock for this date."""


def _holder_token() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_alive(token: str) -> bool:
    host, _, pid = token.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's process: cannot tell, assume alive
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _date_key(as_of: dt.date) -> int:
    return as_of.toordinal()


@contextmanager
def batch_lock(*, as_of: dt.date, run_id: uuid.UUID) -> Iterator[None]:
    """Hold the batch lock for ``as_of`` or raise :class:`BatchLocked` with who holds it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [ADVISORY_NAMESPACE, _date_key(as_of)])
            acquired = cursor.fetchone()[0]
        if not acquired:
            raise BatchLocked(_locked_message(as_of))
        try:
            _mark_holder(as_of=as_of, run_id=run_id)
            yield
        finally:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [ADVISORY_NAMESPACE, _date_key(as_of)])
            except DatabaseError:
                # The session is gone (the connection was lost mid-run): the server released its lock with it.
                # Never let this replace the error that is propagating.
                logger.warning("Batch lock for %s: the session ended before the unlock; released with it", as_of)
        return

    token = _holder_token()
    with transaction.atomic():
        current, _ = BatchLock.objects.get_or_create(as_of=as_of)
        free = Q(holder__isnull=True)
        if current.holder is not None and current.holder_process and not _process_alive(current.holder_process):
            free |= Q(holder=current.holder)  # its process died mid-run: take the lock over
        claimed = BatchLock.objects.filter(free, as_of=as_of).update(
            holder=run_id, holder_process=token, acquired_at=timezone.now(), heartbeat_at=timezone.now()
        )
    if claimed != 1:
        raise BatchLocked(_locked_message(as_of))
    try:
        yield
    finally:
        try:
            BatchLock.objects.filter(as_of=as_of, holder=run_id).update(holder=None, holder_process="")
        except DatabaseError:
            # Left held by a process that is about to exit: the next run takes it over (_process_alive).
            logger.warning("Batch lock for %s could not be released; the next run takes it over", as_of)


def _mark_holder(*, as_of: dt.date, run_id: uuid.UUID) -> None:
    BatchLock.objects.update_or_create(
        as_of=as_of,
        defaults={
            "holder": run_id,
            "holder_process": _holder_token(),
            "acquired_at": timezone.now(),
            "heartbeat_at": timezone.now(),
        },
    )


def _locked_message(as_of: dt.date) -> str:
    holder = BatchLock.objects.filter(as_of=as_of).values_list("holder", flat=True).first()
    run = BatchRun.objects.filter(pk=holder).first() if holder else None
    who = f" (run {run.pk}, started {run.started_at:%H:%M:%S} UTC)" if run and run.started_at else ""
    return (
        f"Another batch is already running for {as_of.isoformat()}{who}. "
        "Wait for it to finish (see `python manage.py batch_history`) and run again."
    )


def interrupted_runs_mark(*, as_of: dt.date, except_run: uuid.UUID) -> int:
    """Runs left 'running' for this date by a killed process are marked interrupted (we hold the lock now)."""
    return (
        BatchRun.objects.filter(as_of=as_of, status=RunStatus.RUNNING)
        .exclude(pk=except_run)
        .update(status=RunStatus.INTERRUPTED, finished_at=timezone.now(), error_summary="process ended mid-run")
    )
