"""Server-side charts for the HTML report: stored payloads → inline SVG (no JavaScript, no matplotlib).

Each function takes one section's stored payload (shapes in ``analytics.selectors``) and returns
an ``<svg>`` string drawn by :mod:`reports.builders.svg`, or ``None`` when there is nothing to
draw. Values are printed on the charts with the report's own number formats.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from reports.builders.formatting import money, num
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


def exposures_chart(payload: dict[str, Any]) -> str | None:
    """Bars of long, short, gross, net and delta-adjusted exposure (USD)."""
    items = [
        ("Long", payload.get("long_exposure")),
        ("Short", payload.get("short_exposure")),
        ("Gross", payload.get("gross_exposure")),
        ("Net", payload.get("net_exposure")),
        ("Delta-adjusted", payload.get("delta_adjusted_exposure")),
    ]
    bars = [
        Bar(label, value, POSITIVE if value >= 0 else NEGATIVE, money(value))
        for label, raw in items
        if (value := _number(raw)) is not None
    ]
    if not bars:
        return None
    return bar_chart(key="exposures", title="Exposures (USD)", bars=bars, tick_format=money_tick)


def factor_betas_chart(payload: dict[str, Any]) -> str | None:
    """Bars of the portfolio's beta to each factor, in the payload's factor order."""
    betas = payload.get("portfolio_betas") or {}
    factors = payload.get("factors") or list(betas)
    bars = [
        Bar(str(factor), value, NEUTRAL if value >= 0 else NEGATIVE, num(value))
        for factor in factors
        if (value := _number(betas.get(factor))) is not None
    ]
    if not bars:
        return None
    return bar_chart(key="factor-betas", title="Portfolio factor betas", bars=bars, tick_format=_beta_tick)


def _beta_tick(value: float) -> str:
    return f"{value:g}"


def stress_chart(payload: dict[str, Any]) -> str | None:
    """Horizontal bars of conditioned P&L per scenario, worst on top and highlighted in dark red."""
    scenarios = [
        (scenario, value)
        for scenario in payload.get("scenarios") or []
        if (value := _number(scenario.get("conditioned_pnl"))) is not None
    ]
    if not scenarios:
        return None
    scenarios.sort(key=lambda item: item[1])  # worst first, drawn on top
    worst_id = (payload.get("worst") or {}).get("id") or scenarios[0][0].get("id")
    bars = []
    for scenario, value in scenarios:
        worst = scenario.get("id") == worst_id
        colour = WORST if worst else (POSITIVE if value >= 0 else MUTED)
        label = str(scenario.get("name") or scenario.get("id") or "?")
        bars.append(Bar(label, value, colour, money(value), emphasis=worst))
    return horizontal_bar_chart(
        key="stress",
        title="Stress tests: conditioned P&L (worst in red)",
        bars=bars,
        tick_format=money_tick,
    )


def correlation_heatmap(payload: dict[str, Any]) -> str | None:
    """Heatmap of the position correlation matrix (−1 blue … +1 red)."""
    symbols = [str(s) for s in payload.get("symbols") or []]
    matrix = payload.get("matrix") or []
    if len(symbols) < 2 or len(matrix) != len(symbols) or any(len(row) != len(symbols) for row in matrix):
        return None
    cells = [[_number(value) for value in row] for row in matrix]
    return heatmap(key="correlations", title="Correlation matrix", labels=symbols, matrix=cells)


CHARTS: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "overview": exposures_chart,
    "factor_exposure": factor_betas_chart,
    "stress_test": stress_chart,
    "correlations": correlation_heatmap,
}
