"""Who may read what, and the answers before the batch has run (no analytics computed)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from analytics.api import views
from analytics.models import BatchJob, BatchRun, RunStatus
from analytics.services.locking import BatchLocked
from core.testing import assert_error
from portfolios import services
from portfolios.models import Portfolio

RESULT_ENDPOINTS = {  # every kind's endpoint is named as its step
    "overview": "overview",
    "greeks": "greeks",
    "stress_test": "stress_test",
    "market_risk": "market_risk",
    "correlations": "correlations",
    "var": "var",
    "snapshots": "snapshots",
    "factor_exposures": "factor_exposures",
}


def analytics_url(portfolio_id: object, name: str) -> str:
    return f"/api/v1/analytics/portfolios/{portfolio_id}/{name}"


def factor_url(portfolio_id: object) -> str:
    return f"/api/v1/data/portfolios/{portfolio_id}/factor_exposures"


PORTFOLIO_URLS = [lambda pid, n=name: analytics_url(pid, n) for name in RESULT_ENDPOINTS] + [factor_url]
URL_IDS = [*RESULT_ENDPOINTS, "factor_exposures_legacy"]


@pytest.mark.parametrize("url", PORTFOLIO_URLS, ids=URL_IDS)
def test_every_portfolio_endpoint_hides_other_users_portfolios_and_needs_a_token(
    url, portfolio: Portfolio, anon_client: APIClient, other_client: APIClient, staff_client: APIClient
) -> None:
    assert_error(anon_client.get(url(portfolio.pk)), 401, "not_authenticated")
    other = assert_error(other_client.get(url(portfolio.pk)), 404, "not_found")
    missing = assert_error(other_client.get(url(uuid.uuid4())), 404, "not_found")
    # Staff see everything in the admin, not through another user's API: same 404.
    assert_error(staff_client.get(url(portfolio.pk)), 404, "not_found")
    assert other.keys() == missing.keys()
    assert str(portfolio.pk) in other["message"]


@pytest.mark.parametrize(
    ("url", "step"),
    [(u, s) for u, s in zip(PORTFOLIO_URLS, [*RESULT_ENDPOINTS.values(), "factor_exposures"], strict=True)],
    ids=URL_IDS,
)
def test_before_the_batch_every_result_is_not_computed_and_names_the_command(
    url, step: str, portfolio: Portfolio, owner_client: APIClient
) -> None:
    error = assert_error(owner_client.get(url(portfolio.pk)), 404, "not_computed")

    command = f"python manage.py run_batch --steps {step}"
    assert command in error["message"]
    assert error["details"]["command"] == command


@pytest.mark.parametrize("name", ["overview", "greeks", "var", "market_risk"])
def test_a_bad_as_of_is_a_400_and_an_as_of_before_any_result_is_not_computed(
    name: str, portfolio: Portfolio, owner_client: APIClient
) -> None:
    assert_error(owner_client.get(analytics_url(portfolio.pk, name), {"as_of": "2026-13-01"}), 400, "invalid")
    error = assert_error(owner_client.get(analytics_url(portfolio.pk, name), {"as_of": "2020-01-02"}), 404)
    assert error["code"] == "not_computed"
    assert "2020-01-02" in error["message"]


def test_a_snapshot_range_that_ends_before_it_starts_is_a_400(portfolio: Portfolio, owner_client: APIClient) -> None:
    response = owner_client.get(analytics_url(portfolio.pk, "snapshots"), {"start": "2026-11-20", "end": "2026-11-01"})

    assert "start" in assert_error(response, 400, "invalid")["details"]


# --- batch admin ----------------------------------------------------------------------------

# A fixed unknown run id: test ids must be the same in every pytest-xdist worker's collection.
ADMIN_GETS = ["/api/v1/admin/batch/runs", "/api/v1/admin/batch/runs/4697b0f3-5029-41dd-8d87-779f5b8f2625"]


@pytest.mark.parametrize("url", ADMIN_GETS)
def test_the_batch_admin_is_401_anonymous_and_403_for_non_staff(
    url: str, anon_client: APIClient, owner_client: APIClient
) -> None:
    assert_error(anon_client.get(url), 401, "not_authenticated")
    assert_error(owner_client.get(url), 403, "permission_denied")
    assert_error(anon_client.post("/api/v1/admin/batch/run", {}, format="json"), 401, "not_authenticated")
    assert_error(owner_client.post("/api/v1/admin/batch/run", {}, format="json"), 403, "permission_denied")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"steps": ["greeks", "nope"]}, "steps"),
        ({"steps": []}, "steps"),
        ({"as_of": "2026-02-30"}, "as_of"),
        ({"as_of": "1900-01-02"}, "as_of"),
        ({"as_of": "2999-01-04"}, "as_of"),
        ({"portfolio_ids": ["not-a-uuid"]}, "portfolio_ids"),
        ({"stpes": ["greeks"]}, "stpes"),
    ],
)
def test_a_bad_batch_request_is_a_400_naming_the_field(body: dict, field: str, staff_client: APIClient) -> None:
    error = assert_error(staff_client.post("/api/v1/admin/batch/run", body, format="json"), 400, "invalid")

    assert field in error["details"]
    assert not BatchRun.objects.exists()


def test_a_batch_for_an_unknown_portfolio_is_a_400(staff_client: APIClient) -> None:
    body = {"as_of": "2026-11-20", "portfolio_ids": [str(uuid.uuid4())], "steps": ["aggregation"]}

    assert (
        "No portfolio"
        in assert_error(staff_client.post("/api/v1/admin/batch/run", body, format="json"), 400)["message"]
    )


def test_a_locked_batch_date_is_a_409_conflict(staff_client: APIClient, monkeypatch) -> None:
    def locked(**kwargs):
        raise BatchLocked(f"A batch for {kwargs['as_of']} is already running.")

    monkeypatch.setattr(views, "batch_run", locked)

    response = staff_client.post("/api/v1/admin/batch/run", {"as_of": "2026-11-20"}, format="json")

    assert "already running" in assert_error(response, 409, "conflict")["message"]


def test_staff_run_the_batch_and_read_the_runs_back(
    staff_client: APIClient, portfolio: Portfolio, django_assert_num_queries
) -> None:
    # "aggregation" is the overview's earlier name: accepted, run and recorded under the kind's name.
    body = {"as_of": "2026-11-20", "portfolio_ids": [str(portfolio.pk)], "steps": ["aggregation"]}

    created = staff_client.post("/api/v1/admin/batch/run", body, format="json")

    assert created.status_code == 201, created.content
    run = created.json()
    assert run["as_of"] == "2026-11-20"
    assert run["trigger"] == "api"
    assert run["steps"] == ["overview"]
    assert run["portfolio_ids"] == [str(portfolio.pk)]
    assert run["status"] in ("completed", "partial", "failed")
    assert [(j["step"], j["portfolio_id"]) for j in run["jobs"]] == [("overview", str(portfolio.pk))]
    assert run["jobs"][0]["portfolio_name"] == "Owner book"

    detail = staff_client.get(f"/api/v1/admin/batch/runs/{run['id']}").json()
    assert detail == run
    assert_error(staff_client.get(f"/api/v1/admin/batch/runs/{uuid.uuid4()}"), 404, "not_found")

    for n in range(5):
        extra = BatchRun.objects.create(as_of=dt.date(2026, 11, 1 + n), status=RunStatus.COMPLETED, trigger="test")
        BatchJob.objects.create(run=extra, step="overview", portfolio=portfolio, status=RunStatus.COMPLETED)
    # JWT user, count, page — however many runs.
    with django_assert_num_queries(3):
        runs = staff_client.get("/api/v1/admin/batch/runs", {"page_size": 4}).json()
    assert runs["count"] == 6
    assert runs["results"][0]["id"] == str(extra.pk)  # newest first
    assert len(runs["results"]) == 4 and runs["next"]


# --- health ---------------------------------------------------------------------------------


def test_health_is_healthy_on_an_empty_install_and_degraded_but_200_when_the_batch_never_ran(
    db, client, portfolio: Portfolio
) -> None:
    body = client.get("/health").json()
    assert body["checks"]["last_batch"]["status"] == "ok"
    assert body["checks"]["market_data"]["status"] == "ok"

    services.position_create(
        portfolio=portfolio,
        symbol="AAPL",
        position_type="LONG",
        quantity=Decimal("1"),
        entry_price=Decimal("1"),
        entry_date=dt.date(2026, 1, 5),
    )
    response = client.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["last_batch"]["status"] == "warn"
    assert "run_batch" in body["checks"]["last_batch"]["hint"]
    assert body["checks"]["market_data"]["status"] == "warn"
    assert "sync_market_data" in body["checks"]["market_data"]["hint"]

    BatchRun.objects.create(as_of=dt.date(2026, 11, 20), status=RunStatus.FAILED, error_summary="boom", trigger="t")
    last = client.get("/health").json()["checks"]["last_batch"]
    assert (last["status"], last["run_status"], last["message"]) == ("warn", "failed", "boom")
