"""``core.authentication``: the user's row and the change counter in one precompiled statement."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from core.authentication import user_row_plan, user_with_version
from core.datachange import data_version
from portfolios.models import User

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_the_user_is_the_one_the_orm_builds_with_the_counter_read_alongside(owner: User) -> None:
    User.objects.filter(pk=owner.pk).update(last_login=timezone.now(), full_name="Ö. Wner")
    expected = User.objects.get(pk=owner.pk)
    found = user_with_version(User, owner.pk)
    assert found is not None
    user, version = found
    assert type(user) is User and user._state.db == "default" and not user._state.adding
    for field in User._meta.concrete_fields:  # every column, with the ORM's types (UUID, aware datetimes, bools)
        mine, theirs = getattr(user, field.attname), getattr(expected, field.attname)
        assert (mine, type(mine)) == (theirs, type(theirs)), field.name
    assert not hasattr(user, "sigmasight_data_version")  # the counter is returned, not left on the user
    assert version == data_version() is not None


def test_no_user_for_an_unknown_id(owner: User) -> None:
    assert user_with_version(User, uuid.uuid4()) is None


def test_the_statement_is_compiled_once_per_database_with_the_id_as_its_one_parameter(owner: User) -> None:
    sql = user_row_plan(User, "default").sql
    assert user_row_plan(User, "default").sql is sql
    sent: list[tuple[str, list[object]]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        sent.append((sql, list(params or ())))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        user_with_version(User, owner.pk)
    assert [s for s, _ in sent] == [sql] and len(sent[0][1]) == 1


def test_inside_a_transaction_the_row_is_read_but_the_counter_is_not_usable(owner: User) -> None:
    with transaction.atomic():
        User.objects.filter(pk=owner.pk).update(full_name="Renamed")
        found = user_with_version(User, owner.pk)
        assert found is not None and found[0].full_name == "Renamed"  # the connection's own uncommitted write
