"""Non-critical ``/health`` checks of the analytics app: the last batch run and price freshness.

Both answer ``ok`` or ``warn`` (with a hint naming the command that fixes it); a warning makes
``/health`` say ``degraded`` but keeps it 200 — only the database being down is a 503. A fresh
install with no portfolios has nothing to compute or price, so it is not degraded.
"""

from __future__ import annotations

from typing import Any

from analytics.models import RunStatus
from analytics.selectors import batch_run_latest
from analytics.services.heartbeat import runs_abandoned_mark
from marketdata.selectors import market_data_summary, quarantines_open
from portfolios.models import Position

BAD_RUN_STATUSES = {RunStatus.FAILED, RunStatus.PARTIAL, RunStatus.INTERRUPTED, RunStatus.ABANDONED, RunStatus.WARNINGS}


def _anything_to_do() -> bool:
    return Position.objects.exists()


def check_last_batch() -> dict[str, Any]:
    """Status of the newest batch run: ``warn`` when it failed, was abandoned (stale heartbeat, marked here),
    ran on quarantined data, or when there has never been one. A refused run is not a run: it is not read."""
    runs_abandoned_mark()
    run = batch_run_latest()
    if run is None:
        if not _anything_to_do():
            return {"status": "ok", "message": "no positions yet, nothing to compute"}
        return {"status": "warn", "message": "the batch has never run", "hint": "python manage.py run_batch"}
    body: dict[str, Any] = {
        "status": "ok",
        "run_id": str(run.pk),
        "as_of": run.as_of.isoformat(),
        "run_status": run.status,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }
    if run.status in BAD_RUN_STATUSES:
        body["status"] = "warn"
        body["message"] = (run.error_summary or run.warnings or f"the last run is {run.status}")[:300]
        body["hint"] = f"python manage.py batch_history; then python manage.py run_batch --date {run.as_of}"
    return body


def check_market_data() -> dict[str, Any]:
    """Freshness of the price cache: the last bar against the latest completed session."""
    summary = market_data_summary(jump_lookback_days=0)
    body: dict[str, Any] = {
        "status": "ok",
        "last_date": summary.last_date.isoformat() if summary.last_date else None,
        "expected_last_date": summary.expected_last_date.isoformat(),
        "symbols": summary.unique_symbols,
        "stale_symbols": len(summary.stale_symbols),
        "data_source": summary.data_source,
    }
    if summary.last_date is None:
        if _anything_to_do():
            body.update(status="warn", hint="python manage.py sync_market_data --backfill 300")
        return body
    if summary.last_date < summary.expected_last_date or summary.stale_symbols:
        body.update(status="warn", hint="python manage.py sync_market_data")
    held_back = quarantines_open()
    body["quarantined_prices"] = len(held_back)
    if held_back:
        body.update(
            status="warn",
            message=f"{len(held_back)} quarantined price(s) left out of the analytics",
            hint="python manage.py market_data_status; confirm or correct them in the admin",
        )
    return body


def check_limit_breaches() -> dict[str, Any]:
    """Breach alerts nobody has acknowledged: ``warn`` (degraded, still 200) while there is any."""
    from analytics.services.alerts import breaches_unacknowledged

    count = breaches_unacknowledged()
    body: dict[str, Any] = {"status": "ok", "unacknowledged_breaches": count}
    if count:
        body.update(
            status="warn", hint="GET /api/v1/alerts?acknowledged=false, then POST /api/v1/alerts/{id}/acknowledge"
        )
    return body
