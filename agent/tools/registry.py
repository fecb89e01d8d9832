"""The tool registry: every tool the agent may call, its JSON schema, its limits, and one executor.

Scoping is done here, once, before any tool body runs: the portfolio a tool reads is looked up
with ``portfolio_get_for_user`` for the user of the *authenticated session* (``ToolContext.user``),
never for anything the model supplied. A model may name a ``portfolio_id`` (a user can own
several portfolios), but another user's id, a malformed id or a made-up one all give the same
``not_found`` result a client of the REST API would get. Tools only read, through selectors.

Every result is a JSON object with ``status`` (``ok``, ``not_computed``, ``no_data`` or
``error``) and, for lists, ``truncated`` plus the total before truncation, so that the model (and
the local provider) can say when it only saw part of the data.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from jsonschema import Draft202012Validator

from analytics.results.tooling import truncate  # noqa: F401  (the tools' list cap, imported from here)
from core.exceptions import NotFoundError
from portfolios.models import Portfolio, User
from portfolios.selectors import portfolio_get_for_user

logger = logging.getLogger("sigmasight.agent")

PORTFOLIO_ID_SCHEMA = {
    "type": "string",
    "description": "Id of one of the caller's portfolios; defaults to the portfolio of the conversation.",
    "maxLength": 64,
}


@dataclass(frozen=True)
class ToolContext:
    """Who is asking (from the authenticated request) and which portfolio the conversation is about.

    ``portfolio_id`` may be ``None`` (MCP: the tool must name one unless the user has exactly one
    portfolio). ``allowed_portfolios`` narrows the scope further (a personal access token restricted
    to some portfolios); ``transport``, ``session`` and ``token_id`` go to the audit trail.
    """

    user: User
    portfolio_id: uuid.UUID | str | None
    transport: str = "internal"
    session: str = ""
    token_id: uuid.UUID | None = None
    allowed_portfolios: frozenset[uuid.UUID] | None = None


ToolHandler = Callable[[Portfolio, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Tool:
    """A read-only tool: name, description for the model, JSON schema of its arguments, limits."""

    name: str
    description: str
    parameters: dict[str, Any]
    handler: ToolHandler
    limits: dict[str, int] = field(default_factory=dict)

    def schema(self) -> dict[str, Any]:
        """Provider-neutral description: ``{"name", "description", "parameters", "limits"}``."""
        return {
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
            "limits": self.limits,
        }


REGISTRY: dict[str, Tool] = {}


def register(
    *,
    name: str,
    description: str,
    properties: dict[str, Any] | None = None,
    required: tuple[str, ...] = (),
    limits: dict[str, int] | None = None,
) -> Callable[[ToolHandler], ToolHandler]:
    """Decorator adding a tool; every tool takes an optional ``portfolio_id`` checked by the executor."""

    def decorator(handler: ToolHandler) -> ToolHandler:
        parameters = {
            "type": "object",
            "properties": {**(properties or {}), "portfolio_id": PORTFOLIO_ID_SCHEMA},
            "required": list(required),
            "additionalProperties": False,
        }
        Draft202012Validator.check_schema(parameters)
        REGISTRY[name] = Tool(name, description, parameters, handler, dict(limits or {}))
        return handler

    return decorator


def tools_by_name() -> dict[str, Tool]:
    """Every tool: those registered here and one per result kind (``agent.tools.result_tools``)."""
    from agent import tools as _tools  # noqa: F401  (importing the package registers the tools)
    from agent.tools.result_tools import result_tools

    return {**REGISTRY, **result_tools()}


def tools_all() -> list[Tool]:
    """Every tool, in name order."""
    tools = tools_by_name()
    return [tools[name] for name in sorted(tools)]


def tool_get(name: str) -> Tool | None:
    """The tool called ``name`` (or an earlier name of a result kind's tool)."""
    from agent.tools.result_tools import result_tool_aliases

    tools = tools_by_name()
    return tools.get(name) or tools.get(result_tool_aliases().get(name, ""))


def tool_error(code: str, message: str) -> dict[str, Any]:
    return {"status": "error", "error": {"code": code, "message": message}}


def _parse_arguments(arguments: str | dict[str, Any] | None) -> dict[str, Any]:
    if arguments is None or arguments == "":
        return {}
    if isinstance(arguments, dict):
        return dict(arguments)
    parsed = json.loads(arguments)
    if not isinstance(parsed, dict):
        raise ValueError("arguments must be a JSON object")
    return parsed


def _json_safe(result: dict[str, Any]) -> dict[str, Any]:
    # Round-trip through the Django encoder: Decimals, dates and UUIDs become plain JSON values.
    return json.loads(json.dumps(result, cls=DjangoJSONEncoder))


def tool_execute(*, name: str, arguments: str | dict[str, Any] | None, context: ToolContext) -> dict[str, Any]:
    """Run one tool for the session's user and record it in the audit trail; never raises."""
    from agent.audit import audit_record

    started = time.perf_counter()
    result, portfolio_id = _tool_run(name=name, arguments=arguments, context=context)
    duration_ms = (time.perf_counter() - started) * 1000.0
    audit_record(
        user=context.user,
        transport=context.transport,
        tool=name,
        arguments=arguments,
        result=result,
        duration_ms=duration_ms,
        session=context.session,
        token_id=context.token_id,
        portfolio_id=portfolio_id,
    )
    return result


def _portfolio_in_scope(context: ToolContext, requested: Any) -> Portfolio:
    """The portfolio a tool may read: the user's, and among the token's when it is restricted."""
    if requested in (None, ""):
        candidates = Portfolio.objects.filter(user=context.user)
        if context.allowed_portfolios is not None:
            candidates = candidates.filter(id__in=context.allowed_portfolios)
        owned = list(candidates.order_by("created_at")[:2])
        if len(owned) == 1:
            return owned[0]
        raise ValueError("portfolio_id is required")
    # The scope check: the user comes from the session, whatever the arguments say.
    portfolio = portfolio_get_for_user(user=context.user, portfolio_id=uuid.UUID(str(requested)))
    if context.allowed_portfolios is not None and portfolio.id not in context.allowed_portfolios:
        raise NotFoundError(f"Portfolio {requested} not found.")
    return portfolio


def _tool_run(
    *, name: str, arguments: str | dict[str, Any] | None, context: ToolContext
) -> tuple[dict[str, Any], uuid.UUID | None]:
    tool = tool_get(name)
    if tool is None:
        return tool_error("unknown_tool", f"There is no tool named {name!r}."), None
    try:
        args = _parse_arguments(arguments)
    except (ValueError, TypeError):
        return tool_error("invalid_arguments", "Arguments are not a JSON object."), None
    errors = sorted(Draft202012Validator(tool.parameters).iter_errors(args), key=lambda e: list(e.path))
    if errors:
        return tool_error("invalid_arguments", "; ".join(e.message[:200] for e in errors[:3])), None
    requested = args.pop("portfolio_id", None) or context.portfolio_id
    started = time.perf_counter()
    try:
        portfolio = _portfolio_in_scope(context, requested)
    except ValueError as exc:
        if requested in (None, ""):
            return tool_error("invalid_arguments", f"{exc}: you have several portfolios (or none); name one."), None
        logger.info("tool %s: portfolio not found for user %s", name, context.user.pk)
        return tool_error("not_found", f"Portfolio {str(requested)[:64]} not found."), None
    except NotFoundError:
        logger.info("tool %s: portfolio not found for user %s", name, context.user.pk)
        return tool_error("not_found", f"Portfolio {str(requested)[:64]} not found."), None
    try:
        result = tool.handler(portfolio, args)
    except Exception:
        logger.exception("tool %s failed", name)
        return tool_error("tool_failed", f"The {name} tool failed; see the server log."), portfolio.id
    result.setdefault("status", "ok")
    result = {"portfolio": {"id": str(portfolio.id), "name": portfolio.name}, **result}
    logger.info("tool %s ok in %.1f ms", name, (time.perf_counter() - started) * 1000)
    return _json_safe(result), portfolio.id
