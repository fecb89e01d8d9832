"""``field__any=values``: membership in a long list of values, sent as one array parameter on PostgreSQL.

``field__in=values`` gives the database one placeholder per value: Django compiles them, psycopg adapts them
one by one, and PostgreSQL parses and plans a list of N constants. For the run-wide reads of a large batch
(the 60,000 option contracts of 10,000 portfolios, their 10,000 ids) that costs 0.6–0.7 s per query.
``field__any=values`` is the same filter written ``field = ANY(%s)`` with the values as one array: one
parameter, and 0.1 s for the same 60,000 contracts (``core/tests/test_lookups.py`` checks that both
select the same rows). On other databases (SQLite) it is ``__in``. As with ``__in``, ``None`` is left out
(NULL equals nothing) and an empty list selects no row. Registered on every field by ``CoreConfig.ready``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, ForeignObject
from django.db.models.fields.related_lookups import RelatedIn
from django.db.models.lookups import In
from django.db.models.sql.compiler import SQLCompiler


class ArrayMembership(In):
    """The SQL of ``__any``: ``In`` whose list of values, on PostgreSQL, is one array (module doc)."""

    def _as_array(self, connection: BaseDatabaseWrapper) -> bool:
        return connection.vendor == "postgresql" and self.rhs_is_direct_value()

    def process_rhs(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> tuple[str, Any]:
        if not self._as_array(connection):
            return super().process_rhs(compiler, connection)
        field = self.lhs.output_field
        values = [field.get_db_prep_value(v, connection, prepared=True) for v in self.rhs if v is not None]
        if not values:
            raise EmptyResultSet
        return "%s", (values,)

    def get_rhs_op(self, connection: BaseDatabaseWrapper, rhs: str) -> str:
        if not self._as_array(connection):
            return super().get_rhs_op(connection, rhs)
        return f"= ANY({rhs})"


class AnyOf(ArrayMembership):
    """``field__any=[...]`` on a field."""

    lookup_name = "any"


class RelatedAnyOf(RelatedIn, ArrayMembership):
    """``relation__any=[...]`` on a foreign key (model instances or primary keys, as ``__in`` takes them)."""

    lookup_name = "any"


def register() -> None:
    """Make ``__any`` available on every model field and foreign key (idempotent)."""
    Field.register_lookup(AnyOf)
    ForeignObject.register_lookup(RelatedAnyOf)
