"""Reads of stored results: the newest of each kind, on or before a date, in one query."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics.models import PortfolioResult
from analytics.selectors import portfolio_results_latest

pytestmark = pytest.mark.django_db

DAYS = [dt.date(2026, 11, 18), dt.date(2026, 11, 19), dt.date(2026, 11, 20)]


def _store(portfolio, kind: str, day: dt.date) -> None:
    PortfolioResult.objects.create(
        portfolio=portfolio, kind=kind, as_of=day, payload={"day": day.isoformat()}, method="test", data_source="test"
    )


def test_the_newest_result_of_each_kind_on_or_before_a_date_in_one_query(portfolio, django_assert_num_queries):
    for day in DAYS:
        _store(portfolio, "overview", day)
    _store(portfolio, "var", DAYS[0])  # var last computed on the first day

    with django_assert_num_queries(1):
        latest = portfolio_results_latest(portfolio_id=portfolio.id)
    assert {k: r.payload["day"] for k, r in latest.items()} == {"overview": "2026-11-20", "var": "2026-11-18"}

    earlier = portfolio_results_latest(portfolio_id=portfolio.id, as_of=DAYS[1])
    assert {k: r.payload["day"] for k, r in earlier.items()} == {"overview": "2026-11-19", "var": "2026-11-18"}

    only = portfolio_results_latest(portfolio_id=portfolio.id, kinds=["var", "greeks"])
    assert list(only) == ["var"]  # a kind never computed is absent, not None
    assert portfolio_results_latest(portfolio_id=portfolio.id, as_of=dt.date(2026, 11, 1)) == {}
