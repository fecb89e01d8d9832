"""``field__any`` (``core.lookups``): the rows of ``field__in``, with the list bound as one array on PostgreSQL."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from portfolios.models import Portfolio, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def books(owner: User, other_user: User) -> list[Portfolio]:
    return [
        Portfolio.objects.create(user=user, name=f"Book {i}", equity_balance=Decimal(1000 * (i + 1)))
        for i, user in enumerate([owner, owner, other_user])
    ]


def _names(**lookup: object) -> list[str]:
    return sorted(Portfolio.objects.filter(**lookup).values_list("name", flat=True))


def test_any_selects_the_rows_of_in_for_texts_and_uuids(books: list[Portfolio]) -> None:
    ids = [books[0].pk, uuid.uuid4(), books[2].pk, None]
    assert _names(pk__any=ids) == _names(pk__in=ids) == ["Book 0", "Book 2"]
    names = ["Book 1", "Book 2", "Book 1", "nobody", None]
    assert _names(name__any=names) == _names(name__in=names) == ["Book 1", "Book 2"]
    # through a relation and as a tuple or a set
    assert _names(user__email__any=("other@example.com",)) == ["Book 2"]
    assert _names(name__any={"Book 0"}) == ["Book 0"]


def test_an_empty_list_or_only_none_selects_nothing(books: list[Portfolio]) -> None:
    assert _names(pk__any=[]) == _names(pk__in=[]) == []
    assert _names(name__any=[None]) == []
    assert Portfolio.objects.exclude(name__any=[]).count() == 3


def test_a_foreign_key_takes_ids_instances_or_a_subquery(books: list[Portfolio], owner: User) -> None:
    assert _names(user__any=[owner.pk]) == _names(user_id__any=[owner]) == ["Book 0", "Book 1"]
    assert _names(user__any=User.objects.filter(pk=owner.pk)) == ["Book 0", "Book 1"]
    assert _names(pk__any=Portfolio.objects.filter(user=owner).values("pk")) == ["Book 0", "Book 1"]


def test_on_postgresql_the_list_is_one_array_parameter(books: list[Portfolio]) -> None:
    values = [f"Book {i}" for i in range(5_000)]
    sent: list[tuple[str, tuple[Any, ...]]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        sent.append((sql, tuple(params or ())))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        assert _names(name__any=values) == ["Book 0", "Book 1", "Book 2"]
    sql, params = sent[-1]
    if connection.vendor == "postgresql":
        assert "= ANY(%s)" in sql and " IN (" not in sql
        assert params == (values,)  # one parameter: the list, bound as an array
    else:
        assert " IN (" in sql and len(params) == 5_000
