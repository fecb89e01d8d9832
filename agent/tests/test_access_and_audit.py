"""Personal access tokens (API and admin) and the audit trail of tool calls on every chat transport."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken as JWT

from agent.access import access_token_authenticate
from agent.models import AccessToken, ToolCallAudit
from agent.tests.factories import results_make
from agent.tests.test_api import parse_sse, stream_body
from portfolios.models import Portfolio

TOKENS = "/api/v1/agent/tokens"
AUDIT = "/api/v1/agent/audit"


def _sha256(result: dict) -> str:
    return hashlib.sha256(json.dumps(result, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def test_a_token_is_shown_once_stored_hashed_and_revocable(api, owner, portfolio):
    created = api.post(TOKENS, {"name": "Claude desktop"}, format="json")
    assert created.status_code == 201
    raw = created.json()["token"]
    assert raw.startswith("ssa_") and len(raw) > 40
    row = AccessToken.objects.get(pk=created.json()["id"])
    assert row.token_hash == hashlib.sha256(raw.encode()).hexdigest() and raw not in str(row.__dict__)
    listed = api.get(TOKENS).json()
    assert listed["count"] == 1 and "token" not in listed["results"][0]
    assert listed["results"][0]["prefix"] == raw[:12] and listed["results"][0]["active"] is True
    identity = access_token_authenticate(raw)
    assert identity is not None and identity.user == owner and identity.portfolio_ids is None
    assert access_token_authenticate(raw + "x") is None and access_token_authenticate("ssa_") is None
    assert api.delete(f"{TOKENS}/{row.pk}").status_code == 204
    assert access_token_authenticate(raw) is None
    assert api.get(TOKENS).json()["results"][0]["active"] is False
    assert api.delete(f"{TOKENS}/{row.pk}").status_code == 204  # idempotent


def test_expiry_restriction_and_inactive_users(api, owner, portfolio):
    other_book = Portfolio.objects.create(user=owner, name="Second", equity_balance=Decimal(1))
    soon = timezone.now() + dt.timedelta(hours=1)
    body = {"name": "one book", "expires_at": soon.isoformat(), "portfolio_ids": [str(other_book.id)]}
    raw = api.post(TOKENS, body, format="json").json()["token"]
    identity = access_token_authenticate(raw)
    assert identity is not None and identity.portfolio_ids == frozenset({other_book.id})
    AccessToken.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert access_token_authenticate(raw) is None
    AccessToken.objects.update(expires_at=None)
    owner.is_active = False
    owner.save()
    assert access_token_authenticate(raw) is None


def test_bad_token_input_is_400_naming_the_field_and_scoped(api, other_api, other_user, portfolio):
    response = api.post(TOKENS, {"name": ""}, format="json")
    assert response.status_code == 400 and "name" in json.dumps(response.json())
    past = (timezone.now() - dt.timedelta(days=1)).isoformat()
    response = api.post(TOKENS, {"name": "x", "expires_at": past}, format="json")
    assert response.status_code == 400 and response.json()["error"]["details"] == {"field": "expires_at"}
    theirs = Portfolio.objects.create(user=other_user, name="Theirs", equity_balance=Decimal(1))
    response = api.post(TOKENS, {"name": "x", "portfolio_ids": [str(theirs.id)]}, format="json")
    assert response.status_code == 404
    mine = api.post(TOKENS, {"name": "mine"}, format="json").json()
    assert other_api.delete(f"{TOKENS}/{mine['id']}").status_code == 404
    assert other_api.get(TOKENS).json()["count"] == 0
    assert access_token_authenticate(mine["token"]) is not None


def test_chat_tool_calls_are_audited_over_rest_and_sse(api, other_api, owner, portfolio):
    results_make(portfolio)
    answer = api.post("/api/v1/agent/chat", {"message": "What is my VaR?"}, format="json").json()
    response = api.get("/api/v1/agent/chat/stream", {"message": "What is my VaR?"}, HTTP_ACCEPT="text/event-stream")
    events = parse_sse(stream_body(response))
    rows = list(ToolCallAudit.objects.order_by("id"))
    assert [r.transport for r in rows] == ["rest"] * len(answer["tool_calls"]) + ["sse"] * len(
        [e for e in events if e["type"] == "tool_result"]
    )
    for row, call in zip(rows, answer["tool_calls"], strict=False):
        assert row.user == owner and row.tool == call["name"] and row.outcome == "ok"
        assert row.session == answer["session_id"] and row.portfolio_id == portfolio.id
        assert row.result_sha256 == _sha256(call["result"]) and row.duration_ms >= 0
    sse_results = [e["result"] for e in events if e["type"] == "tool_result"]
    assert [r.result_sha256 for r in rows if r.transport == "sse"] == [_sha256(r) for r in sse_results]
    listed = api.get(AUDIT, {"transport": "sse"}).json()
    assert listed["count"] == len(sse_results) and listed["results"][0]["transport"] == "sse"
    assert other_api.get(AUDIT).json()["count"] == 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_websocket_tool_calls_are_audited(owner, portfolio):
    from sigmasight.asgi import application

    results_make(portfolio)

    async def run():
        communicator = WebsocketCommunicator(application, f"/ws/agent/chat/?token={JWT.for_user(owner)}")
        await communicator.connect(timeout=5)
        await communicator.send_json_to({"type": "message", "message": "What is my VaR?"})
        events: list[dict] = []
        while not events or events[-1]["type"] not in ("done", "error"):
            events.append(await communicator.receive_json_from(timeout=10))
        await communicator.disconnect()
        return events

    events = async_to_sync(run)()
    results = [e["result"] for e in events if e["type"] == "tool_result"]
    rows = list(ToolCallAudit.objects.order_by("id"))
    assert results and [r.transport for r in rows] == ["websocket"] * len(results)
    assert [r.result_sha256 for r in rows] == [_sha256(r) for r in results]


def test_the_admin_creates_shows_once_revokes_and_lists_the_audit(staff_user, owner, portfolio):
    client = Client()
    client.force_login(staff_user)
    response = client.post(
        "/admin/agent/accesstoken/add/", {"user": owner.pk, "name": "from admin", "portfolios": [portfolio.pk]},
        follow=True,
    )  # fmt: skip
    assert response.status_code == 200
    text = response.content.decode()
    raw = text[text.index("ssa_") :].split()[0]
    identity = access_token_authenticate(raw)
    assert identity is not None and identity.portfolio_ids == frozenset({portfolio.id})
    token = AccessToken.objects.get()
    assert raw not in client.get(f"/admin/agent/accesstoken/{token.pk}/change/").content.decode()
    client.post(
        "/admin/agent/accesstoken/", {"action": "revoke", "_selected_action": [str(token.pk)]}, follow=True
    )  # fmt: skip
    assert access_token_authenticate(raw) is None
    assert client.get("/admin/agent/toolcallaudit/").status_code == 200
