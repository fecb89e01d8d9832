"""The ``backtest`` kind over a hand-made history of stored VaR and snapshots, and ``backfill_var``.

The hand-made history: 30 sessions of stored ``var`` results and snapshots, with the exceptions placed
by hand; the expected counts, Kupiec and Christoffersen statistics are computed here from the
closed-form likelihoods and scipy's χ² — never from the engine.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from scipy.stats import binom, chi2

from analytics.models import PortfolioResult, PortfolioSnapshot
from analytics.services.batch import batch_run
from conftest import ANALYTICS_AS_OF
from marketdata.calendar import last_trading_days

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 11, 20)
SESSIONS = last_trading_days(count=31, as_of=DAY)  # VaR on the first 30 (and today), P&L on the last 30


def _snapshot(portfolio, day: dt.date, pnl: float | None) -> PortfolioSnapshot:
    return PortfolioSnapshot.objects.create(
        portfolio=portfolio, as_of=day, total_value=1e6, long_exposure=1e6, short_exposure=0.0, gross_exposure=1e6,
        net_exposure=1e6, daily_pnl=pnl, position_count=1, method="test", data_source="simulated",
    )  # fmt: skip


def _var(portfolio, day: dt.date, **methods: dict[str, float]) -> None:
    payload = {"horizon_days": 1, "contributions": [], **methods}
    PortfolioResult.objects.create(
        portfolio=portfolio, kind="var", as_of=day, payload=payload, method="test", data_source="simulated"
    )


@pytest.fixture
def history(portfolio):
    """VaR 95% = 1,000 and 99% = 2,000 (historical) every day; the parametric 99% is 1,500; Monte Carlo only on
    the last 10 VaR days. P&L: −1,200 on the days after VaR days 3, 4, 10 (95% exceptions), −2,500 after day 20
    (an exception at both levels of every method), −1,000 after day 25 (exactly the 95% VaR: not an exception);
    the snapshot after VaR day 7 is missing."""
    pnl = {3: -1_200.0, 4: -1_200.0, 10: -1_200.0, 20: -2_500.0, 25: -1_000.0}
    for i, day in enumerate(SESSIONS):
        mc = {"monte_carlo": {"var_95": 900.0, "var_99": 1_800.0}} if 21 <= i <= 30 else {}
        _var(portfolio, day, historical={"var_95": 1_000.0, "var_99": 2_000.0, "observations": 252},
             parametric={"var_95": 1_000.0, "var_99": 1_500.0}, **mc)  # fmt: skip
        if i >= 1 and i - 1 != 7:
            _snapshot(portfolio, day, pnl.get(i - 1, 150.0 if i % 2 else -300.0))
    return portfolio


def _kupiec(t: int, x: int, p: float) -> float:
    rate = x / t
    alternative = (1 - rate) ** (t - x) * (rate**x if x else 1.0)
    return -2.0 * math.log((1 - p) ** (t - x) * p**x / alternative)


def test_exceptions_and_the_likelihood_ratios_match_the_hand_computation(history):
    batch_run(as_of=DAY, portfolio_ids=[history.pk], steps=["backtest"], trigger="test")
    payload = PortfolioResult.objects.get(portfolio=history, kind="backtest", as_of=DAY).payload
    # 30 VaR days before today; one lacks the next session's snapshot; today's VaR has no next session yet.
    assert payload["var_days"] == 30 and payload["unmatched_days"] == 1 and payload["observations"] == 29
    assert payload["last_pnl_date"] == DAY.isoformat()
    levels = {(m["method"], lv["confidence"]): lv for m in payload["methods"] for lv in m["levels"]}
    assert sorted({m for m, _ in levels}) == ["historical", "monte_carlo", "parametric"]

    historical_95 = levels[("historical", 0.95)]
    assert historical_95["observations"] == 29 and historical_95["exceptions"] == 4  # days 3, 4, 10, 20
    assert historical_95["kupiec_lr"] == pytest.approx(_kupiec(29, 4, 0.05), abs=1e-5)
    assert historical_95["kupiec_p_value"] == pytest.approx(chi2.sf(_kupiec(29, 4, 0.05), 1), abs=1e-5)
    assert historical_95["exception_dates"] == [SESSIONS[i + 1].isoformat() for i in (3, 4, 10, 20)]
    # Transitions over the 29 days (day 7 left out): exceptions at positions 3, 4, 9, 19 of the series.
    hits = [i in (3, 4, 9, 19) for i in range(29)]
    n = {(a, b): sum(1 for x, y in itertools.pairwise(hits) if (x, y) == (a, b)) for a in (0, 1) for b in (0, 1)}
    assert (historical_95["n00"], historical_95["n01"], historical_95["n10"], historical_95["n11"]) == (
        n[0, 0], n[0, 1], n[1, 0], n[1, 1]) == (21, 3, 3, 1)  # fmt: skip
    pi, pi0, pi1 = 4 / 28, 3 / 24, 1 / 4
    by_hand = -2 * math.log(((1 - pi) ** 24 * pi**4) / ((1 - pi0) ** 21 * pi0**3 * (1 - pi1) ** 3 * pi1))
    assert historical_95["christoffersen_lr"] == pytest.approx(by_hand, abs=1e-5)
    assert historical_95["christoffersen_p_value"] == pytest.approx(chi2.sf(by_hand, 1), abs=1e-5)
    assert historical_95["conditional_coverage_p_value"] == pytest.approx(
        chi2.sf(_kupiec(29, 4, 0.05) + by_hand, 2), abs=1e-5
    )

    historical_99 = levels[("historical", 0.99)]
    # One exception in 29 days at 99%: P(X <= 1) = 96.5% >= 95%, yellow by the Basel rule on a short window.
    assert binom.cdf(1, 29, 0.01) >= 0.95
    assert historical_99["exceptions"] == 1 and historical_99["zone"] == "yellow"
    assert historical_99["zone_observations"] == 29
    assert levels[("parametric", 0.99)]["exceptions"] == 1
    # Monte Carlo is tested on the days it was stored only: VaR days 21-29 (day 30 is today).
    assert levels[("monte_carlo", 0.95)]["observations"] == 9
    assert levels[("monte_carlo", 0.95)]["exceptions"] == 1  # day 25's -1,000 exceeds its 900
    assert payload["series"]["pnl"][19] == -2_500.0 and len(payload["series"]["var"]["historical_99"]) == 29


def test_a_portfolio_without_history_gets_an_empty_backtest_not_an_error(portfolio):
    outcome = batch_run(as_of=DAY, portfolio_ids=[portfolio.pk], steps=["backtest"], trigger="test")
    assert outcome.run.jobs.get(step="backtest").status == "completed"
    payload = PortfolioResult.objects.get(portfolio=portfolio, kind="backtest").payload
    assert payload["observations"] == 0 and payload["methods"] == []


def test_the_api_and_the_dashboard_show_the_zones_to_the_owner_only(history, other_user):
    from django.test import Client
    from django.urls import reverse

    from core.testing import bearer_client
    from reports.tests.factories import overview_payload

    batch_run(as_of=DAY, portfolio_ids=[history.pk], steps=["backtest"], trigger="test")
    PortfolioResult.objects.create(  # the dashboard shows its panels once the portfolio has an overview
        portfolio=history,
        kind="overview",
        as_of=DAY,
        payload=overview_payload(),
        method="test",
        data_source="simulated",
    )
    url = f"/api/v1/analytics/portfolios/{history.pk}/backtest"
    body = bearer_client("owner@example.com", "owner-pass-1").get(url).json()
    assert body["data"]["observations"] == 29
    assert bearer_client("other@example.com", "other-pass-1").get(url).status_code == 404
    web = Client()
    web.force_login(history.user)
    html = web.get(reverse("web:dashboard", args=[history.pk])).content.decode()
    assert 'data-figure="backtest_historical_99_zone">yellow<' in html
    assert 'data-figure="backtest_historical_95_exceptions">4<' in html


@pytest.fixture
def priced_demo(demo_data):
    from marketdata.services import prices_sync

    prices_sync(backfill_days=300, as_of=ANALYTICS_AS_OF, provider="simulated")
    return demo_data


def _stored_var(day: dt.date) -> dict:
    rows = PortfolioResult.objects.filter(kind="var", as_of=day).order_by("portfolio_id")
    return {str(r.portfolio_id): (r.payload, r.inputs, r.method, r.lookback_days, r.data_source) for r in rows}


@pytest.mark.slow
def test_backfill_var_recomputes_the_batchs_var_and_a_rerun_gives_identical_rows(priced_demo):
    outcome = batch_run(as_of=ANALYTICS_AS_OF, steps=["overview", "greeks", "factor_exposures", "var"], trigger="t")
    assert outcome.ok
    by_batch = {pid: row[0] for pid, row in _stored_var(ANALYTICS_AS_OF).items()}
    out = StringIO()
    call_command("backfill_var", "--days", "3", "--date", ANALYTICS_AS_OF.isoformat(), stdout=out)
    assert "VaR results written: 9 for 3 of 3 sessions" in out.getvalue()
    first = {day: _stored_var(day) for day in last_trading_days(count=3, as_of=ANALYTICS_AS_OF)}
    assert all(len(rows) == 3 for rows in first.values())
    # The backfill's last day is the batch's day: the same figures (the batch reads back its stored factor fit).
    for pid, (payload, inputs, *_) in first[ANALYTICS_AS_OF].items():
        for method in ("historical", "parametric"):
            for key in ("var_95", "var_99", "es_99"):
                assert payload[method][key] == pytest.approx(by_batch[pid][method][key], rel=1e-3), (pid, method, key)
        assert inputs["source"].startswith("backfill_var")
    call_command("backfill_var", "--days", "3", "--date", ANALYTICS_AS_OF.isoformat(), stdout=StringIO())
    assert {day: _stored_var(day) for day in first} == first
    assert PortfolioResult.objects.filter(kind="var").count() == 9


def test_backfill_var_refuses_bad_arguments_clearly(db):
    with pytest.raises(CommandError, match="--days must be at least 1"):
        call_command("backfill_var", "--days", "0")
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("backfill_var", "--date", "yesterday")
    with pytest.raises(CommandError, match="UUID"):
        call_command("backfill_var", "--portfolio", "nope")
    with pytest.raises(CommandError, match="No portfolio with id"):
        call_command("backfill_var", "--portfolio", "1d8ddd95-3b45-0ac5-35bf-cf81af94a5fe")
