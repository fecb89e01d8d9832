"""Serializers derived from TypedDicts, and the strict conformance check of a value against one."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, NotRequired, TypedDict

import pytest
from rest_framework import serializers

from core.typed_serializers import IsoDate, typed_dict_errors, typed_dict_serializer


class Leg(TypedDict):
    """One leg.

    weight: Share of the book, decimal.
    """

    symbol: str
    weight: float | None


class Book(TypedDict):
    name: str
    count: int
    ok: bool
    as_of: IsoDate
    side: Literal["long", "short"]
    legs: list[Leg]
    by_symbol: dict[str, float]
    matrix: list[list[float | None]]
    best: Leg | None
    note: Annotated[str, "Free text."]
    extra: NotRequired[dict[str, Any]]


GOOD: dict[str, Any] = {
    "name": "b",
    "count": 2,
    "ok": True,
    "as_of": "2026-11-20",
    "side": "long",
    "legs": [{"symbol": "A", "weight": 0.5}, {"symbol": "B", "weight": None}],
    "by_symbol": {"A": 1.0, "B": 2},
    "matrix": [[1.0, None], [None, 1.0]],
    "best": None,
    "note": "",
}


def test_the_derived_serializer_has_a_field_per_key_of_the_declared_type() -> None:
    fields = typed_dict_serializer(Book)().fields

    assert isinstance(fields["name"], serializers.CharField) and fields["name"].allow_blank
    assert isinstance(fields["count"], serializers.IntegerField)
    assert isinstance(fields["ok"], serializers.BooleanField)
    assert isinstance(fields["as_of"], serializers.DateField)
    assert isinstance(fields["side"], serializers.ChoiceField) and list(fields["side"].choices) == ["long", "short"]
    assert isinstance(fields["legs"], serializers.ListSerializer)
    assert type(fields["legs"].child).__name__ == "Leg"
    assert fields["legs"].child.fields["weight"].allow_null
    assert fields["legs"].child.fields["weight"].help_text == "Share of the book, decimal."
    assert isinstance(fields["by_symbol"], serializers.DictField)
    assert isinstance(fields["by_symbol"].child, serializers.FloatField)
    assert isinstance(fields["matrix"].child.child, serializers.FloatField) and fields["matrix"].child.child.allow_null
    assert type(fields["best"]).__name__ == "Leg" and fields["best"].allow_null
    assert fields["note"].help_text == "Free text."
    assert fields["extra"].required is False and fields["name"].required is True
    assert typed_dict_serializer(Book) is typed_dict_serializer(Book)  # one class: one schema component


def test_a_conforming_value_validates_and_has_no_errors() -> None:
    assert typed_dict_errors(Book, GOOD) == []
    assert typed_dict_serializer(Book)(data=GOOD).is_valid()


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"count": None}, "Book.count: null where int is declared"),
        ({"count": 1.5}, "Book.count: float where int is declared"),
        ({"count": True}, "Book.count: a boolean where int is declared"),
        ({"side": "flat"}, "Book.side: 'flat' is not one of ('long', 'short')"),
        ({"legs": [{"symbol": "A"}]}, "Book.legs[0].weight: missing"),
        ({"legs": [{"symbol": "A", "weight": 1.0, "size": 2}]}, "Book.legs[0].size: not declared in Leg"),
        ({"by_symbol": {"A": "1"}}, "Book.by_symbol['A']: str where float is declared"),
        ({"matrix": [[1.0, "x"]]}, "Book.matrix[0][1]: str where float is declared"),
        ({"renamed": 1}, "Book.renamed: not declared in Book"),
    ],
)
def test_departures_from_the_declaration_are_named(change: dict[str, Any], error: str) -> None:
    assert error in typed_dict_errors(Book, {**GOOD, **change})


def test_a_missing_key_is_an_error_unless_not_required() -> None:
    without_name = {k: v for k, v in GOOD.items() if k != "name"}
    assert typed_dict_errors(Book, without_name) == ["Book.name: missing"]
    assert typed_dict_errors(Book, {**GOOD, "extra": {"x": [1]}}) == []


def test_two_typed_dicts_with_one_name_are_refused() -> None:
    Other = TypedDict("Leg", {"x": int})  # noqa: UP013 - a second class named Leg, on purpose

    with pytest.raises(ValueError, match="two TypedDicts named Leg"):
        typed_dict_serializer(Other)


def test_dates_are_documented_as_dates() -> None:
    class Dated(TypedDict):
        day: IsoDate
        stamp: dt.date

    fields = typed_dict_serializer(Dated)().fields
    assert isinstance(fields["day"], serializers.DateField) and isinstance(fields["stamp"], serializers.DateField)
    assert typed_dict_errors(Dated, {"day": "2026-11-20", "stamp": dt.date(2026, 11, 20)}) == []
