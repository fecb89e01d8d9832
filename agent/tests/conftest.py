"""Agent test fixtures: API clients authenticated with a real JWT (the root conftest empties the cache per test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken


def bearer(user) -> str:
    return f"Bearer {AccessToken.for_user(user)}"


@pytest.fixture
def api(owner) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer(owner))
    return client


@pytest.fixture
def other_api(other_user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer(other_user))
    return client


@pytest.fixture(scope="session")
def live_demo(tmp_path_factory, demo_seeded_sqlite: Path) -> Iterator[dict[str, Any]]:
    """One live daphne over a seeded SQLite file for the session (agent/tests/live.py): a copy of the run's
    ``demo_seeded_sqlite``.

    The per-user chat budget is raised: the concurrency tests ask 3 × 30 questions as one user.
    """
    from agent.tests.live import live_server

    tmp = tmp_path_factory.mktemp("live")
    with live_server(tmp, extra_env={"AGENT_THROTTLE": "10000/min"}, seeded=demo_seeded_sqlite) as live:
        yield live


@pytest.fixture(scope="session")
def live_demo_postgres(tmp_path_factory) -> Iterator[dict[str, Any]]:
    """``live_demo`` on a fresh PostgreSQL database; skipped unless ``DATABASE_URL`` is PostgreSQL (as in CI)."""
    from agent.tests.live import live_server, postgres_server

    if postgres_server() is None:
        pytest.skip("PostgreSQL live server: set DATABASE_URL=postgres://…")
    with live_server(
        tmp_path_factory.mktemp("live-pg"), extra_env={"AGENT_THROTTLE": "10000/min"}, backend="postgresql"
    ) as live:
        yield live
