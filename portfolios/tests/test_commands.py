"""Output of the portfolio management commands on the demo data."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from portfolios.demo import demo_admin_ensure
from portfolios.models import Portfolio, Position

pytestmark = pytest.mark.django_db


def run(name: str, *args: str) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out, stderr=out)
    return out.getvalue()


def test_check_database_content_prints_the_three_lines(demo_data):
    demo_admin_ensure()
    lines = run("check_database_content").splitlines()
    assert lines[:3] == ["Users: 3", "Portfolios: 3", "Total Positions: 63"]
    assert "Staff-only accounts (not counted as users): 1" in lines


def test_list_portfolios_shows_id_name_owner_and_count(demo_data):
    output = run("list_portfolios")
    for portfolio in Portfolio.objects.select_related("user"):
        assert str(portfolio.pk) in output
        assert portfolio.name in output
        assert portfolio.user.email in output
    assert "Positions: 30" in output and "Positions: 16" in output and "Positions: 17" in output


def test_list_portfolios_verbose_adds_types_and_entry_value(demo_data):
    output = run("list_portfolios", "--verbose")
    assert "By type: LC 4, LONG 13, SC 1, SHORT 9, SP 3" in output
    # Individual portfolio at entry: sum(quantity × entry price) over its 16 positions, computed independently.
    individual = Position.objects.filter(portfolio__user__email="demo_individual@sigmasight.com")
    expected = sum(p.quantity * p.entry_price for p in individual)
    assert f"Value at entry (net): ${expected:,.2f}" in output


def test_seed_demo_command_reports_counts(db):
    assert "3 users, 3 portfolios, 63 positions" in run("seed_demo", "--date", "2026-11-23")


def test_seed_demo_rejects_a_bad_date(db):
    with pytest.raises(CommandError, match="--date"):
        run("seed_demo", "--date", "23/11/2026")


def test_import_positions_is_all_or_nothing(portfolio, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "symbol,position_type,quantity,entry_price,entry_date,tags\n"
        "AAPL,LONG,10,190,2024-01-02,Core;Tech\n"
        "MSFT,SHORT,5,400,2024-01-02,\n"
    )
    with pytest.raises(CommandError, match="1 bad row"):
        run("import_positions", "--portfolio", str(portfolio.pk), str(bad))
    assert portfolio.positions.count() == 0
    good = tmp_path / "good.csv"
    good.write_text(
        "symbol,position_type,quantity,entry_price,entry_date,tags\n"
        "AAPL,LONG,10,190,2024-01-02,Core;Tech\n"
        "MSFT,SHORT,-5,400,2024-01-02,\n"
    )
    assert "Imported 2 positions" in run("import_positions", "--portfolio", str(portfolio.pk), str(good))
    assert sorted(portfolio.positions.values_list("symbol", flat=True)) == ["AAPL", "MSFT"]
    assert sorted(portfolio.positions.get(symbol="AAPL").tags.values_list("name", flat=True)) == [
        "Core",
        "Tech",
    ]
