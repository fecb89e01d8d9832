"""The batch across processes: killed mid-run then rerun, and fanned out to a real qcluster."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _manage(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    if check and result.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def _sqlite_env(path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DATABASE_URL=f"sqlite:///{path}", FAST_PASSWORD_HASHER="1", LOG_DIR=str(path.parent / "logs"))
    return env


def _results(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return sorted(db.execute("SELECT portfolio_id, kind, as_of, payload FROM analytics_portfolioresult"))


def _count(path: Path, table: str, where: str = "") -> int:
    with sqlite3.connect(path, timeout=5) as db:
        return db.execute(f"SELECT COUNT(*) FROM {table} {where}").fetchone()[0]  # noqa: S608 - test-only names


def test_a_run_killed_mid_way_then_rerun_matches_an_uninterrupted_run(demo_prices_sqlite, tmp_path):
    # Two copies of the run's demo with 300 sessions of prices (conftest.DEMO_PRICES_COMMANDS, made once).
    clean, killed = tmp_path / "clean.sqlite3", tmp_path / "killed.sqlite3"
    shutil.copy(demo_prices_sqlite, clean)
    shutil.copy(demo_prices_sqlite, killed)
    batch_args = ("run_batch", "--skip-sync", "--skip-reports")
    _manage(*batch_args, env=_sqlite_env(clean))

    process = subprocess.Popen(
        [sys.executable, "manage.py", *batch_args],
        cwd=ROOT,
        env=_sqlite_env(killed),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if _count(killed, "analytics_batchjob", "WHERE step = 'overview'") >= 1:
                break
        except sqlite3.OperationalError:
            pass
        time.sleep(0.01)
    assert process.poll() is None, "the batch finished before it could be interrupted"
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    assert _count(killed, "analytics_batchrun", "WHERE status = 'running'") == 1

    _manage(*batch_args, env=_sqlite_env(killed))
    assert _results(killed) == _results(clean)
    assert _count(killed, "analytics_portfolioresult") == _count(clean, "analytics_portfolioresult")
    assert _count(killed, "analytics_positionmetrics") == _count(clean, "analytics_positionmetrics")
    assert _count(killed, "analytics_batchrun", "WHERE status = 'interrupted'") == 1
    assert _count(killed, "analytics_batchrun", "WHERE status = 'completed'") == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_qcluster_of_two_workers_gives_the_inline_results(demo_data):
    """Needs PostgreSQL and Redis (CI): the workers are another process sharing the test database."""
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.skip("the real-cluster test runs on PostgreSQL + Redis (set DATABASE_URL and REDIS_URL)")
    from analytics.models import PortfolioResult
    from analytics.services.batch import batch_run, portfolio_steps
    from analytics.services.catalog import stress_scenarios_seed
    from conftest import ANALYTICS_AS_OF
    from marketdata.services import prices_sync

    stress_scenarios_seed()  # an earlier transactional test may have emptied the migration-seeded catalog
    prices_sync(backfill_days=300, as_of=ANALYTICS_AS_OF, provider="simulated")
    batch_run(as_of=ANALYTICS_AS_OF, steps=list(portfolio_steps()), trigger="test")
    inline = sorted((str(r.portfolio_id), r.kind, repr(r.payload)) for r in PortfolioResult.objects.all())

    settings_dict = connection.settings_dict
    database_url = (
        f"postgres://{settings_dict['USER']}@{settings_dict['HOST'] or '127.0.0.1'}:{settings_dict['PORT'] or 5432}"
        f"/{settings_dict['NAME']}"
    )
    cluster_name = f"sigmasight-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "Q_WORKERS": "2",
        "Q_CLUSTER_NAME": cluster_name,
        "LOG_DIR": str(ROOT / "logs"),
    }
    from django.conf import settings
    from django_q.conf import Conf

    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    previous = (Conf.PREFIX, Conf.Q_STAT, Conf.CLUSTER_NAME)
    try:
        Conf.PREFIX = Conf.CLUSTER_NAME = cluster_name
        Conf.Q_STAT = f"django_q:{cluster_name}:cluster"
        settings.Q_CLUSTER["name"] = cluster_name
        outcome = batch_run(as_of=ANALYTICS_AS_OF, steps=list(portfolio_steps()), trigger="test", use_cluster=True)
    finally:
        Conf.PREFIX, Conf.Q_STAT, Conf.CLUSTER_NAME = previous
        settings.Q_CLUSTER["name"] = previous[2]
        os.killpg(cluster.pid, signal.SIGTERM)
        try:
            cluster.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
    assert outcome.ok, outcome.run.error_summary
    assert outcome.run.jobs.filter(step="var", status="completed").count() == 3
    clustered = sorted((str(r.portfolio_id), r.kind, repr(r.payload)) for r in PortfolioResult.objects.all())
    assert clustered == inline
