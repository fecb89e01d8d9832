"""Risk limits and alerts: the status rule at its edges, the batch's ``limits`` kind against hand-computed
figures, one alert per breach across reruns, notifications (email, a signed webhook against a local HTTP
server), the API and its access cases, and the what-if's limit status."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core import mail
from rest_framework.test import APIClient

from analytics.doctor import check_limit_breaches
from analytics.engines.limits import BREACH, NO_DATA, OK, WARN, levels_check, limit_status, worst_status
from analytics.models import Alert, AlertDelivery, PortfolioResult, RiskLimit
from analytics.results import registry
from analytics.services import alerts as alert_service
from analytics.services.batch import batch_run, portfolio_steps
from conftest import ANALYTICS_AS_OF
from core.testing import assert_error, login
from marketdata.services import prices_sync
from portfolios.models import Portfolio

HEDGE_EMAIL = "demo_hedgefundstyle@sigmasight.com"
NEXT_SESSION = dt.date(2026, 11, 23)


# --- the rule ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.5, OK),
        (2.0, OK),  # equal to the warning level: within it
        (2.0000001, WARN),
        (3.0, WARN),  # equal to the hard level: within it
        (3.0000001, BREACH),
        (-0.5, OK),  # equal to the lower warning level
        (-0.5000001, WARN),
        (-1.0, WARN),
        (-1.0000001, BREACH),
        (None, NO_DATA),
        (float("nan"), NO_DATA),
    ],
)
def test_a_value_equal_to_a_level_is_within_it_and_beyond_it_warns_or_breaches(value, expected) -> None:
    assert limit_status(value, warning=2.0, hard=3.0, lower_warning=-0.5, lower_hard=-1.0) == expected


def test_the_worst_status_wins_and_inconsistent_levels_are_named() -> None:
    assert worst_status([OK, WARN, NO_DATA]) == WARN and worst_status([OK, BREACH, WARN]) == BREACH
    assert worst_status([]) == OK
    assert set(levels_check(warning=3, hard=2, lower_warning=None, lower_hard=None)) == {"warning_level"}
    assert set(levels_check(warning=None, hard=None, lower_warning=None, lower_hard=None)) == {"hard_level"}
    assert set(levels_check(warning=None, hard=1, lower_warning=-1, lower_hard=-0.5)) == {"lower_warning"}
    assert levels_check(warning=1, hard=2, lower_warning=-1, lower_hard=-2) == {}


# --- the batch, alerts and the what-if -------------------------------------------------------------


def hedge_client() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {login(HEDGE_EMAIL, 'demo12345')['access_token']}")
    return client


def stored(pid: Any, kind: str, as_of: dt.date = ANALYTICS_AS_OF) -> Any:
    return PortfolioResult.objects.get(portfolio_id=pid, kind=kind, as_of=as_of).payload


def run(pid: Any, as_of: dt.date = ANALYTICS_AS_OF) -> None:
    outcome = batch_run(as_of=as_of, portfolio_ids=[pid], steps=list(portfolio_steps()), trigger="test")
    assert outcome.ok, outcome.run.error_summary


def test_the_batch_judges_each_limit_records_one_alert_per_breach_and_one_per_return_to_ok(
    analytics_demo, settings
) -> None:
    settings.ALERT_WEBHOOK_URL = ""
    portfolio = Portfolio.objects.get(user__email=HEDGE_EMAIL)
    pid = str(portfolio.pk)
    equity = float(portfolio.equity_balance)
    overview, var = stored(pid, "overview"), stored(pid, "var")
    betas, stress = stored(pid, "factor_exposures")["portfolio_betas"], stored(pid, "stress_test")
    # Hand-computed references from the stored figures.
    gross_leverage = round(overview["gross_exposure"] / equity, 4)
    var_share = var["historical"]["var_99"] / equity
    deltas = {u: abs(t["delta_exposure"]) for u, t in overview["by_underlying"].items()}
    largest = max(deltas, key=deltas.__getitem__)
    concentration = deltas[largest] / equity
    worst_loss = max(0.0, -stress["worst"]["conditioned_pnl"]) / equity

    client = hedge_client()
    base = f"/api/v1/analytics/portfolios/{pid}/limits"
    assert client.get(base).json()["data"] == {"status": OK, "breaches": 0, "warnings": 0, "no_data": 0, "limits": []}
    definitions = [
        {"metric": "gross_leverage", "warning_level": gross_leverage, "hard_level": gross_leverage + 1},  # OK: equal
        {"metric": "var_99_pct_equity", "warning_level": var_share * 0.5, "hard_level": var_share * 0.999},  # BREACH
        {"metric": "single_name_concentration", "warning_level": concentration * 0.9, "hard_level": concentration},
        {"metric": "factor_beta", "factor": "market", "lower_hard": betas["market"] + 0.5},  # BREACH below the floor
        {"metric": "underlying_dollar_delta", "underlying": largest, "hard_level": 1.0},  # BREACH
        {"metric": "worst_stress_loss", "warning_level": worst_loss + 0.1},  # OK
        {"metric": "days_to_liquidate", "hard_level": 10_000},
    ]
    created = {}
    for body in definitions:
        answer = client.post(base, body, format="json")
        assert answer.status_code == 201, answer.json()
        created[body["metric"]] = answer.json()["id"]

    run(pid)
    payload = client.get(base).json()["data"]
    by_metric = {s["metric"]: s for s in payload["limits"]}
    assert by_metric["gross_leverage"]["value"] == pytest.approx(gross_leverage, abs=1e-9)
    assert by_metric["gross_leverage"]["status"] == OK
    assert by_metric["var_99_pct_equity"]["value"] == pytest.approx(var_share, abs=1e-6)
    assert by_metric["var_99_pct_equity"]["status"] == BREACH
    assert by_metric["single_name_concentration"]["subject"] == largest
    assert by_metric["single_name_concentration"]["value"] == pytest.approx(concentration, abs=1e-6)
    assert by_metric["single_name_concentration"]["status"] == WARN  # at the hard level: within it
    assert by_metric["factor_beta"]["value"] == pytest.approx(betas["market"], abs=1e-6)
    assert by_metric["factor_beta"]["status"] == BREACH
    assert by_metric["underlying_dollar_delta"]["status"] == BREACH
    assert by_metric["worst_stress_loss"]["value"] == pytest.approx(worst_loss, abs=1e-6)
    assert by_metric["worst_stress_loss"]["status"] == OK
    liquidity = "liquidity" in registry.names()
    assert by_metric["days_to_liquidate"]["status"] == (OK if liquidity else NO_DATA)
    assert (payload["status"], payload["breaches"], payload["warnings"]) == (BREACH, 3, 1)
    assert all(s["previous_status"] is None for s in payload["limits"])

    # One alert per new breach, emailed to the owner; a rerun of the same day adds none.
    breaches = Alert.objects.filter(portfolio_id=pid, event="breach")
    assert sorted(a.limit.metric for a in breaches) == ["factor_beta", "underlying_dollar_delta", "var_99_pct_equity"]
    assert len(mail.outbox) == 3 and {m.to[0] for m in mail.outbox} == {HEDGE_EMAIL}
    run(pid)
    run(pid)
    assert Alert.objects.filter(portfolio_id=pid).count() == 3 and len(mail.outbox) == 3
    assert check_limit_breaches().status == "WARN"
    health = APIClient().get("/health").json()
    assert health["checks"]["limit_breaches"]["unacknowledged_breaches"] == 3

    # The what-if shows the status after the trades: 1,000 SPY (about +0.2x) takes gross leverage past its warning.
    what_if = client.post(
        f"/api/v1/analytics/portfolios/{pid}/what_if",
        {"trades": [{"action": "add", "symbol": "SPY", "quantity": 1_000}]},
        format="json",
    ).json()
    after = {s["metric"]: s for s in what_if["limits"]["after"]["limits"]}
    before = {s["metric"]: s for s in what_if["limits"]["before"]["limits"]}
    assert before["gross_leverage"]["status"] == OK and after["gross_leverage"]["status"] == WARN
    assert after["gross_leverage"]["value"] == pytest.approx(what_if["summary"]["gross_leverage"]["after"], abs=1e-9)
    assert Alert.objects.filter(portfolio_id=pid).count() == 3  # a what-if records nothing

    # Next session: the VaR limit is loosened (back to OK: one "resolved" alert), the others stay breached.
    prices_sync(days=1, as_of=NEXT_SESSION, provider="simulated")
    patched = client.patch(
        f"/api/v1/analytics/limits/{created['var_99_pct_equity']}", {"hard_level": 1.0}, format="json"
    )
    assert patched.status_code == 200 and patched.json()["hard_level"] == 1.0
    run(pid, NEXT_SESSION)
    payload = stored(pid, "limits", NEXT_SESSION)
    states = {s["metric"]: s for s in payload["limits"]}
    assert states["var_99_pct_equity"]["previous_status"] == BREACH
    events = list(Alert.objects.filter(portfolio_id=pid, as_of=NEXT_SESSION).values_list("event", "limit__metric"))
    if states["var_99_pct_equity"]["status"] == OK:
        assert events == [("resolved", "var_99_pct_equity")]
    else:  # WARN (above half the old level): not yet back to OK, no alert
        assert events == []
    assert len(mail.outbox) == 3 + len(events)

    # Acknowledged with a note: history kept, health and doctor clear; twice is a conflict.
    listed = client.get("/api/v1/alerts?acknowledged=false").json()
    assert listed["count"] == 3 + len(events)
    for item in [a for a in listed["results"] if a["event"] == "breach"]:
        answer = client.post(f"/api/v1/alerts/{item['id']}/acknowledge", {"note": "hedged"}, format="json")
        assert answer.status_code == 200 and answer.json()["acknowledgement_note"] == "hedged"
    assert_error(client.post(f"/api/v1/alerts/{item['id']}/acknowledge", {}, format="json"), 409, "conflict")
    assert check_limit_breaches().status == "OK"
    assert APIClient().get("/health").json()["checks"]["limit_breaches"]["status"] == "ok"

    # Another user sees none of it.
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {login('demo_hnw@sigmasight.com', 'demo12345')['access_token']}")
    assert other.get("/api/v1/alerts").json()["count"] == 0
    assert_error(other.post(f"/api/v1/alerts/{item['id']}/acknowledge", {}, format="json"), 404, "not_found")
    assert_error(other.get(base), 404, "not_found")
    assert_error(other.get(f"/api/v1/analytics/limits/{created['factor_beta']}"), 404, "not_found")
    # Deleting a limit keeps its alerts (labelled) as history.
    assert client.delete(f"/api/v1/analytics/limits/{created['factor_beta']}").status_code == 204
    assert Alert.objects.filter(limit__isnull=True, limit_label="Factor beta (market)").exists()


# --- the limits API without a batch ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"metric": "leverage", "hard_level": 2}, "metric"),
        ({"metric": "gross_leverage"}, "hard_level"),
        ({"metric": "gross_leverage", "warning_level": 3, "hard_level": 2}, "warning_level"),
        ({"metric": "factor_beta", "factor": "astrology", "hard_level": 1}, "factor"),
        ({"metric": "gross_leverage", "factor": "market", "hard_level": 1}, "factor"),
        ({"metric": "var_99_pct_equity", "underlying": "AAPL", "hard_level": 0.1}, "underlying"),
        ({"metric": "gross_leverage", "hard_level": "high"}, "hard_level"),
        ({"metric": "gross_leverage", "hard_level": 2, "colour": "red"}, "colour"),
    ],
)
def test_an_invalid_limit_is_a_400_naming_the_field(portfolio, owner_client, body, field) -> None:
    answer = owner_client.post(f"/api/v1/analytics/portfolios/{portfolio.pk}/limits", body, format="json")
    assert_error(answer, 400, "invalid")
    assert field in answer.json()["error"]["details"], answer.json()


def test_limits_are_listed_changed_and_deleted_by_their_owner_only(portfolio, owner_client, other_client) -> None:
    base = f"/api/v1/analytics/portfolios/{portfolio.pk}/limits"
    created = owner_client.post(
        base, {"metric": "gross_leverage", "warning_level": 1.5, "hard_level": 2}, format="json"
    )
    assert created.status_code == 201
    duplicate = owner_client.post(base, {"metric": "gross_leverage", "hard_level": 3}, format="json")
    assert_error(duplicate, 409, "conflict")
    assert [x["metric"] for x in owner_client.get(f"{base}/definitions").json()["results"]] == ["gross_leverage"]
    detail = f"/api/v1/analytics/limits/{created.json()['id']}"
    assert_error(owner_client.patch(detail, {"warning_level": 5}, format="json"), 400, "invalid")  # above hard
    assert owner_client.patch(detail, {"is_active": False}, format="json").json()["is_active"] is False
    for answer in (
        other_client.post(base, {"metric": "gross_leverage", "hard_level": 3}, format="json"),
        other_client.get(f"{base}/definitions"),
        other_client.get(detail),
        other_client.patch(detail, {"hard_level": 9}, format="json"),
        other_client.delete(detail),
    ):
        assert_error(answer, 404, "not_found")
    assert_error(APIClient().get(f"{base}/definitions"), 401, "not_authenticated")
    assert owner_client.delete(detail).status_code == 204
    assert not RiskLimit.objects.exists()


# --- the webhook against a local HTTP server ------------------------------------------------------


class Receiver:
    """A local HTTP server answering the statuses it is given in turn (then 200), recording each request."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                code = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/sigmasight"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def an_alert(portfolio) -> Alert:
    limit = RiskLimit.objects.create(portfolio=portfolio, metric="gross_leverage", hard_level=2.0)
    return Alert.objects.create(
        portfolio=portfolio,
        limit=limit,
        limit_label="gross leverage",
        as_of=ANALYTICS_AS_OF,
        event="breach",
        status=BREACH,
        value=2.5,
        hard_level=2.0,
        message="BREACH: gross leverage is 2.5",
    )


@pytest.fixture
def receiver_factory() -> Iterator[Any]:
    made: list[Receiver] = []

    def make(statuses: list[int]) -> Receiver:
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def deliver(alert: Alert, url: str, sleeps: list[float]) -> AlertDelivery:
    return alert_service.webhook_deliver(
        alert=alert, url=url, secret="s3cret", attempts=4, backoff_s=0.5, timeout_s=2.0, sleep=sleeps.append
    )


def test_the_webhook_is_signed_retried_with_backoff_and_recorded(an_alert, receiver_factory) -> None:
    receiver = receiver_factory([500, 503])
    sleeps: list[float] = []
    delivery = deliver(an_alert, receiver.url, sleeps)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("delivered", 3, 200)
    assert sleeps == [0.5, 1.0]  # exponential backoff between the attempts
    headers, body = receiver.requests[-1]
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-SigmaSight-Signature"] == expected
    document = json.loads(body)
    assert document["type"] == "limit.breach" and document["alert"]["id"] == str(an_alert.pk)
    assert AlertDelivery.objects.get(pk=delivery.pk).status == "delivered"


def test_a_webhook_that_keeps_failing_is_recorded_as_failed(an_alert, receiver_factory) -> None:
    sleeps: list[float] = []
    failing = deliver(an_alert, receiver_factory([500, 500, 500, 500]).url, sleeps)
    assert (failing.status, failing.attempts, failing.response_code, failing.error) == ("failed", 4, 500, "HTTP 500")
    assert sleeps == [0.5, 1.0, 2.0]
    refused = deliver(an_alert, receiver_factory([400]).url, [])  # a client error is not retried
    assert (refused.status, refused.attempts, refused.response_code) == ("failed", 1, 400)
    closed = receiver_factory([])
    url = closed.url
    closed.close()
    unreachable = deliver(an_alert, url, [])
    assert (unreachable.status, unreachable.attempts) == ("failed", 4) and "ConnectionError" in unreachable.error
    assert AlertDelivery.objects.filter(alert=an_alert, status="failed").count() == 3


def test_alerts_notify_emails_the_owner_and_posts_the_webhook_from_settings(
    an_alert, receiver_factory, settings
) -> None:
    receiver = receiver_factory([])
    settings.ALERT_WEBHOOK_URL, settings.ALERT_WEBHOOK_SECRET = receiver.url, "k"
    deliveries = alert_service.alerts_notify(alerts=[an_alert])
    assert sorted((d.channel, d.status) for d in deliveries) == [("email", "delivered"), ("webhook", "delivered")]
    assert mail.outbox[0].to == ["owner@example.com"] and "gross leverage" in mail.outbox[0].subject
    headers, body = receiver.requests[0]
    assert headers["X-SigmaSight-Signature"] == "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
