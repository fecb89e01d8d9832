"""Server-side charts for the HTML report: the kinds' declared charts → inline SVG (no JavaScript, no
matplotlib).

A result kind declares its charts as data in its report section (``analytics.results.presentation``:
bars with a tone, or a heatmap); :func:`chart_svg` draws one with :mod:`reports.builders.svg`, the
values printed with the report's own number formats.
"""

from __future__ import annotations

import math
from typing import Any

from analytics.results.presentation import Chart, Heatmap, Value
from reports.builders.present import format_value
from reports.builders.svg import Bar, bar_chart, heatmap, horizontal_bar_chart

POSITIVE = "#2e7d32"
NEGATIVE = "#c62828"
NEUTRAL = "#1f77b4"
WORST = "#b71c1c"
MUTED = "#9e9e9e"


def _number(value: Any) -> float | None:
    """A finite float, or None (booleans, strings, NaN and missing values are not drawn)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def money_tick(value: float) -> str:
    """Compact dollars for axis ticks: ``$0``, ``$250k``, ``-$1.5M``, ``$2B``."""
    size = abs(value)
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= threshold:
            text = f"{size / threshold:.2f}".rstrip("0").rstrip(".") + suffix
            break
    else:
        text = f"{size:,.0f}"
    return f"-${text}" if value < 0 else f"${text}"


TONES = {"positive": POSITIVE, "negative": NEGATIVE, "neutral": NEUTRAL, "muted": MUTED, "worst": WORST}


def number_tick(value: float) -> str:
    return f"{value:g}"


def chart_svg(chart: Chart) -> str | None:
    """A kind's declared chart as an ``<svg>`` (None when there is nothing to draw): bars labelled with
    their values in the report's formats, or a correlation heatmap."""
    if isinstance(chart, Heatmap):
        labels, matrix = chart.labels, chart.matrix
        if len(labels) < 2 or len(matrix) != len(labels) or any(len(row) != len(labels) for row in matrix):
            return None
        cells = [[_number(value) for value in row] for row in matrix]
        return heatmap(key=chart.key, title=chart.title, labels=labels, matrix=cells)
    bars = [
        Bar(bar.label, value, TONES[bar.tone], format_value(Value(value, chart.unit)), emphasis=bar.emphasis)
        for bar in chart.bars
        if (value := _number(bar.value)) is not None
    ]
    if not bars:
        return None
    tick = money_tick if chart.unit == "money" else number_tick
    draw = horizontal_bar_chart if chart.horizontal else bar_chart
    return draw(key=chart.key, title=chart.title, bars=bars, tick_format=tick)
