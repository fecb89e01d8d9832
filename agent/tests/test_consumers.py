"""The chat websocket with Channels' WebsocketCommunicator: auth by query string or subprotocol, events, scoping."""

from __future__ import annotations

from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from agent.consumers import CLOSE_UNAUTHORIZED
from agent.models import Message
from agent.tests.factories import results_make
from portfolios.models import Portfolio
from sigmasight.asgi import application

# Transactional: the consumer reaches the database from other threads. serialized_rollback puts back
# the rows data migrations seeded (the stress scenario catalog) after the flush, for the tests that follow.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def _receive_until_done(communicator: WebsocketCommunicator) -> list[dict]:
    events = []
    while True:
        event = await communicator.receive_json_from(timeout=10)
        events.append(event)
        if event["type"] == "done" or (event["type"] == "error" and event.get("code") != "stream_interrupted"):
            return events


def converse(
    path: str, messages: list[dict], subprotocols: list[str] | None = None
) -> tuple[list[list[dict]], str | None]:
    async def run():
        communicator = WebsocketCommunicator(application, path, subprotocols=subprotocols)
        connected, subprotocol = await communicator.connect(timeout=5)
        assert connected
        replies = []
        for message in messages:
            await communicator.send_json_to(message)
            replies.append(await _receive_until_done(communicator))
        await communicator.disconnect()
        return replies, subprotocol

    return async_to_sync(run)()


def test_chat_over_the_websocket_with_a_query_string_token(owner, portfolio):
    results_make(portfolio)
    token = AccessToken.for_user(owner)
    message = {"type": "message", "message": "What is my VaR?", "portfolio_id": str(portfolio.id)}
    (events,), _ = converse(f"/ws/agent/chat/?token={token}", [message])
    types = [e["type"] for e in events]
    assert types[0] == "start" and types[-1] == "done"
    assert "tool_call" in types and "tool_result" in types and "token" in types
    reply = "".join(e["text"] for e in events if e["type"] == "token")
    assert "$2,380" in reply and events[-1]["reply"] == reply
    assert Message.objects.get(pk=events[-1]["message_id"]).content == reply


def test_the_token_can_come_as_a_subprotocol_and_sessions_continue(owner, portfolio):
    results_make(portfolio)
    token = str(AccessToken.for_user(owner))
    first = {"type": "message", "message": "What is my VaR?", "portfolio_id": str(portfolio.id)}
    (events,), subprotocol = converse("/ws/agent/chat/", [first], subprotocols=["bearer", token])
    assert subprotocol == "bearer"
    session = events[-1]["session_id"]
    follow = {**first, "message": "And my Greeks?", "session_id": session}
    (again,), _ = converse(f"/ws/agent/chat/?token={token}", [follow])
    assert again[-1]["session_id"] == session
    assert Message.objects.filter(conversation_id=session).count() == 4


@pytest.mark.parametrize("query", ["", "?token=not-a-jwt"])
def test_a_bad_token_closes_the_socket_with_4401(query):
    async def run():
        communicator = WebsocketCommunicator(application, f"/ws/agent/chat/{query}")
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        error = await communicator.receive_json_from(timeout=5)
        closed = await communicator.receive_output(timeout=5)
        await communicator.wait()
        return error, closed

    error, closed = async_to_sync(run)()
    assert error["code"] == "not_authenticated"
    assert closed == {"type": "websocket.close", "code": CLOSE_UNAUTHORIZED}


def test_another_users_portfolio_is_not_found_over_the_websocket(owner, other_user):
    theirs = Portfolio.objects.create(user=other_user, name="Theirs", equity_balance=Decimal(1))
    message = {"type": "message", "message": "What is my VaR?", "portfolio_id": str(theirs.id)}
    (events,), _ = converse(f"/ws/agent/chat/?token={AccessToken.for_user(owner)}", [message])
    assert events == [
        {"type": "error", "code": "not_found", "message": f"Portfolio {theirs.id} not found.", "status": 404}
    ]


def test_bad_frames_get_error_events(owner):
    async def run():
        communicator = WebsocketCommunicator(application, f"/ws/agent/chat/?token={AccessToken.for_user(owner)}")
        await communicator.connect(timeout=5)
        await communicator.send_to(text_data="not json")
        first = await communicator.receive_json_from(timeout=5)
        await communicator.send_json_to({"type": "shout"})
        second = await communicator.receive_json_from(timeout=5)
        await communicator.send_json_to({"type": "ping"})
        third = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return first, second, third

    first, second, third = async_to_sync(run)()
    assert first["code"] == "invalid" and second["code"] == "invalid" and third == {"type": "pong"}


def test_the_websocket_shares_the_per_user_rate_limit(owner, portfolio, monkeypatch):
    from agent.api.throttling import AgentUserThrottle

    monkeypatch.setattr(AgentUserThrottle, "rate", "1/min", raising=False)
    message = {"type": "message", "message": "hello", "portfolio_id": str(portfolio.id)}
    (first, second), _ = converse(f"/ws/agent/chat/?token={AccessToken.for_user(owner)}", [message, message])
    assert first[-1]["type"] == "done"
    assert second == [second[0]] and second[0]["code"] == "throttled" and second[0]["retry_after_s"] >= 1
