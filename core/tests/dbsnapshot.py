"""The rows a piece of test set-up adds to the test database, captured once and added again by each test.

Some fixtures build the same large state for dozens of tests (``analytics_demo``: 300 sessions of prices
and a whole batch, 1.5–3 s each time). ``rows_capture`` runs such a build once, inside a transaction it
rolls back, and keeps what changed, table by table: the rows it added and the primary keys of the rows it
removed or changed. ``rows_apply`` then makes the same change in a test's database in one transaction
(deleting those primary keys, inserting the captured rows: a changed row is a delete and an insert) —
which equals running the build there as long as the test starts from the state the build started from
(the migrated database, or the same cheaper fixtures: ``tests`` compare both ways).

SQLite rows are read and written through Django's cursor, with its adapters and converters both ways;
PostgreSQL rows travel as ``COPY`` text, exactly as the server prints and parses them. On PostgreSQL the
sequences of the tables written are moved past the inserted ids afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import connection, transaction

T = TypeVar("T")
Row = tuple[Any, ...]


@dataclass(frozen=True)
class TableChange:
    """One table's share of a change: its columns, the primary keys to delete, the rows to insert.

    On SQLite ``rows`` are tuples of values; on PostgreSQL, lines of ``COPY`` text and ``removed`` the
    primary keys as text.
    """

    table: str
    columns: tuple[str, ...]
    primary_key: str
    removed: tuple[Any, ...]
    rows: tuple[Any, ...]


@dataclass(frozen=True)
class Captured:
    """What ``rows_capture`` kept: the change, table by table, and what the build returned."""

    changes: tuple[TableChange, ...]
    result: Any


class _Rollback(Exception):
    """Leaves the capturing transaction without keeping anything."""


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _tables() -> list[str]:
    with connection.cursor() as cursor:
        return sorted(connection.introspection.table_names(cursor))


def _columns_and_key(table: str) -> tuple[tuple[str, ...], str]:
    with connection.cursor() as cursor:
        columns = tuple(c.name for c in connection.introspection.get_table_description(cursor, table))
        key = connection.introspection.get_primary_key_column(cursor, table)
    if key is None:
        raise ValueError(f"{table} has no primary key: its removed rows could not be named")
    return columns, key


def _rows_sqlite(table: str, columns: tuple[str, ...]) -> dict[str, Row]:
    """Every row of ``table``, keyed by its ``repr`` (values that compare equal print equal)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(map(_quote, columns))} FROM {_quote(table)}")  # noqa: S608 - own tables
        return {repr(row): row for row in cursor.fetchall()}


def _rows_postgresql(table: str, columns: tuple[str, ...]) -> dict[str, str]:
    """Every row of ``table`` as a line of ``COPY`` text (itself its key)."""
    lines: dict[str, str] = {}
    with connection.cursor() as cursor:
        names = ", ".join(map(_quote, columns))
        with cursor.cursor.copy(f"COPY {_quote(table)} ({names}) TO STDOUT") as copy:
            for block in copy:
                for line in bytes(block).decode().splitlines():
                    lines[line] = line
    return lines


def _rows(table: str, columns: tuple[str, ...]) -> dict[str, Any]:
    if connection.vendor == "postgresql":
        return _rows_postgresql(table, columns)
    if connection.vendor == "sqlite":
        return _rows_sqlite(table, columns)
    raise NotImplementedError(connection.vendor)


def _key_of(row: Any, index: int) -> Any:
    """The primary key of a row: the value (SQLite) or its ``COPY`` text field (PostgreSQL)."""
    return row.split("\t")[index] if isinstance(row, str) else row[index]


def _state() -> dict[str, tuple[tuple[str, ...], str, dict[str, Any]]]:
    state = {}
    for table in _tables():
        columns, key = _columns_and_key(table)
        state[table] = (columns, key, _rows(table, columns))
    return state


def _changes(
    before: dict[str, tuple[tuple[str, ...], str, dict[str, Any]]],
    after: dict[str, tuple[tuple[str, ...], str, dict[str, Any]]],
) -> tuple[TableChange, ...]:
    if before.keys() != after.keys():
        raise ValueError(f"the build created or dropped tables: {sorted(before.keys() ^ after.keys())}")
    changes = []
    for table, (columns, key, rows) in after.items():
        old = before[table][2]
        index = columns.index(key)
        gone = [old[k] for k in old.keys() - rows.keys()]
        new = [rows[k] for k in rows.keys() - old.keys()]
        if gone or new:
            removed = tuple(sorted({_key_of(row, index) for row in gone}, key=repr))
            changes.append(TableChange(table, columns, key, removed, tuple(new)))
    return tuple(changes)


def rows_capture(build: Callable[[], T], *, start: Callable[[], object] | None = None) -> Captured:
    """Run ``build()`` in a transaction that is rolled back; return the change it made and its result.

    ``start()``, if given, runs first in the same transaction and its rows are not part of the change: the
    state the change applies to (a fixture the tests request anyway, such as the demo seed).
    The database must allow queries (in a fixture: ``django_db_blocker.unblock()``).
    """
    captured: Captured | None = None
    try:
        with transaction.atomic():
            if start is not None:
                start()
            before = _state()
            result = build()
            captured = Captured(_changes(before, _state()), result)
            raise _Rollback
    except _Rollback:
        pass
    assert captured is not None
    return captured


@contextmanager
def _constraints_deferred() -> Iterator[None]:
    """Inside one transaction, foreign keys are checked at its end (rows may arrive in any table order)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        yield


def rows_apply(captured: Captured) -> None:
    """Make ``captured``'s change in the current database (see the module docstring)."""
    with _constraints_deferred(), connection.cursor() as cursor:
        for change in captured.changes:
            table, key = _quote(change.table), _quote(change.primary_key)
            if change.removed:
                if connection.vendor == "postgresql":
                    sql = f"DELETE FROM {table} WHERE {key}::text = ANY(%s)"  # noqa: S608 - own tables
                    cursor.execute(sql, [list(change.removed)])
                else:
                    sql = f"DELETE FROM {table} WHERE {key} = %s"  # noqa: S608 - own tables
                    cursor.executemany(sql, [[k] for k in change.removed])
            if not change.rows:
                continue
            names = ", ".join(map(_quote, change.columns))
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    copy.write("".join(f"{line}\n" for line in change.rows))
            else:
                marks = ", ".join(["%s"] * len(change.columns))
                cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", change.rows)  # noqa: S608
        if connection.vendor == "postgresql":
            _sequences_reset({change.table for change in captured.changes if change.rows})


def _sequences_reset(tables: set[str]) -> None:
    """Move the id sequences of ``tables`` past their largest id (``COPY`` does not advance them)."""
    from django.apps import apps
    from django.core.management.color import no_style

    models = [model for model in apps.get_models() if model._meta.db_table in tables]
    statements = connection.ops.sequence_reset_sql(no_style(), models)
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
