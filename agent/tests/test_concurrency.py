"""Issue 17 item 2: simultaneous chats on SQLite (the default) and PostgreSQL over REST, SSE and the websocket.

A live daphne serves a seeded database; 30 clients ask at once on each transport. Each test runs on
SQLite, and on PostgreSQL when ``DATABASE_URL`` is PostgreSQL (a fresh database on that server;
skipped otherwise). Every
request must get a whole answer (REST: 200 with a reply; SSE: a stream that ends with ``done``;
websocket: ``done``), none may fail with "database is locked", and every question and answer must
be stored: two messages per conversation, in order.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from websockets.sync.client import connect

from agent.tests.live import login
from portfolios.demo import demo_portfolio_id

pytestmark = pytest.mark.slow
EMAIL = "demo_hnw@sigmasight.com"
CLIENTS = 30


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest) -> dict[str, Any]:
    live = request.getfixturevalue("live_demo" if request.param == "sqlite" else "live_demo_postgres")
    return {**live, "token": login(live["base"], EMAIL), "portfolio_id": str(demo_portfolio_id(EMAIL))}


def _question(index: int) -> str:
    return ["What is my VaR?", "What are my top 3 positions?", "What is my portfolio worth?"][index % 3]


def _rest(server: dict[str, Any], index: int) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{server['base']}/api/v1/agent/chat",
        data=json.dumps({"message": _question(index), "portfolio_id": server["portfolio_id"]}).encode(),
        headers={"Authorization": f"Bearer {server['token']}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return {"status": response.status, "body": json.loads(response.read())}
    except urllib.error.HTTPError as error:
        return {"status": error.code, "body": error.read().decode(errors="replace")[:300]}


def _sse(server: dict[str, Any], index: int) -> dict[str, Any]:
    query = urllib.parse.urlencode({"message": _question(index), "portfolio_id": server["portfolio_id"]})
    request = urllib.request.Request(
        f"{server['base']}/api/v1/agent/chat/stream?{query}",
        headers={"Authorization": f"Bearer {server['token']}", "Accept": "text/event-stream"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            events = [
                json.loads(line[6:])
                for line in (raw.decode().rstrip("\n") for raw in response)
                if line.startswith("data: ")
            ]
        return {"status": 200, "events": events}
    except urllib.error.HTTPError as error:
        return {"status": error.code, "events": [], "body": error.read().decode(errors="replace")[:300]}


def _websocket(server: dict[str, Any], index: int) -> dict[str, Any]:
    url = f"{server['ws']}/ws/agent/chat/?token={server['token']}"
    events: list[dict[str, Any]] = []
    with connect(url, open_timeout=60) as websocket:
        websocket.send(
            json.dumps({"type": "message", "message": _question(index), "portfolio_id": server["portfolio_id"]})
        )
        while True:
            event = json.loads(websocket.recv(timeout=120))
            events.append(event)
            if event["type"] in ("done", "error"):
                return {"status": 200, "events": events}


def _stored(server: dict[str, Any], session_ids: list[str]) -> dict[str, list[str]]:
    rows = server["query"]("SELECT conversation_id, role, error FROM agent_message ORDER BY conversation_id, sequence")
    wanted = {s.replace("-", "") for s in session_ids} | set(session_ids)
    stored: dict[str, list[str]] = {}
    for conversation, role, error in rows:
        conversation = str(conversation)
        if conversation in wanted:
            stored.setdefault(conversation, []).append(f"{role}{'!' if error else ''}")
    return stored


def _all_at_once(func: Any, server: dict[str, Any]) -> list[dict[str, Any]]:
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        return list(pool.map(lambda i: func(server, i), range(CLIENTS)))


def _assert_stored(server: dict[str, Any], session_ids: list[str]) -> None:
    assert len(set(session_ids)) == CLIENTS
    stored = _stored(server, session_ids)
    assert len(stored) == CLIENTS
    assert all(roles == ["user", "assistant"] for roles in stored.values()), stored


def test_thirty_simultaneous_rest_chats(server):
    results = _all_at_once(_rest, server)
    failures = [r for r in results if r["status"] != 200]
    assert not failures, failures[:3]
    assert all(r["body"]["reply"] and r["body"]["error"] is None for r in results)
    _assert_stored(server, [r["body"]["session_id"] for r in results])


def test_thirty_simultaneous_sse_streams(server):
    results = _all_at_once(_sse, server)
    failures = [r for r in results if r["status"] != 200 or not r["events"] or r["events"][-1]["type"] != "done"]
    assert not failures, failures[:3]
    for result in results:
        types = [e["type"] for e in result["events"]]
        assert types[0] == "start" and "error" not in types
        reply = "".join(e["text"] for e in result["events"] if e["type"] == "token")
        assert reply and reply == result["events"][-1]["reply"]
    _assert_stored(server, [r["events"][-1]["session_id"] for r in results])


def test_thirty_simultaneous_websocket_chats(server):
    results = _all_at_once(_websocket, server)
    last = [r["events"][-1] for r in results]
    assert all(e["type"] == "done" and e["error"] is None for e in last), [e for e in last if e["type"] != "done"][:3]
    for result in results:
        reply = "".join(e["text"] for e in result["events"] if e["type"] == "token")
        assert reply and reply == result["events"][-1]["reply"]
    _assert_stored(server, [e["session_id"] for e in last])


# --- Concurrent position writes ------------------------------------------------------------------

WRITERS = 20
WRITER_EMAIL = "demo_hedgefundstyle@sigmasight.com"


def _json(server: dict[str, Any], token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{server['base']}/api/v1{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")[:300]


def test_twenty_simultaneous_position_writes_lose_nothing(server):
    """20 creates at once (all naming one new tag), then 2 × 20 updates at once of different fields.

    No 5xx and no lost write: every position is stored once with its tag, and each position ends
    with both its concurrent changes (quantity from one request, notes from the other).
    """
    token = login(server["base"], WRITER_EMAIL)
    status, book = _json(server, token, "POST", "/data/portfolios", {"name": f"Concurrent writes {server['backend']}"})
    assert status == 201, book
    symbols = [f"W{chr(65 + i)}X" for i in range(WRITERS)]
    try:

        def create(i: int) -> tuple[int, Any]:
            body = {
                "symbol": symbols[i], "position_type": "LONG", "quantity": str(10 + i), "entry_price": "100.5",
                "entry_date": "2026-01-05", "tags": ["Concurrent", f"Own {i}"],
            }  # fmt: skip
            return _json(server, token, "POST", f"/data/portfolios/{book['id']}/positions", body)

        with ThreadPoolExecutor(max_workers=WRITERS) as pool:
            created = list(pool.map(create, range(WRITERS)))
        assert [s for s, _ in created] == [201] * WRITERS, [c for c in created if c[0] != 201][:3]
        ids = {body["symbol"]: body["id"] for _, body in created}

        def update(job: tuple[int, str]) -> tuple[int, Any]:
            i, field = job
            change = {"quantity": str(1000 + i)} if field == "quantity" else {"notes": f"note {i}"}
            return _json(server, token, "PATCH", f"/data/positions/{ids[symbols[i]]}", change)

        jobs = [(i, field) for i in range(WRITERS) for field in ("quantity", "notes")]
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            updated = list(pool.map(update, jobs))
        assert [s for s, _ in updated] == [200] * len(jobs), [u for u in updated if u[0] != 200][:3]

        status, page = _json(server, token, "GET", f"/data/portfolios/{book['id']}/positions?page_size=100")
        assert status == 200
        stored = {p["symbol"]: p for p in page["results"]}
        assert sorted(stored) == sorted(symbols)
        for i, symbol in enumerate(symbols):
            assert float(stored[symbol]["quantity"]) == 1000 + i, stored[symbol]
            assert stored[symbol]["notes"] == f"note {i}", stored[symbol]
            assert sorted(stored[symbol]["tags"]) == sorted(["Concurrent", f"Own {i}"]), stored[symbol]
        tags = server["query"]("SELECT name FROM portfolios_tag WHERE name = 'Concurrent'")
        assert len(tags) == 1
    finally:
        _json(server, token, "DELETE", f"/data/portfolios/{book['id']}")
