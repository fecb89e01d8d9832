"""``doctor`` check of the analytics app: the last batch run."""

from __future__ import annotations

import datetime as dt

from core.doctor import FAIL, HINT_BATCH, OK, WARN, CheckResult, expected_session


def check_last_batch(*, now: dt.datetime | None = None) -> CheckResult:
    """The last batch run: FAIL when it failed, WARN when none, partial, unfinished or for an older day."""
    from analytics.models import RunStatus
    from analytics.selectors import batch_run_latest
    from analytics.services.heartbeat import runs_abandoned_mark

    runs_abandoned_mark()  # a run whose process died is reported as abandoned, not as running forever
    run = batch_run_latest()
    name = "last batch"
    if run is None:
        return CheckResult(name, WARN, "no batch has run yet", HINT_BATCH)
    when = f" at {run.finished_at:%Y-%m-%d %H:%M} UTC" if run.finished_at else ""
    took = f", {run.duration_ms / 1000:.1f} s" if run.duration_ms is not None else ""
    summary = f"{run.status} for {run.as_of}{when}{took}"
    detail = run.error_summary.strip() or run.warnings.strip()
    error = f": {detail[:200]}" if detail else ""
    if run.status == RunStatus.FAILED:
        return CheckResult(name, FAIL, summary + error, HINT_BATCH)
    if run.status != RunStatus.COMPLETED:
        return CheckResult(name, WARN, summary + error, HINT_BATCH)
    expected = expected_session(now)
    if run.as_of < expected:
        return CheckResult(name, WARN, f"{summary}; latest completed session is {expected}", HINT_BATCH)
    return CheckResult(name, OK, summary)


def check_limit_breaches() -> CheckResult:
    """Risk-limit breaches nobody acknowledged: WARN while there is any (the alerts API lists them)."""
    from analytics.models import Alert, AlertEvent

    open_breaches = Alert.objects.filter(event=AlertEvent.BREACH, acknowledged_at__isnull=True)
    count = open_breaches.count()
    name = "limit breaches"
    if not count:
        return CheckResult(name, OK, "no unacknowledged limit breach")
    newest = open_breaches.order_by("-as_of", "-created_at").first()
    assert newest is not None
    return CheckResult(
        name,
        WARN,
        f"{count} unacknowledged limit breach(es); newest {newest.as_of}: {newest.message[:150]}",
        "acknowledge them: POST /api/v1/alerts/{id}/acknowledge (or the dashboard's limits panel)",
    )
