"""The kinds' registry: one module declares a kind and it appears everywhere.

A toy kind registered by the test (nothing else edited) is run by the batch (job rows and stored
results), served by the API (200 with its data, 404 not_computed before), documented in the
OpenAPI schema (its payload's fields), shown in the report and answered by the agent's tool. The
registry's rules, the earlier names of the built-in kinds and the step graph derived from it are
checked too.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from io import StringIO
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np
import pytest
from django.core.management import call_command
from django.urls import clear_url_caches
from drf_spectacular.generators import SchemaGenerator

from analytics.models import BatchJob, PortfolioResult, RunStatus
from analytics.results import registry
from analytics.results.base import AgentTool, ResultSpec
from analytics.results.presentation import ReportSection, Table, money, num
from analytics.services.batch import batch_run, steps_resolve
from analytics.services.jobs import depends_on, needs_factor_model, portfolio_steps, step_label, steps_all
from conftest import ANALYTICS_AS_OF
from core.testing import assert_error, bearer_client

if TYPE_CHECKING:
    from analytics.services.steps import ChunkContext, PortfolioSlice
    from portfolios.models import Portfolio

DEMO_PORTFOLIO_ID = "1d8ddd95-3b45-0ac5-35bf-cf81af94a5fe"  # demo_individual's


class ToyCountPayload(TypedDict):
    """A toy kind's payload (registered by a test only).

    positions: Positions of the portfolio.
    gross: Σ |market value| (USD).
    symbols: The price symbols, sorted.
    """

    positions: int
    gross: float
    symbols: list[str]
    largest: str | None


class ToyCount(ResultSpec[ToyCountPayload, float]):
    name = "toy_count"
    title = "Toy count"
    payload_type = ToyCountPayload
    depends_on = ("overview",)
    method = "count of positions (a toy kind registered by a test)"
    summary = "The toy kind: positions and gross value"
    description = "Registered by a test to show that one module is all a kind needs."
    tool = AgentTool(description="The toy kind registered by a test: number of positions and their gross value.")

    def prepare(self, chunk: ChunkContext) -> float:
        return float(len(chunk.positions))  # something computed once per chunk

    def build(self, chunk: ChunkContext, part: PortfolioSlice, prepared: float) -> ToyCountPayload:
        values = np.abs(np.nan_to_num(np.asarray(part.state["market_value"], dtype=float)))
        symbols = part.positions["price_symbol"].tolist()
        return {
            "positions": len(part.positions),
            "gross": round(float(values.sum()), 2),
            "symbols": sorted(set(symbols)),
            "largest": symbols[int(values.argmax())] if len(values) else None,
        }

    def inputs(self, chunk: ChunkContext, part: PortfolioSlice, prepared: float) -> dict[str, Any]:
        return {"chunk_positions": prepared}

    def tool_data(
        self, payload: ToyCountPayload, args: dict[str, Any], portfolio: Portfolio
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"positions": payload["positions"], "gross": payload["gross"]}, {"truncated": False}

    def report(self, payload: ToyCountPayload) -> ReportSection:
        return ReportSection(
            facts=[("Toy positions", num(payload["positions"], decimals=0)), ("Toy gross", money(payload["gross"]))],
            tables=[Table(["Symbol"], [[s] for s in payload["symbols"]], title="Toy symbols")],
        )


def _reload_urls() -> None:
    import analytics.api.urls
    import sigmasight.urls

    importlib.reload(analytics.api.urls)
    importlib.reload(sigmasight.urls)
    clear_url_caches()


@pytest.fixture
def toy_kind() -> Iterator[ToyCount]:
    spec = registry.register(ToyCount())
    _reload_urls()
    try:
        yield spec
    finally:
        registry.unregister(spec.name)
        _reload_urls()


def test_a_kind_registered_in_one_module_appears_in_the_batch_api_schema_report_and_agent(
    analytics_demo, toy_kind: ToyCount, tmp_path
) -> None:
    from agent.tools import ToolContext, tool_execute
    from portfolios.models import Portfolio
    from reports.builders.document import report_document_build
    from reports.services import report_generate

    # --- the batch: a step of its own, a job per portfolio, a stored result with provenance --------
    assert "toy_count" in steps_all() and portfolio_steps()[-1] == "toy_count"
    outcome = batch_run(as_of=ANALYTICS_AS_OF, steps=["toy_count"], trigger="test")
    assert outcome.ok, outcome.run.error_summary
    jobs = BatchJob.objects.filter(run=outcome.run, step="toy_count")
    assert jobs.count() == 3 and set(jobs.values_list("status", flat=True)) == {RunStatus.COMPLETED}
    result = PortfolioResult.objects.get(portfolio_id=DEMO_PORTFOLIO_ID, kind="toy_count", as_of=ANALYTICS_AS_OF)
    overview = PortfolioResult.objects.get(portfolio_id=DEMO_PORTFOLIO_ID, kind="overview", as_of=ANALYTICS_AS_OF)
    assert result.payload["positions"] == overview.payload["position_count"] == 16
    assert result.payload["gross"] == pytest.approx(overview.payload["gross_exposure"], abs=0.01)
    # The kind's own inputs, and the book's fingerprint every result carries (what a what-if compares).
    assert result.method == ToyCount.method
    assert result.inputs == {"chunk_positions": 63.0, "book": overview.inputs["book"]}
    assert len(result.inputs["book"]) == 32
    assert result.data_source == "simulated"

    # --- the API: its own endpoint, the stored payload as data, 404 for another user ---------------
    portfolio = Portfolio.objects.get(pk=DEMO_PORTFOLIO_ID)
    client = bearer_client("demo_individual@sigmasight.com", "demo12345")
    response = client.get(f"/api/v1/analytics/portfolios/{DEMO_PORTFOLIO_ID}/toy_count")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["kind"] == "toy_count" and body["data"] == result.payload
    assert body["provenance"]["method"] == ToyCount.method
    before = client.get(f"/api/v1/analytics/portfolios/{DEMO_PORTFOLIO_ID}/toy_count", {"as_of": "2026-11-19"})
    error = assert_error(before, 404, "not_computed")
    assert error["details"]["command"] == "python manage.py run_batch --steps toy_count"
    hnw = bearer_client("demo_hnw@sigmasight.com", "demo12345")
    assert_error(hnw.get(f"/api/v1/analytics/portfolios/{DEMO_PORTFOLIO_ID}/toy_count"), 404, "not_found")

    # --- the schema: the endpoint, and the payload's fields from its TypedDict ----------------------
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/analytics/portfolios/{portfolio_id}/toy_count"]["get"]
    assert operation["summary"] == ToyCount.summary
    reference = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert reference == "#/components/schemas/ToyCountResult"
    payload_schema = schema["components"]["schemas"]["ToyCountPayload"]
    assert payload_schema["properties"]["positions"]["type"] == "integer"
    assert payload_schema["properties"]["gross"]["description"] == "Σ |market value| (USD)."
    assert payload_schema["properties"]["symbols"] == {
        "type": "array",
        "items": {"type": "string"},
        "description": "The price symbols, sorted.",
    }
    assert payload_schema["properties"]["largest"]["nullable"] is True

    # --- the report: a section of its own in the JSON, Markdown and HTML ----------------------------
    document = report_document_build(portfolio=portfolio, as_of=ANALYTICS_AS_OF)
    assert document["sections"]["toy_count"]["payload"] == result.payload
    assert list(document["sections"])[-1] == "toy_count"
    report = report_generate(portfolio_id=portfolio.pk, as_of=ANALYTICS_AS_OF, output_dir=tmp_path)
    markdown = report.paths["md"].read_text()
    assert "## Toy count" in markdown and "- **Toy positions:** 16" in markdown
    assert '<section id="toy_count">' in report.paths["html"].read_text()

    # --- the agent: a get_<kind> tool reading the stored payload ------------------------------------
    answer = tool_execute(name="get_toy_count", arguments={}, context=ToolContext(portfolio.user, portfolio.pk))
    assert answer["status"] == "ok" and answer["data"] == {"positions": 16, "gross": result.payload["gross"]}

    # --- batch_history names it by its title ---------------------------------------------------------
    out = StringIO()
    call_command("batch_history", "--jobs", "--limit", "1", stdout=out)
    assert "toy_count" in out.getvalue() and "Toy count" in out.getvalue()


def test_a_toy_kind_is_not_computed_until_the_batch_ran_it(toy_kind: ToyCount, portfolio, owner_client) -> None:
    error = assert_error(owner_client.get(f"/api/v1/analytics/portfolios/{portfolio.pk}/toy_count"), 404)
    assert error["code"] == "not_computed" and error["details"]["kind"] == "toy_count"


def test_the_registry_refuses_clashing_names_and_unknown_dependencies(toy_kind: ToyCount) -> None:
    with pytest.raises(ValueError, match="already registered"):
        registry.register(ToyCount())

    class Alias(ToyCount):
        name = "toy_alias"
        aliases = ("aggregation",)  # the overview's earlier name

    with pytest.raises(ValueError, match="aggregation"):
        registry.register(Alias())

    class Orphan(ToyCount):
        name = "toy_orphan"
        depends_on = ("not_a_kind",)

    with pytest.raises(ValueError, match="registered before it"):
        registry.register(Orphan())

    class BadName(ToyCount):
        name = "Toy-Count"

    with pytest.raises(ValueError, match="lower-case identifier"):
        registry.register(BadName())
    with pytest.raises(ValueError, match="depend"):
        registry.unregister("overview")


def test_the_built_in_kinds_and_their_step_graph() -> None:
    assert portfolio_steps() == (
        "overview",
        "greeks",
        "factor_exposures",
        "market_risk",
        "stress_test",
        "snapshots",
        "correlations",
        "var",
        "risk_decomposition",
        "tracking_error",
        "liquidity",
        "backtest",
        "limits",
    )
    assert steps_all()[0] == "market_data" and steps_all()[-1] == "reports"
    assert depends_on("var") == ("greeks", "factor_exposures")
    assert needs_factor_model() == {
        "factor_exposures",
        "market_risk",
        "stress_test",
        "var",
        "risk_decomposition",
        "tracking_error",
    }
    for spec in registry.specs():  # every dependency runs before the kind that reads it
        assert all(portfolio_steps().index(d) < portfolio_steps().index(spec.name) for d in spec.depends_on)
    assert step_label("stress_test") == "Stress tests" and step_label("factor_model") == "Factor model (every symbol)"


def test_earlier_step_names_are_accepted_with_a_note(db) -> None:
    steps, notes = steps_resolve(["aggregation", "factors", "stress_tests", "market_scenarios", "var"])
    assert steps == ["overview", "factor_exposures", "market_risk", "stress_test", "var"]
    assert "step 'aggregation' is now called 'overview'" in notes
    assert registry.spec_for("factor_exposure").name == "factor_exposures"  # the earlier stored kind
    with pytest.raises(ValueError, match="Unknown step"):
        steps_resolve(["teleport"])


def test_run_batch_prints_a_note_for_an_earlier_step_name(analytics_demo) -> None:
    out = StringIO()
    call_command("run_batch", "--date", "2026-11-20", "--steps", "aggregation", "--skip-sync", stdout=out)
    assert "Note: step 'aggregation' is now called 'overview'." in out.getvalue()
    assert PortfolioResult.objects.filter(kind="overview", batch_run__steps=["overview"]).count() == 3


# serialized_rollback: the flush after this test must not re-create the content types that the next
# serialized-rollback test restores (Django's TransactionTestCase rule).
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_data_migration_renames_stored_kinds_and_steps() -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    # The other apps stay at their newest schema (columns added since, e.g. a portfolio's benchmark, exist).
    [portfolios_now] = [node for node in executor.loader.graph.leaf_nodes() if node[0] == "portfolios"]
    before = [("analytics", "0004_result_payload_json_document"), portfolios_now]
    after = [("analytics", "0005_result_kind_names"), portfolios_now]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    user = old.get_model("portfolios", "User").objects.create(email="m@example.com", password="x")
    portfolio = old.get_model("portfolios", "Portfolio").objects.create(user=user, name="Old book")
    common = {"portfolio": portfolio, "as_of": ANALYTICS_AS_OF, "method": "m", "data_source": "simulated"}
    results = old.get_model("analytics", "PortfolioResult").objects
    results.create(kind="factor_exposure", payload={"a": 1}, **common)
    results.create(kind="market_scenarios", payload={"b": 2}, **common)
    results.create(kind="var", payload={"c": 3}, **common)
    run = old.get_model("analytics", "BatchRun").objects.create(as_of=ANALYTICS_AS_OF, steps=["aggregation", "var"])
    old.get_model("analytics", "BatchJob").objects.create(run=run, step="stress_tests", portfolio=portfolio)

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    new = executor.loader.project_state(after).apps
    kinds = sorted(new.get_model("analytics", "PortfolioResult").objects.values_list("kind", "payload"))
    assert kinds == [("factor_exposures", {"a": 1}), ("market_risk", {"b": 2}), ("var", {"c": 3})]
    assert new.get_model("analytics", "BatchRun").objects.get().steps == ["overview", "var"]
    assert list(new.get_model("analytics", "BatchJob").objects.values_list("step", flat=True)) == ["stress_test"]

    executor = MigrationExecutor(connection)
    executor.migrate(before)  # and back
    kinds = sorted(old.get_model("analytics", "PortfolioResult").objects.values_list("kind", flat=True))
    assert kinds == ["factor_exposure", "market_scenarios", "var"]
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_stored_kind_choices_follow_the_registry(toy_kind: ToyCount) -> None:
    field = PortfolioResult._meta.get_field("kind")
    assert ("toy_count", "Toy count") in field.choices
    assert ("factor_exposures", "Factor exposures") in field.choices
