"""The chat websocket authenticated by the web app's login session: same-origin pages only; the token
path is unchanged (agent/tests/test_consumers.py)."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from agent.consumers import CLOSE_UNAUTHORIZED
from agent.tests.factories import results_make
from sigmasight.asgi import application

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _talk(headers: list[tuple[bytes, bytes]], message: dict | None) -> list[dict]:
    async def run() -> list[dict]:
        communicator = WebsocketCommunicator(application, "/ws/agent/chat/", headers=headers)
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        events = []
        if message is not None:
            await communicator.send_json_to(message)
        while True:
            output = await communicator.receive_output(timeout=10)
            if output["type"] == "websocket.close":
                events.append({"type": "closed", "code": output.get("code")})
                break
            event = json.loads(output["text"])
            events.append(event)
            if event["type"] == "done":
                break
        await communicator.disconnect()
        return events

    return async_to_sync(run)()


def test_a_same_origin_page_chats_with_its_session_cookie(owner, portfolio) -> None:
    results_make(portfolio)
    headers = [
        (b"host", b"127.0.0.1:8130"),
        (b"origin", b"http://127.0.0.1:8130"),
        (b"cookie", f"{settings.SESSION_COOKIE_NAME}={_session_cookie(owner)}".encode()),
    ]
    message = {"type": "message", "message": "What is my VaR?", "portfolio_id": str(portfolio.pk)}
    events = _talk(headers, message)
    types = [e["type"] for e in events]
    assert types[0] == "start" and types[-1] == "done" and "tool_call" in types
    assert "$2,380" in events[-1]["reply"]


@pytest.mark.parametrize(
    "origin",
    [b"https://evil.example", b"http://127.0.0.1:9999", b"null", None],
    ids=["another site", "another port", "opaque origin", "no origin"],
)
def test_a_session_cookie_from_another_origin_is_refused_with_4401(owner, origin) -> None:
    headers = [(b"host", b"127.0.0.1:8130"), (b"cookie", f"sessionid={_session_cookie(owner)}".encode())]
    if origin is not None:
        headers.append((b"origin", origin))
    events = _talk(headers, None)
    assert events[0]["code"] == "not_authenticated"
    assert events[-1] == {"type": "closed", "code": CLOSE_UNAUTHORIZED}


def test_a_host_outside_allowed_hosts_is_refused_even_from_its_own_origin(owner) -> None:
    headers = [
        (b"host", b"attacker.example"),
        (b"origin", b"http://attacker.example"),
        (b"cookie", f"sessionid={_session_cookie(owner)}".encode()),
    ]
    assert _talk(headers, None)[-1] == {"type": "closed", "code": CLOSE_UNAUTHORIZED}


def test_a_logged_out_session_is_refused(owner) -> None:
    client = Client()
    client.force_login(owner)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    client.logout()
    headers = [(b"host", b"localhost"), (b"origin", b"http://localhost"), (b"cookie", f"sessionid={cookie}".encode())]
    assert _talk(headers, None)[-1] == {"type": "closed", "code": CLOSE_UNAUTHORIZED}
