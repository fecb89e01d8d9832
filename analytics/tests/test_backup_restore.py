"""Backup and restore, exactly as README.md "Backup and restore" documents them (issue 17, data safety).

A database with every kind of data (demo users and portfolios, 300 sessions of prices, a batch's
results) is backed up, restored into an empty database, and compared table by table, row by row:
SQLite with ``dumpdata --format xml``/``loaddata`` (portable: the same file loads into PostgreSQL too;
XML because Django's JSON serializer cuts timestamps to the millisecond), PostgreSQL
with ``pg_dump -Fc``/``pg_restore`` (skipped when the binaries or a server are missing).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import uuid
from pathlib import Path

import pytest

from analytics.tests.fault_zygote import Zygote
from analytics.tests.test_fault_trials import _env, _postgres_server
from conftest import DEMO_PRICES_COMMANDS

pytestmark = pytest.mark.slow

# What a backup holds: the project's tables (Django's own content types, permissions and sessions are
# rebuilt by ``migrate``; django-q's task queue is transient).
PROJECT_PREFIXES = ("portfolios_", "analytics_", "marketdata_", "reports_", "agent_")
DUMP_EXCLUDES = ["contenttypes", "auth.permission", "sessions", "admin.logentry", "django_q"]
BATCH = ("run_batch", "--skip-sync", "--skip-reports")
FILL = (*DEMO_PRICES_COMMANDS, BATCH)


def _fill(zygote: Zygote, fill: tuple[tuple[str, ...], ...] = FILL) -> None:
    """Run ``fill``'s commands: migrate, seed, prices and the batch (on SQLite only the batch, on a copy of
    the run's ``demo_prices_sqlite`` file that the first three made)."""
    for argv in fill:
        status, output = zygote.run(*argv)
        assert status == 0, f"{argv}: {output[-3000:]}"


def _m2m_tables() -> set[str]:
    """Django's own many-to-many tables: their row ids are not data (``loaddata`` renumbers them)."""
    from django.apps import apps

    return {
        field.remote_field.through._meta.db_table
        for model in apps.get_models()
        for field in model._meta.many_to_many
        if field.remote_field.through._meta.auto_created
    }


def _sqlite_tables(path: Path) -> dict[str, list[str]]:
    m2m = _m2m_tables()
    with sqlite3.connect(path) as db:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        out = {}
        for name in names:
            if not name.startswith(PROJECT_PREFIXES):
                continue
            rows = db.execute(f'SELECT * FROM "{name}"').fetchall()  # noqa: S608 - own tables
            out[name] = sorted(repr(row[1:] if name in m2m else row) for row in rows)
        return out


def test_sqlite_dumpdata_then_loaddata_into_an_empty_database_restores_every_row(tmp_path, demo_prices_sqlite):
    database, backup = tmp_path / "db.sqlite3", tmp_path / "backup.xml.gz"
    shutil.copy(demo_prices_sqlite, database)
    zygote = Zygote(_env(f"sqlite:///{database}", tmp_path), tmp_path)
    try:
        _fill(zygote, (BATCH,))
        excludes = [arg for app in DUMP_EXCLUDES for arg in ("--exclude", app)]
        status, output = zygote.run(
            "dumpdata", "--natural-foreign", "--format", "xml", *excludes, "--output", str(backup)
        )
        assert status == 0, output[-3000:]
        before = _sqlite_tables(database)
        assert sum(map(len, before.values())) > 10_000  # prices, positions, results, jobs…
        for suffix in ("", "-wal", "-shm"):  # the disaster: the database is gone
            Path(f"{database}{suffix}").rename(tmp_path / f"lost{suffix or '.sqlite3'}")
        for argv in (["migrate", "-v0"], ["loaddata", str(backup)]):
            status, output = zygote.run(*argv)
            assert status == 0, f"{argv}: {output[-3000:]}"
    finally:
        zygote.close()
    after = _sqlite_tables(database)
    assert after.keys() == before.keys()
    for table, rows in before.items():
        assert after[table] == rows, table


def test_postgresql_pg_dump_then_pg_restore_restores_every_row(tmp_path):
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump/pg_restore not installed")
    server = _postgres_server()
    if server is None:
        pytest.skip("no PostgreSQL server reachable")
    import psycopg

    tag = uuid.uuid4().hex[:8]
    source, restored = f"sigmasight_backup_{tag}", f"sigmasight_restored_{tag}"
    backup = tmp_path / "sigmasight.dump"

    def admin(sql: str) -> None:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as db:
            db.execute(sql)

    def tables(name: str) -> dict[str, list[str]]:
        with psycopg.connect(f"{server}/{name}", autocommit=True) as db:
            names = [
                r[0]
                for r in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
            ]
            return {n: sorted(map(repr, db.execute(f'SELECT * FROM "{n}"').fetchall())) for n in names}  # noqa: S608

    admin(f"CREATE DATABASE {source}")
    zygote = Zygote(_env(f"{server}/{source}", tmp_path), tmp_path)
    try:
        _fill(zygote)
    finally:
        zygote.close()
    try:
        env = {**os.environ}
        subprocess.run(["pg_dump", "-Fc", "-d", f"{server}/{source}", "-f", str(backup)], check=True, env=env)
        admin(f"CREATE DATABASE {restored}")
        subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", "-d", f"{server}/{restored}", str(backup)],
            check=True,
            env=env,
        )
        before, after = tables(source), tables(restored)
        assert sum(len(v) for k, v in before.items() if k.startswith(PROJECT_PREFIXES)) > 10_000
        assert after.keys() == before.keys()
        for table, rows in before.items():  # every table, Django's and django-q's included
            assert after[table] == rows, table
    finally:
        admin(f"DROP DATABASE IF EXISTS {source} WITH (FORCE)")
        admin(f"DROP DATABASE IF EXISTS {restored} WITH (FORCE)")
