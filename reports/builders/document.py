"""The report document: everything a report shows, read from stored analytics, as plain JSON data.

There is one section per registered result kind (``analytics.results``: its name is the section's
key) and the positions table. Only selectors and the kinds' reads are used: a report never
recomputes a number. Stored payloads are copied as they are, so the JSON report equals what the
API serves. A section that was never computed is ``{"status": "not_computed", "command": ...}``
— never zeros.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.text import slugify

from analytics.models import PortfolioResult, PortfolioSnapshot, PositionMetrics
from analytics.results import registry
from analytics.results.base import ResultSpec
from analytics.selectors import portfolio_results_latest, position_metrics_latest, provenance
from marketdata.factors import FACTOR_NAMES
from portfolios.models import Portfolio, Position
from portfolios.selectors import positions_open

SCHEMA_VERSION = 2  # 2: sections named after the result kinds, each kind's stored data under "payload"
BATCH_COMMAND = "python manage.py run_batch"

DATA_SOURCE_LABELS: dict[str, str] = {
    "simulated": "simulated (offline simulated market data)",
    "fmp": "fmp (Financial Modeling Prep)",
    "polygon": "polygon (Polygon.io / Massive)",
    "csv": "csv (prices imported from CSV)",
}


POSITIONS = "positions"
POSITIONS_RANK = 30  # after the overview (10) and the daily snapshot (20), before the other kinds (100)


@dataclass(frozen=True)
class SectionSpec:
    """A report section: one per registered result kind (``kind``), and the positions table."""

    key: str
    title: str
    kind: ResultSpec[Any, Any] | None  # None for the positions table, which reads the position metrics
    command: str
    rank: int


def report_sections() -> list[SectionSpec]:
    """The report's sections in order: by the kinds' ``report_rank``, then in step order."""
    sections = [SectionSpec(spec.name, spec.title, spec, spec.command, spec.report_rank) for spec in registry.specs()]
    sections.append(SectionSpec(POSITIONS, "Positions", None, BATCH_COMMAND, POSITIONS_RANK))
    return sorted(sections, key=lambda section: section.rank)


POSITION_METRIC_FIELDS = (
    "price",
    "price_date",
    "price_source",
    "underlying_price",
    "market_value",
    "cost_basis",
    "unrealised_pnl",
    "delta_exposure",
    "is_expired",
    "implied_vol",
    "implied_vol_source",
    "position_delta",
    "position_gamma",
    "position_theta",
    "position_vega",
    "dollar_delta",
)


def data_source_label(source: str) -> str:
    """How a report names its data source; simulated data is always called out as such."""
    if not source:
        return "none (no stored analytics)"
    if "," in source:
        return "mixed: " + ", ".join(DATA_SOURCE_LABELS.get(s.strip(), s.strip()) for s in source.split(","))
    return DATA_SOURCE_LABELS.get(source, source)


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _missing(spec: SectionSpec, as_of: dt.date, why: str = "") -> dict[str, Any]:
    message = "Not computed: " + (why or f"no stored result for this portfolio on or before {as_of.isoformat()}.")
    return {"status": "not_computed", "title": spec.title, "message": message, "command": spec.command}


def _found(spec: SectionSpec, row: PortfolioResult | PortfolioSnapshot, as_of: dt.date) -> dict[str, Any]:
    section: dict[str, Any] = {"status": "ok", "title": spec.title, "provenance": provenance(row)}
    if row.as_of < as_of:
        section["note"] = f"Latest stored result is from {row.as_of.isoformat()}, before the report date."
    return section


def _positions_provenance(metrics: list[PositionMetrics]) -> dict[str, Any]:
    """One provenance for the positions table: the metrics share a day; list every method/source seen."""
    first = metrics[0]
    stale = [m for m in metrics if m.is_stale]
    computed_at = max((m.computed_at for m in metrics if m.computed_at), default=None)
    return {
        "as_of": first.as_of.isoformat(),
        "method": ", ".join(sorted({m.method for m in metrics})),
        "lookback_days": first.lookback_days,
        "data_source": ", ".join(sorted({m.data_source for m in metrics})),
        "inputs": {"positions_with_metrics": len(metrics)},
        "is_stale": bool(stale),
        "stale_reason": "; ".join(sorted({m.stale_reason for m in stale if m.stale_reason})),
        "computed_at": computed_at.isoformat() if computed_at else None,
    }


def _position_rows(
    positions: list[Position], metrics: dict[uuid.UUID, PositionMetrics], factors: list[str]
) -> list[dict[str, Any]]:
    rows = []
    for position in positions:
        metric = metrics.get(position.id)
        row: dict[str, Any] = {
            "position_id": str(position.id),
            "symbol": position.symbol,
            "position_type": position.position_type,
            "quantity": _number(position.quantity),
            "underlying": position.underlying_symbol or None,
            "strike": _number(position.strike),
            "expiration": position.expiration.isoformat() if position.expiration else None,
            "multiplier": _number(position.multiplier),
            "tags": sorted(tag.name for tag in position.tags.all()),
            "has_metrics": metric is not None,
        }
        for field in POSITION_METRIC_FIELDS:
            row[field] = _json_value(getattr(metric, field)) if metric is not None else None
        row["factor_betas"] = dict(metric.factor_betas) if metric is not None else {}
        rows.append(row)
    return rows


def _factor_list(factor_payload: dict[str, Any] | None, metrics: dict[uuid.UUID, PositionMetrics]) -> list[str]:
    factors = list((factor_payload["factors"] if factor_payload else None) or FACTOR_NAMES)
    for metric in metrics.values():
        factors += [f for f in metric.factor_betas if f not in factors]
    return factors


def report_as_of_resolve(*, portfolio_id: uuid.UUID | str) -> dt.date:
    """The newest day with stored analytics for the portfolio, else the latest completed session."""
    dates = [
        stored.as_of for spec in registry.specs() if (stored := spec.latest(portfolio_id=portfolio_id)) is not None
    ]
    if dates:
        return max(dates)
    from marketdata.calendar import latest_completed_session

    return latest_completed_session()


def report_document_build(*, portfolio: Portfolio, as_of: dt.date) -> dict[str, Any]:
    """The whole report as JSON data; ``as_of`` picks the newest stored result on or before it."""
    sections: dict[str, dict[str, Any]] = {}
    kinds = [section for section in report_sections() if section.kind is not None]
    stored = portfolio_results_latest(
        portfolio_id=portfolio.id,
        as_of=as_of,
        kinds=[s.key for s in kinds if s.kind is not None and s.kind.series_item_type is None],
    )
    payloads: dict[str, Any] = {}
    for section in kinds:
        spec = section.kind
        assert spec is not None
        row = (
            stored.get(spec.name)
            if spec.series_item_type is None
            else spec.latest(portfolio_id=portfolio.id, as_of=as_of)
        )
        if row is None:
            sections[section.key] = _missing(section, as_of)
            continue
        payloads[section.key] = payload = spec.payload_of(row)
        sections[section.key] = {**_found(section, row, as_of), "payload": payload}

    spec = next(section for section in report_sections() if section.key == POSITIONS)
    positions = list(positions_open(portfolio_ids=[portfolio.id]))
    metrics = position_metrics_latest(portfolio_id=portfolio.id, as_of=as_of)
    factors = _factor_list(payloads.get("factor_exposures"), metrics)
    rows = _position_rows(positions, metrics, factors)
    if metrics:
        positions_section: dict[str, Any] = {
            "status": "ok",
            "title": spec.title,
            "provenance": _positions_provenance(list(metrics.values())),
        }
        without = [row["symbol"] for row in rows if not row["has_metrics"]]
        if without:
            positions_section["note"] = "No stored metrics for: " + ", ".join(without)
    else:
        positions_section = _missing(
            spec, as_of, f"no stored position metrics (prices, Greeks, betas) on or before {as_of.isoformat()}."
        )
    positions_section.update({"factors": factors, "rows": rows})
    sections[POSITIONS] = positions_section

    ordered = {section.key: sections[section.key] for section in report_sections()}
    sources = sorted(
        {
            source.strip()
            for section in ordered.values()
            if section["status"] == "ok"
            for source in section["provenance"]["data_source"].split(",")
            if source.strip()
        }
    )
    data_source = ",".join(sources)
    return {
        "report": "portfolio_report",
        "schema_version": SCHEMA_VERSION,
        "generated_at": timezone.now().isoformat(),
        "as_of": as_of.isoformat(),
        "portfolio": {
            "id": str(portfolio.id),
            "name": portfolio.name,
            "slug": slugify(portfolio.name),
            "owner": portfolio.user.email,
            "currency": portfolio.currency,
            "equity_balance": _number(portfolio.equity_balance),
            "position_count": len(rows),
        },
        "data_source": data_source,
        "data_source_label": data_source_label(data_source),
        "missing_sections": [key for key, section in ordered.items() if section["status"] != "ok"],
        "stale_sections": [
            key for key, section in ordered.items() if section["status"] == "ok" and section["provenance"]["is_stale"]
        ],
        "sections": ordered,
    }
