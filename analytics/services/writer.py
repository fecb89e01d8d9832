"""The batch's bulk writes, run in submission order — inline, or on one background thread.

On PostgreSQL the database server does a large share of the batch's work (parsing, indexing and
logging the results it is sent) on its own process, so the batch hands each bulk write to a
writer thread with its own connection and goes on computing the next step while the server
stores the previous one: the two cores work at once. Each write is still one transaction, the
writes still happen in the order they were submitted, and a job is recorded as completed only
when its write has committed (its ``on_done`` runs in the submitting thread once the write is
done; ``on_error`` likewise when it failed).

Writes run inline — in the caller's thread and connection, one after the other — on SQLite
(one writer at a time), when the caller is inside a transaction (a second connection could
not see its uncommitted rows), or with ``BATCH_BACKGROUND_WRITES`` off.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from django.conf import settings
from django.db import connection, connections

Write = Callable[[], int]


class ResultWriter:
    """Runs bulk writes in order; see the module docstring for when they run in the background."""

    def __init__(self, *, background: bool) -> None:
        self.background = background
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-writer") if background else None
        self._pending: deque[tuple[Future[int], Callable[[int], None], Callable[[Exception], None]]] = deque()

    @classmethod
    def for_batch(cls) -> ResultWriter:
        background = (
            getattr(settings, "BATCH_BACKGROUND_WRITES", True)
            and connection.vendor == "postgresql"
            and not connection.in_atomic_block
        )
        return cls(background=background)

    def submit(
        self, write: Write, *, on_done: Callable[[int], None], on_error: Callable[[Exception], None]
    ) -> Future[int] | None:
        """Run ``write`` (returns rows written); then ``on_done(rows)`` or ``on_error(exception)``. Returns the
        write's future when it runs in the background (what :meth:`wait_for` takes), None when it ran inline."""
        if self._executor is None:
            try:
                rows = write()
            except Exception as exc:
                on_error(exc)
            else:
                on_done(rows)
            return None
        future = self._executor.submit(write)
        self._pending.append((future, on_done, on_error))
        self._settle(wait=False)
        return future

    def wait_for(self, write: Future[int] | None) -> None:
        """Wait until ``write`` (a future :meth:`submit` returned; None: a write that ran inline) is done, then run
        the callbacks of every write done by then, in order. The writes run one at a time in submission order, so
        every write before it is done too; the later ones may still be running."""
        if write is not None:
            wait([write])
        self._settle(wait=False)

    def drain(self) -> None:
        """Wait for every submitted write and run its callback."""
        self._settle(wait=True)

    def close(self) -> None:
        """Drain, then close the writer thread's database connection and stop the thread."""
        try:
            self.drain()
        finally:
            if self._executor is not None:
                self._executor.submit(connections.close_all).result()
                self._executor.shutdown(wait=True)
                self._executor = None

    def _settle(self, *, wait: bool) -> None:
        while self._pending and (wait or self._pending[0][0].done()):
            future, on_done, on_error = self._pending.popleft()
            try:
                rows = future.result()
            except Exception as exc:
                on_error(exc)
            else:
                on_done(rows)
