"""The dashboard of one portfolio, shaped for its template from the stored analytics.

Nothing here computes risk: every figure is read from the results the batch stored (through
``analytics.selectors``) — the headline block is the overview kind's own API answer
(``ResultSpec.api_extra``, what ``GET .../overview`` returns), so page and API agree to the cent.
What this module adds is presentation: ordering (stress scenarios worst first, top VaR
contributors), shares of equity for display, bar widths, the report builders' heatmap, and the
history series for the chart (with the drawdown of its cumulative P&L from
``analytics.engines.drawdown``). A section whose result was never computed says so and names the
command that computes it, as the API's ``not_computed`` error does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.core.cache import cache
from django.utils.safestring import mark_safe

from analytics import selectors
from analytics.engines.drawdown import drawdown_from_pnl, max_drawdown
from analytics.models import BatchJob, BatchRun, PortfolioResult, RunStatus
from analytics.results import spec_for, specs
from analytics.results.presentation import Heatmap
from marketdata.factors import FACTOR_PROXIES, RATE_FACTOR, RATE_PROXY
from portfolios.models import Portfolio
from reports.builders.charts import chart_svg
from reports.builders.document import data_source_label

FACTOR_LABELS: dict[str, str] = {
    "market": "Market",
    "value": "Value",
    "growth": "Growth",
    "momentum": "Momentum",
    "quality": "Quality",
    "size": "Size",
    "low_volatility": "Low volatility",
    RATE_FACTOR: "Interest rate",
}
FACTOR_PROXY_LABELS: dict[str, str] = {
    **{name: proxy if name == "market" else f"{proxy} − SPY" for name, proxy in FACTOR_PROXIES.items()},
    RATE_FACTOR: RATE_PROXY,
}
EXTREME_BETA = 3.0  # |β| above this is flagged (never capped), as the factor step flags it
TOP_CONTRIBUTORS = 8
HEATMAP_CACHE_S = 24 * 3600
# The result kinds the dashboard shows (their registered names: analytics/results/).
OVERVIEW, GREEKS, FACTORS, MARKET, STRESS, CORRELATIONS, VAR = (
    "overview",
    "greeks",
    "factor_exposures",
    "market_risk",
    "stress_test",
    "correlations",
    "var",
)


class HistoryDay(NamedTuple):
    """One stored snapshot, as the chart needs it (plain tuples: 252 model instances cost more)."""

    as_of: dt.date
    total_value: float
    equity: float | None
    daily_pnl: float | None
    cumulative_pnl: float | None
    data_source: str


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _share(value: Any, base: Any) -> float | None:
    """``value / base`` for display (a share of equity), None when either is missing or base is 0."""
    number, denominator = _finite(value), _finite(base)
    if number is None or not denominator:
        return None
    return number / denominator


def _max_abs(values: list[Any]) -> float:
    finite = [abs(v) for v in (_finite(x) for x in values) if v is not None]
    return max(finite, default=0.0)


@dataclass
class Section:
    """One panel: its stored result's provenance, or the command that would compute it."""

    key: str
    title: str
    kind: str
    result: PortfolioResult | None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def computed(self) -> bool:
        return self.result is not None

    @property
    def command(self) -> str:
        return selectors.result_command(self.kind)

    @property
    def provenance(self) -> dict[str, Any] | None:
        return selectors.provenance(self.result) if self.result is not None else None

    @property
    def data_source_label(self) -> str:
        return data_source_label(self.result.data_source) if self.result is not None else ""


def _headline(overview: PortfolioResult | None) -> dict[str, Any]:
    """Value, equity, cash, both leverages, P&L: the API's overview answer plus the leverage pair."""
    if overview is None:
        return {}
    body = dict(spec_for(OVERVIEW).api_extra(overview))
    payload = overview.payload
    equity = payload.get("equity_balance")
    gross_leverage = payload.get("gross_leverage", payload.get("leverage"))
    delta_leverage = payload.get("delta_adjusted_leverage")
    delta_leverage_derived = False
    if delta_leverage is None and _finite(equity) and _finite(payload.get("delta_adjusted_exposure")) is not None:
        # Older results carry no delta-adjusted leverage: shown as delta-adjusted exposure ÷ equity, labelled.
        delta_leverage = payload["delta_adjusted_exposure"] / equity
        delta_leverage_derived = True
    return {
        **body,
        "gross_leverage": gross_leverage,
        "delta_adjusted_leverage": delta_leverage,
        "delta_adjusted_leverage_derived": delta_leverage_derived,
        "unrealised_pnl": payload.get("unrealised_pnl"),
        "daily_pnl_pct_equity": _share(body["pnl"]["daily"], equity),
    }


def _exposures(overview: PortfolioResult | None) -> dict[str, Any]:
    if overview is None:
        return {}
    payload = overview.payload
    equity = payload.get("equity_balance")
    rows = [
        ("Long", payload.get("long_exposure")),
        ("Short", payload.get("short_exposure")),
        ("Gross", payload.get("gross_exposure")),
        ("Net", payload.get("net_exposure")),
        ("Delta-adjusted", payload.get("delta_adjusted_exposure")),
        ("Stocks", payload.get("stock_exposure")),
        ("Options", payload.get("options_exposure")),
    ]
    top = _max_abs([value for _, value in rows])
    by_tag = sorted(
        ({"name": name, **values} for name, values in (payload.get("by_tag") or {}).items()),
        key=lambda row: -(abs(_finite(row.get("gross")) or 0.0)),
    )
    return {
        "rows": [
            {"label": label, "value": value, "pct_equity": _share(value, equity), "max": top} for label, value in rows
        ],
        "by_tag": by_tag,
        "counts_by_type": payload.get("counts_by_type") or {},
        "missing_prices": payload.get("missing_prices") or [],
        "expired_options": payload.get("expired_options") or [],
    }


def _factors(result: PortfolioResult | None) -> dict[str, Any]:
    if result is None:
        return {}
    payload = result.payload
    betas = payload.get("portfolio_betas") or {}
    dollars = payload.get("dollar_exposures") or {}
    names = payload.get("factors") or list(betas)
    top = max(_max_abs(list(betas.values())), EXTREME_BETA)
    rows = []
    for name in names:
        beta = _finite(betas.get(name))
        rows.append(
            {
                "name": name,
                "label": FACTOR_LABELS.get(name, name.replace("_", " ").capitalize()),
                "proxy": FACTOR_PROXY_LABELS.get(name, ""),
                "beta": beta,
                "dollar": dollars.get(name),
                "extreme": beta is not None and abs(beta) > EXTREME_BETA,
                "width_pct": 0.0 if beta is None else min(50.0, abs(beta) / top * 50.0),
            }
        )
    flags = sorted((payload.get("quality_flags") or {}).items())
    return {
        "rows": rows,
        "quality_flags": [{"symbol": symbol, "quality": quality} for symbol, quality in flags],
        "beta_basis": payload.get("beta_basis"),
        "basis_value": payload.get("basis_value"),
        "condition_number": payload.get("condition_number"),
        "market_beta_univariate": payload.get("market_beta_univariate"),
        "extreme_limit": EXTREME_BETA,
    }


def _stress(result: PortfolioResult | None, equity: Any) -> dict[str, Any]:
    if result is None:
        return {}
    payload = result.payload
    exceed = set(payload.get("losses_exceed_equity") or [])

    def worst_first(scenario: dict[str, Any]) -> tuple[int, float]:
        pnl = _finite(scenario.get("conditioned_pnl"))
        return (1, 0.0) if pnl is None else (0, pnl)

    scenarios = sorted(payload.get("scenarios") or [], key=worst_first)
    top = _max_abs([s.get("conditioned_pnl") for s in scenarios] + [s.get("direct_pnl") for s in scenarios])
    rows = [
        {
            "id": s.get("id"),
            "name": s.get("name"),
            "category": s.get("category"),
            "severity": s.get("severity"),
            "direct_pnl": s.get("direct_pnl"),
            "conditioned_pnl": s.get("conditioned_pnl"),
            "direct_pct": s.get("direct_pct"),
            "conditioned_pct": s.get("conditioned_pct"),
            "exceeds_equity": s.get("id") in exceed,
            "max": top,
        }
        for s in scenarios
    ]
    return {"rows": rows, "worst": payload.get("worst"), "exceed_count": len(exceed), "equity": equity}


def _market(result: PortfolioResult | None, factors: PortfolioResult | None) -> dict[str, Any]:
    if result is None:
        return {}
    scenarios = sorted(result.payload.get("scenarios") or [], key=lambda s: _finite(s.get("shock")) or 0.0)
    top = _max_abs([s.get("pnl") for s in scenarios])
    beta = None
    if factors is not None and factors.as_of <= result.as_of:
        beta = (factors.payload.get("portfolio_betas") or {}).get("market")
    return {
        "rows": [{**{k: v for k, v in s.items() if not k.endswith("_by_position")}, "max": top} for s in scenarios],
        "market_beta": beta,
    }


def _var(result: PortfolioResult | None, equity: Any) -> dict[str, Any]:
    if result is None:
        return {}
    payload = result.payload
    historical = payload.get("historical") or {}
    parametric = payload.get("parametric") or {}
    simulated = payload.get("monte_carlo") or {}
    rows = []
    for level in ("95", "99"):
        rows.append(
            {
                "level": f"{level}%",
                "hist_var": historical.get(f"var_{level}"),
                "hist_es": historical.get(f"es_{level}"),
                "param_var": parametric.get(f"var_{level}"),
                "param_es": parametric.get(f"es_{level}"),
                "hist_var_pct": _share(historical.get(f"var_{level}"), equity),
                "hist_es_pct": _share(historical.get(f"es_{level}"), equity),
                "param_var_pct": _share(parametric.get(f"var_{level}"), equity),
                "param_es_pct": _share(parametric.get(f"es_{level}"), equity),
                "mc_var": simulated.get(f"var_{level}"),
                "mc_es": simulated.get(f"es_{level}"),
                "mc_var_pct": _share(simulated.get(f"var_{level}"), equity),
                "mc_es_pct": _share(simulated.get(f"es_{level}"), equity),
            }
        )
    contributions = [c for c in payload.get("contributions") or [] if _finite(c.get("historical_var_99")) is not None]
    contributions.sort(key=lambda c: -c["historical_var_99"])
    top = contributions[:TOP_CONTRIBUTORS]
    total = historical.get("var_99")
    return {
        "rows": rows,
        "observations": historical.get("observations"),
        "mc_paths": simulated.get("paths"),
        "horizon_days": payload.get("horizon_days", 1),
        "contributors": [
            {
                **c,
                "share": _share(c.get("historical_var_99"), total),
                "max": _max_abs([t["historical_var_99"] for t in top]),
            }
            for c in top
        ],
        "contributor_count": len(payload.get("contributions") or []),
    }


def _risk_decomposition(result: PortfolioResult | None) -> dict[str, Any]:
    """Predicted volatility, its factor/specific split, each factor's and the top positions' contributions."""
    if result is None:
        return {}
    payload = result.payload
    factors = [f for f in payload.get("factors") or [] if _finite(f.get("contribution")) is not None]
    factors.append({"factor": "specific", "contribution": payload.get("specific_contribution")})
    largest = _max_abs([f["contribution"] for f in factors])
    positions = sorted(payload.get("positions") or [], key=lambda p: -abs(p.get("component") or 0.0))
    top = positions[:TOP_CONTRIBUTORS]
    return {
        **{k: payload.get(k) for k in ("total_vol", "total_vol_pct", "factor_vol", "specific_vol", "factor_share")},
        "estimator": payload.get("covariance_estimator"),
        "factors": [{**f, "max": largest} for f in factors],
        "positions": [{**p, "max": _max_abs([t.get("component") for t in top])} for p in top],
        "position_count": len(positions),
    }


def _tracking_error(result: PortfolioResult | None) -> dict[str, Any]:
    """Ex-ante tracking error and the active betas against the benchmark."""
    if result is None:
        return {}
    payload = result.payload
    factors = payload.get("factors") or []
    return {
        **{k: payload.get(k) for k in ("benchmark_symbol", "tracking_error", "tracking_error_usd", "factor_te")},
        "specific_te": payload.get("specific_te"),
        "factors": [{**f, "max": _max_abs([g.get("active_beta") for g in factors])} for f in factors],
    }


def _heatmap_svg(*, labels: list[str], matrix: list[list[Any]]) -> str | None:
    """The report builders' heatmap of a correlation matrix, cached by the matrix itself: drawing a
    30 × 30 matrix costs about 20 ms, and the same stored result is drawn for every page view."""
    key = "web:heatmap:" + hashlib.sha256(json.dumps([labels, matrix]).encode()).hexdigest()
    svg = cache.get(key)
    if svg is None:
        svg = chart_svg(Heatmap(key="correlations", title="Correlation matrix", labels=labels, matrix=matrix)) or ""
        cache.set(key, svg, timeout=HEATMAP_CACHE_S)
    return svg or None


def _correlations(result: PortfolioResult | None) -> dict[str, Any]:
    if result is None:
        return {}
    payload = result.payload
    heatmap = _heatmap_svg(labels=[str(s) for s in payload.get("symbols") or []], matrix=payload.get("matrix") or [])
    return {
        "symbols": payload.get("symbols") or [],
        # The report's SVG heatmap (escaped labels, a tooltip per cell): interaction would add nothing.
        "heatmap": mark_safe(heatmap) if heatmap else None,
        "clusters": payload.get("clusters") or [],
        "average_abs_correlation": payload.get("average_abs_correlation"),
        "diversification_score": payload.get("diversification_score"),
        "effective_positions": payload.get("effective_positions"),
        "window_days": payload.get("window_days"),
        "excluded": payload.get("excluded") or [],
    }


def _greeks(result: PortfolioResult | None) -> dict[str, Any]:
    if result is None:
        return {}
    totals = result.payload.get("totals") or {}
    options = [p for p in result.payload.get("positions") or [] if p.get("strike") is not None]
    return {"totals": totals, "option_count": len(options)}


def _history(snapshots: list[HistoryDay]) -> dict[str, Any]:
    """The chart's series (oldest first) and the deepest drawdown of the cumulative P&L."""
    if not snapshots:
        return {}
    cumulative = [s.cumulative_pnl if s.cumulative_pnl is not None else math.nan for s in snapshots]
    drawdown = drawdown_from_pnl(cumulative)
    equity = [s.equity for s in snapshots]
    drawdown_pct = [
        (float(d) / e) if e and math.isfinite(d) else None for d, e in zip(drawdown.tolist(), equity, strict=True)
    ]
    deepest = max_drawdown(cumulative)

    def clean(values: list[Any]) -> list[float | None]:
        return [_finite(v) for v in values]

    series = {
        "dates": [s.as_of.isoformat() for s in snapshots],
        "value": clean([s.total_value for s in snapshots]),
        "daily_pnl": clean([s.daily_pnl for s in snapshots]),
        "cumulative_pnl": clean(cumulative),
        "drawdown": clean(drawdown.tolist()),
        "drawdown_pct": drawdown_pct,
        "has_equity": any(e for e in equity),
    }
    summary: dict[str, Any] = {"days": len(snapshots), "first": snapshots[0].as_of, "last": snapshots[-1].as_of}
    if deepest is not None:
        trough = snapshots[deepest.trough_index]
        summary.update(
            {
                "max_drawdown": deepest.depth,
                "max_drawdown_pct": _share(deepest.depth, trough.equity),
                "peak_date": snapshots[deepest.peak_index].as_of,
                "trough_date": trough.as_of,
            }
        )
    summary["cumulative_pnl"] = _finite(cumulative[-1])
    summary["data_source_label"] = data_source_label(snapshots[-1].data_source)
    return {"series": series, "summary": summary}


def _batch(run: BatchRun | None, jobs: list[BatchJob]) -> dict[str, Any]:
    if run is None:
        return {}
    failed = [job for job in jobs if job.status == RunStatus.FAILED]
    return {
        "run": run,
        "ok": run.status == RunStatus.COMPLETED and not failed,
        "jobs": jobs,
        "failed": failed,
    }


def dashboard_present(*, portfolio: Portfolio) -> dict[str, Any]:
    """Everything the dashboard shows for ``portfolio``, read from stored results (a few queries)."""
    results = selectors.portfolio_results_latest(portfolio_id=portfolio.pk)
    snapshots = [
        HistoryDay(*row)
        for row in selectors.snapshots_for_portfolio(portfolio_id=portfolio.pk).values_list(*HistoryDay._fields)
    ]
    overview = results.get(OVERVIEW)
    if overview is not None:
        overview.portfolio = portfolio  # the API answer names it; it is already loaded
    equity = overview.payload.get("equity_balance") if overview is not None else None
    factor_result = results.get(FACTORS)
    run, jobs = selectors.batch_run_latest_for_portfolio(portfolio_id=portfolio.pk)

    def section(key: str, title: str, kind: str, data: dict[str, Any]) -> Section:
        return Section(key=key, title=title, kind=kind, result=results.get(kind), data=data)

    sections = {
        "exposures": section("exposures", "Exposures", OVERVIEW, _exposures(overview)),
        "factors": section("factors", "Factor exposures", FACTORS, _factors(factor_result)),
        "stress": section("stress", "Stress scenarios", STRESS, _stress(results.get(STRESS), equity)),
        "market": section("market", "Market scenarios", MARKET, _market(results.get(MARKET), factor_result)),
        "var": section("var", "Value at risk", VAR, _var(results.get(VAR), equity)),
        "correlations": section("correlations", "Correlations", CORRELATIONS, _correlations(results.get(CORRELATIONS))),
        "greeks": section("greeks", "Greeks", GREEKS, _greeks(results.get(GREEKS))),
        "risk_decomposition": section(
            "risk_decomposition",
            "Risk decomposition",
            "risk_decomposition",
            _risk_decomposition(results.get("risk_decomposition")),
        ),
        "tracking_error": section(
            "tracking_error", "Tracking error", "tracking_error", _tracking_error(results.get("tracking_error"))
        ),
    }
    # Every other kind as its stored payload, under its own name (its partial shows it as stored).
    shown = {s.kind for s in sections.values()}
    for spec in specs():
        if spec.name not in shown and spec.name not in sections and spec.series_item_type is None:
            stored = results.get(spec.name)
            sections[spec.name] = section(spec.name, spec.title, spec.name, dict(stored.payload) if stored else {})
    sources = sorted({r.data_source for r in results.values() if r.data_source})
    return {
        "headline": _headline(overview),
        "overview": overview,
        "overview_provenance": selectors.provenance(overview) if overview is not None else None,
        "sections": sections,
        "history": _history(snapshots),
        "batch": _batch(run, jobs),
        "data_sources": sources,
        "data_source_label": ", ".join(data_source_label(s) for s in sources),
        "simulated": any("simulated" in s for s in sources),
        "stale": [r for r in results.values() if r.is_stale],
        "overview_command": selectors.result_command(OVERVIEW),
    }
