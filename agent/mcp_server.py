"""The agent's read-only tools over the Model Context Protocol (streamable HTTP at ``/mcp``).

Any MCP client (Claude, ChatGPT, IDE agents) can read a portfolio's risk with the same tools the
chat agent uses (``agent.tools``), through the same executor: the same scoping (the user of the
token, never an id the client names; another user's portfolio is "not found"), the same JSON
results with their provenance, and a row in the audit trail per call (transport ``mcp``).

Authentication: ``Authorization: Bearer <personal access token>`` (``agent.access``) on every
HTTP request, checked before the SDK sees it, so a revoked or expired token is refused (401) at
once, also inside an open MCP session; a session can only be used with the token that opened it
(the SDK compares the principal). A token restricted to some portfolios sees only those.

Tools: every registered agent tool (``get_var``, ``list_positions``…; arguments as in
``GET /api/v1/agent/tools``; ``portfolio_id`` may be left out when the token sees exactly one
portfolio) plus ``list_portfolios``, which names the portfolios the token may read. Every result
is a JSON object (structured content, and the same JSON as text); a tool's error result
(``not_found``, ``invalid_arguments``…) is a result with ``isError`` set.

The official ``mcp`` SDK (low-level ``Server`` + ``StreamableHTTPSessionManager``) is imported on
the first request to ``/mcp``, not at start-up. Daphne sends no ASGI lifespan events, so the
session manager's task group is started on that first request and kept for the process's life.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from asgiref.sync import sync_to_async
from django.core.serializers.json import DjangoJSONEncoder
from django.db import close_old_connections

from agent.access import TokenIdentity, access_token_authenticate
from agent.audit import audit_record
from agent.tools import ToolContext, tool_execute, tools_all
from portfolios.models import Portfolio

logger = logging.getLogger("sigmasight.agent")

Scope = dict[str, Any]
IDENTITY_KEY = "sigmasight.mcp_identity"
LIST_PORTFOLIOS = "list_portfolios"
SERVER_NAME = "sigmasight"
INSTRUCTIONS = (
    "SigmaSight portfolio risk analytics, read-only. Call list_portfolios first to get portfolio ids; "
    "every other tool takes an optional portfolio_id. Results carry their as-of date and data source "
    "(provenance): cite them with every figure."
)


def _db(func: Any) -> Any:
    """Run a sync ORM function on a worker thread with Django's connection housekeeping around it."""

    def call(*args: Any, **kwargs: Any) -> Any:
        close_old_connections()
        try:
            return func(*args, **kwargs)
        finally:
            close_old_connections()

    return sync_to_async(call, thread_sensitive=False)


def portfolios_listed(identity: TokenIdentity) -> dict[str, Any]:
    """The portfolios a token may read: ``{"status", "portfolios": [{"id", "name", "currency"?}]}``."""
    rows = Portfolio.objects.filter(user=identity.user).order_by("created_at", "id")
    if identity.portfolio_ids is not None:
        rows = rows.filter(id__in=identity.portfolio_ids)
    listed = [{"id": str(p.id), "name": p.name} for p in rows]
    return {"status": "ok", "portfolios": listed, "count": len(listed)}


def _list_portfolios_call(identity: TokenIdentity, session: str) -> dict[str, Any]:
    started = time.perf_counter()
    result = portfolios_listed(identity)
    audit_record(
        user=identity.user,
        transport="mcp",
        tool=LIST_PORTFOLIOS,
        arguments={},
        result=result,
        duration_ms=(time.perf_counter() - started) * 1000.0,
        session=session,
        token_id=identity.token_id,
    )
    return result


def mcp_tool_call(identity: TokenIdentity, name: str, arguments: dict[str, Any] | None, session: str) -> dict[str, Any]:
    """One MCP tool call, scoped to the token's user (and portfolios) and audited; sync (ORM)."""
    if name == LIST_PORTFOLIOS:
        return _list_portfolios_call(identity, session)
    context = ToolContext(
        user=identity.user,
        portfolio_id=None,
        transport="mcp",
        session=session,
        token_id=identity.token_id,
        allowed_portfolios=identity.portfolio_ids,
    )
    return tool_execute(name=name, arguments=arguments or {}, context=context)


def _tool_definitions() -> list[dict[str, Any]]:
    """``{"name", "description", "input_schema"}`` of every tool served (the agent's plus ``list_portfolios``)."""
    listed = [
        {
            "name": LIST_PORTFOLIOS,
            "description": "The portfolios this token may read (ids and names). Call it first.",
            "input_schema": {"type": "object", "properties": {}, "additionalProperties": False},
        }
    ]
    for tool in tools_all():
        listed.append({"name": tool.name, "description": tool.description, "input_schema": tool.parameters})
    return listed


class MCPApp:
    """ASGI app for ``/mcp``: token check, then the SDK's streamable HTTP session manager."""

    def __init__(self) -> None:
        self._manager: Any = None
        self._ready: asyncio.Event | None = None
        self._start_lock = asyncio.Lock()
        self._runner: asyncio.Task[None] | None = None

    def _server(self) -> Any:
        import mcp_types as types
        from mcp.server.lowlevel import Server

        definitions = _tool_definitions()
        tools = [
            types.Tool(
                name=d["name"],
                description=d["description"],
                input_schema=d["input_schema"],
                annotations=types.ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False),
            )
            for d in definitions
        ]
        known = {d["name"] for d in definitions}

        async def list_tools(ctx: Any, params: Any) -> Any:
            return types.ListToolsResult(tools=tools)

        async def call_tool(ctx: Any, params: Any) -> Any:
            request = getattr(ctx, "request", None)
            identity = request.scope.get(IDENTITY_KEY) if request is not None else None
            if identity is None:  # never reached through MCPApp, which refuses a request without a token
                raise PermissionError("not authenticated")
            session = request.headers.get("mcp-session-id", "") if request is not None else ""
            if params.name not in known:
                result: dict[str, Any] = {
                    "status": "error",
                    "error": {"code": "unknown_tool", "message": f"There is no tool named {params.name!r}."},
                }
            else:
                result = await _db(mcp_tool_call)(identity, params.name, dict(params.arguments or {}), session)
            text = json.dumps(result, cls=DjangoJSONEncoder)
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=text)],
                structured_content=result,
                is_error=result.get("status") == "error",
            )

        return Server(
            SERVER_NAME,
            version="1",
            instructions=INSTRUCTIONS,
            on_list_tools=list_tools,
            on_call_tool=call_tool,
        )

    async def _start(self) -> None:
        """Build the server and start the session manager's task group (once per process)."""
        async with self._start_lock:
            if self._manager is not None:
                return
            from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
            from mcp.server.transport_security import TransportSecuritySettings

            manager = StreamableHTTPSessionManager(
                app=self._server(),
                json_response=True,
                # Clients authenticate with a bearer token, never a cookie, so a page on another origin
                # (DNS rebinding) gains nothing; the Host check is Django's ALLOWED_HOSTS' job elsewhere.
                security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
            )
            started = asyncio.Event()

            async def run() -> None:
                async with manager.run():
                    started.set()
                    await asyncio.Event().wait()  # for the life of the process

            self._runner = asyncio.ensure_future(run())
            await started.wait()
            self._manager = manager

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        identity = await _db(access_token_authenticate)(_bearer(scope))
        if identity is None:
            await _unauthorized(send)
            return
        if self._manager is None:
            await self._start()
        from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
        from mcp.server.auth.provider import AccessToken

        principal = AccessToken(token="", client_id=str(identity.token_id), scopes=[], subject=str(identity.user.pk))
        scope = {**scope, "user": AuthenticatedUser(principal), IDENTITY_KEY: identity, "path": "/mcp"}
        await self._manager.handle_request(scope, receive, send)


def _bearer(scope: Scope) -> str | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == b"authorization":
            text = value.decode("latin-1")
            if text[:7].lower() == "bearer ":
                return text[7:].strip()
    return None


async def _unauthorized(send: Any) -> None:
    body = json.dumps(
        {"error": {"code": "not_authenticated", "message": "A valid personal access token is required."}}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", b'Bearer realm="sigmasight-mcp"'),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
