"""The dashboard shows the stored analytics of a real batch run, figure for figure as the API answers them."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from analytics.models import PortfolioResult
from core.testing import bearer_client
from portfolios.demo import demo_portfolio_id
from portfolios.models import Portfolio, User
from web.dashboard import dashboard_present
from web.templatetags.risk_format import money, multiple, signed_money, signed_pct

HEDGE_FUND = "demo_hedgefundstyle@sigmasight.com"


def _figure(html: str, name: str) -> str:
    match = re.search(rf'data-figure="{name}"[^>]*>([^<]*)<', html)
    assert match, name
    return match.group(1).strip()


def _figure_share(html: str, name: str) -> str:
    """The small share printed under a figure (``<small>`` after its value)."""
    match = re.search(rf'data-figure="{name}"[^>]*>[^<]*<small>([^<]*)</small>', html)
    assert match, name
    return match.group(1).strip()


@pytest.fixture
def hedge_fund(analytics_demo):
    """The hedge fund demo user after a real batch: a logged-in page client and an API client."""
    user = User.objects.get(email=HEDGE_FUND)
    web = Client()
    web.force_login(user)
    return {"web": web, "api": bearer_client(HEDGE_FUND, "demo12345"), "portfolio_id": demo_portfolio_id(HEDGE_FUND)}


@pytest.mark.slow
def test_the_dashboard_shows_the_apis_figures_and_orders_stress_worst_first(hedge_fund) -> None:
    pid = hedge_fund["portfolio_id"]
    html = hedge_fund["web"].get(reverse("web:dashboard", args=[pid])).content.decode()
    overview = hedge_fund["api"].get(f"/api/v1/analytics/portfolios/{pid}/overview").json()
    var = hedge_fund["api"].get(f"/api/v1/analytics/portfolios/{pid}/var").json()["data"]
    stress = hedge_fund["api"].get(f"/api/v1/analytics/portfolios/{pid}/stress_test").json()["data"]

    # Independent formatting of the API's numbers (not the page's own filters): $1,234,567 / -$1,234.
    def dollars(value: float) -> str:
        return f"{'-' if round(value) < 0 else ''}${abs(value):,.0f}"

    assert _figure(html, "as_of") == overview["as_of"]
    assert _figure(html, "value") == dollars(overview["value"])
    assert _figure(html, "equity") == dollars(overview["equity_balance"])
    assert _figure(html, "cash") == dollars(overview["cash"])
    assert _figure(html, "gross") == dollars(overview["exposures"]["gross"])
    assert _figure(html, "gross_leverage") == f"{overview['leverage']:.2f}×"
    daily = overview["pnl"]["daily"]
    assert _figure(html, "daily_pnl") == ("+" if daily > 0 else "") + dollars(daily)
    assert (
        _figure(html, "daily_return")
        == f"{'+' if overview['pnl']['daily_return'] > 0 else '-'}{abs(overview['pnl']['daily_return']) * 100:.2f}%"
    )
    assert _figure(html, "var_99") == dollars(var["historical"]["var_99"])
    assert _figure(html, "positions") == str(overview["counts"]["positions"])
    assert _figure(html, "data_source") == "Simulated data"
    assert "Completed" in html

    rows = re.findall(r'data-figure="stress_([a-z0-9_]+)"', html)
    by_id = {s["id"]: s["conditioned_pnl"] for s in stress["scenarios"]}
    assert sorted(rows) == sorted(by_id)
    assert [by_id[r] for r in rows] == sorted(by_id.values())  # worst first
    assert rows[0] == stress["worst"]["id"]

    # Delta-adjusted leverage: the result's own figure when stored, else exposure ÷ equity, labelled.
    payload = PortfolioResult.objects.get(portfolio_id=pid, kind="overview").payload
    expected = payload.get("delta_adjusted_leverage") or payload["delta_adjusted_exposure"] / payload["equity_balance"]
    assert _figure(html, "delta_adjusted_leverage") == f"{expected:.2f}×"


@pytest.mark.slow
def test_the_history_series_come_from_the_snapshots_with_their_drawdown(hedge_fund) -> None:
    portfolio = Portfolio.objects.get(pk=hedge_fund["portfolio_id"])
    snapshots = hedge_fund["api"].get(f"/api/v1/analytics/portfolios/{portfolio.pk}/snapshots?page_size=500").json()
    history = dashboard_present(portfolio=portfolio)["history"]["series"]
    assert history["dates"] == [s["as_of"] for s in snapshots["results"]]
    assert history["daily_pnl"] == [s["daily_pnl"] for s in snapshots["results"]]
    peak = float("-inf")
    for cumulative, drawdown in zip(
        [s["cumulative_pnl"] for s in snapshots["results"]], history["drawdown"], strict=True
    ):
        peak = max(peak, cumulative)
        assert drawdown == pytest.approx(cumulative - peak)


def test_formatting_used_by_the_dashboard_matches_the_figures_it_prints() -> None:
    assert (money(-4999511.1), signed_money(-31912.53), multiple(3.7852), signed_pct(-0.00997267, 2)) == (
        "-$4,999,511",
        "-$31,913",
        "3.79×",
        "-1.00%",
    )


@pytest.mark.slow
def test_the_risk_model_panels_show_the_apis_figures(hedge_fund) -> None:
    pid = hedge_fund["portfolio_id"]
    html = hedge_fund["web"].get(reverse("web:dashboard", args=[pid])).content.decode()
    api = hedge_fund["api"]
    decomposition = api.get(f"/api/v1/analytics/portfolios/{pid}/risk_decomposition").json()
    tracking = api.get(f"/api/v1/analytics/portfolios/{pid}/tracking_error").json()
    var = api.get(f"/api/v1/analytics/portfolios/{pid}/var").json()["data"]

    assert decomposition["provenance"]["inputs"]["covariance_estimator"] == "equal_weighted"
    assert tracking["data"]["benchmark_symbol"] == "SPY"
    assert _figure(html, "predicted_vol") == f"${decomposition['data']['total_vol']:,.0f}"
    assert _figure(html, "tracking_error") == f"{tracking['data']['tracking_error'] * 100:.1f}%"
    assert _figure(html, "mc_var_2") == f"${var['monte_carlo']['var_99']:,.0f}"
    # Like every other figure of the panel, with its share of equity.
    equity = float(api.get(f"/api/v1/data/portfolios/{pid}").json()["equity_balance"])
    assert _figure_share(html, "mc_var_2") == f"{var['monte_carlo']['var_99'] / equity * 100:.1f}%"
    assert var["monte_carlo"]["paths"] == 10_000
