"""What the management commands share: parsing their options the same way, with the same errors."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import CommandError


def date_option(value: str | None, *, option: str = "--date") -> dt.date | None:
    """A ``YYYY-MM-DD`` option as a date (None when not given); a ``CommandError`` naming the option otherwise."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option} must be YYYY-MM-DD, got {value!r}.") from None
