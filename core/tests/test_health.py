"""``GET /health``: 200 healthy with checks, 503 unhealthy when the database is down, pluggable checks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import OperationalError
from django.test import Client

from core import health
from core.testing import assert_error


@pytest.fixture
def restore_checks() -> Iterator[None]:
    critical, others = dict(health.CRITICAL_CHECKS), dict(health.CHECKS)
    yield
    health.CRITICAL_CHECKS.clear()
    health.CRITICAL_CHECKS.update(critical)
    health.CHECKS.clear()
    health.CHECKS.update(others)


def test_health_is_200_healthy_with_the_database_cache_and_channel_layer_checks(db) -> None:
    response = Client().get("/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert {"database", "cache", "channel_layer"} <= set(body["checks"])
    assert body["checks"]["database"]["status"] == "ok"


def test_health_needs_no_token(db) -> None:
    assert Client().get("/health", HTTP_AUTHORIZATION="Bearer junk").status_code == 200


def test_health_is_503_unhealthy_when_the_database_is_down(db, monkeypatch, restore_checks) -> None:
    def database_down() -> dict:
        raise OperationalError("connection refused")

    monkeypatch.setitem(health.CRITICAL_CHECKS, "database", database_down)

    response = Client().get("/health")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["database"]["status"] == "error"
    assert "connection refused" in body["checks"]["database"]["message"]


def test_health_is_503_when_the_database_connection_itself_fails(db, monkeypatch) -> None:
    from django.db import connection

    def broken_cursor(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    with monkeypatch.context() as patched:  # undone before the test database is torn down
        patched.setattr(connection, "cursor", broken_cursor)
        response = Client().get("/health")

    assert response.status_code == 503
    assert response.json()["status"] == "unhealthy"


def test_a_registered_check_appears_and_a_failing_one_degrades_without_a_503(db, restore_checks) -> None:
    health.register_health_check("market_data", lambda: {"status": "ok", "last_date": "2026-11-20"})

    def broken() -> dict:
        raise ZeroDivisionError("division by zero")

    health.register_health_check("last_batch", broken)

    response = Client().get("/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["market_data"] == {"status": "ok", "last_date": "2026-11-20"}
    assert body["checks"]["last_batch"]["status"] == "error"
    assert "ZeroDivisionError" in body["checks"]["last_batch"]["message"]


def test_health_refuses_post_with_a_json_405(db) -> None:
    response = Client().post("/health")

    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]
