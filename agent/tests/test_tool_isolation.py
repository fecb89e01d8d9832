"""Issue 17 standing suite: cross-user access for every agent tool, generated from the tool registry.

Every tool in ``tools_all()`` (a new tool, or a new result kind's ``get_<kind>``, is covered as soon as
it is registered) is called through the chat's executor (``tool_execute``) with arguments built from
its own JSON schema:

- as user B, naming user A's portfolio (in the arguments, and as the conversation's portfolio):
  the exact ``not_found`` result, nothing of A's in it, and the audit row names no portfolio;
- as user A with a token restricted to A's first portfolio (``allowed_portfolios``), naming A's
  second portfolio: ``not_found`` too;
- the positive control: the same arguments as A on A's portfolio are not ``not_found`` (so the
  refusal above is the scope check, not a broken call).

The MCP side of the same checks, against a live server, is ``agent/tests/test_mcp_isolation.py``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from agent.models import ToolCallAudit
from agent.tests.factories import results_make
from agent.tools import ToolContext, tool_execute, tools_all
from portfolios.models import Portfolio


def schema_example(schema: dict[str, Any]) -> Any:
    """A small value valid for ``schema`` (the subset of JSON Schema the tools use), required keys only."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {key: schema_example(properties[key]) for key in schema.get("required", [])}
    if kind == "array":
        return [schema_example(schema.get("items", {})) for _ in range(max(1, schema.get("minItems", 1)))]
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1.0)) or 1.0
    if kind == "boolean":
        return False
    if schema.get("format") == "date":
        return "2026-11-20"
    return "AAPL"  # strings: a ticker satisfies the symbol patterns


def tool_arguments(parameters: dict[str, Any]) -> dict[str, Any]:
    """Schema-valid arguments for a tool (asserted, so a schema this generator cannot satisfy fails loudly)."""
    arguments = schema_example(parameters)
    errors = [e.message for e in Draft202012Validator(parameters).iter_errors(arguments)]
    assert not errors, f"extend schema_example for {parameters}: {errors}"
    return dict(arguments)


TOOLS = [tool.name for tool in tools_all()]


@pytest.fixture
def a_books(owner) -> tuple[Portfolio, Portfolio]:
    """User A (``owner``): two portfolios with positions and every stored result kind."""
    first = Portfolio.objects.create(user=owner, name="A secret book", equity_balance=Decimal("100000"))
    second = Portfolio.objects.create(user=owner, name="A second secret book", equity_balance=Decimal("200000"))
    for scale, portfolio in ((50.0, first), (70.0, second)):
        results_make(portfolio, scale=scale)  # positions (AAPL, XOM short, an NVDA call) and every kind
    return first, second


def _not_found(portfolio: Portfolio) -> dict[str, Any]:
    return {"status": "error", "error": {"code": "not_found", "message": f"Portfolio {portfolio.id} not found."}}


def test_every_tool_is_covered():
    assert len(TOOLS) >= 20 and "what_if" in TOOLS and "get_price_history" in TOOLS


@pytest.mark.parametrize("name", TOOLS)
def test_another_user_gets_not_found_from_every_tool(name, owner, other_user, a_books):
    first, _ = a_books
    Portfolio.objects.create(user=other_user, name="B book", equity_balance=Decimal("1000"))
    tool = {t.name: t for t in tools_all()}[name]
    arguments = tool_arguments(tool.parameters)

    # Positive control: A reading A's portfolio with these arguments is not refused.
    mine = tool_execute(name=name, arguments=arguments, context=ToolContext(user=owner, portfolio_id=first.id))
    assert mine.get("error", {}).get("code") != "not_found", mine

    ToolCallAudit.objects.all().delete()
    named = tool_execute(
        name=name,
        arguments={**arguments, "portfolio_id": str(first.id)},
        context=ToolContext(user=other_user, portfolio_id=None, transport="chat"),
    )
    as_default = tool_execute(
        name=name, arguments=dict(arguments), context=ToolContext(user=other_user, portfolio_id=first.id)
    )
    assert named == _not_found(first)
    assert as_default == _not_found(first)
    text = json.dumps([named, as_default])
    assert "secret" not in text and "XOM" not in text
    audits = list(ToolCallAudit.objects.filter(tool=name))
    assert len(audits) == 2 and all(a.user_id == other_user.pk and a.portfolio_id is None for a in audits)


@pytest.mark.parametrize("name", TOOLS)
def test_a_restricted_token_reaches_none_of_the_users_other_portfolios(name, owner, a_books):
    first, second = a_books
    tool = {t.name: t for t in tools_all()}[name]
    arguments = tool_arguments(tool.parameters)
    restricted = ToolContext(user=owner, portfolio_id=None, transport="mcp", allowed_portfolios=frozenset({first.id}))

    allowed = tool_execute(name=name, arguments={**arguments, "portfolio_id": str(first.id)}, context=restricted)
    assert allowed.get("error", {}).get("code") != "not_found", allowed
    refused = tool_execute(name=name, arguments={**arguments, "portfolio_id": str(second.id)}, context=restricted)
    assert refused == _not_found(second)
    # Left unnamed, the one portfolio the token sees is the one read, never the other.
    default = tool_execute(name=name, arguments=dict(arguments), context=restricted)
    assert default.get("portfolio", {}).get("id", str(first.id)) == str(first.id)
    assert "A second secret book" not in json.dumps(default)
