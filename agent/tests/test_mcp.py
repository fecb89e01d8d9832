"""The MCP server at /mcp, tested with the official SDK's client over real HTTP against a live daphne.

Tokens are created and revoked through the REST API of the same server (a real login), so the
whole path is the one an MCP client's user follows: create a token, paste it in the client.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from agent.tests.live import api, login
from agent.tools import tools_all
from portfolios.demo import demo_portfolio_id

pytestmark = pytest.mark.slow
OWNER = "demo_hnw@sigmasight.com"
OTHER = "demo_hedgefundstyle@sigmasight.com"


@pytest.fixture(scope="module")
def mcp_server(live_demo) -> dict[str, Any]:
    jwt = login(live_demo["base"], OWNER)
    token = api(live_demo["base"], jwt, "POST", "/agent/tokens", {"name": "mcp test"})
    url = f"{live_demo['base']}/mcp"
    return {**live_demo, "jwt": jwt, "token": token["token"], "token_id": token["id"], "url": url}


async def _with_client(url: str, token: str | None, work: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        return await work(client)


def run(url: str, token: str | None, work: Any) -> Any:
    return asyncio.run(_with_client(url, token, work))


def test_lists_every_agent_tool_read_only(mcp_server):
    async def work(client: Client) -> Any:
        return (await client.list_tools()).tools

    tools = run(mcp_server["url"], mcp_server["token"], work)
    names = {t.name for t in tools}
    assert names == {t.name for t in tools_all()} | {"list_portfolios"}
    assert all(t.annotations is not None and t.annotations.read_only_hint for t in tools)
    by_name = {t.name: t for t in tools}
    assert by_name["get_price_history"].input_schema["required"] == ["symbol"]


def test_calls_each_tool_and_the_audit_records_them(mcp_server):
    mine = str(demo_portfolio_id(OWNER))
    arguments = {
        "get_price_history": {"symbol": "AAPL", "days": 5},
        "what_if": {"trades": [{"action": "add", "symbol": "AAPL", "quantity": 10}]},
    }

    async def work(client: Client) -> Any:
        listed = await client.call_tool("list_portfolios", {})
        results = {}
        for tool in tools_all():
            results[tool.name] = await client.call_tool(tool.name, arguments.get(tool.name, {}))
        return listed, results

    listed, results = run(mcp_server["url"], mcp_server["token"], work)
    assert listed.structured_content["portfolios"] == [{"id": mine, "name": "Demo High Net Worth Investor Portfolio"}]
    for name, result in results.items():
        content = result.structured_content
        # what_if is an error result before any batch (no factor model yet): "not_computed", never a failure.
        assert not result.is_error or content["error"]["code"] == "not_computed", (name, content)
        assert content["portfolio"]["id"] == mine and content["status"] in ("ok", "not_computed", "no_data", "error"), (
            name
        )
        assert json.loads(result.content[0].text) == content
    audit = api(mcp_server["base"], mcp_server["jwt"], "GET", "/agent/audit?transport=mcp&page_size=100")
    tools_seen = {row["tool"] for row in audit["results"]}
    assert set(results) | {"list_portfolios"} <= tools_seen
    assert all(row["token_id"] == mcp_server["token_id"] for row in audit["results"])
    assert all(row["token_name"] == "mcp test" for row in audit["results"])


def test_another_users_portfolio_is_not_found(mcp_server):
    theirs = str(demo_portfolio_id(OTHER))

    async def work(client: Client) -> Any:
        return await client.call_tool("get_overview", {"portfolio_id": theirs})

    result = run(mcp_server["url"], mcp_server["token"], work)
    assert result.is_error
    assert result.structured_content == {
        "status": "error",
        "error": {"code": "not_found", "message": f"Portfolio {theirs} not found."},
    }


def test_a_token_restricted_to_other_portfolios_sees_none_of_them(mcp_server):
    other_jwt = login(mcp_server["base"], OTHER)
    theirs = str(demo_portfolio_id(OTHER))
    token = api(mcp_server["base"], other_jwt, "POST", "/agent/tokens", {"name": "one", "portfolio_ids": [theirs]})

    async def work(client: Client) -> Any:
        listed = await client.call_tool("list_portfolios", {})
        mine = await client.call_tool("get_var", {})
        foreign = await client.call_tool("get_var", {"portfolio_id": str(demo_portfolio_id(OWNER))})
        return listed, mine, foreign

    listed, mine, foreign = run(mcp_server["url"], token["token"], work)
    assert [p["id"] for p in listed.structured_content["portfolios"]] == [theirs]
    assert not mine.is_error and mine.structured_content["portfolio"]["id"] == theirs
    assert foreign.is_error and foreign.structured_content["error"]["code"] == "not_found"


def test_missing_forged_and_revoked_tokens_are_refused(mcp_server):
    for token in (None, "ssa_forged", mcp_server["jwt"]):  # a JWT is not a personal access token
        request = urllib.request.Request(
            mcp_server["url"], data=b"{}", method="POST", headers={"Content-Type": "application/json"}
        )
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 401
        assert refused.value.headers["WWW-Authenticate"].startswith("Bearer")
    jwt = mcp_server["jwt"]
    token = api(mcp_server["base"], jwt, "POST", "/agent/tokens", {"name": "to revoke"})

    async def revoked_mid_session(client: Client) -> Any:
        before = await client.call_tool("list_portfolios", {})
        await asyncio.to_thread(api, mcp_server["base"], jwt, "DELETE", f"/agent/tokens/{token['id']}")
        try:
            after = await client.call_tool("list_portfolios", {})
        except Exception as error:  # the SDK raises on the 401 of the next request
            return before, error
        return before, after

    before, after = run(mcp_server["url"], token["token"], revoked_mid_session)
    assert not before.is_error
    assert isinstance(after, Exception), after
    with pytest.raises(BaseException):  # noqa: B017  (the SDK wraps the 401 in an exception group)
        run(mcp_server["url"], token["token"], lambda client: client.list_tools())
