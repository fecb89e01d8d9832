"""The tool registry: schemas, limits with truncation marked, not-computed results and user scoping."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from jsonschema import Draft202012Validator

from agent.tests.factories import results_make
from agent.tools import REGISTRY, ToolContext, tool_execute, tools_all
from analytics.models import BatchJob, BatchRun
from portfolios.models import Portfolio

# One get_<kind> tool per result kind.
ANALYTICS_TOOLS = (
    "get_overview", "get_snapshots", "get_greeks", "get_factor_exposures", "get_stress_test", "get_market_risk",
    "get_correlations", "get_var", "get_liquidity", "get_backtest",
)  # fmt: skip
EARLIER_NAMES = {
    "get_portfolio_overview": "get_overview",
    "get_performance": "get_snapshots",
    "get_stress_results": "get_stress_test",
    "get_market_scenarios": "get_market_risk",
}
PORTFOLIO_TOOLS = (*ANALYTICS_TOOLS, "list_positions", "get_data_quality", "get_batch_status")


@pytest.fixture
def other_portfolio(other_user) -> Portfolio:
    return Portfolio.objects.create(user=other_user, name="Other book", equity_balance=Decimal("5000000"))


def run(user, portfolio, name, **arguments):
    return tool_execute(name=name, arguments=arguments, context=ToolContext(user=user, portfolio_id=portfolio.id))


def test_every_tool_has_a_valid_schema_and_description():
    tools = tools_all()
    assert len(tools) >= 13
    for tool in tools:
        Draft202012Validator.check_schema(tool.parameters)
        assert tool.parameters["additionalProperties"] is False
        assert "portfolio_id" in tool.parameters["properties"]
        assert len(tool.description) > 30


@pytest.mark.parametrize("name", ANALYTICS_TOOLS)
def test_it_says_not_computed_rather_than_zeros(owner, portfolio, name):
    result = run(owner, portfolio, name)
    assert result["status"] == "not_computed"
    assert "python manage.py run_batch" in result["message"]
    assert "data" not in result


@pytest.mark.parametrize("name", PORTFOLIO_TOOLS)
def test_it_hides_other_users_portfolios_whatever_the_arguments(owner, portfolio, other_portfolio, name):
    results_make(other_portfolio, scale=50.0)
    result = run(owner, portfolio, name, portfolio_id=str(other_portfolio.id))
    assert result == {
        "status": "error",
        "error": {"code": "not_found", "message": f"Portfolio {other_portfolio.id} not found."},
    }
    # Even with the other portfolio as the conversation's default, the session user decides.
    result = tool_execute(name=name, arguments={}, context=ToolContext(user=owner, portfolio_id=other_portfolio.id))
    assert result["error"]["code"] == "not_found"


def test_a_malformed_portfolio_id_is_not_found(owner, portfolio):
    assert run(owner, portfolio, "get_var", portfolio_id="'; DROP TABLE x; --")["error"]["code"] == "not_found"


def test_a_user_can_name_another_of_their_own_portfolios(owner, portfolio):
    second = Portfolio.objects.create(user=owner, name="Second", equity_balance=Decimal("100000"))
    results_make(second)
    result = run(owner, portfolio, "get_var", portfolio_id=str(second.id))
    assert result["status"] == "ok"
    assert result["portfolio"] == {"id": str(second.id), "name": "Second"}


def test_arguments_are_validated_against_the_schema(owner, portfolio):
    assert run(owner, portfolio, "list_positions", limit=1000)["error"]["code"] == "invalid_arguments"
    assert run(owner, portfolio, "list_positions", bogus=1)["error"]["code"] == "invalid_arguments"
    assert run(owner, portfolio, "get_price_history")["error"]["code"] == "invalid_arguments"
    bad_json = tool_execute(name="get_var", arguments="{not json", context=ToolContext(owner, portfolio.id))
    assert bad_json["error"]["code"] == "invalid_arguments"
    assert run(owner, portfolio, "drop_tables")["error"]["code"] == "unknown_tool"


def test_list_positions_marks_truncation_and_filters(owner, portfolio):
    results_make(portfolio)
    result = run(owner, portfolio, "list_positions", limit=1)
    assert result["truncated"] is True and result["total"] == 3 and result["returned"] == 1
    assert result["data"]["positions"][0]["symbol"] == "AAPL"  # largest |market value|
    assert result["data"]["positions"][0]["market_value"] == 25000.0
    shorts = run(owner, portfolio, "list_positions", side="short")
    assert [p["symbol"] for p in shorts["data"]["positions"]] == ["XOM"] and shorts["truncated"] is False
    nvda = run(owner, portfolio, "list_positions", symbol="nvda")
    assert [p["position_type"] for p in nvda["data"]["positions"]] == ["LC"]
    tagged = run(owner, portfolio, "list_positions", tag="core 1.0")
    assert [p["symbol"] for p in tagged["data"]["positions"]] == ["AAPL"]


def test_results_carry_provenance_and_json_only(owner, portfolio):
    results_make(portfolio)
    for name in ANALYTICS_TOOLS:
        result = run(owner, portfolio, name)
        assert result["status"] == "ok", name
        assert result["provenance"]["as_of"] == "2026-11-20"
        assert result["provenance"]["data_source"] == "simulated"
        json.dumps(result)


def test_figures_come_from_the_stored_payloads(owner, portfolio):
    results_make(portfolio)
    assert run(owner, portfolio, "get_overview")["data"]["gross_exposure"] == 34000.0
    assert run(owner, portfolio, "get_greeks")["data"]["totals"]["dollar_delta"] == 6750.0
    assert run(owner, portfolio, "get_factor_exposures")["data"]["portfolio_betas"]["market"] == 1.12
    stress = run(owner, portfolio, "get_stress_test")
    assert stress["data"]["scenarios"][0]["id"] == "covid_crash"
    one = run(owner, portfolio, "get_stress_test", scenario="rates_up_100")
    assert [s["id"] for s in one["data"]["scenarios"]] == ["rates_up_100"]
    correlations = run(owner, portfolio, "get_correlations", pairs=1)
    assert correlations["data"]["top_pairs"] == [{"a": "AAPL", "b": "NVDA", "correlation": 0.72}]
    assert correlations["truncated"] is True
    var = run(owner, portfolio, "get_var", limit=1)
    assert var["data"]["historical"]["var_99"] == 2380.0
    assert var["data"]["historical_pct_of_equity"]["var_99"] == pytest.approx(0.0238)
    assert [c["symbol"] for c in var["data"]["contributions"]] == ["AAPL"] and var["truncated"] is True
    performance = run(owner, portfolio, "get_snapshots", days=30)
    assert performance["data"]["pnl"] == 420.0


def test_the_earlier_tool_names_still_answer_and_are_not_listed(owner, portfolio):
    results_make(portfolio)
    listed = {tool.name for tool in tools_all()}
    assert set(ANALYTICS_TOOLS) <= listed and not set(EARLIER_NAMES) & listed
    for earlier, name in EARLIER_NAMES.items():
        assert run(owner, portfolio, earlier) == run(owner, portfolio, name), earlier


def test_batch_status_shows_only_this_portfolios_jobs(owner, portfolio, other_portfolio):
    run_row = BatchRun.objects.create(as_of=dt.date(2026, 11, 20), status="partial")
    BatchJob.objects.create(run=run_row, step="prices", status="completed", sequence=0)
    BatchJob.objects.create(run=run_row, step="greeks", portfolio=portfolio, status="completed", sequence=1)
    BatchJob.objects.create(
        run=run_row, step="greeks", portfolio=other_portfolio, status="failed", sequence=2, error_summary="Other book"
    )
    result = run(owner, portfolio, "get_batch_status")
    assert [(j["step"], j["scope"]) for j in result["data"]["jobs"]] == [("prices", "market"), ("greeks", "portfolio")]
    assert "Other book" not in json.dumps(result)


def test_batch_status_before_any_run(owner, portfolio):
    assert run(owner, portfolio, "get_batch_status")["status"] == "not_computed"


def test_tools_are_listed_with_limits():
    assert REGISTRY["list_positions"].limits == {"rows": 100}
    assert REGISTRY["get_price_history"].limits == {"days": 252}
