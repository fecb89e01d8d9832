"""The local provider on the standard questions about the three demo portfolios (after the real batch).

Each expected figure is read here from the analytics selectors (or the market data selectors),
formatted with the shared helpers, and must appear in the answer. One test per demo portfolio,
so that the ``analytics_demo`` fixture (seed, simulated prices, batch) runs three times, not 24.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.utils import timezone

from agent.formatting import money, pct, ratio
from agent.services import chat_complete
from analytics.selectors import batch_run_latest, portfolio_result_latest, position_metrics_latest, snapshot_latest
from marketdata.selectors import latest_closes
from portfolios.demo import demo_portfolio_id
from portfolios.models import Portfolio

# Marked so that pytest-django orders these with the other database tests, before transactional
# tests flush the tables (and with them the stress scenario catalog seeded by a migration).
pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(request):
    try:
        return request.getfixturevalue("analytics_demo")
    except pytest.FixtureLookupError:
        pytest.skip("the root conftest has no analytics_demo fixture (demo seed + simulated prices + batch)")


def payload(portfolio: Portfolio, kind: str) -> dict:
    result = portfolio_result_latest(portfolio_id=portfolio.id, kind=kind)
    assert result is not None, f"{kind} not computed for {portfolio.name}"
    return result.payload


def worth(p: Portfolio) -> list[str]:
    o = payload(p, "overview")
    return [money(o["equity_balance"]), money(o["market_value"]), money(o["cash"]), money(o["unrealised_pnl"])]


def performance(p: Portfolio) -> list[str]:
    s = snapshot_latest(portfolio_id=p.id)
    return [money(s.daily_pnl), pct(s.daily_return), money(s.cumulative_pnl)]


def exposures(p: Portfolio) -> list[str]:
    o = payload(p, "overview")
    keys = ("long_exposure", "short_exposure", "gross_exposure", "net_exposure", "delta_adjusted_exposure")
    return [money(o[k]) for k in keys] + [f"{ratio(o['leverage'])}x"]


def top3(p: Portfolio) -> list[str]:
    metrics = sorted(position_metrics_latest(portfolio_id=p.id).values(), key=lambda m: -abs(m.market_value or 0))
    return [f"{m.position.symbol} ({m.position.position_type}) {money(m.market_value)}" for m in metrics[:3]]


def greeks(p: Portfolio) -> list[str]:
    t = payload(p, "greeks")["totals"]
    return [
        f"delta {ratio(t['delta'])}",
        money(t["dollar_delta"]),
        f"theta {ratio(t['theta'])}",
        f"vega {ratio(t['vega'])}",
    ]


def betas(p: Portfolio) -> list[str]:
    f = payload(p, "factor_exposures")
    return [f"market {ratio(f['portfolio_betas']['market'])}", money(f["dollar_exposures"]["market"])] + [
        f"{name.replace('_', ' ')} {ratio(beta)}" for name, beta in f["portfolio_betas"].items()
    ]


def worst_stress(p: Portfolio) -> list[str]:
    worst = min(payload(p, "stress_test")["scenarios"], key=lambda s: s["conditioned_pnl"])
    return [worst["name"], money(worst["conditioned_pnl"]), pct(worst["conditioned_pct"])]


def correlations(p: Portfolio) -> list[str]:
    c = payload(p, "correlations")
    n = len(c["symbols"])
    highest = max(c["matrix"][i][j] for i in range(n) for j in range(i + 1, n))
    return [ratio(c["average_abs_correlation"]), ratio(c["diversification_score"]), ratio(highest)]


def var(p: Portfolio) -> list[str]:
    v = payload(p, "var")
    equity = payload(p, "overview")["equity_balance"]
    h = v["historical"]
    return [
        money(h["var_99"]),
        money(h["es_99"]),
        money(h["var_95"]),
        pct(h["var_99"] / equity),
        money(v["parametric"]["var_99"]),
    ]


def market_down_10(p: Portfolio) -> list[str]:
    s = next(s for s in payload(p, "market_risk")["scenarios"] if abs(s["shock"] + 0.10) < 1e-9)
    return [f"{s['name']} {money(s['pnl'])} ({pct(s['pnl_pct_of_equity'])})"]


def quote(symbol: str) -> Callable[[Portfolio], list[str]]:
    def expected(p: Portfolio) -> list[str]:
        # The quote tool reports the latest stored close, whatever day the batch last ran for.
        close = latest_closes(symbols=[symbol], as_of=timezone.localdate())[symbol]
        return [f"{symbol} {money(close.close)}", str(close.date)]

    return expected


def batch(p: Portfolio) -> list[str]:
    run = batch_run_latest()
    return [str(run.as_of), run.status]


COMMON = [
    ("What is my portfolio worth?", worth),
    ("How did I perform?", performance),
    ("Show me my exposures and leverage", exposures),
    ("What are my top 3 positions?", top3),
    ("What is the worst stress scenario for me?", worst_stress),
    ("What is my value at risk?", var),
]
PER_PORTFOLIO = {
    "demo_individual@sigmasight.com": [
        ("What are my factor betas?", betas),
        ("How diversified am I — how correlated are my holdings?", correlations),
        ("What is the last close of SPY?", quote("SPY")),
    ],
    "demo_hnw@sigmasight.com": [
        ("What would happen if the market drops 10%?", market_down_10),
        ("Give me a summary of my portfolio value", worth),
        ("What is my beta to the market?", betas),
    ],
    "demo_hedgefundstyle@sigmasight.com": [
        ("What are my options Greeks?", greeks),
        ("How much VaR and expected shortfall do I carry?", var),
        ("Which holdings are most correlated?", correlations),
        ("Did the batch run today?", batch),
    ],
}


@pytest.mark.parametrize("email", sorted(PER_PORTFOLIO))
def test_standard_questions_get_the_right_figures(demo, email):
    portfolio = Portfolio.objects.select_related("user").get(pk=demo_portfolio_id(email))
    questions = COMMON + PER_PORTFOLIO[email]
    problems = []
    for question, expected in questions:
        answer = chat_complete(user=portfolio.user, message=question, portfolio_id=portfolio.id)
        assert answer["error"] is None, (question, answer["error"])
        assert answer["tool_calls"], question
        missing = [figure for figure in expected(portfolio) if figure not in answer["reply"]]
        if missing:
            problems.append(f"{question!r}: missing {missing} in {answer['reply']!r}")
    assert not problems, "\n".join(problems)


def test_there_are_at_least_twenty_standard_questions():
    assert sum(len(COMMON) + len(extra) for extra in PER_PORTFOLIO.values()) >= 20


def test_it_refuses_what_it_cannot_answer_on_the_demo(demo):
    portfolio = Portfolio.objects.select_related("user").get(pk=demo_portfolio_id("demo_hnw@sigmasight.com"))
    answer = chat_complete(user=portfolio.user, message="Will the Fed cut rates in March?", portfolio_id=portfolio.id)
    assert answer["reply"].startswith("I can't answer that") and answer["tool_calls"] == []
