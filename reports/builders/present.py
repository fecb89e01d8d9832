"""Turn the report document into formatted sections shared by the Markdown and HTML renderers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reports.builders.document import SECTIONS, data_source_label
from reports.builders.formatting import MISSING, money, num, pct, quantity, text


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    title: str = ""
    highlight: set[int] = field(default_factory=set)  # row indexes to emphasise (the worst scenario)


@dataclass
class SectionView:
    key: str
    title: str
    computed: bool
    provenance_line: str = ""
    note: str = ""
    stale: str = ""
    facts: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    message: str = ""
    command: str = ""


def provenance_line(prov: dict[str, Any]) -> str:
    lookback = f"{prov['lookback_days']} trading days" if prov.get("lookback_days") else "n/a"
    return (
        f"As of {prov['as_of']} · method: {prov.get('method') or MISSING} · lookback: {lookback} · "
        f"data source: {data_source_label(prov.get('data_source') or '')}"
    )


def _leverage(value: Any) -> str:
    return MISSING if value is None else f"{num(value)}x"


def _overview(payload: dict[str, Any], view: SectionView) -> None:
    view.facts = [
        ("Equity balance", money(payload.get("equity_balance"))),
        ("Market value (net)", money(payload.get("market_value"))),
        ("Long exposure", money(payload.get("long_exposure"))),
        ("Short exposure", money(payload.get("short_exposure"))),
        ("Gross exposure", money(payload.get("gross_exposure"))),
        ("Net exposure", money(payload.get("net_exposure"))),
        ("Delta-adjusted exposure", money(payload.get("delta_adjusted_exposure"))),
        ("Stock exposure", money(payload.get("stock_exposure"))),
        ("Options exposure", money(payload.get("options_exposure"))),
        ("Cash", money(payload.get("cash"))),
        ("Leverage", _leverage(payload.get("leverage"))),
        ("Cost basis", money(payload.get("cost_basis"))),
        ("Unrealised P&L", money(payload.get("unrealised_pnl"))),
        ("Positions", text(payload.get("position_count"))),
    ]
    counts = payload.get("counts_by_type") or {}
    if counts:
        view.facts.append(("Positions by type", ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))))
    by_tag = payload.get("by_tag") or {}
    if by_tag:
        rows = [
            [tag, money(v.get("market_value")), money(v.get("gross")), text(v.get("count"))]
            for tag, v in sorted(by_tag.items(), key=lambda item: -abs(item[1].get("gross") or 0))
        ]
        view.tables.append(Table(["Tag", "Market value", "Gross", "Positions"], rows, title="By tag"))
    notes = []
    if payload.get("expired_options"):
        notes.append("Expired options (not priced): " + ", ".join(payload["expired_options"]))
    if payload.get("missing_prices"):
        notes.append("No price for: " + ", ".join(payload["missing_prices"]))
    view.note = " ".join(filter(None, [view.note, *notes]))


def _snapshot(values: dict[str, Any], view: SectionView) -> None:
    view.facts = [
        ("Total value (net)", money(values["total_value"])),
        ("Equity", money(values["equity"])),
        ("Cash", money(values["cash"])),
        ("Daily P&L", money(values["daily_pnl"])),
        ("Daily return", pct(values["daily_return"], decimals=2)),
        ("Cumulative P&L", money(values["cumulative_pnl"])),
        ("Long / short exposure", f"{money(values['long_exposure'])} / {money(values['short_exposure'])}"),
        ("Gross / net exposure", f"{money(values['gross_exposure'])} / {money(values['net_exposure'])}"),
        ("Delta-adjusted exposure", money(values["delta_adjusted_exposure"])),
        ("Portfolio delta / gamma", f"{num(values['portfolio_delta'])} / {num(values['portfolio_gamma'], decimals=4)}"),
        (
            "Portfolio theta / vega",
            f"{money(values['portfolio_theta'], decimals=2)} / {money(values['portfolio_vega'], decimals=2)}",
        ),
        ("Positions", text(values["position_count"])),
    ]


def _positions(section: dict[str, Any], view: SectionView) -> None:
    market = "market" if "market" in section["factors"] else (section["factors"] or [None])[0]
    headers = ["Symbol", "Type", "Qty", "Price", "Market value", "Unrealised P&L", "Delta", "Gamma", "Theta", "Vega"]
    headers += ["$ delta", f"β {market}" if market else "β", "Tags"]
    rows = []
    for row in section["rows"]:
        rows.append(
            [
                row["symbol"],
                row["position_type"] + (" (expired)" if row.get("is_expired") else ""),
                quantity(row["quantity"]),
                money(row["price"], decimals=2),
                money(row["market_value"]),
                money(row["unrealised_pnl"]),
                num(row["position_delta"]),
                num(row["position_gamma"], decimals=4),
                num(row["position_theta"]),
                num(row["position_vega"]),
                money(row["dollar_delta"]),
                num(row["factor_betas"].get(market)) if market else MISSING,
                ", ".join(row["tags"]) or MISSING,
            ]
        )
    view.tables.append(Table(headers, rows))


def _greeks(payload: dict[str, Any], view: SectionView) -> None:
    totals = payload.get("totals") or {}
    view.facts = [
        ("Delta (shares)", num(totals.get("delta"))),
        ("Gamma", num(totals.get("gamma"), decimals=4)),
        ("Theta ($/day)", money(totals.get("theta"), decimals=2)),
        ("Vega ($/vol point)", money(totals.get("vega"), decimals=2)),
        ("Rho ($/1% rate)", money(totals.get("rho"), decimals=2)),
        ("Dollar delta", money(totals.get("dollar_delta"))),
        ("Dollar gamma", money(totals.get("dollar_gamma"))),
    ]
    rows = []
    for p in payload.get("positions") or []:
        if p.get("expired"):
            rows.append([p.get("symbol"), p.get("position_type"), quantity(p.get("quantity")), *(["expired"] * 9)])
            continue
        rows.append(
            [
                text(p.get("symbol")),
                text(p.get("position_type")),
                quantity(p.get("quantity")),
                money(p.get("strike"), decimals=2),
                text(p.get("expiration")),
                money(p.get("spot"), decimals=2),
                f"{pct(p.get('implied_vol'))} ({text(p.get('implied_vol_source'))})",
                num(p.get("delta"), decimals=3),
                num(p.get("position_delta")),
                num(p.get("position_gamma"), decimals=4),
                money(p.get("position_theta"), decimals=2),
                money(p.get("dollar_delta")),
            ]
        )
    if rows:
        headers = ["Symbol", "Type", "Qty", "Strike", "Expiry", "Spot", "Implied vol (source)", "Delta/share"]
        view.tables.append(Table([*headers, "Position delta", "Position gamma", "Theta/day", "$ delta"], rows))


def _factor_exposure(payload: dict[str, Any], view: SectionView) -> None:
    basis = payload.get("beta_basis")
    view.facts = [
        ("Beta basis", f"{text(basis)} ({money(payload.get('basis_value'))})"),
        ("Market beta (univariate)", num(payload.get("market_beta_univariate"))),
        ("Factor matrix condition number", num(payload.get("condition_number"), decimals=1)),
    ]
    betas = payload.get("portfolio_betas") or {}
    dollars = payload.get("dollar_exposures") or {}
    factors = payload.get("factors") or list(betas)
    rows = [[f, num(betas.get(f)), money(dollars.get(f))] for f in factors]
    view.tables.append(Table(["Factor", "Portfolio beta", "Dollar exposure"], rows))
    flags = {s: q for s, q in (payload.get("quality_flags") or {}).items() if q != "ok"}
    if flags:
        view.note = "Betas with limited history: " + ", ".join(f"{s} ({q})" for s, q in sorted(flags.items()))


def _market_scenarios(payload: dict[str, Any], view: SectionView) -> None:
    rows = [
        [text(s.get("name")), pct(s.get("shock")), money(s.get("pnl")), pct(s.get("pnl_pct_of_equity"))]
        for s in payload.get("scenarios") or []
    ]
    view.tables.append(Table(["Scenario", "Market move", "P&L", "% of equity"], rows))


def _stress_test(payload: dict[str, Any], view: SectionView) -> None:
    worst = payload.get("worst") or {}
    if worst:
        view.facts = [("Worst scenario", f"{worst.get('name')}: {money(worst.get('conditioned_pnl'))}")]
        view.facts.append(("Worst, % of equity", pct(worst.get("conditioned_pct"))))
    scenarios = sorted(payload.get("scenarios") or [], key=lambda s: s.get("conditioned_pnl") or 0.0)
    rows, highlight = [], set()
    for index, s in enumerate(scenarios):
        if s.get("id") == worst.get("id"):
            highlight.add(index)
        rows.append(
            [
                text(s.get("name")),
                text(s.get("category")),
                text(s.get("severity")),
                money(s.get("direct_pnl")),
                money(s.get("conditioned_pnl")),
                pct(s.get("conditioned_pct")),
            ]
        )
    headers = ["Scenario", "Category", "Severity", "Direct P&L", "Conditioned P&L", "Conditioned % of equity"]
    view.tables.append(Table(headers, rows, highlight=highlight))
    if payload.get("losses_exceed_equity"):
        view.note = "Losses exceed equity in: " + ", ".join(payload["losses_exceed_equity"])


def _correlations(payload: dict[str, Any], view: SectionView) -> None:
    view.facts = [
        ("Window", f"{text(payload.get('window_days'))} trading days"),
        ("Symbols", text(len(payload.get("symbols") or []))),
        ("Average |correlation|", num(payload.get("average_abs_correlation"))),
        ("Diversification score", num(payload.get("diversification_score"))),
        ("Effective positions", num(payload.get("effective_positions"), decimals=1)),
    ]
    clusters = payload.get("clusters") or []
    if clusters:
        rows = [
            [text(c.get("name")), ", ".join(c.get("symbols") or []), num(c.get("average_correlation"))]
            for c in clusters
        ]
        view.tables.append(Table(["Cluster", "Symbols", "Average correlation"], rows, title="Clusters"))
    excluded = payload.get("excluded") or []
    if excluded:
        view.note = "Excluded: " + ", ".join(f"{e.get('symbol')} ({e.get('reason')})" for e in excluded)


def _var(payload: dict[str, Any], view: SectionView) -> None:
    historical = payload.get("historical") or {}
    parametric = payload.get("parametric") or {}
    view.facts = [
        ("Horizon", f"{text(payload.get('horizon_days'))} day(s)"),
        ("Historical observations", text(historical.get("observations"))),
    ]
    keys = ("var_95", "es_95", "var_99", "es_99")
    rows = [
        ["Historical", *(money(historical.get(k)) for k in keys)],
        ["Parametric", *(money(parametric.get(k)) for k in keys)],
    ]
    view.tables.append(Table(["Method", "VaR 95%", "ES 95%", "VaR 99%", "ES 99%"], rows))
    contributions = sorted(payload.get("contributions") or [], key=lambda c: -(c.get("historical_var_99") or 0.0))[:10]
    if contributions:
        rows = [
            [
                text(c.get("symbol")),
                money(c.get("historical_var_99")),
                money(c.get("historical_es_99")),
                money(c.get("parametric_var_99")),
            ]
            for c in contributions
        ]
        headers = ["Symbol", "Historical VaR 99%", "Historical ES 99%", "Parametric VaR 99%"]
        view.tables.append(Table(headers, rows, title="Largest contributions"))


_PRESENTERS = {
    "overview": lambda section, view: _overview(section["payload"], view),
    "snapshot": lambda section, view: _snapshot(section["values"], view),
    "positions": _positions,
    "greeks": lambda section, view: _greeks(section["payload"], view),
    "factor_exposure": lambda section, view: _factor_exposure(section["payload"], view),
    "market_scenarios": lambda section, view: _market_scenarios(section["payload"], view),
    "stress_test": lambda section, view: _stress_test(section["payload"], view),
    "correlations": lambda section, view: _correlations(section["payload"], view),
    "var": lambda section, view: _var(section["payload"], view),
}


def report_sections_present(document: dict[str, Any]) -> list[SectionView]:
    """One formatted view per section, in report order; missing sections carry their command."""
    views = []
    for spec in SECTIONS:
        section = document["sections"][spec.key]
        view = SectionView(key=spec.key, title=spec.title, computed=section["status"] == "ok")
        if view.computed:
            prov = section["provenance"]
            view.provenance_line = provenance_line(prov)
            view.note = section.get("note", "")
            if prov.get("is_stale"):
                view.stale = "Computed on stale prices" + (
                    f": {prov['stale_reason']}" if prov.get("stale_reason") else "."
                )
            _PRESENTERS[spec.key](section, view)
        else:
            view.message = section["message"]
            view.command = section["command"]
            if spec.key == "positions":  # still list what is held, without made-up numbers
                _positions(section, view)
        views.append(view)
    return views
