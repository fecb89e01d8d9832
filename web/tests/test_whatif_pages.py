"""The what-if page, the dashboard's limits panel and the agent's read-only what-if and limits tools, over a
real batch run: the same figures as the API's what-if, nothing stored, another user's portfolio a 404."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from agent.tools import ToolContext, tool_execute
from analytics.models import Alert, RiskLimit, WhatIfScenario
from core.testing import bearer_client
from portfolios.demo import demo_portfolio_id
from portfolios.models import Portfolio, User

HEDGE_FUND = "demo_hedgefundstyle@sigmasight.com"
INDIVIDUAL = "demo_individual@sigmasight.com"


@pytest.mark.slow
def test_the_what_if_page_limits_panel_and_agent_tools_agree_with_the_api(analytics_demo) -> None:
    user = User.objects.get(email=HEDGE_FUND)
    pid = demo_portfolio_id(HEDGE_FUND)
    portfolio = Portfolio.objects.get(pk=pid)
    web = Client()
    web.force_login(user)
    api = bearer_client(HEDGE_FUND, "demo12345")

    page = web.get(reverse("web:what_if", args=[pid]))
    assert page.status_code == 200 and b'name="symbol_0"' in page.content
    dashboard = web.get(reverse("web:dashboard", args=[pid])).content.decode()
    assert 'id="limits"' in dashboard and reverse("web:what_if", args=[pid]) in dashboard

    # The page's table shows the API's figures for the same trades.
    trade = {"action": "add", "symbol": "AAPL", "quantity": 500}
    posted = web.post(
        reverse("web:what_if", args=[pid]), {"action_0": "add", "symbol_0": "AAPL", "quantity_0": "500"}
    ).content.decode()
    answer = api.post(f"/api/v1/analytics/portfolios/{pid}/what_if", {"trades": [trade]}, format="json").json()
    assert 'id="before-after"' in posted and 'id="worst-stress"' in posted
    gross = answer["summary"]["gross_exposure"]
    assert f"${gross['after']:,.0f}" in posted and f"+${gross['change']:,.0f}" in posted
    # Every figure says its unit, and the page formats by it: a fraction as a percentage, a count without "$"
    # (a correlation window of 90 days read "$90", a tracking error of 17% "$0" before).
    units = {key: figure["unit"] for key, figure in answer["summary"].items()}
    assert set(units.values()) <= {"usd", "ratio", "share", "days", "count", "number"}, units
    assert units["tracking_error.tracking_error"] == "share" and units["limits.breaches"] == "count"
    assert "correlations.window_days" not in units  # a kind's parameters are not figures of the portfolio
    te = answer["summary"]["tracking_error.tracking_error"]["after"]
    row = posted.split('data-figure="tracking_error.tracking_error"', 1)[1].split("</tr>", 1)[0]
    assert f"{te * 100:.2f}%" in row and "$" not in row, row
    bad = web.post(reverse("web:what_if", args=[pid]), {"action_0": "add", "symbol_0": "AAPL"})
    assert bad.status_code == 400 and b"trades[0].quantity" in bad.content
    assert WhatIfScenario.objects.count() == 0

    # Another user's portfolio is the 404 page.
    stranger = Client()
    stranger.force_login(User.objects.get(email=INDIVIDUAL))
    assert stranger.get(reverse("web:what_if", args=[pid])).status_code == 404

    # The agent simulates (never stores) and reads limits; another user's portfolio is not found.
    context = ToolContext(user=user, portfolio_id=portfolio.pk)
    simulated = tool_execute(name="what_if", arguments={"trades": [trade]}, context=context)
    assert simulated["status"] == "ok" and simulated["stored"] is False
    assert simulated["summary"]["gross_exposure"] == gross
    wrong = tool_execute(name="what_if", arguments={"trades": [{"action": "add", "symbol": "AAPL"}]}, context=context)
    assert wrong["status"] == "error" and wrong["error"]["message"].startswith("trades[0].quantity")
    other = ToolContext(user=User.objects.get(email=INDIVIDUAL), portfolio_id=portfolio.pk)
    assert tool_execute(name="what_if", arguments={"trades": [trade]}, context=other)["status"] == "error"
    assert tool_execute(name="limits", arguments={}, context=other)["error"]["code"] == "not_found"

    # A breached limit shows on the dashboard with its alert, acknowledged from the page.
    RiskLimit.objects.create(portfolio=portfolio, metric="gross_leverage", warning_level=0.1, hard_level=0.2)
    from analytics.services.batch import batch_run, portfolio_steps

    assert batch_run(as_of=analytics_demo.run.as_of, portfolio_ids=[portfolio.pk], steps=list(portfolio_steps())).ok
    limits = tool_execute(name="limits", arguments={}, context=context)
    assert limits["status"] == "ok" and limits["overall_status"] == "BREACH"
    assert limits["limits"][0]["status"] == "BREACH"
    assert limits["unacknowledged_alerts"][0]["event"] == "breach"
    dashboard = web.get(reverse("web:dashboard", args=[pid])).content.decode()
    assert 'data-limit="gross_leverage"' in dashboard and "BREACH" in dashboard
    alert = Alert.objects.get(portfolio=portfolio)
    assert stranger.post(reverse("web:alert_acknowledge", args=[alert.pk]), {"note": "x"}).status_code == 404
    done = web.post(reverse("web:alert_acknowledge", args=[alert.pk]), {"note": "reduced"})
    assert done.status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledgement_note == "reduced" and alert.acknowledged_by == user
