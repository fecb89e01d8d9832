"""The agent's evaluation set: questions a portfolio manager asks, with expected figures read from the selectors.

Each :class:`Case` names a demo user (so one of the three demo portfolios), a question (several
phrasings of each kind) and what a correct answer must contain: :class:`Figure` values computed
from the stored analytics through ``analytics.selectors`` (never typed in), or a refusal. The same
set runs against the local provider in the test suite (every figure must be there) and against an
OpenAI-compatible server with ``manage.py evaluate_agent`` (a correctness report).

Figures are matched by value, not by spelling: money within $1 or 0.5 %, percentages within 0.05
points, ratios within 0.01, names and dates as case-insensitive text.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from analytics.selectors import batch_run_latest_for_portfolio, portfolio_result_latest, position_metrics_latest
from marketdata.selectors import instruments_by_symbol
from portfolios.demo import demo_portfolio_id
from portfolios.models import Portfolio
from portfolios.selectors import positions_open

HNW = "demo_hnw@sigmasight.com"
HEDGE_FUND = "demo_hedgefundstyle@sigmasight.com"
INDIVIDUAL = "demo_individual@sigmasight.com"
DEMO_USERS = (HNW, HEDGE_FUND, INDIVIDUAL)
REFUSAL = re.compile(r"can(?:'|no)t answer", re.IGNORECASE)
NUMBER = re.compile(r"-?\$?\d[\d,]*(?:\.\d+)?")


@dataclass(frozen=True)
class Figure:
    """One thing an answer must state: ``kind`` is money (USD), pct (decimal), ratio, or text."""

    kind: str
    value: Any
    label: str

    def found_in(self, answer: str) -> bool:
        if self.kind == "text":
            return str(self.value).lower() in answer.lower()
        numbers = [float(n.replace("$", "").replace(",", "")) for n in NUMBER.findall(answer)]
        value = float(self.value)
        if self.kind == "money":
            return any(abs(abs(n) - abs(value)) <= max(1.0, 0.005 * abs(value)) for n in numbers)
        if self.kind == "pct":
            return any(abs(abs(n) - abs(value * 100.0)) <= 0.05 for n in numbers)
        return any(abs(n - value) <= 0.01 * max(1.0, abs(value)) or abs(abs(n) - abs(value)) <= 0.011 for n in numbers)


Expect = Callable[[Portfolio], list[Figure]]


@dataclass(frozen=True)
class Case:
    id: str
    email: str
    question: str
    expect: Expect | None  # None: the agent must decline
    must_say: tuple[str, ...] = field(default=())


# --- expected figures, from the selectors ------------------------------------------------------


def _payload(portfolio: Portfolio, kind: str) -> tuple[dict[str, Any], str]:
    result = portfolio_result_latest(portfolio_id=portfolio.id, kind=kind)
    if result is None:
        raise LookupError(f"{kind} is not computed for {portfolio.name}")
    return result.payload, result.as_of.isoformat()


def _as_of(portfolio: Portfolio, kind: str) -> Figure:
    return Figure("text", _payload(portfolio, kind)[1], f"{kind} as-of date")


def var_figures(portfolio: Portfolio) -> list[Figure]:
    payload, _ = _payload(portfolio, "var")
    return [Figure("money", payload["historical"]["var_99"], "99% historical VaR"), _as_of(portfolio, "var")]


def _var_drivers(portfolio: Portfolio, n: int = 3) -> list[Figure]:
    payload, _ = _payload(portfolio, "var")
    ranked = sorted(payload["contributions"], key=lambda c: -(c.get("historical_var_99") or 0.0))
    return [Figure("text", c["symbol"], f"VaR driver {c['symbol']}") for c in ranked[:n]]


def _worst(portfolio: Portfolio) -> list[Figure]:
    payload, _ = _payload(portfolio, "stress_test")
    worst = min(payload["scenarios"], key=lambda s: s["conditioned_pnl"])
    return [Figure("text", worst["name"], "worst scenario"), Figure("money", worst["conditioned_pnl"], "worst P&L")]


def biggest_risk(portfolio: Portfolio) -> list[Figure]:
    return [*_var_drivers(portfolio), *_worst(portfolio), _as_of(portfolio, "var")]


def analysis(portfolio: Portfolio) -> list[Figure]:
    overview, _ = _payload(portfolio, "overview")
    return [
        *var_figures(portfolio),
        *_worst(portfolio),
        Figure("money", overview["gross_exposure"], "gross exposure"),
        Figure("ratio", overview["leverage"], "leverage"),
    ]


def value(portfolio: Portfolio) -> list[Figure]:
    overview, _ = _payload(portfolio, "overview")
    return [Figure("money", overview["equity_balance"], "equity"), _as_of(portfolio, "overview")]


def exposures(portfolio: Portfolio) -> list[Figure]:
    overview, _ = _payload(portfolio, "overview")
    return [
        Figure("money", overview["gross_exposure"], "gross"),
        Figure("money", overview["net_exposure"], "net"),
        Figure("ratio", overview["leverage"], "leverage"),
        _as_of(portfolio, "overview"),
    ]


def delta_to(symbol: str) -> Expect:
    def expect(portfolio: Portfolio) -> list[Figure]:
        overview, as_of = _payload(portfolio, "overview")
        row = overview["by_underlying"].get(symbol)
        if row is None:
            return [Figure("text", f"no position in {symbol}", "no exposure"), Figure("text", as_of, "as of")]
        return [
            Figure("ratio", round(row["share_delta"], 1), f"{symbol} share delta"),
            Figure("money", row["dollar_delta"], f"{symbol} dollar delta"),
            Figure("text", as_of, "as of"),
        ]

    return expect


def scenario(scenario_id: str) -> Expect:
    def expect(portfolio: Portfolio) -> list[Figure]:
        payload, as_of = _payload(portfolio, "stress_test")
        row = next(s for s in payload["scenarios"] if s["id"] == scenario_id)
        return [
            Figure("text", row["name"], "scenario"),
            Figure("money", row["conditioned_pnl"], "scenario P&L"),
            Figure("pct", row["conditioned_pct"], "scenario % of equity"),
            Figure("text", as_of, "as of"),
        ]

    return expect


def worst_stress(portfolio: Portfolio) -> list[Figure]:
    return [*_worst(portfolio), _as_of(portfolio, "stress_test")]


def market_beta(portfolio: Portfolio) -> list[Figure]:
    payload, _ = _payload(portfolio, "factor_exposures")
    return [Figure("ratio", payload["portfolio_betas"]["market"], "market beta"), _as_of(portfolio, "factor_exposures")]


def greeks(portfolio: Portfolio) -> list[Figure]:
    payload, _ = _payload(portfolio, "greeks")
    return [Figure("money", payload["totals"]["dollar_delta"], "dollar delta"), _as_of(portfolio, "greeks")]


def top_positions(n: int) -> Expect:
    def expect(portfolio: Portfolio) -> list[Figure]:
        metrics = position_metrics_latest(portfolio_id=portfolio.id)
        positions = {p.id: p for p in positions_open(portfolio_ids=[portfolio.id])}
        ranked = sorted(
            (m for m in metrics.values() if m.position_id in positions and m.market_value is not None),
            key=lambda m: -abs(m.market_value or 0.0),
        )
        return [Figure("text", positions[m.position_id].symbol, "top position") for m in ranked[:n]] + [
            Figure("money", ranked[0].market_value, "largest market value")
        ]

    return expect


def freshness(portfolio: Portfolio) -> list[Figure]:
    run, _ = batch_run_latest_for_portfolio(portfolio_id=portfolio.id)
    if run is None:
        raise LookupError("no batch run")
    return [Figure("text", run.as_of.isoformat(), "batch as of"), Figure("text", run.status, "batch status")]


def hedge(group_sector: str, tag_word: str) -> Expect:
    """The beta-weighted (market factor) exposure of the positions in a sector or a tag naming the group."""

    def expect(portfolio: Portfolio) -> list[Figure]:
        payload, _ = _payload(portfolio, "factor_exposures")
        positions = list(positions_open(portfolio_ids=[portfolio.id]).prefetch_related("tags"))
        symbols = [(p.underlying_symbol or p.symbol).upper() for p in positions]
        sectors = {s: i.sector for s, i in instruments_by_symbol(symbols=symbols).items()}
        members = {
            str(p.id)
            for p, s in zip(positions, symbols, strict=True)
            if (sectors.get(s) or "").lower() == group_sector.lower()
            or any(tag_word in t.name.lower() for t in p.tags.all())
        }
        beta_weighted = sum(
            (row.get("exposures") or {}).get("market", 0.0) or 0.0
            for row in payload["positions"]
            if str(row["position_id"]) in members
        )
        return [Figure("money", abs(beta_weighted), "index hedge notional"), Figure("text", "not advice", "label")]

    return expect


# --- the set -----------------------------------------------------------------------------------

PHRASINGS: tuple[tuple[str, tuple[str, ...], Expect | None, tuple[str, ...]], ...] = (
    ("var", ("What is my VaR?", "What's my one-day value at risk?"), var_figures, ()),
    ("biggest_risk", ("What is my biggest risk?", "What are the main risks in my book?"), biggest_risk, ()),
    ("analyze", ("Analyze my risk", "Give me a risk summary"), analysis, ()),
    ("value", ("What is my portfolio worth?",), value, ()),
    ("exposure", ("How levered am I? Show my gross and net exposure.",), exposures, ()),
    ("delta_nvda", ("What is my delta to NVDA?", "How exposed am I to nvda?"), delta_to("NVDA"), ()),
    ("delta_aapl", ("What's my exposure to $AAPL?",), delta_to("AAPL"), ()),
    ("crash_2008", ("How much would I lose in a 2008-style crash?", "What if the financial crisis happened again?"),
     scenario("financial_crisis_2008"), ()),
    ("covid", ("What would a covid crash do to me?",), scenario("covid_crash_2020"), ()),
    ("dotcom", ("Replay the dot-com bust on my portfolio",), scenario("dotcom_crash_2000"), ()),
    ("worst_stress", ("What is my worst stress scenario?",), worst_stress, ()),
    ("beta", ("What is my market beta?",), market_beta, ()),
    ("greeks", ("What are my Greeks?",), greeks, ()),
    ("top3", ("What are my top 3 positions?",), top_positions(3), ()),
    ("fresh", ("Is my data up to date?", "When was my data last updated?"), freshness, ()),
    ("hedge_tech", ("Hedge my tech", "How do I hedge my tech exposure?"), hedge("Technology", "tech"), ()),
    ("violet", ("/mode violet What is my biggest risk?",), biggest_risk, ("worst scenario, not the VaR",)),
    ("green", ("/mode green Analyze my risk",), analysis, ("exposure larger than your own money",)),
    ("decline_advice", ("Should I buy more NVDA?",), None, ()),
    ("decline_predict", ("Predict the S&P 500 for next year",), None, ()),
    ("decline_other", ("What's the weather in Boston?",), None, ()),
)  # fmt: skip


def eval_cases() -> list[Case]:
    """Every phrasing for every demo portfolio (66 cases)."""
    cases = []
    for email in DEMO_USERS:
        short = email.split("@")[0].removeprefix("demo_")
        for name, questions, expect, must_say in PHRASINGS:
            for index, question in enumerate(questions):
                cases.append(Case(f"{short}.{name}.{index}", email, question, expect, must_say))
    return cases


@dataclass
class Outcome:
    case: Case
    answer: str
    expected: list[Figure]
    missing: list[str]
    first_token_ms: float | None
    latency_ms: float

    @property
    def ok(self) -> bool:
        return not self.missing


def case_check(case: Case, portfolio: Portfolio, answer: str) -> tuple[list[Figure], list[str]]:
    """(expected figures, what is missing from the answer) — a decline must say it cannot answer."""
    if case.expect is None:
        return [], [] if REFUSAL.search(answer) else ["a refusal"]
    expected = case.expect(portfolio)
    missing = [f"{f.label} ({f.value})" for f in expected if not f.found_in(answer)]
    missing += [f"'{text}'" for text in case.must_say if text.lower() not in answer.lower()]
    if not re.search(r"Source: .*as of \d{4}-\d{2}-\d{2}|as of \d{4}-\d{2}-\d{2}", answer):
        missing.append("provenance (as-of date and source)")
    return expected, missing


def evaluate(ask: Callable[[Case, Portfolio], dict[str, Any]], cases: list[Case] | None = None) -> list[Outcome]:
    """Ask every case (``ask`` returns the chat answer dict) and check it; sync (ORM)."""
    outcomes = []
    for case in cases or eval_cases():
        portfolio = Portfolio.objects.get(pk=demo_portfolio_id(case.email))
        started = time.perf_counter()
        answer = ask(case, portfolio)
        latency = (time.perf_counter() - started) * 1000.0
        expected, missing = case_check(case, portfolio, answer.get("reply") or "")
        outcomes.append(
            Outcome(case, answer.get("reply") or "", expected, missing, answer.get("first_token_ms"), latency)
        )
    return outcomes


def _figures_missed(outcome: Outcome) -> int:
    return len([m for m in outcome.missing if not m.startswith(("'", "provenance", "a refusal"))])


def report(outcomes: list[Outcome]) -> dict[str, Any]:
    """Correctness over the set: cases passed, figures found, and each failure with what it missed."""
    figures = sum(len(o.expected) for o in outcomes)
    found = sum(len(o.expected) - _figures_missed(o) for o in outcomes)
    return {
        "cases": len(outcomes),
        "passed": sum(o.ok for o in outcomes),
        "figures_expected": figures,
        "figures_found": found,
        "correct_pct": round(100.0 * sum(o.ok for o in outcomes) / max(1, len(outcomes)), 1),
        "failures": [
            {"id": o.case.id, "question": o.case.question, "missing": o.missing, "answer": o.answer[:600]}
            for o in outcomes
            if not o.ok
        ],
    }
