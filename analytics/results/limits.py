"""``limits``: each of a portfolio's risk limits with its value and status (OK / WARN / BREACH / NO_DATA).

Evaluated after the kinds it reads, from their payloads of the same run in memory
(``ChunkContext.payloads_for``): ``overview`` (leverage, per-underlying dollar delta), ``factor_exposures``
(betas), ``var`` (historical VaR 99%), ``stress_test`` (worst conditioned loss) and, when registered,
``liquidity`` (``max_days_to_liquidate``). A figure whose kind did not run or that has no equity to be a share
of is NO_DATA, never a made-up zero. The status rule is ``analytics.engines.limits`` (a value equal to a
level is within it). One stored result per day, so the history of every limit's status is kept.

Each limit's status of the previous stored day is carried in the payload (``previous_status``); storing the
result records an alert for each new breach and each return to OK (``analytics.services.alerts``).

Values (decimals for shares of equity: 0.05 = 5%):

- ``gross_leverage``, ``delta_adjusted_leverage``: the overview's ratios;
- ``var_99_pct_equity``: historical 1-day VaR 99% / equity;
- ``single_name_concentration``: the largest |dollar delta| of an underlying (stock and its options netted)
  / equity;
- ``underlying_dollar_delta``: |dollar delta| of the limit's underlying (USD; 0 when not held), or of the
  largest underlying when none is named;
- ``factor_beta``: the portfolio's beta to the limit's factor (signed; use lower levels for a floor);
- ``worst_stress_loss``: the worst stress scenario's conditioned loss / equity (positive = loss);
- ``days_to_liquidate``: days to sell every position at the liquidity kind's participation rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypedDict

from django.db import transaction
from django.db.models import OuterRef, Subquery

from analytics.engines import limits as engine
from analytics.results.base import AgentTool, ResultSpec, Row
from analytics.results.presentation import Cell, ReportSection, Table, num, text
from analytics.results.registry import register

if TYPE_CHECKING:
    import datetime as dt
    import uuid

    from analytics.models import RiskLimit
    from analytics.services.steps import ChunkContext, PortfolioSlice

UNITS = {
    "gross_leverage": "ratio",
    "delta_adjusted_leverage": "ratio",
    "var_99_pct_equity": "share_of_equity",
    "single_name_concentration": "share_of_equity",
    "underlying_dollar_delta": "usd",
    "factor_beta": "beta",
    "worst_stress_loss": "share_of_equity",
    "days_to_liquidate": "days",
}


class LimitState(TypedDict):
    """One limit's value and status.

    value: The measured figure (unit: ratio, share_of_equity as a decimal, usd, beta or days); null = NO_DATA.
    subject: What was measured when the limit names none (the largest underlying), else its factor/underlying.
    previous_status: The status on the previous stored day (null on the first).
    """

    limit_id: str
    metric: str
    label: str
    factor: str
    underlying: str
    subject: str | None
    unit: str
    value: float | None
    warning_level: float | None
    hard_level: float | None
    lower_warning: float | None
    lower_hard: float | None
    status: str
    previous_status: str | None


class LimitsPayload(TypedDict):
    """The status of every active limit of the portfolio.

    status: The worst status of all (OK when there are no limits).
    """

    status: str
    breaches: int
    warnings: int
    no_data: int
    limits: list[LimitState]


class LimitsChunk(TypedDict):
    limits: dict[uuid.UUID, list[RiskLimit]]
    previous: dict[uuid.UUID, dict[str, str]]  # portfolio → limit id → status on the previous stored day


# What a person reads for each metric (the model's choice labels are the long, explanatory form).
METRIC_LABELS: dict[str, str] = {
    "gross_leverage": "Gross leverage",
    "delta_adjusted_leverage": "Delta-adjusted leverage",
    "var_99_pct_equity": "VaR 99% / equity",
    "single_name_concentration": "Single-name concentration",
    "underlying_dollar_delta": "Dollar delta",
    "factor_beta": "Factor beta",
    "worst_stress_loss": "Worst stress loss / equity",
    "days_to_liquidate": "Days to liquidate",
}


def limit_label(limit: RiskLimit) -> str:
    """The limit's name as shown on pages, reports, alerts and the agent, e.g. ``Factor beta (Market)``."""
    subject = limit.factor or limit.underlying
    name = METRIC_LABELS.get(limit.metric, limit.metric.replace("_", " "))
    return f"{name} ({subject})" if subject else name


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _share(value: float | None, equity: float | None) -> float | None:
    if value is None or equity is None or equity <= 0:
        return None
    return value / equity


def limit_value(
    limit: RiskLimit, payloads: Mapping[str, Mapping[str, Any]], equity: float | None
) -> tuple[float | None, str | None]:
    """(the figure the limit bounds, what was measured) from the kinds' payloads (see the module docstring)."""
    overview = payloads.get("overview") or {}
    metric = limit.metric
    if metric == "gross_leverage":
        return _number(overview.get("gross_leverage", overview.get("leverage"))), None
    if metric == "delta_adjusted_leverage":
        return _number(overview.get("delta_adjusted_leverage")), None
    if metric == "var_99_pct_equity":
        historical = (payloads.get("var") or {}).get("historical") or {}
        return _share(_number(historical.get("var_99")), equity), None
    if metric in ("single_name_concentration", "underlying_dollar_delta"):
        if "overview" not in payloads:
            return None, None
        deltas = {
            symbol: abs(_number(totals.get("dollar_delta", totals.get("delta_exposure"))) or 0.0)
            for symbol, totals in (overview.get("by_underlying") or {}).items()
        }
        if metric == "underlying_dollar_delta" and limit.underlying:
            return deltas.get(limit.underlying.upper(), 0.0), limit.underlying.upper()
        largest = max(deltas, key=deltas.__getitem__) if deltas else None
        value = deltas[largest] if largest else 0.0
        return (_share(value, equity) if metric == "single_name_concentration" else value), largest
    if metric == "factor_beta":
        betas = (payloads.get("factor_exposures") or {}).get("portfolio_betas") or {}
        return _number(betas.get(limit.factor)), limit.factor
    if metric == "worst_stress_loss":
        stress = payloads.get("stress_test")
        if not stress:
            return None, None
        worst = stress.get("worst") or {}
        pnl = _number(worst.get("conditioned_pnl"))
        return _share(None if pnl is None else max(0.0, -pnl), equity), worst.get("name")
    if metric == "days_to_liquidate":
        return _number((payloads.get("liquidity") or {}).get("max_days_to_liquidate")), None
    return None, None


class Limits(ResultSpec[LimitsPayload, LimitsChunk]):
    name = "limits"
    title = "Risk limits"
    payload_type = LimitsPayload
    depends_on = ("overview",)
    method = "each limit's figure against its warning and hard levels (equal to a level is within it)"
    summary = "Each risk limit's value and status (OK, WARN, BREACH)"
    description = (
        "The portfolio's risk limits (leverage, VaR 99% of equity, single-name concentration, per-underlying dollar "
        "delta, factor betas, worst stress loss, days to liquidate) with the day's value, levels and status, and "
        "the status of the previous day."
    )
    tool = AgentTool(
        description=(
            "The portfolio's risk limits with today's value, warning and hard levels, status (OK, WARN, BREACH, "
            "NO_DATA) and the previous day's status."
        )
    )
    report_rank = 20  # near the top of a report: a breach is the first thing to read
    reuse_stored = False  # the limits may have been edited since the batch; judged again from the payloads

    def prepare(self, chunk: ChunkContext) -> LimitsChunk:
        """Every active limit of the chunk's portfolios and each one's previous stored status (two queries)."""
        owners = sorted({part.info.id for part in chunk.slices.values()})
        return chunk.read(
            ("limits", tuple(owners), chunk.market.as_of), lambda: self._limits_load(owners, chunk.market.as_of)
        )

    def _limits_load(self, owners: list[uuid.UUID], as_of: dt.date) -> LimitsChunk:
        from analytics.models import PortfolioResult, RiskLimit

        limits: dict[uuid.UUID, list[RiskLimit]] = {}
        for limit in RiskLimit.objects.filter(portfolio_id__in=owners, is_active=True).order_by(
            "metric", "factor", "underlying", "id"
        ):
            limits.setdefault(limit.portfolio_id, []).append(limit)
        newest_before = (
            PortfolioResult.objects.filter(portfolio_id=OuterRef("portfolio_id"), kind=self.name, as_of__lt=as_of)
            .order_by("-as_of")
            .values("as_of")[:1]
        )
        previous: dict[uuid.UUID, dict[str, str]] = {}
        rows = PortfolioResult.objects.filter(
            portfolio_id__in=[p for p in owners if p in limits], kind=self.name, as_of=Subquery(newest_before)
        ).order_by("portfolio_id")
        for row in rows:
            previous[row.portfolio_id] = {item["limit_id"]: item["status"] for item in row.payload.get("limits", [])}
        return {"limits": limits, "previous": previous}

    def build(self, chunk: ChunkContext, part: PortfolioSlice, prepared: LimitsChunk) -> LimitsPayload:
        payloads = chunk.payloads_for(part)
        equity = part.info.equity_balance
        previous = prepared["previous"].get(part.info.id, {})
        states: list[LimitState] = []
        for limit in prepared["limits"].get(part.info.id, []):
            value, subject = limit_value(limit, payloads, equity)
            status = engine.limit_status(
                value,
                warning=limit.warning_level,
                hard=limit.hard_level,
                lower_warning=limit.lower_warning,
                lower_hard=limit.lower_hard,
            )
            states.append(
                {
                    "limit_id": str(limit.pk),
                    "metric": limit.metric,
                    "label": limit_label(limit),
                    "factor": limit.factor,
                    "underlying": limit.underlying,
                    "subject": subject,
                    "unit": UNITS.get(limit.metric, "number"),
                    "value": None if value is None else round(value, 6),
                    "warning_level": limit.warning_level,
                    "hard_level": limit.hard_level,
                    "lower_warning": limit.lower_warning,
                    "lower_hard": limit.lower_hard,
                    "status": status,
                    "previous_status": previous.get(str(limit.pk)),
                }
            )
        statuses = [s["status"] for s in states]
        return {
            "status": engine.worst_status(statuses),
            "breaches": statuses.count(engine.BREACH),
            "warnings": statuses.count(engine.WARN),
            "no_data": statuses.count(engine.NO_DATA),
            "limits": states,
        }

    def write(self, rows: list[Row]) -> int:
        """Store the day's statuses and, in the same transaction, an alert per new breach or return to OK (none
        twice for a limit, day and event); then notify them (email, webhook) once committed."""
        from analytics.services import persist
        from analytics.services.alerts import alerts_notify, alerts_record

        with transaction.atomic():
            written = persist.portfolio_results_upsert(rows=rows)  # type: ignore[arg-type]
            created = alerts_record(rows=rows)
        if created:
            alerts_notify(alerts=created)
        return written

    def report(self, payload: LimitsPayload) -> ReportSection:
        rows: list[list[Cell]] = [
            [
                text(s["label"]),
                num(s["value"], decimals=4) if s["value"] is not None else text("n/a"),
                num(s["warning_level"], decimals=4) if s["warning_level"] is not None else text("-"),
                num(s["hard_level"], decimals=4) if s["hard_level"] is not None else text("-"),
                text(s["status"]),
            ]
            for s in payload["limits"]
        ]
        return ReportSection(
            facts=[
                ("Status", text(payload["status"])),
                ("Breaches", num(payload["breaches"], decimals=0)),
                ("Warnings", num(payload["warnings"], decimals=0)),
            ],
            tables=[Table(headers=["Limit", "Value", "Warning", "Hard", "Status"], rows=rows, title="Limits")]
            if rows
            else [],
            note="" if rows else "No limits are set on this portfolio.",
        )


SPEC = register(Limits())
