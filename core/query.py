"""Query-parameter fields: a parameter that is present must have a value.

DRF skips an optional field whose form or query value is the empty string, so ``?as_of=`` used to
be answered as if no date had been asked for — a different result than the client meant, without a
word. These fields treat ``?name=`` as a value to check, which fails with a 400 naming the field.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.utils import html


class QueryDateField(serializers.DateField):
    """An optional ``YYYY-MM-DD`` query parameter; absent is "not given", empty is a 400."""

    def get_value(self, dictionary: Any) -> Any:
        if html.is_html_input(dictionary) and dictionary.get(self.field_name) == "":
            return ""  # to_internal_value refuses it: "Date has wrong format…"
        return super().get_value(dictionary)
