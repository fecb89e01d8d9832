"""After the batch: the API answers the stored numbers with their provenance, end to end with a real JWT.

``analytics_demo`` takes seconds, so each test here walks through many endpoints at once.
"""

from __future__ import annotations

import math

import pytest
from rest_framework.test import APIClient

from analytics.api.serializers import result_output_serializer
from analytics.models import PortfolioResult, PortfolioSnapshot, PositionMetrics
from analytics.results import spec_for
from conftest import ANALYTICS_AS_OF
from core.testing import assert_error, login
from core.typed_serializers import typed_dict_errors

DEMO_PORTFOLIO_ID = "1d8ddd95-3b45-0ac5-35bf-cf81af94a5fe"  # demo_individual's
PROVENANCE_KEYS = {
    "as_of",
    "method",
    "lookback_days",
    "data_source",
    "inputs",
    "is_stale",
    "stale_reason",
    "computed_at",
}


def demo_client(email: str = "demo_individual@sigmasight.com") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {login(email, 'demo12345')['access_token']}")
    return client


def stored(kind: str) -> PortfolioResult:
    return PortfolioResult.objects.get(portfolio_id=DEMO_PORTFOLIO_ID, kind=kind, as_of=ANALYTICS_AS_OF)


def assert_provenance(provenance: dict, result: PortfolioResult) -> None:
    assert set(provenance) == PROVENANCE_KEYS
    assert provenance["as_of"] == ANALYTICS_AS_OF.isoformat()
    assert provenance["method"] == result.method and provenance["method"]
    assert provenance["data_source"] == result.data_source == "simulated"
    assert provenance["lookback_days"] == result.lookback_days
    assert provenance["inputs"] == result.inputs


def test_the_daily_guide_walks_from_login_to_every_analytics_answer_with_stored_numbers(
    analytics_demo, django_assert_num_queries
) -> None:
    client = demo_client()

    # --- the curl sequence of the daily guide -------------------------------------------------
    portfolios = client.get("/api/v1/data/portfolios")
    assert portfolios.status_code == 200
    assert [p["id"] for p in portfolios.json()["results"]] == [DEMO_PORTFOLIO_ID]

    with django_assert_num_queries(3):  # JWT user, overview result joined with its portfolio, snapshot
        response = client.get(f"/api/v1/analytics/portfolios/{DEMO_PORTFOLIO_ID}/overview")
    assert response.status_code == 200, response.content
    overview = response.json()

    with django_assert_num_queries(7):  # JWT user, portfolio, count, page, tags, closes, position metrics
        response = client.get(f"/api/v1/data/portfolios/{DEMO_PORTFOLIO_ID}/positions")
    assert response.status_code == 200
    positions = response.json()["results"]

    with django_assert_num_queries(2):  # JWT user, result joined with its portfolio
        response = client.get(f"/api/v1/data/portfolios/{DEMO_PORTFOLIO_ID}/factor_exposures")
    assert response.status_code == 200
    factors = response.json()

    # --- overview: the stored payload, and independent arithmetic ------------------------------
    serializer = result_output_serializer(spec_for("overview"))
    documented = serializer(data=overview)
    assert documented.is_valid(), documented.errors  # the hand-built body has the documented shape
    assert set(overview) == set(serializer().fields)
    payload = stored("overview").payload
    assert overview["data"] == payload and overview["kind"] == "overview"
    equity = payload["equity_balance"]
    exposures = overview["exposures"]
    assert overview["portfolio"]["id"] == DEMO_PORTFOLIO_ID
    assert overview["portfolio"]["name"]
    assert overview["portfolio"]["equity_balance"] == pytest.approx(equity)
    assert overview["as_of"] == ANALYTICS_AS_OF.isoformat()
    assert overview["value"] == payload["market_value"]
    assert overview["cash"] == payload["cash"]
    assert overview["leverage"] == payload["leverage"] == overview["gross_leverage"]
    assert overview["gross_leverage"] == pytest.approx(payload["gross_exposure"] / equity, abs=1e-4)
    assert overview["delta_adjusted_leverage"] == pytest.approx(exposures["delta_adjusted_gross"] / equity, abs=1e-4)
    assert exposures == {
        "long": payload["long_exposure"],
        "short": payload["short_exposure"],
        "gross": payload["gross_exposure"],
        "net": payload["net_exposure"],
        "delta_adjusted": payload["delta_adjusted_exposure"],
        "delta_adjusted_gross": payload["delta_adjusted_gross_exposure"],
        "options": payload["options_exposure"],
        "stocks": payload["stock_exposure"],
    }
    assert overview["counts"] == {"positions": 16, "by_type": payload["counts_by_type"]}
    assert overview["pnl"]["unrealised"] == payload["unrealised_pnl"]
    snapshot = PortfolioSnapshot.objects.get(portfolio_id=DEMO_PORTFOLIO_ID, as_of=ANALYTICS_AS_OF)
    assert overview["pnl"]["daily"] == snapshot.daily_pnl
    assert overview["pnl"]["cumulative"] == snapshot.cumulative_pnl
    assert overview["pnl"]["as_of"] == ANALYTICS_AS_OF.isoformat()
    assert_provenance(overview["provenance"], stored("overview"))

    metrics = list(PositionMetrics.objects.filter(portfolio_id=DEMO_PORTFOLIO_ID, as_of=ANALYTICS_AS_OF))
    values = [m.market_value for m in metrics if m.market_value is not None]
    assert exposures["gross"] > 0
    # Stored money is rounded to cents, so compare to the cent.
    # Stored position values are rounded to the cent: their sum may differ from the total by ½ cent each.
    cents = 0.005 * len(values) + 0.01
    assert exposures["gross"] == pytest.approx(sum(abs(v) for v in values), abs=cents)
    assert exposures["long"] == pytest.approx(sum(v for v in values if v > 0), abs=cents)
    assert exposures["net"] == pytest.approx(sum(values), abs=cents)
    assert overview["cash"] == pytest.approx(equity - exposures["long"] + abs(exposures["short"]), abs=0.02)
    assert overview["leverage"] == pytest.approx(exposures["gross"] / equity, abs=1e-4)
    assert overview["pnl"]["unrealised"] == pytest.approx(sum(m.unrealised_pnl or 0 for m in metrics), abs=cents)

    # --- positions: Greeks, option value and factor exposures merged from the batch ------------
    assert len(positions) == 16
    by_id = {str(m.position_id): m for m in metrics}
    for item in positions:
        row = by_id[item["id"]]
        block = item["analytics"]
        assert block["as_of"] == ANALYTICS_AS_OF.isoformat()
        assert block["market_value"] == row.market_value
        assert block["factor_exposures"] == row.factor_exposures and block["factor_exposures"]
        assert block["factor_betas"] == row.factor_betas

    # --- factor exposures ----------------------------------------------------------------------
    factor_result = stored("factor_exposures")
    assert factors["portfolio_id"] == DEMO_PORTFOLIO_ID
    assert factors["kind"] == "factor_exposures"
    canonical = client.get(f"/api/v1/analytics/portfolios/{DEMO_PORTFOLIO_ID}/factor_exposures")
    assert canonical.status_code == 200 and canonical.json() == factors  # the earlier URL answers the same
    assert factors["data"] == factor_result.payload
    assert_provenance(factors["provenance"], factor_result)
    assert set(factors["data"]["portfolio_betas"]) >= {"market"}
    assert all(math.isfinite(v) for v in factors["data"]["dollar_exposures"].values())
    assert {p["position_id"] for p in factors["data"]["positions"]} <= {p["id"] for p in positions}

    # --- every other result: stored payload with its provenance ---------------------------------
    for name in ("overview", "greeks", "factor_exposures", "stress_test", "correlations", "var", "market_risk"):
        response = client.get(f"/api/v1/analytics/portfolios/{DEMO_PORTFOLIO_ID}/{name}")
        assert response.status_code == 200, (name, response.content)
        body = response.json()
        result = stored(name)
        assert (body["portfolio_id"], body["kind"]) == (DEMO_PORTFOLIO_ID, name), name
        assert body["data"] == result.payload, name
        assert_provenance(body["provenance"], result)
        spec = spec_for(name)  # the answer is what the schema documents, field by field
        assert typed_dict_errors(spec.payload_type, body["data"]) == [], name
        documented = result_output_serializer(spec)(data=body)
        assert documented.is_valid(), (name, documented.errors)
        assert set(body) == set(documented.fields), name

    market = client.get(f"/api/v1/analytics/portfolios/{DEMO_PORTFOLIO_ID}/market_risk").json()
    shocks = sorted(s["shock"] for s in market["data"]["scenarios"])
    assert shocks == pytest.approx([-0.2, -0.1, -0.05, 0.05, 0.1, 0.2])
    assert market["market_beta"]["beta"] == factor_result.payload["portfolio_betas"]["market"]

    var = client.get(f"/api/v1/analytics/portfolios/{DEMO_PORTFOLIO_ID}/var").json()["data"]
    assert var["historical"]["var_99"] >= var["historical"]["var_95"] > 0

    # --- as_of: the same day answers; a day before any result is not computed ---------------------
    same = client.get(f"/api/v1/analytics/portfolios/{DEMO_PORTFOLIO_ID}/overview", {"as_of": "2026-11-23"})
    assert same.json() == overview
    earlier = client.get(f"/api/v1/analytics/portfolios/{DEMO_PORTFOLIO_ID}/var", {"as_of": "2026-11-19"})
    assert_error(earlier, 404, "not_computed")

    # --- snapshots, paginated, each with provenance ----------------------------------------------
    with django_assert_num_queries(4):  # JWT user, portfolio, count, page
        response = client.get(f"/api/v1/analytics/portfolios/{DEMO_PORTFOLIO_ID}/snapshots")
    page = response.json()
    assert page["count"] == 1
    row = page["results"][0]
    assert typed_dict_errors(spec_for("snapshots").series_item_type, row) == []
    assert row["as_of"] == ANALYTICS_AS_OF.isoformat()
    assert row["gross_exposure"] == snapshot.gross_exposure
    assert row["provenance"]["data_source"] == "simulated"
    empty = client.get(f"/api/v1/analytics/portfolios/{DEMO_PORTFOLIO_ID}/snapshots", {"end": "2026-11-19"})
    assert empty.status_code == 200 and empty.json()["count"] == 0

    # --- another demo user sees none of it ---------------------------------------------------------
    hnw = demo_client("demo_hnw@sigmasight.com")
    for name in ("overview", "greeks", "snapshots", "var"):
        assert_error(hnw.get(f"/api/v1/analytics/portfolios/{DEMO_PORTFOLIO_ID}/{name}"), 404, "not_found")
    assert_error(hnw.get(f"/api/v1/data/portfolios/{DEMO_PORTFOLIO_ID}/factor_exposures"), 404, "not_found")


def test_options_get_their_model_value_and_greeks_with_inputs_in_the_positions_list(
    analytics_demo, django_assert_num_queries
) -> None:
    client = demo_client("demo_hedgefundstyle@sigmasight.com")
    portfolio_id = client.get("/api/v1/data/portfolios").json()["results"][0]["id"]

    with django_assert_num_queries(7):  # the same 7 queries for 30 positions as for 16
        positions = client.get(f"/api/v1/data/portfolios/{portfolio_id}/positions").json()["results"]
    greeks = client.get(f"/api/v1/analytics/portfolios/{portfolio_id}/greeks").json()["data"]

    options = [p for p in positions if p["expiration"]]
    assert options, "the hedge-fund-style demo holds options"
    rows = {str(m.position_id): m for m in PositionMetrics.objects.filter(portfolio_id=portfolio_id)}
    for item in options:
        row = rows[item["id"]]
        assert item["price"] == row.price and item["price"] > 0
        assert item["market_value"] == row.market_value
        assert item["price_note"] is None
        block = item["analytics"]["greeks"]
        assert block["delta"] == row.delta
        assert block["position_delta"] == row.position_delta
        assert block["implied_vol"] == row.implied_vol and block["implied_vol_source"]
    option_rows = [r for r in greeks["positions"] if r["expiration"]]
    assert {r["position_id"] for r in option_rows} == {p["id"] for p in options}
    for row in option_rows:  # each Greeks row carries the inputs that produced it
        for key in ("spot", "strike", "years_to_expiry", "implied_vol", "implied_vol_source", "rate", "div_yield"):
            assert row[key] is not None, (row["symbol"], key)
