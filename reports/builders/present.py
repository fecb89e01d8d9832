"""Turn the report document into formatted sections shared by the Markdown and HTML renderers.

A result kind's section comes from the kind itself (``ResultSpec.report``: facts, tables, a note and
charts with their values declared, not formatted); here its values get the report's number formats.
The positions table is the reports app's own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from analytics.results.presentation import Cell, Chart, ReportSection, Value
from reports.builders.document import POSITIONS, data_source_label, report_sections
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
    charts: list[Chart] = field(default_factory=list)


def provenance_line(prov: dict[str, Any]) -> str:
    lookback = f"{prov['lookback_days']} trading days" if prov.get("lookback_days") else "n/a"
    return (
        f"As of {prov['as_of']} · method: {prov.get('method') or MISSING} · lookback: {lookback} · "
        f"data source: {data_source_label(prov.get('data_source') or '')}"
    )


def format_value(value: Value) -> str:
    """A declared value (``analytics.results.presentation``) in the report's number formats."""
    v, d = value.value, value.decimals
    if value.unit == "money":
        return money(v, decimals=d or 0)
    if value.unit == "number":
        return num(v, decimals=2 if d is None else d)
    if value.unit == "percent":
        return pct(v, decimals=1 if d is None else d)
    if value.unit == "quantity":
        return quantity(v)
    if value.unit == "ratio":
        return MISSING if v is None else f"{num(v, decimals=2 if d is None else d)}x"
    return text(v)


def format_cell(cell: Cell) -> str:
    """A cell as text: a value formatted, a string as it is, a tuple as its parts one after the other."""
    if isinstance(cell, str):
        return cell
    if isinstance(cell, Value):
        return format_value(cell)
    return "".join(format_cell(part) for part in cell)


def _present_kind(section: ReportSection, view: SectionView) -> None:
    view.facts = [(label, format_cell(cell)) for label, cell in section.facts]
    view.tables = [
        Table(
            list(table.headers),
            [[format_cell(cell) for cell in row] for row in table.rows],
            title=table.title,
            highlight=set(table.highlight),
        )
        for table in section.tables
    ]
    view.note = " ".join(filter(None, [view.note, section.note]))
    view.charts = list(section.charts)


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


def report_sections_present(document: dict[str, Any]) -> list[SectionView]:
    """One formatted view per section, in report order; missing sections carry their command."""
    views = []
    for spec in report_sections():
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
            if spec.kind is None:
                _positions(section, view)
            else:
                _present_kind(spec.kind.report(section["payload"]), view)
        else:
            view.message = section["message"]
            view.command = section["command"]
            if spec.key == POSITIONS:  # still list what is held, without made-up numbers
                _positions(section, view)
        views.append(view)
    return views
