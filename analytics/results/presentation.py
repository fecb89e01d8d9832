"""What a result kind shows in a report, as data: facts, tables, a note and charts.

A kind's ``report`` hook returns a :class:`ReportSection` built from its payload. Numbers are not
formatted here: each is a :class:`Value` carrying its unit (``money``, ``number``, ``percent``,
``quantity``, ``ratio`` or ``text``) and the decimals to show, and the reports app formats them (the
same way in Markdown and HTML) and draws the charts. So analytics never imports reports, and a new
kind appears in every report format from its own module.

A cell is a :class:`Value`, a plain string, or a tuple of both, written one after the other
(``(money(long), " / ", money(short))``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Unit = Literal["money", "number", "percent", "quantity", "ratio", "text"]
Tone = Literal["positive", "negative", "neutral", "muted", "worst"]


@dataclass(frozen=True)
class Value:
    """A value and how to show it; ``decimals`` None means the unit's default (money 0, number 2,
    percent 2 of a percent, ratio 2 followed by "x")."""

    value: Any
    unit: Unit = "text"
    decimals: int | None = None


Cell = Value | str | tuple[Value | str, ...]


def money(value: Any, decimals: int | None = None) -> Value:
    return Value(value, "money", decimals)


def num(value: Any, decimals: int | None = None) -> Value:
    return Value(value, "number", decimals)


def pct(value: Any, decimals: int | None = None) -> Value:
    """A decimal fraction shown as a percentage (0.05 → 5.00%)."""
    return Value(value, "percent", decimals)


def quantity(value: Any) -> Value:
    return Value(value, "quantity")


def ratio(value: Any, decimals: int | None = None) -> Value:
    """A multiple such as leverage, shown with an ``x``."""
    return Value(value, "ratio", decimals)


def text(value: Any) -> Value:
    return Value(value, "text")


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[Cell]]
    title: str = ""
    highlight: frozenset[int] = frozenset()  # row indexes to emphasise (the worst scenario)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    tone: Tone = "neutral"
    emphasis: bool = False


@dataclass(frozen=True)
class BarChart:
    """Vertical bars (``horizontal`` False) or one horizontal bar per row, top to bottom."""

    key: str
    title: str
    bars: list[Bar]
    unit: Unit = "number"
    horizontal: bool = False


@dataclass(frozen=True)
class Heatmap:
    """A square matrix with the same labels on both axes, values in [−1, 1] (None for a gap)."""

    key: str
    title: str
    labels: list[str]
    matrix: list[list[float | None]]


Chart = BarChart | Heatmap


@dataclass
class ReportSection:
    """One kind's part of a report."""

    facts: list[tuple[str, Cell]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    note: str = ""
    charts: list[Chart] = field(default_factory=list)


def finite(value: Any) -> float | None:
    """A float to draw, or None (booleans, strings, NaN and missing values are not drawn)."""
    import math

    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)
