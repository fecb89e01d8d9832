"""A cheap "has the data changed?" token from the database itself, for in-process caches.

:func:`data_version` returns a value that is equal for two calls on the same connection only if no
data visible to that connection can have changed in between — whoever changed it: this process,
another daphne worker, the batch in the django-q cluster or a ``manage.py`` command. One tiny query
per call, no schema, no signals to forget (bulk updates and COPY included):

- SQLite: ``PRAGMA data_version`` changes when another connection commits; this connection's own
  writes are counted by ``total_changes``. Both are per connection, so a cache must be too (see
  :class:`ConnectionCache`).
- PostgreSQL: ``pg_current_snapshot()`` (xmin, xmax and in-progress ids) changes when any write
  transaction in the cluster starts or ends; two statements with the same snapshot see the same
  committed data. Conservative: a write to any table invalidates.

None — "cannot tell, do not cache" — for other backends and inside a transaction, where the
connection's own uncommitted writes change neither number.

Read the version *before* the data it guards: a change committed between the two reads then only
makes the next version differ, so a stale body is never served.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from django.db import connections

_QUERIES = {
    "sqlite": "PRAGMA data_version",
    "postgresql": "SELECT pg_current_snapshot()::text",
}


def data_version(*, using: str = "default") -> Hashable | None:
    """The connection's current data version (see module doc), or None when it cannot be told."""
    connection = connections[using]
    query = _QUERIES.get(connection.vendor)
    if query is None or connection.in_atomic_block:
        return None
    with connection.cursor() as cursor:
        cursor.execute(query)
        (version,) = cursor.fetchone()
    if connection.vendor == "sqlite":
        return version, connection.connection.total_changes
    return version


class ConnectionCache:
    """A small LRU per thread (so per database connection), each entry valid for one data version.

    ``get_or_build(key, build)`` returns the cached value when the connection's data version is the
    one it was built at, else calls ``build()`` and keeps a non-None result. With no usable version
    it just calls ``build()``. A reconnect (new connection object) empties the thread's cache.
    Values are shared by the requests a thread serves: keep them immutable.
    """

    def __init__(self, *, maxsize: int = 256, using: str = "default") -> None:
        self.maxsize = maxsize
        self.using = using
        self._local = threading.local()

    def _entries(self) -> OrderedDict[Hashable, tuple[Hashable, Any]]:
        raw = connections[self.using].connection
        local = self._local
        if getattr(local, "raw", None) is not raw:
            local.raw = raw  # the connection the versions below were read on
            local.entries = OrderedDict()
        return local.entries

    def get_or_build(self, key: Hashable, build: Callable[[], Any]) -> Any:
        version = data_version(using=self.using)  # opens the connection if needed
        if version is None:
            return build()
        entries = self._entries()
        cached = entries.get(key)
        if cached is not None and cached[0] == version:
            entries.move_to_end(key)
            return cached[1]
        value = build()
        if value is not None:
            entries[key] = (version, value)
            entries.move_to_end(key)
            while len(entries) > self.maxsize:
                entries.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget this thread's entries."""
        self._local.__dict__.clear()
