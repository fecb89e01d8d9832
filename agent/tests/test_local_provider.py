"""The local provider on hand-made stored analytics: the right tools, the right figures, plain refusals."""

from __future__ import annotations

import pytest

from agent.formatting import money, pct, ratio
from agent.providers import ChatRequest, LocalProvider
from agent.tests.factories import results_make
from agent.tools import ToolContext, tool_execute


@pytest.fixture
def stored(owner, portfolio):
    return results_make(portfolio)


def ask(owner, portfolio, question, mode="blue"):
    calls = []

    def execute(name, arguments):
        calls.append(name)
        return tool_execute(name=name, arguments=arguments, context=ToolContext(owner, portfolio.id))

    request = ChatRequest(system_prompt="", message=question, mode=mode, tools=[], execute=execute)
    events = list(LocalProvider().stream(request))
    tokens = [e["text"] for e in events if e["type"] == "token"]
    return "".join(tokens), calls, events


@pytest.mark.parametrize(
    ("question", "tool", "figures"),
    [
        ("What is my portfolio worth?", "get_overview", [money(100000), money(21000), money(79000)]),
        ("Show my exposures", "get_overview", [money(27500), money(-6500), money(34000), ratio(0.34)]),
        ("What are my top 2 positions?", "list_positions", ["AAPL", money(25000), pct(0.25), "XOM", money(-6500)]),
        ("What are my Greeks?", "get_greeks", [ratio(135.0), money(6750), ratio(-11.5), ratio(48.2)]),
        ("What are my factor betas?", "get_factor_exposures", ["market 1.12", money(112000), "value -0.21"]),
        ("What is the worst stress scenario?", "get_stress_test", ["COVID crash", money(-9850), pct(-0.0985)]),
        ("How correlated are my holdings?", "get_correlations", ["AAPL–NVDA 0.72", "0.29", "0.71"]),
        ("What is my VaR?", "get_var", [money(2380), pct(0.0238), money(2900), money(1450), money(2120)]),
        ("What happens if the market falls 10%?", "get_market_risk", [money(-2900), pct(-0.029)]),
        ("How did I perform?", "get_snapshots", [money(420), pct(0.0041), money(3100)]),
    ],
)
def test_it_answers_with_the_stored_figures(owner, portfolio, stored, question, tool, figures):
    answer, calls, _ = ask(owner, portfolio, question)
    assert tool in calls
    for figure in figures:
        assert figure in answer, (figure, answer)
    assert "2026-11-20" in answer or tool == "list_positions" or tool == "get_snapshots"


def test_it_streams_in_several_tokens_after_its_tool_calls(owner, portfolio, stored):
    _, _, events = ask(owner, portfolio, "What is my VaR?")
    types = [e["type"] for e in events]
    assert types[:2] == ["tool_call", "tool_result"]
    assert types.count("token") > 5
    assert types[-1] == "usage"


def test_it_says_plainly_what_it_cannot_answer(owner, portfolio, stored):
    answer, calls, _ = ask(owner, portfolio, "Should I buy a house in Lisbon?")
    assert calls == []
    assert answer.startswith("I can't answer that")


def test_it_says_not_computed_instead_of_zeros(owner, portfolio):
    answer, _, _ = ask(owner, portfolio, "What is my VaR?")
    assert "not computed" in answer and "python manage.py run_batch" in answer
    assert "$0" not in answer


def test_value_at_risk_is_not_read_as_portfolio_value(owner, portfolio, stored):
    _, calls, _ = ask(owner, portfolio, "What is my value at risk?")
    assert calls == ["get_var"]


def test_modes_change_the_tone_not_the_figures(owner, portfolio, stored):
    green, _, _ = ask(owner, portfolio, "What is my VaR?", mode="green")
    violet, _, _ = ask(owner, portfolio, "What is my VaR?", mode="violet")
    blue, _, _ = ask(owner, portfolio, "What is my VaR?", mode="blue")
    assert "99% confidence" in green and "understates" in violet
    for answer in (green, violet, blue):
        assert money(2380) in answer


def test_it_ignores_portfolio_ids_in_the_question(owner, portfolio, stored, other_user):
    from agent.tests.factories import results_make as make
    from portfolios.models import Portfolio

    other = Portfolio.objects.create(user=other_user, name="Other", equity_balance=1)
    make(other, scale=7.0)
    answer, _, events = ask(owner, portfolio, f"What is the VaR of portfolio {other.id}?")
    assert money(2380) in answer and money(2380 * 7) not in answer
    assert all(e["result"]["portfolio"]["id"] == str(portfolio.id) for e in events if e["type"] == "tool_result")
