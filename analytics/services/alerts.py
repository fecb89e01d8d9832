"""Alerts on risk limits: recorded when the day's ``limits`` results are stored, then notified.

An alert is a change of state of one limit between the previous stored day and this one: a **new breach**
(BREACH, the day before anything else) or a **return to OK** (OK, the day before WARN or BREACH). NO_DATA
makes none. Alerts are unique per (limit, day, event): a rerun of the same day creates none.

Notification (after the alerts are committed): an email to the portfolio's owner through Django's email
backend (``ALERT_EMAILS``), and, when ``ALERT_WEBHOOK_URL`` is set, a JSON POST signed with HMAC-SHA256 of
the raw body under ``ALERT_WEBHOOK_SECRET`` (header ``X-SigmaSight-Signature: sha256=<hex>``), retried on a
connection error, a timeout, a 429 or a 5xx with exponential backoff (``ALERT_WEBHOOK_BACKOFF_S`` × 2^n, at
most ``ALERT_WEBHOOK_ATTEMPTS`` attempts). Every delivery, delivered or failed, is recorded
(``AlertDelivery``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db.models import QuerySet
from django.utils import timezone

from analytics.engines.limits import BREACH, OK, WARN
from analytics.models import Alert, AlertDelivery, AlertEvent, RiskLimit
from core.exceptions import ConflictError, NotFoundError
from portfolios.models import Portfolio, User

logger = logging.getLogger("sigmasight.alerts")

SIGNATURE_HEADER = "X-SigmaSight-Signature"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def alert_event(*, status: str, previous: str | None) -> str | None:
    """The alert a change of status makes: ``breach`` (BREACH after anything else), ``resolved`` (OK after WARN
    or BREACH), else None."""
    if status == BREACH and previous != BREACH:
        return AlertEvent.BREACH
    if status == OK and previous in (WARN, BREACH):
        return AlertEvent.RESOLVED
    return None


def _message(state: Mapping[str, Any], event: str) -> str:
    value = state.get("value")
    shown = "n/a" if value is None else f"{value:.6g}"
    subject = f" [{state['subject']}]" if state.get("subject") else ""
    if event == AlertEvent.BREACH:
        levels = f"hard level {state.get('hard_level')}, lower hard level {state.get('lower_hard')}"
        return f"BREACH: {state['label']}{subject} is {shown} ({levels})"
    return f"Back to OK: {state['label']}{subject} is {shown} (was {state.get('previous_status')})"


def alerts_record(*, rows: Sequence[Mapping[str, Any]]) -> list[Alert]:
    """Create the alerts of the stored ``limits`` rows (``PortfolioResult`` mappings); returns those created now
    (a rerun of the same day finds them and returns none)."""
    wanted: list[Alert] = []
    for row in rows:
        payload = row["payload"]
        for state in payload.get("limits", []):
            event = alert_event(status=state["status"], previous=state.get("previous_status"))
            if event is None:
                continue
            wanted.append(
                Alert(
                    portfolio_id=row["portfolio_id"],
                    limit_id=uuid.UUID(state["limit_id"]),
                    limit_label=state["label"][:200],
                    as_of=row["as_of"],
                    event=event,
                    status=state["status"],
                    previous_status=state.get("previous_status") or "",
                    value=state.get("value"),
                    warning_level=state.get("warning_level"),
                    hard_level=state.get("hard_level"),
                    message=_message(state, event)[:500],
                )
            )
    if not wanted:
        return []
    existing = set(
        Alert.objects.filter(
            limit_id__in={a.limit_id for a in wanted}, as_of__in={a.as_of for a in wanted}
        ).values_list("limit_id", "as_of", "event")
    )
    live = set(RiskLimit.objects.filter(pk__in={a.limit_id for a in wanted}).values_list("pk", flat=True))
    fresh = [a for a in wanted if (a.limit_id, a.as_of, a.event) not in existing and a.limit_id in live]
    # ignore_conflicts: a concurrent rerun of the same day that got there first wins; no duplicate either way.
    Alert.objects.bulk_create(fresh, ignore_conflicts=True)
    return fresh


# --------------------------------------------------------------------------------------------
# Notification
# --------------------------------------------------------------------------------------------


def alert_document(alert: Alert) -> dict[str, Any]:
    """An alert as JSON (the webhook's body, and the API's item)."""
    return {
        "id": str(alert.pk),
        "portfolio_id": str(alert.portfolio_id),
        "limit_id": str(alert.limit_id) if alert.limit_id else None,
        "limit": alert.limit_label,
        "as_of": alert.as_of.isoformat(),
        "event": alert.event,
        "status": alert.status,
        "previous_status": alert.previous_status or None,
        "value": alert.value,
        "warning_level": alert.warning_level,
        "hard_level": alert.hard_level,
        "message": alert.message,
        "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
        "acknowledgement_note": alert.acknowledgement_note,
    }


def webhook_signature(*, secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the raw request body under ``secret`` (verify it over the bytes received)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_deliver(
    *,
    alert: Alert,
    url: str,
    secret: str,
    attempts: int,
    backoff_s: float,
    timeout_s: float,
    sleep: Callable[[float], None] = time.sleep,
) -> AlertDelivery:
    """POST the alert to ``url``, signed, retrying transient failures with exponential backoff; the delivery is
    recorded whatever happens."""
    body = json.dumps({"type": f"limit.{alert.event}", "alert": alert_document(alert)}, sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "SigmaSight-Alerts/1",
        "X-SigmaSight-Event": f"limit.{alert.event}",
        "X-SigmaSight-Alert": str(alert.pk),
    }
    if secret:
        headers[SIGNATURE_HEADER] = webhook_signature(secret=secret, body=body)
    delivery = AlertDelivery(alert=alert, channel="webhook", target=url[:500], status="failed")
    for attempt in range(1, attempts + 1):
        delivery.attempts = attempt
        retry = False
        try:
            response = requests.post(url, data=body, headers=headers, timeout=timeout_s)
        except requests.RequestException as exc:
            delivery.error, delivery.response_code, retry = f"{exc.__class__.__name__}: {exc}"[:500], None, True
        else:
            delivery.response_code = response.status_code
            if 200 <= response.status_code < 300:
                delivery.status, delivery.error = "delivered", ""
                break
            delivery.error = f"HTTP {response.status_code}"
            retry = response.status_code in RETRY_STATUSES
        if not retry or attempt == attempts:
            break
        sleep(backoff_s * 2 ** (attempt - 1))
    delivery.save()
    if delivery.status != "delivered":
        logger.warning("Alert %s webhook failed after %d attempt(s): %s", alert.pk, delivery.attempts, delivery.error)
    return delivery


def email_deliver(*, alert: Alert, to: str) -> AlertDelivery:
    """Email the alert through Django's configured backend; the delivery is recorded."""
    delivery = AlertDelivery(alert=alert, channel="email", target=to[:500], attempts=1, status="failed")
    try:
        send_mail(
            subject=f"[SigmaSight] {alert.message[:120]}",
            message=f"{alert.message}\n\nPortfolio {alert.portfolio_id}, {alert.as_of}.",
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[to],
        )
        delivery.status = "delivered"
    except Exception as exc:  # a mail server down must not fail the batch: recorded, logged
        delivery.error = f"{exc.__class__.__name__}: {exc}"[:500]
        logger.warning("Alert %s email to the owner failed: %s", alert.pk, delivery.error)
    delivery.save()
    return delivery


def alerts_notify(*, alerts: Iterable[Alert]) -> list[AlertDelivery]:
    """Notify each alert: email to its portfolio's owner and the webhook, as configured."""
    alerts = list(alerts)
    owners = dict(
        Portfolio.objects.filter(pk__in={a.portfolio_id for a in alerts}).order_by().values_list("pk", "user__email")
    )
    deliveries = []
    for alert in alerts:
        if settings.ALERT_EMAILS and owners.get(alert.portfolio_id):
            deliveries.append(email_deliver(alert=alert, to=owners[alert.portfolio_id]))
        if settings.ALERT_WEBHOOK_URL:
            deliveries.append(
                webhook_deliver(
                    alert=alert,
                    url=settings.ALERT_WEBHOOK_URL,
                    secret=settings.ALERT_WEBHOOK_SECRET,
                    attempts=settings.ALERT_WEBHOOK_ATTEMPTS,
                    backoff_s=settings.ALERT_WEBHOOK_BACKOFF_S,
                    timeout_s=settings.ALERT_WEBHOOK_TIMEOUT_S,
                )
            )
    return deliveries


# --------------------------------------------------------------------------------------------
# Reads and acknowledgement
# --------------------------------------------------------------------------------------------


def alerts_for_user(*, user: User, acknowledged: bool | None = None) -> QuerySet[Alert]:
    """The alerts of the user's portfolios, newest first (``acknowledged`` filters)."""
    queryset = Alert.objects.filter(portfolio__user=user)
    if acknowledged is not None:
        queryset = queryset.filter(acknowledged_at__isnull=not acknowledged)
    return queryset.order_by("-as_of", "-created_at", "id")


def alert_acknowledge(*, user: User, alert_id: uuid.UUID, note: str) -> Alert:
    """Acknowledge one of the user's alerts with a note (another user's alert is a 404; acknowledging twice
    is a 409, the first acknowledgement is kept)."""
    alert = alerts_for_user(user=user).filter(pk=alert_id).first()
    if alert is None:
        raise NotFoundError(f"Alert {alert_id} not found.")
    updated = Alert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=timezone.now(), acknowledged_by=user, acknowledgement_note=note
    )
    if not updated:
        raise ConflictError(f"Alert {alert_id} is already acknowledged.")
    alert.refresh_from_db()
    return alert


def breaches_unacknowledged(*, user: User | None = None) -> int:
    """Breach alerts nobody acknowledged yet (of one user's portfolios, or of everyone's)."""
    queryset = Alert.objects.filter(event=AlertEvent.BREACH, acknowledged_at__isnull=True)
    if user is not None:
        queryset = queryset.filter(portfolio__user=user)
    return queryset.count()


__all__ = [
    "alert_acknowledge",
    "alert_event",
    "alerts_for_user",
    "alerts_notify",
    "alerts_record",
    "breaches_unacknowledged",
    "webhook_signature",
]
