"""Shapes shared by the agent's answers over stored results (the agent's tools and the kinds' tool views)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analytics.models import PortfolioResult, PortfolioSnapshot

RUN_BATCH = "python manage.py run_batch"


def not_computed(what: str, command: str = RUN_BATCH) -> dict[str, Any]:
    """The answer of a tool whose analytics have not been computed yet — never zeros."""
    return {
        "status": "not_computed",
        "message": f"{what} not computed yet for this portfolio; run `{RUN_BATCH}`.",
        "command": command,
    }


def result_envelope(result: PortfolioResult | PortfolioSnapshot, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """``{"status": "ok", "data", "provenance", ...}`` — every answer names its as-of date and source."""
    from analytics.selectors import provenance

    return {"status": "ok", "data": data, "provenance": provenance(result), **extra}


def truncate(rows: list[Any], limit: int) -> tuple[list[Any], dict[str, Any]]:
    """First ``limit`` rows and the truncation marker every list result carries."""
    return rows[:limit], {"truncated": len(rows) > limit, "total": len(rows), "returned": min(len(rows), limit)}


def abs_key(key: str) -> Any:
    """Sort key: largest absolute value of ``row[key]`` first (missing counts as 0)."""
    return lambda row: -abs(row.get(key) or 0.0)
