"""The test run's own arrangements for pytest-xdist (``make test`` runs ``-n 2 --dist loadfile``):
a Redis database per worker (``core.pytest_plugin``) and the slow, database-free tests first (``conftest.py``)."""

from __future__ import annotations

import os

import pytest

from conftest import _slow_without_database
from core.pytest_plugin import REDIS_URL_GIVEN, redis_url_for_worker


@pytest.mark.parametrize(
    ("url", "worker", "expected"),
    [
        ("redis://127.0.0.1:6379/0", "gw0", "redis://127.0.0.1:6379/0"),
        ("redis://127.0.0.1:6379/0", "gw1", "redis://127.0.0.1:6379/1"),
        ("redis://127.0.0.1:6379/7", "gw3", "redis://127.0.0.1:6379/10"),
        ("redis://127.0.0.1:6379", "gw2", "redis://127.0.0.1:6379/2"),
        ("redis://:secret@cache.internal:6380/15", "gw1", "redis://:secret@cache.internal:6380/0"),  # modulo 16
        ("rediss://cache.internal:6380/1", "gw1", "rediss://cache.internal:6380/2"),
        ("unix:///run/redis.sock?db=1", "gw1", "unix:///run/redis.sock?db=1"),
        ("redis://127.0.0.1:6379/0", "master", "redis://127.0.0.1:6379/0"),
    ],
)
def test_each_xdist_worker_gets_its_own_redis_database(url: str, worker: str, expected: str) -> None:
    assert redis_url_for_worker(url, worker) == expected


def test_under_xdist_the_settings_use_the_workers_redis_database() -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker or not os.environ.get("REDIS_URL"):
        pytest.skip("runs under pytest-xdist with REDIS_URL set (make test with Redis)")
    from django.conf import settings

    ours = redis_url_for_worker(REDIS_URL_GIVEN, worker)
    assert os.environ["REDIS_URL"] == ours  # what the servers and commands the tests start inherit
    assert settings.CACHES["default"]["LOCATION"] == settings.CACHES["throttle"]["LOCATION"] == ours
    assert settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] == [ours]
    assert settings.Q_CLUSTER["redis"] == ours


def test_the_slow_tests_without_a_database_run_first(request: pytest.FixtureRequest) -> None:
    flags = [_slow_without_database(item) for item in request.session.items]
    if True not in flags:
        pytest.skip("no slow test collected with this one (a run of this file alone)")
    first_other = flags.index(False) if False in flags else len(flags)
    assert all(flags[:first_other]) and not any(flags[first_other:]), "a slow test after a fast one"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_after_a_flush_the_migrated_rows_are_restored_with_their_keys() -> None:
    """What ``conftest.pytest_runtest_teardown`` does after every transactional test's flush."""
    from django.contrib.contenttypes.models import ContentType
    from django.core.management import call_command

    from analytics.models import StressScenario
    from conftest import migrated_rows_restore

    def rows() -> tuple[list[tuple[int, str, str]], list[str]]:
        types = sorted(ContentType.objects.values_list("pk", "app_label", "model"))
        return types, sorted(StressScenario.objects.values_list("pk", flat=True))

    migrated = rows()
    assert migrated[0] and migrated[1]  # the migrations' rows: content types, the stress scenario catalog
    call_command("flush", verbosity=0, interactive=False, inhibit_post_migrate=True)  # as the teardown does
    assert rows() == ([], [])
    migrated_rows_restore()
    assert rows() == migrated
    migrated_rows_restore()  # again, over rows already there: saved in place, nothing duplicated
    assert rows() == migrated
