"""Issue 17 item 2: simultaneous chats on SQLite (the default) over REST, SSE and the websocket.

A live daphne serves a seeded SQLite file; 30 clients ask at once on each transport. Every
request must get a whole answer (REST: 200 with a reply; SSE: a stream that ends with ``done``;
websocket: ``done``), none may fail with "database is locked", and every question and answer must
be stored: two messages per conversation, in order.
"""

from __future__ import annotations

import json
import sqlite3
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


@pytest.fixture(scope="module")
def server(live_demo) -> dict[str, Any]:
    return {
        **live_demo,
        "token": login(live_demo["base"], EMAIL),
        "portfolio_id": str(demo_portfolio_id(EMAIL)),
        "db": live_demo["db"],
    }


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
    with sqlite3.connect(server["db"]) as db:
        rows = db.execute(
            "SELECT conversation_id, role, error FROM agent_message ORDER BY conversation_id, sequence"
        ).fetchall()
    wanted = {s.replace("-", "") for s in session_ids} | set(session_ids)
    stored: dict[str, list[str]] = {}
    for conversation, role, error in rows:
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
