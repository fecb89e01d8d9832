"""Server-side charts for the HTML report, drawn with matplotlib and returned as inline SVG.

The object-oriented ``Figure`` API is used (never ``pyplot``): no GUI backend, no global figure
state, safe in worker threads. Each chart gets its own SVG hash salt so that the element ids of
several charts inlined in one page cannot collide, and the date metadata is dropped so that a
rerun on the same data gives the same bytes.
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

matplotlib.use("Agg")  # no display on a server; SVG output uses its own backend either way

POSITIVE = "#2e7d32"
NEGATIVE = "#c62828"
NEUTRAL = "#1f77b4"
WORST = "#b71c1c"
MUTED = "#9e9e9e"


def _svg(figure: Figure, key: str) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": f"sigmasight-{key}", "svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


def _money_axis(axis: Any) -> None:
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"-${abs(v):,.0f}" if v < 0 else f"${v:,.0f}"))


def exposures_chart(payload: dict[str, Any]) -> str | None:
    """Bars of long, short, gross, net and delta-adjusted exposure (USD)."""
    items = [
        ("Long", payload.get("long_exposure")),
        ("Short", payload.get("short_exposure")),
        ("Gross", payload.get("gross_exposure")),
        ("Net", payload.get("net_exposure")),
        ("Delta-adjusted", payload.get("delta_adjusted_exposure")),
    ]
    items = [(label, float(value)) for label, value in items if isinstance(value, int | float)]
    if not items:
        return None
    figure = Figure(figsize=(7, 3.2))
    axis = figure.subplots()
    values = [v for _, v in items]
    axis.bar([label for label, _ in items], values, color=[POSITIVE if v >= 0 else NEGATIVE for v in values])
    axis.axhline(0, color="black", linewidth=0.8)
    _money_axis(axis.yaxis)
    axis.set_title("Exposures (USD)")
    axis.grid(axis="y", alpha=0.3)
    return _svg(figure, "exposures")


def factor_betas_chart(payload: dict[str, Any]) -> str | None:
    """Bars of the portfolio's beta to each factor."""
    betas = payload.get("portfolio_betas") or {}
    factors = [f for f in (payload.get("factors") or list(betas)) if isinstance(betas.get(f), int | float)]
    if not factors:
        return None
    values = [float(betas[f]) for f in factors]
    figure = Figure(figsize=(7, 3.2))
    axis = figure.subplots()
    axis.bar(factors, values, color=[NEUTRAL if v >= 0 else NEGATIVE for v in values])
    axis.axhline(0, color="black", linewidth=0.8)
    axis.set_title("Portfolio factor betas")
    axis.tick_params(axis="x", labelrotation=30)
    axis.grid(axis="y", alpha=0.3)
    return _svg(figure, "factor-betas")


def stress_chart(payload: dict[str, Any]) -> str | None:
    """Horizontal bars of conditioned P&L per scenario, worst first and highlighted."""
    scenarios = [s for s in payload.get("scenarios") or [] if isinstance(s.get("conditioned_pnl"), int | float)]
    if not scenarios:
        return None
    scenarios = sorted(scenarios, key=lambda s: s["conditioned_pnl"], reverse=True)  # worst ends on top
    worst_id = (payload.get("worst") or {}).get("id") or min(scenarios, key=lambda s: s["conditioned_pnl"])["id"]
    figure = Figure(figsize=(8, max(2.5, 0.32 * len(scenarios) + 1)))
    axis = figure.subplots()
    values = [float(s["conditioned_pnl"]) for s in scenarios]
    colors = [
        WORST if s["id"] == worst_id else (POSITIVE if v >= 0 else MUTED)
        for s, v in zip(scenarios, values, strict=True)
    ]
    axis.barh([str(s.get("name") or s["id"]) for s in scenarios], values, color=colors)
    axis.axvline(0, color="black", linewidth=0.8)
    _money_axis(axis.xaxis)
    axis.tick_params(axis="y", labelsize=8)
    axis.set_title("Stress tests: conditioned P&L (worst in red)")
    axis.grid(axis="x", alpha=0.3)
    return _svg(figure, "stress")


def correlation_heatmap(payload: dict[str, Any]) -> str | None:
    """Heatmap of the position correlation matrix (−1 blue … +1 red)."""
    symbols = payload.get("symbols") or []
    matrix = payload.get("matrix") or []
    if len(symbols) < 2 or len(matrix) != len(symbols):
        return None
    size = min(12.0, max(4.0, 0.35 * len(symbols) + 2))
    figure = Figure(figsize=(size + 1, size))
    axis = figure.subplots()
    data = [[float("nan") if v is None else float(v) for v in row] for row in matrix]
    image = axis.imshow(data, cmap="RdBu_r", vmin=-1, vmax=1)
    axis.set_xticks(range(len(symbols)), labels=symbols, rotation=90, fontsize=7)
    axis.set_yticks(range(len(symbols)), labels=symbols, fontsize=7)
    figure.colorbar(image, ax=axis, shrink=0.8)
    axis.set_title("Correlation matrix")
    return _svg(figure, "correlations")


CHARTS = {
    "overview": exposures_chart,
    "factor_exposure": factor_betas_chart,
    "stress_test": stress_chart,
    "correlations": correlation_heatmap,
}
