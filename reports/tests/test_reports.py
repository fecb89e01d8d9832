"""Reports written from stored analytics: files, exact JSON numbers, CSV rows, charts, missing sections."""

from __future__ import annotations

import csv
import json
import os
import re
import xml.etree.ElementTree as ET
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from analytics.models import PortfolioResult
from analytics.results import registry, spec_for
from core.errors import ApplicationError, NotFoundError
from reports.services import report_generate, reports_generate_all
from reports.tests.factories import AS_OF, FACTORS, analytics_create, payloads

pytestmark = pytest.mark.django_db

FILES = ("portfolio_report.md", "portfolio_report.json", "portfolio_report.csv", "portfolio_report.html")


@pytest.fixture
def stored(portfolio):
    return analytics_create(portfolio)


@pytest.fixture
def report(portfolio, stored, tmp_path):
    return report_generate(portfolio_id=portfolio.id, as_of=AS_OF, output_dir=tmp_path)


def read_json(result) -> dict:
    return json.loads(result.paths["json"].read_text())


def test_it_writes_the_four_files_in_the_slug_and_date_folder(portfolio, report, tmp_path):
    folder = tmp_path / f"owner-book_{AS_OF.isoformat()}"
    assert report.ok and report.directory == folder
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    assert report.paths == {ext: folder / f"portfolio_report.{ext}" for ext in ("md", "json", "csv", "html")}
    assert report.data_source == "simulated"
    umask = os.umask(0)
    os.umask(umask)
    assert folder.stat().st_mode & 0o777 == 0o777 & ~umask  # readable by others as the umask allows, not 0700


def test_json_numbers_equal_the_stored_payloads_exactly(report, stored):
    document = read_json(report)
    for kind, payload in payloads().items():
        section = document["sections"][kind]
        assert section["status"] == "ok"
        assert section["payload"] == payload  # == on floats: exact, not approximately
        assert section["provenance"]["as_of"] == AS_OF.isoformat()
        assert section["provenance"]["data_source"] == "simulated"
        assert section["provenance"]["lookback_days"] == 252
        assert section["provenance"]["method"] == stored["results"][kind].method
    snapshot = document["sections"]["snapshots"]["payload"]
    assert snapshot["delta_adjusted_exposure"] == stored["snapshot"].delta_adjusted_exposure
    assert snapshot["daily_return"] == 0.012345
    rows = {row["symbol"]: row for row in document["sections"]["positions"]["rows"]}
    aapl = stored["metrics"]["AAPL"]
    assert rows["AAPL"]["price"] == aapl.price == 187.43000000000001
    assert rows["AAPL"]["unrealised_pnl"] == 3743.0000000000005
    assert rows["AAPL"]["factor_betas"] == aapl.factor_betas
    assert document["data_source"] == "simulated"
    assert document["data_source_label"] == "simulated (offline simulated market data)"


def test_csv_has_one_row_per_position_with_the_stored_values(report, stored):
    rows = list(csv.DictReader(StringIO(report.paths["csv"].read_text())))
    assert len(rows) == 3
    columns = list(rows[0])
    assert columns[:11] == [
        "symbol",
        "type",
        "quantity",
        "price",
        "market_value",
        "unrealised_pnl",
        "position_delta",
        "position_gamma",
        "position_theta",
        "position_vega",
        "dollar_delta",
    ]
    assert [c for c in columns if c.startswith("beta_")] == [f"beta_{f}" for f in FACTORS]
    assert "tags" in columns
    by_symbol = {row["symbol"]: row for row in rows}
    call = by_symbol["SPY261218C00600000"]
    metric = stored["metrics"]["CALL"]
    assert call["type"] == "LC" and call["quantity"] == "2"
    assert float(call["dollar_delta"]) == metric.dollar_delta == 73456.789
    assert float(call["position_gamma"]) == metric.position_gamma
    assert float(call["position_theta"]) == -25.5
    assert call["tags"] == "Hedge;Tech"
    aapl = by_symbol["AAPL"]
    assert float(aapl["price"]) == 187.43000000000001
    assert float(aapl["beta_market"]) == 1.1234567890123
    assert aapl["position_gamma"] == ""  # not computed for a stock: blank, never 0
    assert by_symbol["XOM"]["quantity"] == "-50"


def test_html_embeds_server_rendered_charts_and_names_the_data_source(report):
    html = report.paths["html"].read_text()
    assert html.count("<svg") == 6  # exposures, factor betas, stress, correlation heatmap, risk, active betas
    assert "Data source: simulated (offline simulated market data)" in html
    assert "<script" not in html
    for section in ("overview", "factor_exposures", "stress_test", "correlations"):
        start = html.index(f'<section id="{section}">')
        assert "<svg" in html[start : html.index("</section>", start)]
    # the worst scenario is highlighted in the table and coloured apart in the chart
    assert '<tr class="highlight"><td>Global financial crisis</td>' in html
    assert "#b71c1c" in html


def test_html_escapes_text_that_comes_from_the_database(portfolio, stored, tmp_path):
    portfolio.name = "<b>Owner</b> & Co"
    portfolio.save(update_fields=["name"])
    html = report_generate(portfolio_id=portfolio.id, as_of=AS_OF, output_dir=tmp_path).paths["html"].read_text()
    assert "<h1>Portfolio report — &lt;b&gt;Owner&lt;/b&gt; &amp; Co</h1>" in html
    assert "<b>Owner" not in html


def test_each_chart_inlined_in_the_html_is_well_formed_svg(report):
    html = report.paths["html"].read_text()
    charts = re.findall(r"<svg\b.*?</svg>", html, flags=re.DOTALL)
    assert len(charts) == 6
    roots = [ET.fromstring(svg) for svg in charts]  # noqa: S314 (our own output) — raises if malformed
    titles = [root.findtext("{http://www.w3.org/2000/svg}title") for root in roots]
    assert titles == [
        "Exposures (USD)",
        "Portfolio factor betas",
        "Stress tests: conditioned P&L (worst in red)",
        "Correlation matrix",
        "Contribution to predicted volatility (USD)",
        "Active betas against the benchmark",
    ]


def test_markdown_names_the_source_and_each_sections_provenance(report):
    md = report.paths["md"].read_text()
    assert "**Data source: simulated (offline simulated market data)**" in md
    assert "As of 2026-11-20 · method: ols_spreads_over_market · lookback: 252 trading days" in md
    assert "- **Gross exposure:** $26,838" in md
    assert "- **Short exposure:** -$5,055" in md
    assert "- **Daily return:** 1.23%" in md
    assert "| **Global financial crisis** ◀ worst |" in md
    assert "Betas with limited history: XOM (limited)" in md
    assert "- **Predicted volatility (annual):** $25,000" in md
    assert "- **Tracking error (annual):** 8.00%" in md
    assert "- **Factor share of variance:** 64.0%" in md
    assert "| Monte Carlo (10,000 paths) | $1,210 | $1,490 | $1,910 | $2,310 |" in md
    assert r"student\_t, 5 dof" in md  # Markdown-escaped: an underscore is never emphasis


def test_a_section_never_computed_says_so_with_its_command(report):
    command = spec_for("market_risk").command
    assert command == "python manage.py run_batch --steps market_risk"
    assert report.missing_sections == ["market_risk"]
    document = read_json(report)
    section = document["sections"]["market_risk"]
    assert section == {
        "status": "not_computed",
        "title": "Market scenarios",
        "message": "Not computed: no stored result for this portfolio on or before 2026-11-20.",
        "command": command,
    }
    md = report.paths["md"].read_text()
    block = md[md.index("## Market scenarios") : md.index("## Stress tests")]
    assert "Not computed" in block and f"`{command}`" in block and "$0" not in block
    html = report.paths["html"].read_text()
    block = html[html.index('<section id="market_risk">') : html.index('<section id="stress_test">')]
    assert "Not computed" in block and command in block


def test_a_portfolio_without_analytics_lists_positions_but_no_numbers(portfolio, tmp_path):
    from reports.tests.factories import positions_create

    positions_create(portfolio)
    result = report_generate(portfolio_id=portfolio.id, as_of=AS_OF, output_dir=tmp_path)
    document = read_json(result)
    assert set(result.missing_sections) == set(document["sections"])
    assert document["data_source_label"] == "none (no stored analytics)"
    rows = list(csv.DictReader(StringIO(result.paths["csv"].read_text())))
    assert len(rows) == 3 and all(row["price"] == "" and row["market_value"] == "" for row in rows)
    html = result.paths["html"].read_text()
    assert "<svg" not in html and "python manage.py run_batch" in html


def test_as_of_picks_the_newest_result_on_or_before_it(portfolio, stored, tmp_path):
    later = AS_OF.replace(day=23)
    newer = {**payloads()["var"], "horizon_days": 1, "historical": {"var_95": 9.5, "observations": 10}}
    PortfolioResult.objects.create(
        portfolio=portfolio, kind="var", payload=newer, as_of=later, method="m", data_source="simulated"
    )
    old = read_json(report_generate(portfolio_id=portfolio.id, as_of=AS_OF, formats=("json",), output_dir=tmp_path))
    assert old["sections"]["var"]["payload"] == payloads()["var"]
    default = report_generate(portfolio_id=portfolio.id, formats=("json",), output_dir=tmp_path)
    assert default.as_of == later and default.directory.name == "owner-book_2026-11-23"
    document = read_json(default)
    assert document["sections"]["var"]["payload"] == newer
    assert "before the report date" in document["sections"]["overview"]["note"]


def test_a_rerun_replaces_the_files_and_leaves_no_temporary_folder(portfolio, stored, report, tmp_path):
    result = PortfolioResult.objects.get(portfolio=portfolio, kind="var")
    result.payload = {**result.payload, "horizon_days": 10}
    result.save()
    again = report_generate(portfolio_id=portfolio.id, as_of=AS_OF, output_dir=tmp_path)
    assert read_json(again)["sections"]["var"]["payload"]["horizon_days"] == 10
    assert [p.name for p in tmp_path.iterdir()] == [again.directory.name]
    assert sorted(p.name for p in again.directory.iterdir()) == sorted(FILES)
    only_md = report_generate(portfolio_id=portfolio.id, as_of=AS_OF, formats=["md"], output_dir=tmp_path)
    assert list(only_md.paths) == ["md"]
    assert [p.name for p in tmp_path.iterdir()] == [again.directory.name]


def test_reports_default_to_the_reports_dir_setting(portfolio, stored, settings, tmp_path):
    settings.REPORTS_DIR = tmp_path / "out"
    result = report_generate(portfolio_id=portfolio.id, as_of=AS_OF, formats=("json",))
    assert result.paths["json"] == tmp_path / "out" / "owner-book_2026-11-20" / "portfolio_report.json"


def test_bad_input_raises_application_errors(portfolio, tmp_path):
    with pytest.raises(ApplicationError, match="pdf"):
        report_generate(portfolio_id=portfolio.id, formats=("pdf",), output_dir=tmp_path)
    with pytest.raises(NotFoundError):
        report_generate(portfolio_id="00000000-0000-0000-0000-000000000000", output_dir=tmp_path)
    with pytest.raises(NotFoundError):
        report_generate(portfolio_id="not-a-uuid", output_dir=tmp_path)


def test_generate_all_records_a_failure_and_goes_on(portfolio, stored, tmp_path):
    results = reports_generate_all(
        as_of=AS_OF,
        portfolio_ids=["00000000-0000-0000-0000-000000000000", portfolio.id],
        formats=("json",),
        output_dir=tmp_path,
    )
    assert [r.ok for r in results] == [False, True]
    assert "not found" in results[0].error


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("generate_reports", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_prints_each_file_written(portfolio, stored, tmp_path):
    out, _ = run("--portfolio", str(portfolio.id), "--date", "2026-11-20", "--output-dir", str(tmp_path))
    for name in FILES:
        assert f"wrote {tmp_path / 'owner-book_2026-11-20' / name}" in out
    assert "data source: simulated" in out and "not computed: market_risk" in out
    assert "1 report(s) written, 0 failed." in out


def test_the_command_limits_formats(portfolio, stored, tmp_path):
    _out, _ = run("--format", "json,csv", "--output-dir", str(tmp_path), "--date", "2026-11-20")
    assert sorted(p.name for p in (tmp_path / "owner-book_2026-11-20").iterdir()) == [
        "portfolio_report.csv",
        "portfolio_report.json",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "20/11/2026"], "--date"),
        (["--format", "md,pdf"], "--format"),
        (["--portfolio", "abc"], "--portfolio"),
    ],
)
def test_the_command_rejects_bad_input(db, tmp_path, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args, "--output-dir", str(tmp_path))


def test_the_command_fails_when_a_report_fails(db, tmp_path):
    with pytest.raises(CommandError, match="1 report"):
        run("--portfolio", "00000000-0000-0000-0000-000000000000", "--output-dir", str(tmp_path))


def test_reports_match_the_stored_analytics_of_the_demo(request, tmp_path: Path):
    try:
        request.getfixturevalue("analytics_demo")
    except pytest.FixtureLookupError:
        pytest.skip("the root conftest has no `analytics_demo` fixture yet (demo seeded + prices synced + batch run)")
    from analytics.selectors import position_metrics_latest
    from portfolios.selectors import portfolios_all

    results = reports_generate_all(output_dir=tmp_path)
    assert len(results) == 3 and all(r.ok for r in results), [r.error for r in results]
    for result in results:
        document = read_json(result)
        assert document["data_source"] == "simulated"
        assert "Data source: simulated (offline simulated market data)" in result.paths["html"].read_text()
        assert "<svg" in result.paths["html"].read_text()
        for spec in registry.specs():
            stored = spec.latest(portfolio_id=result.portfolio_id, as_of=result.as_of)
            section = document["sections"][spec.name]
            if stored is None:
                assert section["status"] == "not_computed"
            else:
                assert section["payload"] == spec.payload_of(stored)
        metrics = position_metrics_latest(portfolio_id=result.portfolio_id, as_of=result.as_of)
        rows = list(csv.DictReader(StringIO(result.paths["csv"].read_text())))
        portfolio = portfolios_all().get(pk=result.portfolio_id)
        assert len(rows) == portfolio.positions.filter(exit_date__isnull=True).count()
        by_id = {row["position_id"]: row for row in rows}
        for position_id, metric in metrics.items():
            row = by_id[str(position_id)]
            assert (float(row["market_value"]) if row["market_value"] else None) == metric.market_value
            assert (float(row["dollar_delta"]) if row["dollar_delta"] else None) == metric.dollar_delta
