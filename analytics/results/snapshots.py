"""``snapshots``: the end-of-day state of a portfolio, one row per day in ``PortfolioSnapshot``.

Values and exposures at the day's marks, daily P&L from price changes (Σ quantity × multiplier ×
(P_t − P_{t−1}), right for shorts and options), the daily return on the equity balance (or the
previous gross exposure), cumulative P&L chained onto the previous stored snapshot, and the
portfolio's Greeks. Unlike the other kinds the history is the result: the API lists the stored
days (paginated, ``?start=&end=``), and ``backfill_snapshots`` rebuilds past days from stored prices
(``analytics.services.snapshots``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from analytics.results.base import AgentTool, ResultSpec, Row
from analytics.results.common import Provenance, rounded
from analytics.results.presentation import ReportSection, money, pct, text
from analytics.results.registry import register
from analytics.results.tooling import not_computed, truncate
from core.typed_serializers import IsoDate

if TYPE_CHECKING:
    import uuid

    from django.db.models import QuerySet

    from analytics.models import PortfolioSnapshot
    from analytics.services.columns import Columns
    from analytics.services.steps import ChunkContext, PortfolioSlice
    from portfolios.models import Portfolio

MAX_PERFORMANCE_DAYS = 365
MAX_PERFORMANCE_ROWS = 60
METHOD = "end-of-day marks; P&L from price changes"


class SnapshotPayload(TypedDict):
    """One day's end-of-day state (USD; shorts negative).

    total_value: Net market value of positions.
    equity: Equity balance carried forward by P&L.
    daily_pnl: Σ quantity × multiplier × (mark − previous mark); null on the first day.
    daily_return: Daily P&L / equity balance (or / previous gross exposure without one), decimal.
    cumulative_pnl: Daily P&L chained onto the previous stored snapshot.
    flows: Value moved into positions on the day: entries at entry price − exits at exit price (an
        expired option leaves at its intrinsic value); total value change = daily P&L + flows.
    portfolio_delta: Deprecated: adds share deltas of different underlyings, not a risk figure (kept
        for compatibility); use the greeks result's by_underlying.
    portfolio_gamma: Deprecated for the same reason; use the greeks result's by_underlying.
    """

    total_value: float
    long_exposure: float
    short_exposure: float
    gross_exposure: float
    net_exposure: float
    delta_adjusted_exposure: float | None
    cash: float | None
    equity: float | None
    daily_pnl: float | None
    daily_return: float | None
    cumulative_pnl: float | None
    flows: float | None
    portfolio_delta: float | None
    portfolio_gamma: float | None
    portfolio_theta: float | None
    portfolio_vega: float | None
    position_count: int


class SnapshotRow(SnapshotPayload):
    """One day of a portfolio's snapshot history, with its provenance."""

    as_of: IsoDate
    provenance: Provenance


@dataclass(frozen=True)
class SnapshotChunk:
    """What the day's snapshots of a chunk share: the previous session's marks and each portfolio's
    cumulative P&L so far."""

    previous_day: dt.date | None
    previous_state: Columns | None
    cumulative_before: dict[uuid.UUID, float]
    # Σ quantity × multiplier × exit price of the positions that left each portfolio's book since the
    # previous session (None where one of them has no exit price).
    exits: dict[uuid.UUID, float | None] = field(default_factory=dict)


def snapshot_tool_row(snapshot: PortfolioSnapshot) -> dict[str, Any]:
    """A snapshot as the agent's tools show it (rounded)."""
    return {
        "as_of": snapshot.as_of,
        "total_value": rounded(snapshot.total_value),
        "equity": rounded(snapshot.equity),
        "daily_pnl": rounded(snapshot.daily_pnl),
        "daily_return": rounded(snapshot.daily_return, 6),
        "cumulative_pnl": rounded(snapshot.cumulative_pnl),
        "gross_exposure": rounded(snapshot.gross_exposure),
        "net_exposure": rounded(snapshot.net_exposure),
        "position_count": snapshot.position_count,
        "data_source": snapshot.data_source,
    }


class Snapshots(ResultSpec[SnapshotPayload, SnapshotChunk]):
    name = "snapshots"
    title = "Daily snapshot"
    payload_type = SnapshotPayload
    depends_on = ("overview", "greeks")
    report_rank = 20
    method = METHOD
    summary = "Daily snapshots of a portfolio, oldest first, each with its provenance"
    description = "An empty page when none falls in the range."
    series_item_type = SnapshotRow
    tool = AgentTool(
        description=(
            "Performance from the daily snapshots over the last `days` calendar days: P&L, compounded return, best "
            "and worst day, and the daily rows (most recent first, capped)."
        ),
        properties={"days": {"type": "integer", "minimum": 1, "maximum": MAX_PERFORMANCE_DAYS, "default": 30}},
        limits={"days": MAX_PERFORMANCE_DAYS, "rows": MAX_PERFORMANCE_ROWS},
        aliases=("get_performance",),
    )

    # --- the batch ------------------------------------------------------------------------------

    def prepare(self, chunk: ChunkContext) -> SnapshotChunk:
        from django.db.models import OuterRef, Subquery

        from analytics.models import PortfolioSnapshot
        from analytics.services import compute
        from analytics.services.columns import Columns
        from analytics.services.snapshots import market_at, previous_session

        market = chunk.market
        previous_day = previous_session(market, market.as_of)
        previous_state = None
        if previous_day is not None:
            previous_state = Columns.from_frame(
                compute.position_state_compute(
                    positions=chunk.positions, market=market_at(market, previous_day), stage=chunk.stage
                )
            )
        newest_before = (
            PortfolioSnapshot.objects.filter(portfolio_id=OuterRef("portfolio_id"), as_of__lt=market.as_of)
            .order_by("-as_of")
            .values("as_of")[:1]
        )
        before = PortfolioSnapshot.objects.filter(
            portfolio_id__in=list(chunk.slices), as_of=Subquery(newest_before)
        ).order_by("portfolio_id")
        exits: dict[uuid.UUID, float | None] = {}
        if previous_day is not None:
            from portfolios.selectors import positions_exited

            gone = positions_exited(portfolio_ids=list(chunk.slices), start=previous_day, end=market.as_of)
            for pid, quantity, multiplier, price in gone.values_list(
                "portfolio_id", "quantity", "multiplier", "exit_price"
            ):
                value = None if price is None else float(quantity * multiplier * price)
                held = exits.get(pid, 0.0)
                exits[pid] = None if value is None or held is None else held + value
        return SnapshotChunk(
            previous_day=previous_day,
            previous_state=previous_state,
            cumulative_before={s.portfolio_id: s.cumulative_pnl or 0.0 for s in before},
            exits=exits,
        )

    def build(self, chunk: ChunkContext, part: PortfolioSlice, prepared: SnapshotChunk) -> SnapshotPayload:
        from analytics.services.snapshots import snapshot_values

        values = snapshot_values(
            positions=part.positions,
            state=part.state,
            previous=None if prepared.previous_state is None else prepared.previous_state.rows(part.rows),
            equity=part.info.equity_balance,
            day=chunk.market.as_of,
            previous_day=prepared.previous_day,
            exits=prepared.exits.get(part.info.id, 0.0),
        )
        carried = prepared.cumulative_before.get(part.info.id, 0.0)
        values["cumulative_pnl"] = round(carried + (values["daily_pnl"] or 0.0), 2)
        return values

    def inputs(self, chunk: ChunkContext, part: PortfolioSlice, prepared: SnapshotChunk) -> dict[str, Any]:
        return {"previous_session": prepared.previous_day.isoformat() if prepared.previous_day else None}

    def rows(
        self, chunk: ChunkContext, part: PortfolioSlice, payload: SnapshotPayload, prepared: SnapshotChunk
    ) -> list[Row]:
        inputs = self.inputs(chunk, part, prepared)
        provenance = chunk.provenance(part, method=self.method, lookback=None, inputs=inputs)
        return [{"portfolio_id": part.info.id, "as_of": chunk.market.as_of, **payload, **provenance}]

    def write(self, rows: list[Row]) -> int:
        from django.db import transaction

        from analytics.services import persist

        with transaction.atomic():
            return persist.snapshots_upsert(rows=rows)  # type: ignore[arg-type]

    # --- reads ----------------------------------------------------------------------------------

    def latest(self, *, portfolio_id: uuid.UUID | str, as_of: dt.date | None = None) -> Any:
        from analytics.selectors import snapshots_for_portfolio

        return snapshots_for_portfolio(portfolio_id=portfolio_id, end=as_of).last()

    def payload_of(self, stored: PortfolioSnapshot) -> SnapshotPayload:
        from analytics.models import SNAPSHOT_VALUE_FIELDS

        return {name: getattr(stored, name) for name in SNAPSHOT_VALUE_FIELDS}  # type: ignore[return-value]

    def series(
        self, *, portfolio_id: uuid.UUID | str, start: dt.date | None = None, end: dt.date | None = None
    ) -> QuerySet[Any]:
        """The stored days between ``start`` and ``end`` (inclusive), oldest first."""
        from analytics.selectors import snapshots_for_portfolio

        return snapshots_for_portfolio(portfolio_id=portfolio_id, start=start, end=end)

    def series_item(self, row: PortfolioSnapshot) -> SnapshotRow:
        from analytics.models import SNAPSHOT_VALUE_FIELDS
        from analytics.selectors import provenance

        item: dict[str, Any] = {"as_of": row.as_of.isoformat()}
        item.update({name: getattr(row, name) for name in SNAPSHOT_VALUE_FIELDS})
        item["provenance"] = provenance(row)
        return item  # type: ignore[return-value]

    # --- the agent ------------------------------------------------------------------------------

    def tool_answer(self, portfolio: Portfolio, args: dict[str, Any]) -> dict[str, Any]:
        """P&L, compounded return, best and worst day over the last ``days`` calendar days."""
        from analytics.selectors import provenance, snapshot_latest, snapshots_for_portfolio

        days = int(args.get("days", 30))
        latest = snapshot_latest(portfolio_id=portfolio.pk)
        if latest is None:
            return not_computed("Daily snapshots", self.command)
        start = latest.as_of - dt.timedelta(days=days)
        snapshots = list(snapshots_for_portfolio(portfolio_id=portfolio.pk, start=start, end=latest.as_of))
        growth, pnl = 1.0, 0.0
        with_return = [s for s in snapshots if s.daily_return is not None]
        for snapshot in with_return:
            growth *= 1.0 + snapshot.daily_return  # type: ignore[operator]
        for snapshot in snapshots:
            pnl += snapshot.daily_pnl or 0.0
        best = max(with_return, key=lambda s: s.daily_return or 0.0, default=None)
        worst = min(with_return, key=lambda s: s.daily_return or 0.0, default=None)
        rows, marker = truncate([snapshot_tool_row(s) for s in reversed(snapshots)], MAX_PERFORMANCE_ROWS)
        return {
            "status": "ok",
            "data": {
                "start": snapshots[0].as_of if snapshots else None,
                "end": latest.as_of,
                "days": days,
                "observations": len(snapshots),
                "pnl": rounded(pnl),
                "compounded_return": rounded(growth - 1.0, 6) if with_return else None,
                "best_day": {"as_of": best.as_of, "daily_return": rounded(best.daily_return, 6)} if best else None,
                "worst_day": {"as_of": worst.as_of, "daily_return": rounded(worst.daily_return, 6)} if worst else None,
                "latest": snapshot_tool_row(latest),
                "rows": rows,
            },
            "provenance": provenance(latest),
            **marker,
        }

    # --- the report -----------------------------------------------------------------------------

    def report(self, payload: SnapshotPayload) -> ReportSection:
        return ReportSection(
            facts=[
                ("Total value (net)", money(payload["total_value"])),
                ("Equity", money(payload["equity"])),
                ("Cash", money(payload["cash"])),
                ("Daily P&L", money(payload["daily_pnl"])),
                ("Daily return", pct(payload["daily_return"], decimals=2)),
                ("Cumulative P&L", money(payload["cumulative_pnl"])),
                ("Flows (entries − exits)", money(payload.get("flows"))),
                ("Long / short exposure", (money(payload["long_exposure"]), " / ", money(payload["short_exposure"]))),
                ("Gross / net exposure", (money(payload["gross_exposure"]), " / ", money(payload["net_exposure"]))),
                ("Delta-adjusted exposure", money(payload["delta_adjusted_exposure"])),
                (
                    "Portfolio theta / vega",
                    (
                        money(payload["portfolio_theta"], decimals=2),
                        " / ",
                        money(payload["portfolio_vega"], decimals=2),
                    ),
                ),
                ("Positions", text(payload["position_count"])),
            ]
        )


SPEC = register(Snapshots())
