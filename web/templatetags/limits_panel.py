"""``{% limits_panel portfolio as panel %}``: the dashboard's limits and alerts panel data, read through the
analytics selectors (so the dashboard includes the panel with one line, without a change to its view)."""

from __future__ import annotations

from typing import Any

from django import template

from analytics.models import Alert
from analytics.selectors import portfolio_result_latest
from portfolios.models import Portfolio

register = template.Library()
MAX_ALERTS = 5


@register.simple_tag
def limits_panel(portfolio: Portfolio) -> dict[str, Any]:
    """The newest stored limits status of ``portfolio`` and its unacknowledged alerts (newest first)."""
    result = portfolio_result_latest(portfolio_id=portfolio.pk, kind="limits")
    alerts = list(
        Alert.objects.filter(portfolio=portfolio, acknowledged_at__isnull=True).order_by("-as_of", "-created_at")[
            : MAX_ALERTS + 1
        ]
    )
    return {
        "result": result,
        "data": result.payload if result is not None else None,
        "alerts": alerts[:MAX_ALERTS],
        "more_alerts": len(alerts) > MAX_ALERTS,
    }
