"""The admin shows conversations and messages; the OpenAPI schema covers the agent endpoints."""

from __future__ import annotations

import pytest
from django.test import Client

from agent.services import chat_complete


@pytest.fixture
def staff_client(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


def test_the_admin_lists_and_shows_conversations_and_messages(staff_client, owner, portfolio):
    answer = chat_complete(user=owner, message="What is my VaR?", portfolio_id=portfolio.id)
    listing = staff_client.get("/admin/agent/conversation/")
    assert listing.status_code == 200 and "What is my VaR?" in listing.content.decode()
    detail = staff_client.get(f"/admin/agent/conversation/{answer['session_id']}/change/")
    assert detail.status_code == 200 and "get_var" in detail.content.decode()
    messages = staff_client.get("/admin/agent/message/")
    assert messages.status_code == 200 and "local-rules-v1" in messages.content.decode()
    assert staff_client.get(f"/admin/agent/message/{answer['message_id']}/change/").status_code == 200


def test_the_schema_documents_the_agent_endpoints(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    text = response.content.decode()
    for path in ("/api/v1/agent/chat", "/api/v1/agent/chat/stream", "/api/v1/agent/sessions", "/api/v1/agent/tools"):
        assert path in text
    description = response.json()["info"]["description"]
    for needle in ("/ws/agent/chat/", "Messages in", "Events out", "Close codes", "4401"):
        assert needle in description
    health = response.json()["paths"]["/api/v1/agent/health"]["get"]
    assert health.get("security") in (None, [], [{}])  # public: no authentication scheme


def test_the_message_list_shows_each_messages_text(staff_client, owner, portfolio):
    question = "Which position has the largest\nexposure?"
    answer = chat_complete(user=owner, message=question, portfolio_id=portfolio.id)
    listing = staff_client.get("/admin/agent/message/").content.decode()
    assert "Which position has the largest exposure?" in listing  # on one line
    reply = " ".join(answer["reply"].split())
    assert reply[:40] in listing
