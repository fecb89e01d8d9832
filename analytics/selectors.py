"""Reads of stored analytics for the API, reports and the agent.

Portfolio-level results live in ``PortfolioResult`` rows, one per (portfolio, kind, as_of), each
with provenance (``as_of``, ``method``, ``lookback_days``, ``data_source``, ``inputs``,
``is_stale``). Money is USD; returns and percentages are decimals (0.05 = 5%). Each kind's payload
is the ``TypedDict`` declared in its module, ``analytics/results/<kind>.py``; per-position breakdowns
of scenarios are stored column-wise (each ``*_by_position`` list follows the order of the payload's
``positions``: written once rather than once per scenario), and ``scenario_position_rows`` turns one
scenario back into rows.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from analytics.models import (
    BatchJob,
    BatchRefusal,
    BatchRun,
    FactorModelFit,
    PortfolioResult,
    PortfolioSnapshot,
    PositionMetrics,
    RiskLimit,
    StressScenario,
    SymbolFactorBeta,
    WhatIfScenario,
)


def result_command(kind: str) -> str:
    """The command that computes ``kind`` (any of its names), for "not computed" answers."""
    from analytics.results import registry

    return registry.spec_for(kind).command


def provenance(result: PortfolioResult | PortfolioSnapshot | PositionMetrics) -> dict[str, Any]:
    """The provenance block every API answer and report carries."""
    return {
        "as_of": result.as_of.isoformat(),
        "method": result.method,
        "lookback_days": result.lookback_days,
        "data_source": result.data_source,
        "inputs": result.inputs,
        "is_stale": result.is_stale,
        "stale_reason": result.stale_reason,
        "computed_at": result.computed_at.isoformat() if result.computed_at else None,
    }


def scenario_position_rows(payload: dict[str, Any], scenario: dict[str, Any]) -> list[dict[str, Any]]:
    """One scenario's per-position P&L as rows: ``{"position_id", "symbol", <metric>: usd}`` for each
    ``<metric>_by_position`` list of a ``stress_test`` or ``market_risk`` scenario."""
    keys = payload.get("positions") or []
    columns = {
        name.removesuffix("_by_position"): values for name, values in scenario.items() if name.endswith("_by_position")
    }
    return [{**key, **{metric: values[k] for metric, values in columns.items()}} for k, key in enumerate(keys)]


def portfolio_result_latest(
    *, portfolio_id: uuid.UUID | str, kind: str, as_of: dt.date | None = None
) -> PortfolioResult | None:
    """The newest result of ``kind`` (on or before ``as_of`` when given), or None if never computed."""
    queryset = PortfolioResult.objects.filter(portfolio_id=portfolio_id, kind=kind)
    if as_of is not None:
        queryset = queryset.filter(as_of__lte=as_of)
    return queryset.order_by("-as_of").first()


def portfolio_results_latest(
    *, portfolio_id: uuid.UUID | str, as_of: dt.date | None = None, kinds: list[str] | None = None
) -> dict[str, PortfolioResult]:
    """The newest result of every kind (or of ``kinds``), on or before ``as_of`` when given, for one
    portfolio — one query that reads only those rows, not the portfolio's whole history."""
    scope = PortfolioResult.objects.filter(portfolio_id=portfolio_id)
    if as_of is not None:
        scope = scope.filter(as_of__lte=as_of)
    if kinds is not None:
        scope = scope.filter(kind__in=kinds)
    newest = scope.filter(kind=OuterRef("kind")).order_by("-as_of").values("as_of")[:1]
    return {result.kind: result for result in scope.filter(as_of=Subquery(newest)).order_by("kind")}


def position_metrics_latest(
    *, portfolio_id: uuid.UUID | str, as_of: dt.date | None = None
) -> dict[uuid.UUID, PositionMetrics]:
    """Per-position metrics of the newest day computed (on or before ``as_of``), keyed by position id."""
    queryset = PositionMetrics.objects.filter(portfolio_id=portfolio_id)
    if as_of is not None:
        queryset = queryset.filter(as_of__lte=as_of)
    newest = queryset.order_by("-as_of").values_list("as_of", flat=True).first()
    if newest is None:
        return {}
    return {m.position_id: m for m in queryset.filter(as_of=newest).order_by("position_id")}


def snapshots_for_portfolio(
    *, portfolio_id: uuid.UUID | str, start: dt.date | None = None, end: dt.date | None = None
) -> QuerySet[PortfolioSnapshot]:
    queryset = PortfolioSnapshot.objects.filter(portfolio_id=portfolio_id)
    if start is not None:
        queryset = queryset.filter(as_of__gte=start)
    if end is not None:
        queryset = queryset.filter(as_of__lte=end)
    return queryset.order_by("as_of")


def snapshot_latest(*, portfolio_id: uuid.UUID | str) -> PortfolioSnapshot | None:
    return PortfolioSnapshot.objects.filter(portfolio_id=portfolio_id).order_by("-as_of").first()


def symbol_betas_latest(*, symbols: list[str], as_of: dt.date | None = None) -> dict[str, SymbolFactorBeta]:
    """Newest stored betas per symbol (on or before ``as_of``)."""
    queryset = SymbolFactorBeta.objects.filter(symbol__in=symbols)
    if as_of is not None:
        queryset = queryset.filter(as_of__lte=as_of)
    latest: dict[str, SymbolFactorBeta] = {}
    for row in queryset.order_by("symbol", "-as_of"):
        latest.setdefault(row.symbol, row)
    return latest


def factor_model_latest(*, as_of: dt.date | None = None) -> FactorModelFit | None:
    queryset = FactorModelFit.objects.all()
    if as_of is not None:
        queryset = queryset.filter(as_of__lte=as_of)
    return queryset.order_by("-as_of").first()


def stress_scenarios_active() -> QuerySet[StressScenario]:
    return StressScenario.objects.filter(is_active=True).order_by("category", "id")


def batch_runs_recent(*, limit: int = 20) -> QuerySet[BatchRun]:
    return BatchRun.objects.order_by("-created_at")[:limit]


def batch_refusals_recent(*, limit: int = 20) -> QuerySet[BatchRefusal]:
    return BatchRefusal.objects.order_by("-refused_at", "-id")[:limit]


def batch_run_latest() -> BatchRun | None:
    return BatchRun.objects.order_by("-created_at").first()


def batch_jobs_for_run(*, run_id: uuid.UUID | str) -> QuerySet[BatchJob]:
    return BatchJob.objects.filter(run_id=uuid.UUID(str(run_id))).select_related("portfolio").order_by("sequence", "id")


def position_metrics_for_positions(
    *, portfolio_id: uuid.UUID | str, position_ids: list[uuid.UUID]
) -> dict[uuid.UUID, PositionMetrics]:
    """Metrics of these positions on the newest day computed for their portfolio, in one query.

    Like :func:`position_metrics_latest` but restricted to one page of positions, with the newest
    day found by a subquery, so the positions list pays a single extra query for its Greeks.
    """
    newest = PositionMetrics.objects.filter(portfolio_id=portfolio_id).order_by("-as_of").values("as_of")[:1]
    queryset = PositionMetrics.objects.filter(
        portfolio_id=portfolio_id, position_id__in=position_ids, as_of=Subquery(newest)
    ).order_by("position_id")
    return {m.position_id: m for m in queryset}


def portfolio_result_for_user(
    *, user: Any, portfolio_id: uuid.UUID | str, kind: str, as_of: dt.date | None = None
) -> PortfolioResult | None:
    """Like :func:`portfolio_result_latest`, scoped to ``user``'s portfolios and with the portfolio
    joined, in one query. None means "not theirs, missing, or never computed": the caller tells
    those apart (with ``portfolios.selectors.portfolio_get_for_user``) only on that slow path."""
    queryset = PortfolioResult.objects.select_related("portfolio").filter(
        portfolio_id=portfolio_id, portfolio__user=user, kind=kind
    )
    if as_of is not None:
        queryset = queryset.filter(as_of__lte=as_of)
    return queryset.order_by("-as_of").first()


def batch_run_latest_for_portfolio(*, portfolio_id: uuid.UUID | str) -> tuple[BatchRun | None, list[BatchJob]]:
    """The newest batch run that had a job for this portfolio (a run over all portfolios counts), with
    that portfolio's jobs in it — (None, []) when no run has included it. Two queries."""
    job = (
        BatchJob.objects.filter(portfolio_id=portfolio_id)
        .select_related("run")
        .order_by("-run__created_at", "-run_id")
        .first()
    )
    if job is None:
        return None, []
    jobs = list(BatchJob.objects.filter(run_id=job.run_id, portfolio_id=portfolio_id).order_by("sequence", "id"))
    return job.run, jobs


def what_if_scenarios_for_portfolio(*, portfolio_id: uuid.UUID) -> QuerySet[WhatIfScenario]:
    """The what-if scenarios saved on a portfolio (the caller checked it is theirs), by name."""
    return WhatIfScenario.objects.filter(portfolio_id=portfolio_id).order_by("name", "id")


def risk_limits_for_portfolio(*, portfolio_id: uuid.UUID) -> QuerySet[RiskLimit]:
    """Every limit of a portfolio (active or not), by metric."""
    return RiskLimit.objects.filter(portfolio_id=portfolio_id).order_by("metric", "factor", "underlying", "id")


def risk_limit_for_user(*, user: Any, limit_id: uuid.UUID) -> RiskLimit | None:
    """One of the user's limits, or None (also for another user's: the caller answers 404)."""
    return RiskLimit.objects.filter(pk=limit_id, portfolio__user=user).first()
