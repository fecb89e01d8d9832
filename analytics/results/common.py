"""Helpers the kinds share: JSON-safe rounding, the stored precision of metric columns, position keys,
the provenance block."""

from __future__ import annotations

from typing import Any, TypedDict

import numpy as np

from analytics.services.columns import Columns
from analytics.services.compute import finite, rounded, rounded_each, rounded_list
from core.typed_serializers import IsoDate, IsoDateTime

__all__ = [
    "GREEK_NAMES",
    "MONEY_COLUMNS",
    "PositionKey",
    "Provenance",
    "column",
    "finite",
    "metric_column",
    "position_keys",
    "rounded",
    "rounded_each",
    "rounded_list",
]

GREEK_NAMES = ("delta", "gamma", "theta", "vega", "rho")
# Stored precision of PositionMetrics columns: money to the cent, prices and vols to 6 decimals, Greeks to 8.
MONEY_COLUMNS = frozenset(
    {"market_value", "cost_basis", "unrealised_pnl", "delta_exposure", "dollar_delta", "dollar_gamma"}
    | {f"position_{n}" for n in GREEK_NAMES}
)


class Provenance(TypedDict):
    """Where a stored result comes from.

    as_of: The trading day the result describes.
    method: How it was computed.
    lookback_days: History used, in sessions.
    data_source: Price source: simulated, fmp, polygon, csv or mixed:a+b.
    inputs: What produced the result (parameters, prices, dates).
    is_stale: Computed on prices older than as_of.
    """

    as_of: IsoDate
    method: str
    lookback_days: int | None
    data_source: str
    inputs: dict[str, Any]
    is_stale: bool
    stale_reason: str
    computed_at: IsoDateTime | None


class PositionKey(TypedDict):
    """One position of a payload's per-position lists (they follow the order of ``positions``)."""

    position_id: str
    symbol: str


def metric_column(frame: Columns, name: str) -> list[float | None]:
    """A float column as JSON-safe rounded Python values, at the stored precision of its kind of number."""
    digits = 2 if name in MONEY_COLUMNS else 8 if name in GREEK_NAMES else 6
    return rounded_list(np.asarray(frame[name], dtype=float), digits)


def position_keys(positions: Columns) -> list[PositionKey]:
    """``[{"position_id", "symbol"}]``: the order of a payload's per-position lists (stored once, not per row)."""
    return [
        {"position_id": key, "symbol": symbol}
        for key, symbol in zip(positions["position_key"].tolist(), positions["symbol"].tolist(), strict=True)
    ]


def column(frame: Columns, name: str) -> np.ndarray:
    """A column as a float array."""
    return np.asarray(frame[name], dtype=float)
