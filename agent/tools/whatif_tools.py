"""Read-only tools over hypothetical trades and limits: ``what_if`` simulates (it never trades and never
saves a scenario), ``limits`` reads the portfolio's limits, their newest status and the open alerts."""

from __future__ import annotations

from typing import Any

from agent.tools.registry import register, tool_error
from analytics.api.whatif import trades_parse
from analytics.models import Alert
from analytics.selectors import portfolio_result_latest, risk_limits_for_portfolio
from analytics.services import whatif
from analytics.services.inputs import portfolio_info
from core.exceptions import ApplicationError
from portfolios.models import Portfolio

MAX_TRADES = 20
MAX_ALERTS = 20

TRADE_SCHEMA = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": ["add", "reduce", "close"]},
        "symbol": {"type": "string", "maxLength": 40, "description": "Ticker, or an option's OCC symbol."},
        "underlying": {"type": "string", "maxLength": 12, "description": "An option's underlying (with strike, …)."},
        "strike": {"type": "number", "exclusiveMinimum": 0},
        "expiration": {"type": "string", "format": "date", "description": "YYYY-MM-DD"},
        "option_type": {"type": "string", "enum": ["call", "put"]},
        "position_id": {"type": "string", "maxLength": 40, "description": "reduce/close: one held position."},
        "quantity": {
            "type": "number",
            "description": "add: signed shares/contracts (negative sells short or writes); reduce: units to remove.",
        },
        "price": {"type": "number", "minimum": 0, "description": "Per share (USD); default the mark."},
    },
    "required": ["action"],
    "additionalProperties": False,
}


@register(
    name="what_if",
    description=(
        "Simulate hypothetical trades (add, reduce or close stocks, ETFs or listed options) on the portfolio and "
        "answer the risk before and after: value, cash, exposures, leverage, Greeks, factor betas and dollar "
        "exposures, VaR/ES, the five worst stress scenarios and each limit's status. Read-only: nothing is traded "
        "or stored."
    ),
    properties={"trades": {"type": "array", "items": TRADE_SCHEMA, "minItems": 1, "maxItems": MAX_TRADES}},
    required=("trades",),
    limits={"trades": MAX_TRADES},
)
def what_if_tool(portfolio: Portfolio, args: dict[str, Any]) -> dict[str, Any]:
    try:
        result = whatif.what_if_run(
            portfolio=portfolio_info(portfolio),
            trades=trades_parse(args["trades"]),
        )
    except ApplicationError as exc:  # a bad trade (named by index and field) or no batch yet
        return tool_error(exc.code, exc.message)
    answer = whatif.what_if_answer(result)
    limits = None
    if answer["limits"]:
        before = {s["limit_id"]: s["status"] for s in (answer["limits"]["before"] or {}).get("limits", [])}
        limits = [
            {"limit": s["label"], "value": s["value"], "before": before.get(s["limit_id"]), "after": s["status"]}
            for s in (answer["limits"]["after"] or {}).get("limits", [])
        ]
    return {
        "as_of": answer["as_of"],
        "data_source": answer["data_source"],
        "stored": False,
        "trades": answer["trades"],
        "summary": answer["summary"],
        "worst_stress": answer["worst_stress"],
        "limits": limits,
        "not_computed": answer["not_computed"],
    }


@register(
    name="limits",
    description=(
        "The portfolio's risk limits (warning and hard levels), each one's newest value and status (OK, WARN, "
        "BREACH, NO_DATA) and the alerts not yet acknowledged."
    ),
    limits={"alerts": MAX_ALERTS},
)
def limits_tool(portfolio: Portfolio, args: dict[str, Any]) -> dict[str, Any]:
    result = portfolio_result_latest(portfolio_id=portfolio.pk, kind="limits")
    states = {s["limit_id"]: s for s in (result.payload.get("limits", []) if result is not None else [])}
    limits = [
        {
            "id": str(limit.pk),
            "metric": limit.metric,
            "factor": limit.factor or None,
            "underlying": limit.underlying or None,
            "warning_level": limit.warning_level,
            "hard_level": limit.hard_level,
            "lower_warning": limit.lower_warning,
            "lower_hard": limit.lower_hard,
            "active": limit.is_active,
            "value": states.get(str(limit.pk), {}).get("value"),
            "status": states.get(str(limit.pk), {}).get("status"),
        }
        for limit in risk_limits_for_portfolio(portfolio_id=portfolio.pk)
    ]
    unacknowledged = Alert.objects.filter(portfolio=portfolio, acknowledged_at__isnull=True)
    shown = [
        {"as_of": a.as_of, "event": a.event, "status": a.status, "message": a.message}
        for a in unacknowledged.order_by("-as_of", "-created_at")[:MAX_ALERTS]
    ]
    total = unacknowledged.count()
    marker = {"truncated": total > len(shown), "total": total, "returned": len(shown)}
    return {
        "as_of": result.as_of if result is not None else None,
        "overall_status": result.payload.get("status") if result is not None else None,
        "limits": limits,
        "unacknowledged_alerts": shown,
        **marker,
    }
