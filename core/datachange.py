"""The database's change counter: one number, stored in the database, that every committed write to the
data the API serves moves forward.

It is what makes a cache of answers correct across processes (two daphne processes, the batch in a
django-q worker, a ``manage.py`` command): a cached answer is keyed by the counter read *before* the
data, so a write committed by anyone afterwards makes every later request miss. The counter lives in
one row of ``sigmasight_data_change`` (created by ``analytics/migrations/0013_data_change.py``), not
in the cache, because the default cache (locmem) is per process.

Which writes count: every statement that changes a table of the watched apps (``WATCHED_APPS``:
positions, portfolios, tags, prices, instruments, results, metrics, batch runs...), whatever path
issued it — ``save()``, ``bulk_create``, ``QuerySet.update``/``delete``, raw ``cursor.execute`` — is
seen by an execute wrapper installed on every database connection (:func:`watch_connection`). COPY
(psycopg's ``cursor.copy``) does not pass through Django's execute wrappers, so the COPY writers
(``analytics.services.persist``, ``marketdata.services``) call :func:`data_changed` themselves.

When it moves: after the write is committed — at once in autocommit mode, else in a
``transaction.on_commit`` callback (registered once per transaction; a rollback discards it). The
bump is its own tiny autocommit statement, so concurrent writers never wait on the counter's row for
the length of their transactions. Between a commit and its bump a reader may cache the *new* data
under the *old* number — harmless (it is the current data); the reverse, old data under a new
number, cannot happen because the number is read before the data.

How it is read: :func:`data_version` on its own, or — for a request with a bearer token — in the very
statement that fetches the authenticated user's row (:func:`version_expression`, a scalar subquery
annotated on that row by ``core.authentication.JWTAuthentication``; :func:`version_read` applies the same
rules to the value it returns). Either way it is read before any served data, and in the second case in the
same statement, hence the same snapshot, as the user's row (which is served data too: a deactivation or
a password change moves the counter): the user and the counter are seen as of one instant.

A flushed table (tests) restarts the counter from a random value, so an answer cached before the
flush is never found again. Writes made outside Django (``psql`` by hand) are not seen: call
:func:`data_changed` (or restart the servers) after them.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.db import DatabaseError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BigIntegerField
from django.db.models.expressions import RawSQL

TABLE = "sigmasight_data_change"
WATCHED_APPS = ("portfolios", "marketdata", "analytics")
_WRITE = re.compile(r"^\s*(?:INSERT|UPDATE|DELETE|REPLACE|TRUNCATE|MERGE|WITH|COPY|ALTER|DROP)\b", re.IGNORECASE)
_watched: re.Pattern[str] | None = None
# The counter's read: one row, or none before the first counted write (then no caching).
_VERSION_SQL = f"SELECT value FROM {TABLE} WHERE id = 1"  # noqa: S608 (a constant)


def _watched_tables() -> re.Pattern[str]:
    """A pattern matching the name of any table of the watched apps (quoted or not)."""
    global _watched
    if _watched is None:
        tables = {model._meta.db_table for label in WATCHED_APPS for model in apps.get_app_config(label).get_models()}
        tables.discard(TABLE)  # the counter's own row (its model is in analytics)
        names = sorted(tables, key=len, reverse=True)
        _watched = re.compile(r"\b(?:" + "|".join(re.escape(name) for name in names) + r")\b", re.IGNORECASE)
    return _watched


def is_watched_write(sql: str) -> bool:
    """Whether a statement may change a table of the watched apps (conservative: a ``WITH`` that only reads
    a watched table counts)."""
    return bool(_WRITE.match(sql)) and _watched_tables().search(sql) is not None


def data_version(*, using: str = "default") -> int | None:
    """The current counter, or None when it cannot be used: inside a transaction (the connection may see
    its own uncommitted writes, which have not moved the counter) or before the first counted write."""
    connection = connections[using]
    if connection.in_atomic_block:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_VERSION_SQL)
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def version_expression() -> RawSQL:
    """The counter as a scalar subquery (SQL ``NULL`` when its row is missing), to annotate on a query of
    another table so that the counter is read in the same statement — one round trip, one snapshot — as
    that row. Turn the value it yields into a usable counter with :func:`version_read`."""
    return RawSQL(_VERSION_SQL, (), output_field=BigIntegerField())  # noqa: S611 (a constant, no parameters)


def version_read(value: int | None, *, using: str = "default") -> int | None:
    """The counter read through :func:`version_expression` on connection ``using``, under
    :func:`data_version`'s rules: None inside a transaction (the statement may have seen the connection's
    own uncommitted writes, which have not moved the counter) and None when the row is missing."""
    if connections[using].in_atomic_block or value is None:
        return None
    return int(value)


_TABLE_EXISTS: set[str] = set()  # aliases whose database is known to have the counter's table


def _bump(using: str) -> None:
    """Move the counter forward (its own autocommit statement); a missing row starts at a random value.
    Nothing to move while the table does not exist yet (``migrate`` writes data before creating it)."""
    connection = connections[using]
    if using not in _TABLE_EXISTS:
        if TABLE not in connection.introspection.table_names():
            return
        _TABLE_EXISTS.add(using)
    start = secrets.randbelow(2**62) + 1
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {TABLE} (id, value) VALUES (1, %s) "  # noqa: S608 (a constant)
                f"ON CONFLICT (id) DO UPDATE SET value = {TABLE}.value + 1",
                [start],
            )
    except DatabaseError:
        # The table went away since it was seen (migrations rolled back past it): nothing to move. In a
        # transaction the error stands (PostgreSQL has aborted it); so does any other error.
        _TABLE_EXISTS.discard(using)
        if connection.in_atomic_block or TABLE in connection.introspection.table_names():
            raise


def table_state_forget(**_: Any) -> None:
    """``pre_migrate``/``post_migrate`` receiver: the counter's table may appear or go; look again."""
    _TABLE_EXISTS.clear()


_BUMPERS: dict[str, Callable[[], None]] = {}


def data_changed(*, using: str = "default") -> None:
    """Record that data of the watched apps changed on connection ``using``: the counter moves once the
    current transaction commits (at once outside a transaction)."""
    connection = connections[using]
    if not connection.in_atomic_block:
        _bump(using)
        return
    bumper = _BUMPERS.get(using)
    if bumper is None:
        bumper = _BUMPERS[using] = lambda: _bump(using)
    # once per transaction: a rolled-back savepoint drops its callbacks, and a later write registers again
    if not any(entry[1] is bumper for entry in connection.run_on_commit):  # (savepoint ids, callback, robust)
        transaction.on_commit(bumper, using=using)


_DDL = re.compile(r"^\s*(?:CREATE|DROP|ALTER)\b", re.IGNORECASE)


def _watcher(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
    result = execute(sql, params, many, context)
    alias = context["connection"].alias
    if _DDL.match(sql) and TABLE in sql:
        # The counter's table made, dropped or rebuilt (a migration, forwards or back): look again before using it.
        _TABLE_EXISTS.discard(alias)
    if is_watched_write(sql):
        data_changed(using=alias)
    return result


def watch_connection(*, connection: BaseDatabaseWrapper, **_: Any) -> None:
    """Install the write watcher on a connection (``connection_created`` receiver; idempotent)."""
    if _watcher not in connection.execute_wrappers:
        connection.execute_wrappers.append(_watcher)
