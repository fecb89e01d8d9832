"""Bulk upserts: the COPY path (PostgreSQL, large sets) stores exactly what the row path stores."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from analytics.models import PositionMetrics
from analytics.services import persist
from portfolios.models import Position

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 11, 20)


def _rows(scale: float) -> list[PositionMetrics]:
    return [
        PositionMetrics(
            position=p,
            portfolio_id=p.portfolio_id,
            as_of=AS_OF,
            price=100.0 * scale,
            market_value=float(i) * scale,
            factor_betas={"market": 1.1 * scale},
            method="test",
            data_source="simulated",
            inputs={"n": i},
        )
        for i, p in enumerate(Position.objects.order_by("id"))
    ]


@pytest.mark.parametrize("threshold", [1, 10_000], ids=["copy-path", "row-path"])
def test_an_upsert_inserts_then_replaces_without_duplicates(demo_data, monkeypatch, threshold):
    monkeypatch.setattr(persist, "COPY_THRESHOLD", threshold)
    fields = ["price", "market_value", "factor_betas", "inputs"]
    persist.bulk_upsert(PositionMetrics, _rows(1.0), unique_fields=["position", "as_of"], update_fields=fields)
    persist.bulk_upsert(PositionMetrics, _rows(2.0), unique_fields=["position", "as_of"], update_fields=fields)
    assert PositionMetrics.objects.count() == 63
    stored = {m.position_id: m for m in PositionMetrics.objects.all()}
    for i, p in enumerate(Position.objects.order_by("id")):
        row = stored[p.pk]
        assert row.price == 200.0 and row.market_value == float(i) * 2.0
        assert row.factor_betas == {"market": 2.2} and row.inputs == {"n": i}
        assert row.computed_at is not None


@pytest.mark.parametrize("threshold", [1, 10_000], ids=["copy-path", "row-path"])
def test_a_column_wise_upsert_stores_what_the_row_upsert_stores(demo_data, monkeypatch, threshold):
    monkeypatch.setattr(persist, "COPY_THRESHOLD", threshold)
    positions = list(Position.objects.order_by("id"))
    fields = ["price", "market_value", "factor_betas", "inputs"]
    for scale in (1.0, 2.0):
        columns = {
            "position_id": [p.pk for p in positions],
            "portfolio_id": [p.portfolio_id for p in positions],
            "as_of": [AS_OF] * len(positions),
            "price": [100.0 * scale] * len(positions),
            "market_value": [float(i) * scale for i in range(len(positions))],
            "factor_betas": [{"market": 1.1 * scale}] * len(positions),
            "method": ["test"] * len(positions),
            "data_source": ["simulated"] * len(positions),
            "inputs": [{"n": i} for i in range(len(positions))],
        }
        written = persist.bulk_upsert_columns(
            PositionMetrics, columns, unique_fields=["position", "as_of"], update_fields=fields
        )
        assert written == 63
    assert PositionMetrics.objects.count() == 63
    stored = {m.position_id: m for m in PositionMetrics.objects.all()}
    for i, p in enumerate(positions):
        row = stored[p.pk]
        assert row.price == 200.0 and row.market_value == float(i) * 2.0
        assert row.factor_betas == {"market": 2.2} and row.inputs == {"n": i}
        assert row.greeks_inputs == {} and row.is_expired is False  # defaults of the columns not given
        assert row.computed_at is not None


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TOAST compression is PostgreSQL's")
def test_large_values_are_stored_with_the_fast_compression_first_run_and_rerun(demo_data):
    (offered,) = _one("SELECT %s = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'", "lz4")
    if not offered:
        pytest.skip("this PostgreSQL is built without lz4")
    # Large enough to be compressed (over ~2 kB), compressible, and different per row.
    big = [{"n": i, "series": [round(0.001 * k * (i + 1), 6) for k in range(2_000)]} for i in range(63)]
    positions = list(Position.objects.order_by("id"))
    fields = ["factor_betas"]
    for round_ in range(2):  # the day's first write (COPY into the table), then a rerun (through the staging table)
        persist.bulk_upsert_columns(
            PositionMetrics,
            {
                "position_id": [p.pk for p in positions],
                "portfolio_id": [p.portfolio_id for p in positions],
                "as_of": [AS_OF] * len(positions),
                "factor_betas": [{**b, "round": round_} for b in big],
                "method": ["test"] * len(positions),
                "data_source": ["simulated"] * len(positions),
            },
            unique_fields=["position", "as_of"],
            update_fields=fields,
        )
        methods = _one("SELECT array_agg(DISTINCT pg_column_compression(factor_betas)) FROM analytics_positionmetrics")[
            0
        ]
        assert methods == ["lz4"], (round_, methods)
        assert PositionMetrics.objects.get(position=positions[5]).factor_betas == {**big[5], "round": round_}


def _one(sql: str, *params: object) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def test_a_repeated_json_object_is_serialised_once_to_the_same_text(monkeypatch) -> None:
    """``_json_texts`` gives each value's own text; an object repeated down a column is serialised once."""
    shared = {"steps": ["greeks", "overview"], "book": "ab12"}
    values = [shared, {"steps": []}, shared, None, {"x": float("nan")}, shared]
    assert persist._json_texts(values) == [persist._json_text(v) for v in values]
    serialised: list[object] = []
    original = persist._json_text
    monkeypatch.setattr(persist, "_json_text", lambda value: serialised.append(value) or original(value))
    persist._json_texts(values)
    assert len(serialised) == 4 and serialised.count(shared) == 1
