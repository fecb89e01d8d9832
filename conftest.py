"""Shared pytest fixtures: the access-case users (owner, other user, staff, anonymous), demo data, and the
prepared demo databases that subprocess tests copy (built once per test run)."""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import fcntl
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.cache import cache

from portfolios.models import Portfolio, User

SEED_DATE = dt.date(2026, 11, 23)
ROOT = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _clear_cache(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts and ends with an empty cache, and leaves no throttle counters behind.

    The throttle counters live in the database cache (``core.throttling``): a ``db`` test's
    rollback discards them, but a transactional test's flush leaves a table that is not a model's,
    so it is emptied here, after the test (when the test database surely exists)."""
    cache.clear()
    yield
    cache.clear()
    if request.node.get_closest_marker("django_db") or {"db", "transactional_db"} & set(request.fixturenames):
        from django.db import DatabaseError

        from core.throttling import throttle_cache

        # DatabaseError: a test that dropped or never made the table.
        with request.getfixturevalue("django_db_blocker").unblock(), contextlib.suppress(DatabaseError):
            throttle_cache.clear()


@pytest.fixture
def owner(db) -> User:
    return User.objects.create_user(email="owner@example.com", password="owner-pass-1", full_name="Owner")


@pytest.fixture
def other_user(db) -> User:
    return User.objects.create_user(email="other@example.com", password="other-pass-1", full_name="Other")


@pytest.fixture
def staff_user(db) -> User:
    return User.objects.create_superuser(email="staff@example.com", password="staff-pass-1", full_name="Staff")


@pytest.fixture
def portfolio(owner: User) -> Portfolio:
    return Portfolio.objects.create(user=owner, name="Owner book", equity_balance=Decimal("100000"))


@pytest.fixture
def demo_data(db):
    """The full demo seed (3 users, 3 portfolios, 63 positions) rolled from ``SEED_DATE``."""
    from portfolios.demo import demo_seed

    return demo_seed(seeded_on=SEED_DATE)


ANALYTICS_AS_OF = dt.date(2026, 11, 20)  # a Friday; every demo option expires after it


def analytics_demo_build():
    """300 sessions of simulated prices up to ``ANALYTICS_AS_OF`` and the analytics batch, over the demo seed."""
    from analytics.services.batch import batch_run, portfolio_steps
    from marketdata.services import prices_sync

    prices_sync(backfill_days=300, as_of=ANALYTICS_AS_OF, provider="simulated")
    outcome = batch_run(as_of=ANALYTICS_AS_OF, steps=list(portfolio_steps()), trigger="test")
    assert outcome.ok, outcome.run.error_summary
    return outcome


@pytest.fixture(scope="session")
def analytics_demo_rows(django_db_setup, django_db_blocker):
    """The rows ``analytics_demo_build`` adds to the seeded test database, built once per test run (worker).

    Built in a transaction that is rolled back (``core.tests.dbsnapshot``); the first test that asks gets it
    built before its own database set-up, on the migrated database every test starts from.
    """
    from core.tests.dbsnapshot import rows_capture
    from portfolios.demo import demo_seed

    with django_db_blocker.unblock():
        return rows_capture(analytics_demo_build, start=lambda: demo_seed(seeded_on=SEED_DATE))


@pytest.fixture
def analytics_demo(demo_data, analytics_demo_rows):
    """Demo data, 300 sessions of simulated prices up to ``ANALYTICS_AS_OF``, and the analytics batch.

    Returns the ``BatchOutcome`` (its ``run.as_of`` is ``ANALYTICS_AS_OF``). No reports are written. The
    prices and the batch's rows are those of one build per test run, inserted again for each test
    (``analytics_demo_rows``; a test proves it equals building them in the test), so their clocks
    (``computed_at``, the run's start and heartbeat) are that build's. It was built with the project's
    settings: a test that changes a setting the build reads (the simulated world, the covariance estimator…)
    builds its own, as ``analytics/tests/test_factor_recovery.py`` does.
    """
    import dataclasses

    from core.tests.dbsnapshot import rows_apply

    rows_apply(analytics_demo_rows)
    outcome = analytics_demo_rows.result
    return dataclasses.replace(outcome, run=type(outcome.run).objects.get(pk=outcome.run.pk))


# API clients for every access case; their tokens come from the real login endpoint.
@pytest.fixture
def anon_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def client_for(db) -> Callable[[User], object]:
    """``client_for(user)``: an APIClient carrying a real access token for a fixture user."""
    from core.testing import bearer_client

    return lambda user: bearer_client(user.email)


@pytest.fixture
def owner_client(owner: User, client_for):
    return client_for(owner)


@pytest.fixture
def other_client(other_user: User, client_for):
    return client_for(other_user)


@pytest.fixture
def staff_client(staff_user: User, client_for):
    return client_for(staff_user)


# --- Prepared databases, built once per test run and copied by the tests that start processes -------
# The subprocess tests each used to build the same demo with the same commands (migrate, seed, prices,
# for some the batch and a year of snapshots: 10-40 s each). Each file below is built once per run — under
# pytest-xdist once for all workers, the first to ask builds it while the others wait on a file lock — and
# a test copies it and works on its copy; nothing writes into the prepared folder after its build.

# What a command run against its own data folder must not take from the test run: the generated locations
# follow DATA_DIR, the demo makes its own key file, the database is the folder's SQLite file, no Redis.
BUILD_UNSET = (
    *("LOG_DIR", "REPORTS_DIR", "ARCHIVE_DIR", "RUN_DIR", "STATIC_ROOT"),
    *("SECRET_KEY", "DATABASE_URL", "REDIS_URL"),
)


def _run_shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of this test run that every xdist worker sees (the controller's base temp); else the base temp."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def prepared_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """The folder ``name``, filled by ``build(folder)`` the first time any worker of this run asks for it.

    A build that raised leaves no ``<name>.done`` mark beside the folder: the next caller starts it again
    from an empty folder.
    """
    root = _run_shared_folder(tmp_path_factory) / "prepared"
    root.mkdir(exist_ok=True)
    folder = root / name
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (root / f"{name}.done").is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (root / f"{name}.done").touch()
    return folder


def build_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a command run against ``data_dir`` (its ``db.sqlite3``, logs, reports, key file)."""
    env = {k: v for k, v in os.environ.items() if k not in BUILD_UNSET}
    env.update(DATA_DIR=str(data_dir), FAST_PASSWORD_HASHER="1", **extra)
    # The project's packages from this checkout, not an installed (editable) copy elsewhere.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _sqlite_settle(path: Path) -> None:
    """Fold the write-ahead log into the file, so that copying the one file copies the whole database."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _demo_build(folder: Path) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "demo", "--no-serve"],
        cwd=ROOT, env=build_env(folder), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (folder / "secret_key").is_file()  # no SECRET_KEY in the environment: the demo made one
    _sqlite_settle(folder / "db.sqlite3")


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder as ``manage.py demo --no-serve`` leaves it (``make demo SERVE=0``): ``db.sqlite3`` (seed,
    a year of simulated prices, the batch, snapshots, the VaR backtest), reports, logs and the demo's own
    ``secret_key`` file — built with no ``SECRET_KEY``, ``DATABASE_URL`` or ``REDIS_URL`` in the environment.
    Copy it (``shutil.copytree``) before use."""
    return prepared_once(tmp_path_factory, "demo", _demo_build)


DEMO_PRICES_COMMANDS = (
    ("migrate", "-v0"),
    ("seed_demo", "--date", "2026-11-23"),
    ("sync_market_data", "--backfill", "300", "--quiet-progress"),
)


def _demo_prices_build(folder: Path) -> None:
    from analytics.tests.fault_zygote import Zygote

    # The run's key (a command without one refuses to start; only the demo makes a key file).
    zygote = Zygote(build_env(folder, LOG_DIR=str(folder / "logs"), SECRET_KEY=os.environ["SECRET_KEY"]), folder)
    try:
        for argv in DEMO_PRICES_COMMANDS:
            status, output = zygote.run(*argv)
            assert status == 0, f"{argv}: {output[-3000:]}"
    finally:
        zygote.close()
    _sqlite_settle(folder / "db.sqlite3")


@pytest.fixture(scope="session")
def demo_prices_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file made by ``DEMO_PRICES_COMMANDS`` (migrate, the demo seeded on 2026-11-23, 300 sessions of
    simulated prices; no batch yet). Copy it (``shutil.copy``) before use."""
    return prepared_once(tmp_path_factory, "demo-prices", _demo_prices_build) / "db.sqlite3"


def _migrated_build(folder: Path) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"],
        cwd=ROOT, env=build_env(folder, SECRET_KEY=os.environ["SECRET_KEY"]), capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    _sqlite_settle(folder / "db.sqlite3")


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file as ``manage.py migrate`` leaves it (every table, the database cache's among them; the
    migrations' own rows), for the tests that serve or work an empty installation. Copy it before use."""
    return prepared_once(tmp_path_factory, "migrated", _migrated_build) / "db.sqlite3"


def _demo_seeded_build(folder: Path) -> None:
    from agent.tests.live import database_seed

    database_seed(f"sqlite:///{folder / 'db.sqlite3'}", build_env(folder, SECRET_KEY=os.environ["SECRET_KEY"]))
    _sqlite_settle(folder / "db.sqlite3")


@pytest.fixture(scope="session")
def demo_seeded_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file made by ``agent.tests.live.SEED_COMMANDS`` (migrate, ``seed_demo`` as of today: the demo
    users, portfolios and positions, no prices) for the live servers. Copy it (``shutil.copy``) before use."""
    return prepared_once(tmp_path_factory, "demo-seeded", _demo_seeded_build) / "db.sqlite3"


def _flushes_with_serialized_rollback(item: pytest.Item) -> bool:
    """A transactional test whose teardown flushes every table, its serialized rollback on (conftest's rule)."""
    marker = item.get_closest_marker("django_db")
    return bool(marker and marker.kwargs.get("transaction") and marker.kwargs.get("serialized_rollback"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """After a transactional test's flush, put back the migrated database's rows (content types, permissions,
    the stress scenario catalog…), as the next serialized-rollback test would at its start.

    Django leaves the tables empty after such a test, and only the serialized-rollback tests restore them:
    pytest-django therefore runs the transactional tests after all the others. Under pytest-xdist with
    ``--dist loadfile`` a worker runs whole files one after the other, so a file's transactional tests can
    come before another file's database tests; with this, every test starts from the migrated database
    whatever ran before it. The rows are restored with their primary keys, so the next serialized test's
    own restore (``save`` of each object by primary key) finds them in place.
    """
    result = yield
    # With no next test the session's fixtures are gone too: the test database is destroyed, nothing to restore.
    if nextitem is not None and _flushes_with_serialized_rollback(item):
        from pytest_django.plugin import blocking_manager_key

        with item.config.stash[blocking_manager_key].unblock():
            migrated_rows_restore()
    return result


def migrated_rows_restore() -> None:
    """Save every object of the migrated test database again (``_test_serialized_contents``, by primary key)."""
    from django.db import connections

    for alias in connections:
        connection = connections[alias]
        contents = getattr(connection, "_test_serialized_contents", None)
        if contents:
            connection.creation.deserialize_db_from_string(contents)


def _slow_without_database(item: pytest.Item) -> bool:
    """A ``slow`` test (servers, subprocesses, their own databases) that does not use the test database."""
    if item.get_closest_marker("slow") is None or item.get_closest_marker("django_db") is not None:
        return False
    return not {"db", "transactional_db", "live_server"} & set(getattr(item, "fixturenames", ()))


@pytest.hookimpl(trylast=True)  # after pytest-django's ordering (database tests, transactional ones, the rest)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every transactional test restores the serialized database; slow tests that use no database go first.

    A transactional test's teardown flushes the tables; without serialized rollback Django then re-creates
    the content types, and the next serialized-rollback test fails restoring its own copy (a unique
    constraint on ``django_content_type``) — and every such test after it. One forgotten flag broke 25
    tests on CI; this makes it a collection error naming the test instead.

    The slow tests that need no test database (servers, subprocesses, browsers over their own files and
    databases: about half the suite's time in a few dozen tests) are moved to the front, in their
    collection order; the order of the database tests among themselves is pytest-django's. Under
    pytest-xdist (``make test``: ``-n 2 --dist loadfile --no-loadscope-reorder``) the workers therefore
    start with the long files and finish on the short ones, instead of one worker running a 90-second
    file alone at the end.
    """
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is not None and marker.kwargs.get("transaction") and not marker.kwargs.get("serialized_rollback"):
            raise pytest.UsageError(f"{item.nodeid}: a transactional test needs serialized_rollback=True too")
    _node_ids_unique(items)
    items.sort(key=lambda item: not _slow_without_database(item))  # stable: each group keeps its order


def _node_ids_unique(items: list[pytest.Item]) -> None:
    """Give schemathesis' generated tests (one item per API operation, all under their function's node id) the
    operation in their node id, as parametrized tests have theirs: pytest-xdist schedules by node id, and 53
    items sharing one ran once under two workers (104 of the suite's tests not run)."""
    from _pytest.nodeid import coerce_node_id  # pytest 9: the node id is structured (``Node._id``)

    counts = collections.Counter(item.nodeid for item in items)
    for item in items:
        if counts[item.nodeid] > 1 and "[" in item.name and not item.nodeid.endswith("]"):
            item._id = coerce_node_id(f"{item.nodeid}[{item.name.split('[', 1)[1]}")
    shared = [nodeid for nodeid, n in collections.Counter(item.nodeid for item in items).items() if n > 1]
    if shared:
        raise pytest.UsageError(f"tests that share a node id (pytest-xdist would run one of each): {shared}")
