"""The audit trail of tool calls: one ``ToolCallAudit`` row per call, whatever the transport.

:func:`audit_record` is called by the tool executor (``agent.tools.registry.tool_execute``) after
each call, so chat over REST, SSE and the websocket and calls over MCP are all recorded the same
way. A failure to write the row is logged and never fails the tool call itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet

from agent.models import ToolCallAudit
from portfolios.models import User

logger = logging.getLogger("sigmasight.agent")
ARGUMENTS_MAX_CHARS = 4000


def result_sha256(result: Any) -> str:
    """Hex SHA-256 of the result's canonical JSON (sorted keys, compact separators)."""
    text = json.dumps(result, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _arguments_for_audit(arguments: Any) -> Any:
    """The arguments as the caller sent them (a dict when they parse), cut to a bounded size."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return {"raw": arguments[:ARGUMENTS_MAX_CHARS]}
    if arguments is None:
        return {}
    text = json.dumps(arguments, cls=DjangoJSONEncoder)
    if len(text) > ARGUMENTS_MAX_CHARS:
        return {"raw": text[:ARGUMENTS_MAX_CHARS], "truncated": True}
    return json.loads(text)


def audit_record(
    *,
    user: User,
    transport: str,
    tool: str,
    arguments: Any,
    result: dict[str, Any],
    duration_ms: float,
    session: str = "",
    token_id: uuid.UUID | None = None,
    portfolio_id: uuid.UUID | None = None,
) -> None:
    """Store one row; ``outcome`` is ``ok`` or the error code of an error result."""
    error = result.get("error") if result.get("status") == "error" else None
    outcome = str(error.get("code", "error")) if isinstance(error, dict) else "ok"
    try:
        ToolCallAudit.objects.create(
            user=user,
            transport=transport,
            token_id=token_id,
            session=session[:100],
            tool=tool[:100],
            arguments=_arguments_for_audit(arguments),
            portfolio_id=portfolio_id,
            result_sha256=result_sha256(result),
            duration_ms=round(duration_ms, 3),
            outcome=outcome[:40],
        )
    except Exception:
        logger.exception("audit row not stored tool=%s user=%s", tool, user.pk)


def audit_for_user(*, user: User) -> QuerySet[ToolCallAudit]:
    return ToolCallAudit.objects.filter(user=user).select_related("token").order_by("-created_at", "-id")
