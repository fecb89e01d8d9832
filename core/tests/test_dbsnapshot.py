"""``core.tests.dbsnapshot`` and the ``analytics_demo`` fixture built on it: the rows inserted again for each
test are the rows a build in the test makes, and what is inserted is read back exactly as captured."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from conftest import analytics_demo_build
from core.tests.dbsnapshot import Captured, TableChange, rows_apply, rows_capture

# What two builds differ in, and only there: clocks (every DateTimeField), sequence numbers, how long things
# took, the host and process of the run, and the run's random id wherever it is stored.
RUN_IDS = {"batch_run_id", "run_id"}
TIMINGS = ("duration", "elapsed", "_ms", "_seconds", "_s")
RANDOM_IDS = {"analytics_batchrun": {"id"}, "analytics_batchlock": {"holder", "holder_process"}}


def _varying(table: str, columns: tuple[str, ...]) -> set[str]:
    from django.apps import apps
    from django.db import models

    fields = [f for m in apps.get_models() if m._meta.db_table == table for f in m._meta.concrete_fields]
    clocks = {field.column for field in fields if isinstance(field, models.DateTimeField)}
    # Sequence numbers (and references to them): PostgreSQL does not roll its sequences back.
    serial = {
        field.column
        for field in fields
        if isinstance(field, models.AutoField | models.BigAutoField)
        or (
            isinstance(field, models.ForeignKey)
            and isinstance(field.target_field, models.AutoField | models.BigAutoField)
        )
    }
    timings = {c for c in columns if c.startswith("duration") or c.endswith(TIMINGS)}
    return clocks | serial | timings | RUN_IDS | RANDOM_IDS.get(table, set()) | {"host", "pid"}


def _masked(change: TableChange) -> list[tuple[str, ...]]:
    """The change's rows without what varies between builds, sorted (COPY lines split into their fields)."""
    skip = _varying(change.table, change.columns)
    keep = [i for i, column in enumerate(change.columns) if column not in skip]
    rows = [row.split("\t") if isinstance(row, str) else row for row in change.rows]
    return sorted(tuple(json.dumps(row[i], sort_keys=True, default=str) for i in keep) for row in rows)


def _by_table(captured: Captured) -> dict[str, TableChange]:
    return {change.table: change for change in captured.changes}


@pytest.mark.django_db
def test_the_analytics_demo_rows_are_those_a_build_in_the_test_makes(demo_data, analytics_demo_rows) -> None:
    fresh = rows_capture(analytics_demo_build)  # over this test's own seed, rolled back (a savepoint)
    shared = _by_table(analytics_demo_rows)
    built = _by_table(fresh)

    assert built.keys() == shared.keys()
    assert {"marketdata_pricebar", "analytics_portfolioresult", "analytics_batchrun"} <= built.keys()
    for table, change in built.items():
        assert change.columns == shared[table].columns, table
        assert len(change.rows) == len(shared[table].rows), table
        assert _masked(change) == _masked(shared[table]), table
        assert change.removed == shared[table].removed, table
    assert fresh.result.completed_jobs == analytics_demo_rows.result.completed_jobs > 0
    assert (fresh.result.failed_jobs, fresh.result.skipped_jobs) == (0, analytics_demo_rows.result.skipped_jobs)


@pytest.mark.django_db
def test_inserted_rows_read_back_exactly_as_captured(demo_data, analytics_demo_rows) -> None:
    from core.tests.dbsnapshot import _rows  # the reader the capture used

    rows_apply(analytics_demo_rows)

    for change in analytics_demo_rows.changes:
        stored = _rows(change.table, change.columns)
        expected = {row if isinstance(row, str) else repr(row) for row in change.rows}
        assert expected <= stored.keys(), change.table
        index = change.columns.index(change.primary_key)
        for text, row in stored.items():  # a row the build removed or replaced is gone, or is its new version
            key = row.split("\t")[index] if isinstance(row, str) else row[index]
            assert key not in change.removed or text in expected, (change.table, key)
        if connection.vendor == "postgresql":  # COPY does not move sequences: the fixture moved them
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [change.table, change.primary_key])
                sequence = cursor.fetchone()[0]
                if sequence and change.rows:
                    sql = f'SELECT nextval(%s) > (SELECT MAX("{change.primary_key}") FROM "{change.table}")'  # noqa: S608
                    cursor.execute(sql, [sequence])
                    assert cursor.fetchone()[0], change.table


def test_the_analytics_demo_fixture_answers_like_a_batch_outcome(analytics_demo) -> None:
    from analytics.models import BatchRun, PortfolioResult, RunStatus
    from conftest import ANALYTICS_AS_OF

    assert analytics_demo.ok and analytics_demo.run.as_of == ANALYTICS_AS_OF
    assert BatchRun.objects.get().status == RunStatus.COMPLETED
    assert PortfolioResult.objects.filter(batch_run=analytics_demo.run, kind="var").count() == 3
