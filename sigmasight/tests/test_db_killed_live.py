"""Issue 17 standing suite: the database connection killed mid-request, against a live server on PostgreSQL.

A live daphne (``agent.tests.live``) serves a fresh PostgreSQL database (skipped unless
``DATABASE_URL`` is PostgreSQL, as in CI). To have a request *in flight* at a known point, the test
holds an ``ACCESS EXCLUSIVE`` lock on ``portfolios_position`` from its own connection, sends a
request that must write that table, waits until the server's backend is blocked on the lock
(``pg_stat_activity``), terminates that backend (``pg_terminate_backend``) and releases the lock.

- the request in flight ends with a clean 5xx JSON error (the API's error envelope), or succeeds;
- the NEXT request succeeds: Django drops the dead connection and opens a new one;
- an idle persistent connection (``CONN_MAX_AGE``) killed between requests is not even noticed
  (``CONN_HEALTH_CHECKS``): the next request is a 200;
- nothing half-written: the killed create stored no position.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from agent.tests.live import live_server, login, postgres_server
from portfolios.demo import demo_portfolio_id

pytestmark = pytest.mark.slow
EMAIL = "demo_individual@sigmasight.com"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if postgres_server() is None:
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://…")
    with live_server(tmp_path_factory.mktemp("db-killed"), backend="postgresql") as live:
        yield {**live, "token": login(live["base"], EMAIL), "portfolio_id": str(demo_portfolio_id(EMAIL))}


def _request(server: dict[str, Any], method: str, path: str, body: Any = None) -> tuple[int, str, Any]:
    """``(status, content type, parsed JSON or raw text)``."""
    request = urllib.request.Request(
        f"{server['base']}/api/v1{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {server['token']}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, content_type, raw = response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        status, content_type, raw = error.code, error.headers.get("Content-Type", ""), error.read()
    try:
        return status, content_type, json.loads(raw)
    except ValueError:
        return status, content_type, raw.decode(errors="replace")


def _position(symbol: str) -> dict[str, Any]:
    return {"symbol": symbol, "position_type": "LONG", "quantity": "5", "entry_price": "10", "entry_date": "2026-01-05"}


def _server_backends(server: dict[str, Any], mine: int) -> list[tuple[int, str | None]]:
    """``(pid, wait_event_type)`` of the server's backends on its database (not the test's own)."""
    rows = server["query"](
        "SELECT pid, wait_event_type FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    return [(int(pid), wait) for pid, wait in rows if int(pid) != mine]


def test_a_connection_killed_while_a_request_is_in_flight(server):
    import psycopg

    database_url = server["env"]["DATABASE_URL"]
    path = f"/data/portfolios/{server['portfolio_id']}/positions"
    assert _request(server, "GET", path)[0] == 200  # the server holds an open connection now

    with psycopg.connect(database_url) as locker:
        mine = int(locker.execute("SELECT pg_backend_pid()").fetchone()[0])
        locker.execute("LOCK TABLE portfolios_position IN ACCESS EXCLUSIVE MODE")
        outcome: dict[str, Any] = {}
        thread = threading.Thread(
            target=lambda: outcome.update(result=_request(server, "POST", path, _position("KILLED"))), daemon=True
        )
        thread.start()
        deadline, blocked = time.monotonic() + 30, list[int]()
        while time.monotonic() < deadline and not blocked:
            blocked = [pid for pid, wait in _server_backends(server, mine) if wait == "Lock"]
            time.sleep(0.05)
        assert blocked, "the request never reached the locked table"
        with psycopg.connect(database_url, autocommit=True) as killer:
            killer.execute("SELECT pg_terminate_backend(%s)", [blocked[0]])
        locker.rollback()  # release the lock
    thread.join(60)
    status, content_type, body = outcome["result"]
    assert status == 201 or (500 <= status < 600), (status, body)
    if status != 201:
        assert content_type.startswith("application/json"), (status, content_type, body)
        assert set(body) == {"error"} and body["error"]["code"] and body["error"]["message"], body
        stored = server["query"]("SELECT count(*) FROM portfolios_position WHERE symbol = 'KILLED'")
        assert stored == [(0,)]
        assert "Traceback" not in json.dumps(body) and "psycopg" not in json.dumps(body)  # nothing internal leaks

    # The next requests succeed: a read and a write.
    status, _, body = _request(server, "GET", path)
    assert status == 200, body
    status, _, body = _request(server, "POST", path, _position("AFTER"))
    assert status == 201, body
    _request(server, "DELETE", f"/data/positions/{body['id']}")
    print(f"killed in flight: {outcome['result'][:2]}; next requests: 200, 201")


def test_an_idle_connection_killed_between_requests_is_not_noticed(server):
    path = f"/data/portfolios/{server['portfolio_id']}"
    for attempt in range(3):
        assert _request(server, "GET", f"{path}/positions?page_size={10 + attempt}")[0] == 200
        killed = server["query"](
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert killed, "the server kept no connection open"
        status, _, body = _request(server, "GET", f"{path}/positions?page_size={20 + attempt}")
        assert status == 200, body
