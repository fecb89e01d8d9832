"""Fields other apps add to the positions the data API answers, without ``portfolios`` importing them.

Data flows one way: analytics reads portfolios, so the positions endpoint cannot import analytics
to value its positions. An app registers a provider at start-up instead (analytics does, in its
``AppConfig.ready``): given the positions of one answer (a page, a new or changed position), it
returns the fields to merge over each item — price, market value and P&L, the batch's Greeks.
Providers are called once per answer, never per position.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from portfolios.models import Position

PositionFields = Callable[[Sequence[Position]], dict[uuid.UUID, dict[str, Any]]]
_PROVIDERS: list[PositionFields] = []


def position_fields_register(provider: PositionFields) -> None:
    """Add a provider (once: registering it again does nothing)."""
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)


def position_fields(positions: Sequence[Position]) -> dict[uuid.UUID, dict[str, Any]]:
    """Every provider's fields per position id, later providers' fields over earlier ones'."""
    merged: dict[uuid.UUID, dict[str, Any]] = {}
    for provider in _PROVIDERS:
        for position_id, fields in provider(positions).items():
            merged.setdefault(position_id, {}).update(fields)
    return merged
