"""The OpenAPI schema: it generates, is valid OpenAPI 3, documents every endpoint, and survives fuzzing.

The fuzzing test is schemathesis over the whole schema, in-process (WSGI), with a real Bearer
token: positive and negative inputs for every operation, asserting only that nothing answers 5xx.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, settings
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error

from core.testing import login
from marketdata.models import PriceBar
from portfolios import services
from portfolios.models import Portfolio, Position, User

# Paths of the data API this module guarantees are documented (other apps add their own).
DOCUMENTED = {
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("get", "/api/v1/auth/me"),
    ("get", "/api/v1/data/portfolios"),
    ("post", "/api/v1/data/portfolios"),
    ("get", "/api/v1/data/portfolios/{portfolio_id}"),
    ("patch", "/api/v1/data/portfolios/{portfolio_id}"),
    ("delete", "/api/v1/data/portfolios/{portfolio_id}"),
    ("get", "/api/v1/data/portfolios/{portfolio_id}/positions"),
    ("post", "/api/v1/data/portfolios/{portfolio_id}/positions"),
    ("post", "/api/v1/data/portfolios/{portfolio_id}/positions/import"),
    ("patch", "/api/v1/data/positions/{position_id}"),
    ("delete", "/api/v1/data/positions/{position_id}"),
    ("get", "/api/v1/data/prices/{symbol}"),
}
PUBLIC = {"/api/v1/auth/login", "/api/v1/auth/refresh"}


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_schema_is_valid_openapi_3(openapi: dict[str, Any]) -> None:
    validate_schema(openapi)  # drf-spectacular's validator: the OpenAPI 3.0 JSON schema

    assert openapi["openapi"].startswith("3.")


def test_the_schema_documents_every_auth_and_data_endpoint(openapi: dict[str, Any]) -> None:
    documented = {(method, path) for path, item in openapi["paths"].items() for method in item}

    assert documented >= DOCUMENTED


def test_every_api_route_is_in_the_schema(openapi: dict[str, Any]) -> None:
    def routes(patterns: list[URLPattern | URLResolver], prefix: str = "") -> Iterator[str]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from routes(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern)

    documented = {path.lstrip("/") for path in openapi["paths"]}
    api_routes = {r for r in routes(get_resolver().url_patterns) if r.startswith("api/v1/")}
    normalised = {_spectacular_path(r) for r in api_routes}

    assert normalised <= documented, normalised - documented


def _spectacular_path(route: str) -> str:
    """``api/v1/x/<uuid:portfolio_id>`` → ``api/v1/x/{portfolio_id}`` (how drf-spectacular writes paths)."""
    import re

    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route.lstrip("^").rstrip("$"))


def test_every_operation_has_an_id_a_summary_and_documented_errors(openapi: dict[str, Any]) -> None:
    for path, item in openapi["paths"].items():
        if not path.startswith(("/api/v1/auth", "/api/v1/data")):
            continue
        for method, operation in item.items():
            label = f"{method.upper()} {path}"
            assert operation.get("operationId"), label
            assert operation.get("summary"), label
            errors = {code for code in operation["responses"] if code.startswith(("4", "5"))}
            assert errors, label
            for code in errors:
                schema = operation["responses"][code]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, label
            if path not in PUBLIC:
                assert "401" in errors, label


def test_the_schema_endpoint_and_swagger_ui_are_served(db) -> None:
    client = APIClient()

    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    docs = client.get("/docs")

    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "SigmaSight API"
    assert docs.status_code == 200
    assert docs["Content-Type"].startswith("text/html")
    assert b"swagger-ui" in docs.content


# --- schemathesis ---------------------------------------------------------------------------


@pytest.fixture
def fuzz_world(db, owner: User) -> dict[str, Any]:
    """A user with a portfolio, stock and option positions and cached prices, and their access token."""
    portfolio = Portfolio.objects.create(user=owner, name="Fuzz book", equity_balance=Decimal("1000"))
    position = services.position_create(
        portfolio=portfolio,
        symbol="AAPL",
        position_type="LONG",
        quantity=Decimal("3"),
        entry_price=Decimal("100"),
        entry_date=dt.date(2026, 1, 5),
        tags=["Core"],
    )
    services.position_create(
        portfolio=portfolio,
        position_type="SP",
        quantity=Decimal("-1"),
        entry_price=Decimal("2"),
        entry_date=dt.date(2026, 1, 5),
        underlying_symbol="AAPL",
        strike=Decimal("90"),
        expiration=dt.date(2027, 1, 15),
    )
    PriceBar.objects.create(
        symbol="AAPL", date=dt.date(2026, 1, 6), open=1, high=1, low=1, close=1, adj_close=1, source="simulated"
    )
    token = login(owner.email, "owner-pass-1")["access_token"]
    return {"owner": owner, "portfolio": portfolio, "position": position, "token": token}


def _fuzz_schema() -> Any:
    """The live schema as the app serves it, bound to the in-process WSGI app."""
    document = json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
    loaded = schemathesis.openapi.from_dict(document)
    loaded.app = get_wsgi_application()
    # Streams (text/event-stream) are exercised by their own tests, not by a fuzzer that waits for the end.
    return loaded.exclude(path_regex=r"stream")


schema = _fuzz_schema()


@pytest.fixture
def in_process_app() -> Iterator[None]:
    """The app runs in the test's thread and transaction: keep Django from closing the connection
    at request boundaries, as its own test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _existing_ids(case: Any, world: dict[str, Any]) -> None:
    """Point id parameters at the caller's real objects, so the fuzzing reaches past the 404."""
    params = case.path_parameters or {}
    if "portfolio_id" in params:
        portfolio = world["portfolio"]
        if case.method.upper() == "DELETE":  # delete a throwaway, keep the shared one for later cases
            portfolio = Portfolio.objects.create(user=world["owner"], name=f"Doomed {uuid.uuid4()}")
        params["portfolio_id"] = str(portfolio.pk)
    if "position_id" in params:
        position = world["position"]
        if case.method.upper() == "DELETE":
            position = Position.objects.create(
                portfolio=world["portfolio"],
                symbol="DOOM",
                position_type="LONG",
                quantity=1,
                entry_price=1,
                entry_date=dt.date(2026, 1, 2),
            )
        elif not Position.objects.filter(pk=position.pk).exists():
            position = Position.objects.filter(portfolio__user=world["owner"]).first() or position
        params["position_id"] = str(position.pk)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_generated_request_makes_the_api_answer_with_a_server_error(
    case: Any, fuzz_world: dict[str, Any], in_process_app: None
) -> None:
    _existing_ids(case, fuzz_world)

    case.call_and_validate(headers={"Authorization": f"Bearer {fuzz_world['token']}"}, checks=[not_a_server_error])
