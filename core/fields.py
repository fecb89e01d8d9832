"""Model fields shared by the apps."""

from __future__ import annotations

from typing import Any

from django.db import models


class JSONDocumentField(models.JSONField):
    """A JSON document written whole and read whole, never queried inside.

    On PostgreSQL the column is ``json`` (the text, validated on input) instead of Django's
    ``jsonb``: ``jsonb`` converts every number to ``numeric`` on the way in, which made storing the
    analytics results — tens of thousands of numbers per portfolio — the slowest part of the batch
    (COPY of 23 MB of results: 1.2 s as ``jsonb``, 0.36 s as ``json`` with lz4 compression, measured
    on PostgreSQL 15). Reads are unchanged: the text is decoded in Python either way.

    What ``json`` gives up: containment and key-existence operators and equality (no ``DISTINCT``
    or ``GROUP BY`` on the column). Other databases keep Django's JSONField storage.
    """

    description = "A JSON document (PostgreSQL json)"

    def db_type(self, connection: Any) -> str | None:
        if connection.vendor == "postgresql":
            return "json"
        return super().db_type(connection)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if connection.vendor != "postgresql":
            return super().get_db_prep_value(value, connection, prepared)
        # Sent typed ``json``, not ``jsonb``: a jsonb value cast to json comes back with its keys
        # re-ordered, while COPY and this path must store the same text for the same document.
        from django.db.backends.postgresql.operations import get_json_dumps  # type: ignore[attr-defined]  # not in the stubs
        from psycopg.types.json import Json

        if not prepared:
            value = self.get_prep_value(value)
        return Json(value, dumps=get_json_dumps(self.encoder))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        # psycopg decodes ``json`` columns itself; Django only registers a text loader for ``jsonb``.
        if value is not None and not isinstance(value, str):
            return value
        return super().from_db_value(value, expression, connection)
