"""The agent over a real daphne process: websocket chat with the ``websockets`` client, and SSE over HTTP.

A module-scoped fixture copies a SQLite file migrated and seeded with ``manage.py`` (the run's
``demo_seeded_sqlite``: the test database of pytest-django is a transaction the server process could
not see), starts daphne on
a free port with ``DATABASE_URL`` pointing at it, and logs in through the API like a client.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from portfolios.demo import demo_portfolio_id

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
EMAIL = "demo_hnw@sigmasight.com"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def daphne_server(tmp_path_factory, demo_seeded_sqlite: Path) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("daphne")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'agent.sqlite3'}",
        "LOG_DIR": str(tmp / "logs"),
        "AGENT_PROVIDER": "local",
        "FAST_PASSWORD_HASHER": "1",
        "DJANGO_SETTINGS_MODULE": "sigmasight.settings",
    }
    shutil.copy(demo_seeded_sqlite, tmp / "agent.sqlite3")  # migrated and seeded once per run
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "sigmasight.asgi:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(process.stderr.read().decode() if process.stderr else "daphne exited") from None
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError("daphne did not start")
    base = f"http://127.0.0.1:{port}"
    login = urllib.request.Request(
        f"{base}/api/v1/auth/login",
        data=json.dumps({"email": EMAIL, "password": "demo12345"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(login, timeout=10) as response:
        token = json.loads(response.read())["access_token"]
    try:
        yield {
            "base": base,
            "ws": f"ws://127.0.0.1:{port}",
            "token": token,
            "portfolio_id": str(demo_portfolio_id(EMAIL)),
        }
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _until_done(websocket) -> list[dict]:
    events = []
    while True:
        event = json.loads(websocket.recv(timeout=15))
        events.append(event)
        if event["type"] == "done" or (event["type"] == "error" and "status" in event):
            return events


def test_websocket_chat_against_daphne(daphne_server):
    url = f"{daphne_server['ws']}/ws/agent/chat/?token={daphne_server['token']}"
    question = {
        "type": "message",
        "message": "What are my top 3 positions?",
        "portfolio_id": daphne_server["portfolio_id"],
    }
    with connect(url, open_timeout=10) as websocket:
        websocket.send(json.dumps(question))
        events = _until_done(websocket)
        types = [e["type"] for e in events]
        assert types[0] == "start" and types[-1] == "done"
        assert types.index("tool_call") < types.index("tool_result") < types.index("token")
        reply = "".join(e["text"] for e in events if e["type"] == "token")
        assert reply == events[-1]["reply"] and reply  # analytics may not be computed in this database
        session = events[-1]["session_id"]
        websocket.send(json.dumps({**question, "message": "What is my VaR?", "session_id": session}))
        again = _until_done(websocket)
        assert again[-1]["session_id"] == session


def test_websocket_token_as_subprotocol_against_daphne(daphne_server):
    url = f"{daphne_server['ws']}/ws/agent/chat/"
    with connect(url, subprotocols=["bearer", daphne_server["token"]], open_timeout=10) as websocket:
        assert websocket.subprotocol == "bearer"
        websocket.send(json.dumps({"type": "ping"}))
        assert json.loads(websocket.recv(timeout=10)) == {"type": "pong"}


def test_a_bad_token_is_closed_with_4401_by_daphne(daphne_server):
    with connect(f"{daphne_server['ws']}/ws/agent/chat/?token=forged", open_timeout=10) as websocket:
        assert json.loads(websocket.recv(timeout=10))["code"] == "not_authenticated"
        with pytest.raises(ConnectionClosed) as closed:
            websocket.recv(timeout=10)
    assert closed.value.rcvd.code == 4401


def test_sse_streams_through_daphne_with_a_bearer_header(daphne_server):
    query = f"message=What%20is%20my%20portfolio%20worth%3F&portfolio_id={daphne_server['portfolio_id']}"
    request = urllib.request.Request(
        f"{daphne_server['base']}/api/v1/agent/chat/stream?{query}",
        headers={"Authorization": f"Bearer {daphne_server['token']}", "Accept": "text/event-stream"},
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert response.headers["Cache-Control"] == "no-cache"
        events = [
            json.loads(line[6:])
            for line in (raw.decode().rstrip("\n") for raw in response)
            if line.startswith("data: ")
        ]
    assert events[0]["type"] == "start" and events[-1]["type"] == "done"
    assert any(e["type"] == "token" for e in events)


def test_anonymous_sse_is_a_json_401_on_daphne(daphne_server):
    request = urllib.request.Request(
        f"{daphne_server['base']}/api/v1/agent/chat/stream?message=hi", headers={"Accept": "text/event-stream"}
    )
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=10)
    assert error.value.code == 401
    assert json.loads(error.value.read())["error"]["code"] == "not_authenticated"
