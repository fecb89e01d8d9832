"""Tools over the stored risk analytics: Greeks, factor exposures, scenarios, stress tests, correlations, VaR."""

from __future__ import annotations

from typing import Any

from agent.tools.common import equity_of, not_computed, result_envelope, stored_result
from agent.tools.registry import register, truncate
from analytics.models import ResultKind
from analytics.selectors import scenario_position_rows
from portfolios.models import Portfolio

MAX_GREEK_POSITIONS = 50
MAX_FACTOR_POSITIONS = 50
MAX_SCENARIOS = 50
MAX_SCENARIO_POSITIONS = 20
MAX_MATRIX_SYMBOLS = 25
MAX_PAIRS = 25
MAX_CONTRIBUTIONS = 50

GREEK_POSITION_FIELDS = (
    "position_id", "symbol", "underlying", "position_type", "quantity", "strike", "expiration", "expired", "spot",
    "years_to_expiry", "implied_vol", "implied_vol_source", "delta", "position_delta", "position_gamma",
    "position_theta", "position_vega", "position_rho", "dollar_delta", "dollar_gamma",
)  # fmt: skip


def _abs_key(key: str) -> Any:
    return lambda row: -abs(row.get(key) or 0.0)


@register(
    name="get_greeks",
    description=(
        "Portfolio option Greeks (delta, gamma, theta per day, vega per vol point, rho per 1% rate, dollar delta and "
        "gamma) and the option positions with the largest dollar delta, with their pricing inputs."
    ),
    properties={"limit": {"type": "integer", "minimum": 1, "maximum": MAX_GREEK_POSITIONS, "default": 10}},
    limits={"rows": MAX_GREEK_POSITIONS},
)
def get_greeks(portfolio: Portfolio, args: dict[str, Any]) -> dict[str, Any]:
    result = stored_result(portfolio, ResultKind.GREEKS)
    if result is None:
        return not_computed("Greeks", ResultKind.GREEKS)
    positions = sorted(result.payload.get("positions", []), key=_abs_key("dollar_delta"))
    kept, marker = truncate(positions, int(args.get("limit", 10)))
    rows = [{key: row.get(key) for key in GREEK_POSITION_FIELDS} for row in kept]
    return result_envelope(result, {"totals": result.payload.get("totals", {}), "positions": rows}, **marker)


@register(
    name="get_factor_exposures",
    description=(
        "Portfolio factor betas (market, value, growth, momentum, quality, size, low volatility, interest rate), "
        "dollar exposure per factor, the beta basis, condition number, data-quality flags and optionally the "
        "positions with the largest exposures."
    ),
    properties={
        "include_positions": {"type": "boolean", "default": False},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_FACTOR_POSITIONS, "default": 10},
    },
    limits={"rows": MAX_FACTOR_POSITIONS},
)
def get_factor_exposures(portfolio: Portfolio, args: dict[str, Any]) -> dict[str, Any]:
    result = stored_result(portfolio, ResultKind.FACTOR_EXPOSURE)
    if result is None:
        return not_computed("Factor exposures", ResultKind.FACTOR_EXPOSURE)
    payload = result.payload
    keys = ("factors", "portfolio_betas", "dollar_exposures", "beta_basis", "basis_value", "market_beta_univariate")
    data = {key: payload.get(key) for key in (*keys, "condition_number", "quality_flags")}
    marker: dict[str, Any] = {"truncated": False}
    if args.get("include_positions"):
        positions = sorted(payload.get("positions", []), key=_abs_key("delta_exposure"))
        data["positions"], marker = truncate(positions, int(args.get("limit", 10)))
    return result_envelope(result, data, **marker)


def _scenario_filter(scenarios: list[dict[str, Any]], args: dict[str, Any]) -> list[dict[str, Any]]:
    wanted = (args.get("scenario") or "").strip().lower()
    category = (args.get("category") or "").strip().lower()
    out = []
    for scenario in scenarios:
        if (
            wanted
            and wanted != str(scenario.get("id", "")).lower()
            and wanted not in str(scenario.get("name", "")).lower()
        ):
            continue
        if category and category != str(scenario.get("category", "")).lower():
            continue
        out.append(scenario)
    return out


@register(
    name="get_stress_results",
    description=(
        "Stress-test results per scenario (direct and correlation-conditioned P&L in USD and % of equity, P&L by "
        "factor), worst first, with the worst scenario and any scenario whose loss exceeds equity. Filter by "
        "scenario id/name or category; one scenario also returns its largest position P&Ls."
    ),
    properties={
        "scenario": {"type": "string", "maxLength": 120},
        "category": {"type": "string", "maxLength": 30},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_SCENARIOS, "default": 10},
    },
    limits={"rows": MAX_SCENARIOS, "positions": MAX_SCENARIO_POSITIONS},
)
def get_stress_results(portfolio: Portfolio, args: dict[str, Any]) -> dict[str, Any]:
    result = stored_result(portfolio, ResultKind.STRESS_TEST)
    if result is None:
        return not_computed("Stress tests", ResultKind.STRESS_TEST)
    scenarios = _scenario_filter(result.payload.get("scenarios", []), args)
    scenarios.sort(key=lambda s: s.get("conditioned_pnl") if s.get("conditioned_pnl") is not None else 0.0)
    kept, marker = truncate(scenarios, int(args.get("limit", 10)))
    rows = []
    for scenario in kept:
        row = {key: value for key, value in scenario.items() if not key.endswith("_by_position")}
        if len(kept) == 1:
            positions = sorted(scenario_position_rows(result.payload, scenario), key=_abs_key("conditioned_pnl"))
            row["positions"], row["positions_marker"] = truncate(positions, MAX_SCENARIO_POSITIONS)
        rows.append(row)
    data = {
        "scenarios": rows,
        "worst": result.payload.get("worst"),
        "losses_exceed_equity": result.payload.get("losses_exceed_equity", []),
        "equity_balance": equity_of(portfolio),
    }
    return result_envelope(result, data, **marker)


@register(
    name="get_market_scenarios",
    description="P&L of the portfolio under simple market moves (e.g. market ±5%, ±10%), in USD and % of equity.",
    properties={"limit": {"type": "integer", "minimum": 1, "maximum": MAX_SCENARIOS, "default": 20}},
    limits={"rows": MAX_SCENARIOS},
)
def get_market_scenarios(portfolio: Portfolio, args: dict[str, Any]) -> dict[str, Any]:
    result = stored_result(portfolio, ResultKind.MARKET_SCENARIOS)
    if result is None:
        return not_computed("Market scenarios", ResultKind.MARKET_SCENARIOS)
    scenarios = [
        {k: v for k, v in s.items() if not k.endswith("_by_position")} for s in result.payload.get("scenarios", [])
    ]
    kept, marker = truncate(scenarios, int(args.get("limit", 20)))
    return result_envelope(result, {"scenarios": kept}, **marker)


@register(
    name="get_correlations",
    description=(
        "Correlations between the portfolio's holdings: summary (average |correlation|, diversification score, "
        "effective number of positions), clusters of co-moving symbols, the most correlated pairs and a capped "
        "matrix (optionally for chosen symbols)."
    ),
    properties={
        "symbols": {"type": "array", "items": {"type": "string", "maxLength": 40}, "maxItems": MAX_MATRIX_SYMBOLS},
        "max_symbols": {"type": "integer", "minimum": 2, "maximum": MAX_MATRIX_SYMBOLS, "default": 10},
        "pairs": {"type": "integer", "minimum": 1, "maximum": MAX_PAIRS, "default": 5},
    },
    limits={"symbols": MAX_MATRIX_SYMBOLS, "pairs": MAX_PAIRS},
)
def get_correlations(portfolio: Portfolio, args: dict[str, Any]) -> dict[str, Any]:
    result = stored_result(portfolio, ResultKind.CORRELATIONS)
    if result is None:
        return not_computed("Correlations", ResultKind.CORRELATIONS)
    payload = result.payload
    symbols: list[str] = list(payload.get("symbols", []))
    matrix: list[list[float]] = payload.get("matrix", [])
    pairs = [
        {"a": symbols[i], "b": symbols[j], "correlation": matrix[i][j]}
        for i in range(len(symbols))
        for j in range(i + 1, len(symbols))
        if matrix[i][j] is not None
    ]
    pairs.sort(key=lambda p: -p["correlation"])
    top_pairs, pair_marker = truncate(pairs, int(args.get("pairs", 5)))
    wanted = [s.upper() for s in args.get("symbols") or []]
    chosen = [s for s in symbols if s.upper() in wanted] if wanted else symbols
    chosen_kept, matrix_marker = truncate(chosen, int(args.get("max_symbols", 10)))
    index = {s: i for i, s in enumerate(symbols)}
    sub = [[matrix[index[a]][index[b]] for b in chosen_kept] for a in chosen_kept]
    data = {
        "window_days": payload.get("window_days"),
        "average_abs_correlation": payload.get("average_abs_correlation"),
        "diversification_score": payload.get("diversification_score"),
        "effective_positions": payload.get("effective_positions"),
        "clusters": payload.get("clusters", []),
        "top_pairs": top_pairs,
        "matrix": {"symbols": chosen_kept, "values": sub},
        "unknown_symbols": [s for s in wanted if s not in {x.upper() for x in symbols}],
        "excluded": payload.get("excluded", []),
        "symbol_count": len(symbols),
    }
    truncated = pair_marker["truncated"] or matrix_marker["truncated"]
    return result_envelope(result, data, truncated=truncated, matrix_total=matrix_marker["total"])


@register(
    name="get_var",
    description=(
        "One-day Value at Risk and expected shortfall at 95% and 99% (historical and parametric, positive USD "
        "losses, also as % of equity) and the positions contributing most to the 99% historical VaR."
    ),
    properties={"limit": {"type": "integer", "minimum": 1, "maximum": MAX_CONTRIBUTIONS, "default": 10}},
    limits={"rows": MAX_CONTRIBUTIONS},
)
def get_var(portfolio: Portfolio, args: dict[str, Any]) -> dict[str, Any]:
    result = stored_result(portfolio, ResultKind.VAR)
    if result is None:
        return not_computed("VaR", ResultKind.VAR)
    payload = result.payload
    contributions = sorted(payload.get("contributions", []), key=lambda c: -(c.get("historical_var_99") or 0.0))
    kept, marker = truncate(contributions, int(args.get("limit", 10)))
    equity = equity_of(portfolio)
    historical = payload.get("historical") or {}
    as_pct = {k: v / equity for k, v in historical.items() if k != "observations" and v is not None and equity}
    data = {
        "horizon_days": payload.get("horizon_days", 1),
        "historical": historical,
        "parametric": payload.get("parametric") or {},
        "historical_pct_of_equity": as_pct,
        "equity_balance": equity,
        "contributions": kept,
    }
    return result_envelope(result, data, **marker)
