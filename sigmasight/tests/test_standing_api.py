"""The standing API suite (issue 17): generated from the OpenAPI schema, so a new endpoint is covered
the day it is added.

1. Isolation: for every operation with a portfolio, position or chat-session id in its path, another
   user gets 404 on the demo user's ids (and the objects are unchanged after), and every operation
   that needs a login answers 401 to an anonymous caller.
2. Fuzzing: schemathesis over the whole schema as the demo user, in-process — zero 5xx and zero
   conformance failures (status code, content type, response schema and headers as documented).

Run: ``FAST_PASSWORD_HASHER=1 .venv/bin/python -m pytest -q sigmasight/tests/test_standing_api.py``
(figures in RELIABILITY.md).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from rest_framework.test import APIClient
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from agent.models import Conversation
from agent.tests.factories import results_make
from core.testing import login
from core.throttling import throttle_cache
from portfolios.demo import DEMO_PASSWORD, demo_seed
from portfolios.models import Portfolio, Position, Tag, User

DEMO_EMAIL = "demo_individual@sigmasight.com"
ID_PARAMETERS = ("portfolio_id", "position_id", "session_id")


def _document() -> dict[str, Any]:
    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


DOCUMENT = _document()
OPERATIONS = [
    (method.upper(), path, operation)
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items()
    if method in ("get", "post", "put", "patch", "delete")
]


@pytest.fixture(scope="module")
def _demo_world_committed(django_db_setup: None, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    """The demo seed, stored results for the demo individual's portfolio, one chat session of theirs and
    their access token; another user (with a token) who owns none of it. Made once for the module and
    committed (every test's own changes roll back); removed at the end."""
    with django_db_blocker.unblock():
        demo_seed(seeded_on=dt.date(2026, 11, 23))
        user = User.objects.get(email=DEMO_EMAIL)
        portfolio = Portfolio.objects.filter(user=user).order_by("name").first()
        assert portfolio is not None
        results_make(portfolio)
        token = login(DEMO_EMAIL, DEMO_PASSWORD)["access_token"]
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        chat = client.post(
            "/api/v1/agent/chat", {"message": "What is my VaR?", "portfolio_id": str(portfolio.pk)}, format="json"
        )
        assert chat.status_code == 200, chat.content
        User.objects.create_user(email="intruder@example.com", password="intruder-pass-1")
        world = {
            "user": user,
            "portfolio": portfolio,
            "position": Position.objects.filter(portfolio=portfolio).order_by("symbol").first(),
            "session": Conversation.objects.get(user=user),
            "token": token,
            "intruder_token": login("intruder@example.com", "intruder-pass-1")["access_token"],
        }
        throttle_cache.clear()  # the logins above counted in the (committed) database cache
    try:
        yield world
    finally:
        with django_db_blocker.unblock():
            User.objects.all().delete()  # cascades to portfolios, positions, results, sessions
            Tag.objects.all().delete()
            throttle_cache.clear()


@pytest.fixture
def demo_world(_demo_world_committed: dict[str, Any], db: None) -> dict[str, Any]:
    return _demo_world_committed


def _ids(world: dict[str, Any]) -> dict[str, str]:
    return {
        "portfolio_id": str(world["portfolio"].pk),
        "position_id": str(world["position"].pk),
        "session_id": str(world["session"].pk),
    }


def _state(world: dict[str, Any]) -> tuple:
    portfolio = Portfolio.objects.get(pk=world["portfolio"].pk)
    position = Position.objects.get(pk=world["position"].pk)
    session = Conversation.objects.get(pk=world["session"].pk)
    return (
        portfolio.name,
        portfolio.equity_balance,
        position.quantity,
        position.symbol,
        session.messages.count(),
        Position.objects.filter(portfolio=portfolio).count(),
    )


def _body(operation: dict[str, Any]) -> dict[str, Any]:
    """A plausible body: what a real client would send, so that only isolation can refuse it."""
    return {
        "name": "Hijacked",
        "symbol": "IBM",
        "position_type": "LONG",
        "quantity": "1",
        "entry_price": "1",
        "entry_date": "2026-01-02",
        "message": "What is my VaR?",
        "equity_balance": "1",
    }


ISOLATED = [(m, p, o) for m, p, o in OPERATIONS if any(f"{{{name}}}" in p for name in ID_PARAMETERS)]


@pytest.mark.parametrize(("method", "path", "operation"), ISOLATED, ids=[f"{m} {p}" for m, p, _ in ISOLATED])
def test_another_user_gets_404_on_every_operation_with_the_demo_users_ids(
    demo_world: dict[str, Any], method: str, path: str, operation: dict[str, Any]
) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {demo_world['intruder_token']}")
    url = re.sub(r"\{(\w+)\}", lambda m: _ids(demo_world).get(m.group(1), m.group(0)), path)
    before = _state(demo_world)

    response = client.generic(method, url, json.dumps(_body(operation)), content_type="application/json")

    assert response.status_code == 404, (method, url, response.status_code, response.content[:300])
    assert response.json()["error"]["code"] == "not_found"
    assert _state(demo_world) == before


def test_another_user_sees_none_of_the_demo_users_lists(demo_world: dict[str, Any]) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {demo_world['intruder_token']}")

    assert client.get("/api/v1/data/portfolios").json()["count"] == 0
    assert client.get("/api/v1/agent/sessions").json()["count"] == 0


def _example(operation: dict[str, Any], name: str) -> str:
    """A well-formed value for path parameter ``name`` (its schema's type and format)."""
    declared: dict[str, Any] = next(
        (p.get("schema", {}) for p in operation.get("parameters", []) if p["name"] == name), {}
    )
    if declared.get("format") == "uuid":
        return str(uuid.uuid4())
    return "1" if declared.get("type") == "integer" else "AAPL"


def _needs_login(operation: dict[str, Any]) -> bool:
    security = operation.get("security", DOCUMENT.get("security"))
    return bool(security) and {} not in security


PROTECTED = [(m, p, o) for m, p, o in OPERATIONS if _needs_login(o)]


@pytest.mark.parametrize(("method", "path", "operation"), PROTECTED, ids=[f"{m} {p}" for m, p, _ in PROTECTED])
def test_an_anonymous_caller_gets_401_on_every_operation_that_needs_a_login(
    demo_world: dict[str, Any], method: str, path: str, operation: dict[str, Any]
) -> None:
    url = re.sub(r"\{(\w+)\}", lambda m: _ids(demo_world).get(m.group(1)) or _example(operation, m.group(1)), path)

    response = APIClient().generic(method, url, json.dumps(_body(operation)), content_type="application/json")

    assert response.status_code == 401, (method, url, response.status_code, response.content[:300])
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_the_generated_cases_cover_every_id_parameter_and_the_public_operations_are_auth_and_health() -> None:
    assert {name for _, p, _ in ISOLATED for name in ID_PARAMETERS if f"{{{name}}}" in p} == set(ID_PARAMETERS)
    public = {p for m, p, o in OPERATIONS if not _needs_login(o)}
    # and the agent's health, public by design (issue 16): status, provider, model — nothing secret
    assert public == {"/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout", "/api/v1/agent/health"}


# --- schemathesis ---------------------------------------------------------------------------

loaded = schemathesis.openapi.from_dict(DOCUMENT)
loaded.app = get_wsgi_application()
# Streams (text/event-stream) are exercised by their own tests, not by a fuzzer that waits for the end.
schema: Any = loaded.exclude(path_regex=r"stream")
# Valid and invalid inputs both: an invalid one must be a documented 4xx, never a 5xx.
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture
def in_process_app() -> Iterator[None]:
    """The app runs in the test's thread and transaction: keep Django from closing the connection
    at request boundaries, as its own test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _point_at_world(case: Any, world: dict[str, Any]) -> None:
    """Ids in the path name the demo user's real objects (a throwaway for a DELETE), so the fuzzing
    reaches past the 404."""
    params = case.path_parameters or {}
    user, deleting = world["user"], case.method.upper() == "DELETE"
    if "portfolio_id" in params:
        portfolio = world["portfolio"]
        if deleting:
            portfolio = Portfolio.objects.create(user=user, name=f"Doomed {uuid.uuid4()}")
        params["portfolio_id"] = str(portfolio.pk)
    if "position_id" in params:
        position = world["position"]
        if deleting or not Position.objects.filter(pk=position.pk).exists():
            position = Position.objects.create(
                portfolio=world["portfolio"],
                symbol="DOOM",
                position_type="LONG",
                quantity=Decimal(1),
                entry_price=Decimal(1),
                entry_date=dt.date(2026, 1, 2),
            )
        params["position_id"] = str(position.pk)
    if "session_id" in params:
        session = world["session"]
        if deleting or not Conversation.objects.filter(pk=session.pk).exists():
            session = Conversation.objects.create(user=user, portfolio=world["portfolio"], title="Doomed")
        params["session_id"] = str(session.pk)


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_the_api_conforms_to_its_schema_for_generated_requests(
    case: Any, demo_world: dict[str, Any], in_process_app: None
) -> None:
    _point_at_world(case, demo_world)

    case.call_and_validate(headers={"Authorization": f"Bearer {demo_world['token']}"}, checks=CHECKS)
