"""The agent API end to end: chat, stream, sessions, tools, health — with every access case."""

from __future__ import annotations

import json
import logging
import uuid
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.test import override_settings
from rest_framework.test import APIClient

from agent.api import sse
from agent.api.throttling import AgentUserThrottle
from agent.models import Conversation, Message
from agent.tests.conftest import bearer
from agent.tests.factories import results_make
from portfolios.models import Portfolio

CHAT = "/api/v1/agent/chat"
STREAM = "/api/v1/agent/chat/stream"


@pytest.fixture
def stored(portfolio):
    return results_make(portfolio)


def stream_body(response) -> bytes:
    """Consume the async SSE iterator as daphne would (the ORM steps run back on this thread)."""

    async def collect():
        return b"".join([chunk async for chunk in response.streaming_content])

    return async_to_sync(collect)()


def parse_sse(body: bytes) -> list[dict]:
    events = []
    for block in body.decode().split("\n\n"):
        lines = [line for line in block.splitlines() if line and not line.startswith(":")]
        if not lines:
            continue
        name = next(line[7:] for line in lines if line.startswith("event: "))
        data = json.loads("".join(line[6:] for line in lines if line.startswith("data: ")))
        assert data["type"] == name
        events.append(data)
    return events


def test_chat_returns_the_whole_reply_with_tool_calls(api, portfolio, stored):
    response = api.post(CHAT, {"message": "What is my VaR?", "portfolio_id": str(portfolio.id)}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert "$2,380" in body["reply"]
    assert [c["name"] for c in body["tool_calls"]] == ["get_var"]
    assert body["tool_calls"][0]["result"]["data"]["historical"]["var_99"] == 2380.0
    conversation = Conversation.objects.get(pk=body["session_id"])
    user_msg, answer = conversation.messages.order_by("sequence")
    assert (user_msg.role, answer.role) == ("user", "assistant")
    assert answer.content == body["reply"] and answer.provider == "local"
    assert answer.first_token_ms is not None and answer.latency_ms >= answer.first_token_ms
    assert answer.tool_calls[0]["result"]["status"] == "ok" and answer.total_tokens == 0
    assert conversation.message_count == 2


def test_chat_continues_a_session(api, portfolio, stored):
    first = api.post(CHAT, {"message": "What is my VaR?", "portfolio_id": str(portfolio.id)}, format="json").json()
    second = api.post(
        CHAT,
        {"message": "And my Greeks?", "portfolio_id": str(portfolio.id), "session_id": first["session_id"]},
        format="json",
    ).json()
    assert second["session_id"] == first["session_id"]
    assert list(Message.objects.filter(conversation_id=first["session_id"]).values_list("sequence", flat=True)) == [
        0, 1, 2, 3,
    ]  # fmt: skip


def test_chat_about_another_users_portfolio_is_404(api, other_user):
    other = Portfolio.objects.create(user=other_user, name="Theirs", equity_balance=Decimal(1))
    response = api.post(CHAT, {"message": "What is my VaR?", "portfolio_id": str(other.id)}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert not Conversation.objects.exists()


def test_another_users_session_is_404_everywhere(api, other_api, portfolio, stored):
    session = api.post(CHAT, {"message": "VaR?", "portfolio_id": str(portfolio.id)}, format="json").json()["session_id"]
    assert other_api.get(f"/api/v1/agent/sessions/{session}").status_code == 404
    assert other_api.delete(f"/api/v1/agent/sessions/{session}").status_code == 404
    assert other_api.get("/api/v1/agent/sessions").json()["count"] == 0
    body = {"message": "VaR?", "portfolio_id": str(portfolio.id), "session_id": session}
    assert other_api.post(CHAT, body, format="json").status_code == 404
    assert Conversation.objects.filter(pk=session).exists()


def test_anonymous_requests_get_401_json():
    client = APIClient()
    for method, path in [
        ("post", CHAT),
        ("get", STREAM),
        ("get", "/api/v1/agent/sessions"),
        ("get", "/api/v1/agent/tools"),
    ]:
        accept = "text/event-stream" if path == STREAM else "application/json"
        response = getattr(client, method)(path, HTTP_ACCEPT=accept)
        assert response.status_code == 401, path
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["error"]["code"] == "not_authenticated"


@override_settings(AGENT_MAX_MESSAGE_CHARS=50)
def test_messages_over_the_limit_are_refused(api, portfolio):
    response = api.post(CHAT, {"message": "x" * 51, "portfolio_id": str(portfolio.id)}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "message_too_long"
    assert response.json()["error"]["details"] == {"max_chars": 50}
    assert not Message.objects.exists()


@pytest.mark.parametrize("body", [{}, {"message": "", "portfolio_id": "x"}, {"message": "hi", "portfolio_id": "nope"}])
def test_bad_input_is_400(api, body):
    response = api.post(CHAT, body, format="json")
    assert response.status_code == 400
    assert "error" in response.json()


def test_mode_command_and_field_switch_the_mode(api, portfolio, stored):
    body = api.post(CHAT, {"message": "/mode green", "portfolio_id": str(portfolio.id)}, format="json").json()
    assert body["reply"] == "Mode switched to Green — teaching." and body["tool_calls"] == []
    conversation = Conversation.objects.get(pk=body["session_id"])
    assert conversation.mode == "green"
    body = api.post(
        CHAT,
        {
            "message": "/mode violet what is my VaR?",
            "portfolio_id": str(portfolio.id),
            "session_id": str(conversation.pk),
        },
        format="json",
    ).json()
    assert "understates" in body["reply"] and "$2,380" in body["reply"]
    body = api.post(
        CHAT, {"message": "What is my VaR?", "portfolio_id": str(portfolio.id), "mode": "green"}, format="json"
    ).json()
    assert "99% confidence" in body["reply"]
    bad = api.post(CHAT, {"message": "/mode purple", "portfolio_id": str(portfolio.id)}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_mode"


def test_the_agent_is_rate_limited_per_user(api, other_api, portfolio, monkeypatch):
    monkeypatch.setattr(AgentUserThrottle, "rate", "2/min", raising=False)
    body = {"message": "hello", "portfolio_id": str(portfolio.id)}
    assert api.post(CHAT, body, format="json").status_code == 200
    assert api.get(STREAM, body).status_code == 200
    third = api.post(CHAT, body, format="json")
    assert third.status_code == 429
    assert third.json()["error"]["code"] == "throttled"
    # Another user has their own budget (their request fails on scope, not on the throttle).
    assert other_api.post(CHAT, body, format="json").status_code == 404


def test_sessions_list_detail_and_delete(api, portfolio, stored, django_assert_max_num_queries):
    ids = [
        api.post(CHAT, {"message": q, "portfolio_id": str(portfolio.id)}, format="json").json()["session_id"]
        for q in ("VaR?", "Greeks?")
    ]
    with django_assert_max_num_queries(4):
        listing = api.get("/api/v1/agent/sessions").json()
    assert listing["count"] == 2 and {s["id"] for s in listing["results"]} == set(ids)
    detail = api.get(f"/api/v1/agent/sessions/{ids[0]}").json()
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant"]
    assert detail["messages"][1]["tool_calls"][0]["name"] == "get_var"
    assert detail["portfolio_id"] == str(portfolio.id)
    assert api.delete(f"/api/v1/agent/sessions/{ids[0]}").status_code == 204
    assert api.get(f"/api/v1/agent/sessions/{ids[0]}").status_code == 404
    assert api.get(f"/api/v1/agent/sessions/{uuid.uuid4()}").status_code == 404
    assert api.get("/api/v1/agent/sessions/not-a-uuid").status_code == 404


def test_tools_and_health(api):
    tools = api.get("/api/v1/agent/tools").json()
    names = {t["name"] for t in tools}
    assert {"get_var", "list_positions", "get_price_history", "get_batch_status"} <= names
    assert all(t["parameters"]["type"] == "object" for t in tools)
    health = api.get("/api/v1/agent/health").json()
    assert health == {
        "status": "ok", "provider": "local", "model": "local-rules-v1", "reachable": True, "detail": health["detail"]
    }  # fmt: skip


@pytest.mark.parametrize("authorization", [None, "Bearer forged.token.value"])
def test_health_answers_without_a_token(authorization, settings):
    client = APIClient()
    if authorization:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    settings.OPENAI_API_KEY = "sk-secret-never-shown"
    response = client.get("/api/v1/agent/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["provider"] == "local" and body["reachable"] is True
    assert "sk-secret" not in response.content.decode() and "base_url" not in body


def test_health_of_an_unreachable_openai_server_is_503_without_its_address(settings):
    settings.AGENT_PROVIDER = "openai"
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"  # the discard port: nothing listens
    settings.OPENAI_API_KEY = "sk-secret-never-shown"
    response = APIClient().get("/api/v1/agent/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["reachable"] is False and body["provider"] == "openai"
    text = response.content.decode()
    assert "127.0.0.1" not in text and "sk-secret" not in text


def test_portfolio_id_may_be_left_out_by_a_user_with_one_portfolio(api, owner, portfolio, stored):
    response = api.post(CHAT, {"message": "What is my VaR?"}, format="json")
    assert response.status_code == 200, response.json()
    session = Conversation.objects.get(pk=response.json()["session_id"])
    assert session.portfolio_id == portfolio.id
    Portfolio.objects.create(user=owner, name="Second", equity_balance=Decimal(1))
    response = api.post(CHAT, {"message": "What is my VaR?"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert "portfolio_id" in error["message"] and error["details"] == {"field": "portfolio_id"}
    # A session already names its portfolio.
    response = api.post(CHAT, {"message": "And now?", "session_id": str(session.pk)}, format="json")
    assert response.status_code == 200


def test_a_user_without_portfolios_is_told_to_name_one(other_api):
    response = other_api.post(CHAT, {"message": "What is my VaR?"}, format="json")
    assert response.status_code == 400 and "portfolio_id" in response.json()["error"]["message"]


def test_a_stream_whose_session_is_deleted_mid_answer_ends_with_an_error(owner, portfolio, stored):
    from agent.services import chat_run

    events = chat_run(user=owner, message="What is my VaR?", portfolio_id=portfolio.id)
    start = next(events)
    Conversation.objects.filter(pk=start["session_id"]).delete()  # the user deletes it meanwhile
    rest = list(events)
    assert rest[-1]["type"] == "error" and rest[-1]["code"] == "not_stored"


def test_any_failure_ends_the_sse_stream_with_an_error_frame():
    def broken():
        yield {"type": "start"}
        yield {"type": "token", "text": "Half an"}
        raise RuntimeError("the database went away")

    def cut_short():
        yield {"type": "start"}

    for events in (broken(), cut_short()):

        async def collect(events=events):
            return [chunk async for chunk in sse.sse_stream(events, heartbeat_s=5)]

        frames = parse_sse(b"".join(async_to_sync(collect)()))
        assert frames[0]["type"] == "start"
        assert frames[-1]["type"] == "error" and frames[-1]["code"] == "internal_error"


@pytest.mark.parametrize("accept", ["text/event-stream", "*/*"])
def test_stream_sends_events_in_order(api, portfolio, stored, accept):
    response = api.get(STREAM, {"message": "What is my VaR?", "portfolio_id": str(portfolio.id)}, HTTP_ACCEPT=accept)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    assert response["Cache-Control"] == "no-cache" and response["X-Accel-Buffering"] == "no"
    events = parse_sse(stream_body(response))
    types = [e["type"] for e in events]
    assert types[0] == "start" and types[-1] == "done"
    assert types.index("tool_call") < types.index("tool_result") < types.index("token")
    reply = "".join(e["text"] for e in events if e["type"] == "token")
    assert reply == events[-1]["reply"] and "$2,380" in reply
    assert Message.objects.get(pk=events[-1]["message_id"]).content == reply


def test_stream_errors_are_json(api, other_user):
    other = Portfolio.objects.create(user=other_user, name="Theirs", equity_balance=Decimal(1))
    response = api.get(STREAM, {"message": "VaR", "portfolio_id": str(other.id)}, HTTP_ACCEPT="text/event-stream")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    response = api.get(STREAM, {"portfolio_id": str(other.id)}, HTTP_ACCEPT="text/event-stream")
    assert response.status_code == 400


def test_heartbeats_are_sent_while_the_answer_is_slow():
    import time

    def slow():
        yield {"type": "start"}
        time.sleep(0.35)
        yield {"type": "done"}

    async def collect():
        return [chunk async for chunk in sse.sse_stream(slow(), heartbeat_s=0.1)]

    chunks = async_to_sync(collect)()
    events = parse_sse(b"".join(chunks))
    types = [e["type"] for e in events]
    assert types[0] == "start" and types[-1] == "done"
    assert types.count("heartbeat") >= 2


def test_closing_the_stream_early_saves_the_partial_answer(owner, portfolio, stored):
    from agent.services import chat_run

    events = chat_run(user=owner, message="What is my VaR?", portfolio_id=portfolio.id)
    assert next(events)["type"] == "start"
    next(events)
    events.close()  # type: ignore[attr-defined]  # chat_run's iterator is a generator
    answer = Message.objects.get(role="assistant")
    assert answer.error == "client disconnected"


def test_logs_hold_no_token_or_key(api, portfolio, stored, caplog, settings):
    settings.OPENAI_API_KEY = "sk-secret-never-logged"
    token = api._credentials["HTTP_AUTHORIZATION"].split()[1]
    with caplog.at_level(logging.DEBUG):
        api.post(CHAT, {"message": "What is my VaR?", "portfolio_id": str(portfolio.id)}, format="json")
    text = caplog.text
    assert "sigmasight.agent" in text
    assert token not in text and "sk-secret" not in text and "Bearer" not in text


def test_bearer_helper_makes_valid_tokens(owner):
    assert bearer(owner).startswith("Bearer ")
