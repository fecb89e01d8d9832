"""Issue 17 standing suite: cross-user access for every MCP tool, generated from the server's tool list.

Against a live daphne (``live_demo``) with the official SDK client: the tools are those the server
lists (``tools/list``), so a new tool is covered as soon as it is served. Arguments come from each
tool's input schema (``schema_example``).

- User B's token naming user A's portfolio gets the ``not_found`` error result from every tool that
  takes a ``portfolio_id``, and ``list_portfolios`` does not name A's portfolio; A's own token on the
  same calls is not refused (the positive control).
- A token restricted to one of a user's portfolios reaches none of that user's other portfolios,
  on every tool, and lists only its own.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client

from agent.tests.live import api, login
from agent.tests.test_mcp import run
from agent.tests.test_tool_isolation import tool_arguments
from portfolios.demo import demo_portfolio_id

pytestmark = pytest.mark.slow
OTHER = "demo_hedgefundstyle@sigmasight.com"
TWO_BOOKS = "demo_individual@sigmasight.com"


def _token(base: str, email: str, **extra: Any) -> str:
    jwt = login(base, email)
    return str(api(base, jwt, "POST", "/agent/tokens", {"name": f"isolation {email}", **extra})["token"])


def _call_every_tool(url: str, token: str, portfolio_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``({tool: (is_error, structured content)}, list_portfolios content)`` for every listed tool."""

    async def work(client: Client) -> Any:
        tools = (await client.list_tools()).tools
        results: dict[str, Any] = {}
        for tool in tools:
            if "portfolio_id" not in tool.input_schema.get("properties", {}):
                continue
            arguments = {**tool_arguments(tool.input_schema), "portfolio_id": portfolio_id}
            result = await client.call_tool(tool.name, arguments)
            results[tool.name] = (result.is_error, result.structured_content)
        listed = await client.call_tool("list_portfolios", {})
        return results, listed.structured_content

    results, listed = run(url, token, work)
    return results, listed


def _not_found(portfolio_id: str) -> dict[str, Any]:
    return {"status": "error", "error": {"code": "not_found", "message": f"Portfolio {portfolio_id} not found."}}


def test_another_users_portfolio_is_not_found_on_every_mcp_tool(live_demo):
    # A is the user with no MCP audit expectations elsewhere (test_mcp.py checks the hnw user's audit rows).
    url, theirs = f"{live_demo['base']}/mcp", str(demo_portfolio_id(TWO_BOOKS))
    own, _ = _call_every_tool(url, _token(live_demo["base"], TWO_BOOKS), theirs)
    assert len(own) >= 20
    assert all(content.get("error", {}).get("code") != "not_found" for _, content in own.values()), own

    foreign, listed = _call_every_tool(url, _token(live_demo["base"], OTHER), theirs)
    assert set(foreign) == set(own)
    wrong = {
        name: content for name, (is_error, content) in foreign.items() if not is_error or content != _not_found(theirs)
    }
    assert not wrong, wrong
    assert theirs not in json.dumps(listed) and listed["count"] == 1


def test_a_restricted_token_reaches_none_of_the_users_other_portfolios(live_demo):
    base, url = live_demo["base"], f"{live_demo['base']}/mcp"
    jwt = login(base, TWO_BOOKS)
    first = str(demo_portfolio_id(TWO_BOOKS))
    second = api(base, jwt, "POST", "/data/portfolios", {"name": "Isolation second book"})["id"]
    try:
        token = _token(base, TWO_BOOKS, portfolio_ids=[first])
        allowed, listed = _call_every_tool(url, token, first)
        assert all(content.get("error", {}).get("code") != "not_found" for _, content in allowed.values()), allowed
        assert [p["id"] for p in listed["portfolios"]] == [first]
        refused, _ = _call_every_tool(url, token, second)
        assert set(refused) == set(allowed)
        wrong = {
            n: content for n, (is_error, content) in refused.items() if not is_error or content != _not_found(second)
        }
        assert not wrong, wrong
    finally:
        api(base, jwt, "DELETE", f"/data/portfolios/{second}")
