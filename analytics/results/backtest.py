"""``backtest``: each stored day's 1-day VaR against the next session's realised P&L, per method.

Pairs: the ``var`` result stored for day t (its positions at t's close) and the ``snapshots`` row of
the next NYSE session after t (its ``daily_pnl``). A day without the next session's snapshot (or
without a P&L on it) is left out and counted (``unmatched_days``); today's VaR has no next session
yet. The realised P&L is the snapshots' **actual** P&L — price changes of the positions held on the
next session, a position entered that day counted from its entry price — not a hypothetical P&L of
t's frozen book; the two differ only on days the book changed.

Methods: ``historical`` and ``parametric`` from every stored ``var`` payload, ``monte_carlo`` where a
payload carries it (``METHOD_KEYS``: any of them with ``var_95`` / ``var_99`` figures); each method and
confidence (95%, 99%) is tested over its last ``WINDOW`` (250) pairs with both a VaR and a P&L
(``analytics.engines.backtest``): exceptions (a loss strictly beyond the VaR), Kupiec's POF and
Christoffersen's independence and conditional-coverage LR statistics with χ² p-values, and the
Basel traffic-light zone (99% over 250 days: green 0–4, yellow 5–9, red ≥ 10; the same binomial
rule for 95% and for shorter histories, whose length is stated). History comes from the daily batch
or from ``backfill_snapshots`` and ``backfill_var``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from analytics.engines import backtest
from analytics.results.base import AgentTool, ResultSpec
from analytics.results.common import rounded
from analytics.results.presentation import Cell, ReportSection, Table, money, num, text
from analytics.results.registry import register
from core.typed_serializers import IsoDate

if TYPE_CHECKING:
    from analytics.services.steps import ChunkContext, PortfolioSlice
    from portfolios.models import Portfolio

WINDOW = backtest.BASEL_WINDOW
CONFIDENCES = (0.95, 0.99)
METHOD_KEYS = ("historical", "parametric", "monte_carlo")  # keys of the var payload holding var_95 / var_99
# Calendar days of stored VaR and snapshots read: 250 sessions and holidays, with margin.
HISTORY_CALENDAR_DAYS = 380
MAX_EXCEPTION_DATES = 20
PNL_CONVENTION = (
    "actual P&L of the next session's snapshot (price changes of the positions held; a position entered "
    "that day from its entry price)"
)
EXCEPTION_CONVENTION = "an exception is a next-session loss strictly greater than the VaR (-pnl > var)"
ZONE_CONVENTION = (
    "Basel traffic light: green while P(X <= exceptions) < 95% under Binomial(days, 1 - confidence), yellow "
    "below 99.99%, red above (99% over 250 days: green 0-4, yellow 5-9, red 10+)"
)


class BacktestLevel(TypedDict):
    """One method's backtest at one confidence over its last ``observations`` pairs (at most 250).

    exceptions: Days whose next-session loss exceeded the VaR.
    expected_exceptions: observations × (1 − confidence).
    kupiec_lr: Kupiec's proportion-of-failures LR statistic (χ², 1 dof); kupiec_p_value its p-value.
    christoffersen_lr: Christoffersen's independence LR statistic (χ², 1 dof); christoffersen_p_value its p-value.
    conditional_coverage_lr: kupiec_lr + christoffersen_lr (χ², 2 dof).
    n00: Days without exception followed by one without (n01: followed by an exception; n10, n11 likewise).
    zone: Basel traffic light: green, yellow or red (over zone_observations days).
    exception_dates: The P&L dates of the latest exceptions (at most 20), oldest first.
    """

    confidence: float
    observations: int
    exceptions: int
    expected_exceptions: float
    exception_rate: float | None
    kupiec_lr: float | None
    kupiec_p_value: float | None
    christoffersen_lr: float | None
    christoffersen_p_value: float | None
    conditional_coverage_lr: float | None
    conditional_coverage_p_value: float | None
    n00: int
    n01: int
    n10: int
    n11: int
    zone: str
    zone_observations: int
    zone_exceptions: int
    exception_dates: list[IsoDate]


class BacktestMethod(TypedDict):
    """method: historical, parametric or monte_carlo (the var payload's key)."""

    method: str
    levels: list[BacktestLevel]


class BacktestSeries(TypedDict):
    """The pairs, oldest first: the P&L date, the realised P&L (USD) and each method's VaR (positive USD).

    var: ``<method>_<95|99>`` → one VaR per date (null where that method was not stored that day).
    """

    var_dates: list[IsoDate]
    pnl_dates: list[IsoDate]
    pnl: list[float]
    var: dict[str, list[float | None]]


class BacktestPayload(TypedDict):
    """1-day VaR backtest per method.

    observations: Pairs of a stored VaR and the next session's P&L in the window (at most 250).
    var_days: Stored VaR days read before the result's day.
    unmatched_days: VaR days left out for want of the next session's P&L.
    first_pnl_date: First P&L date of the window; last_pnl_date the last.
    """

    horizon_days: int
    window_days: int
    observations: int
    var_days: int
    unmatched_days: int
    first_pnl_date: IsoDate | None
    last_pnl_date: IsoDate | None
    pnl_convention: str
    exception_convention: str
    zone_convention: str
    methods: list[BacktestMethod]
    series: BacktestSeries


@dataclass
class BacktestHistory:
    """The chunk's stored history: each portfolio's VaR figures by day, its P&L by day, the next sessions."""

    var: dict[uuid.UUID, dict[dt.date, dict[str, dict[str, Any]]]] = field(default_factory=dict)
    pnl: dict[uuid.UUID, dict[dt.date, float]] = field(default_factory=dict)
    next_session: dict[dt.date, dt.date] = field(default_factory=dict)


def history_load(*, portfolio_ids: list[uuid.UUID], as_of: dt.date) -> BacktestHistory:
    """Stored VaR figures (before ``as_of``) and snapshot P&L (up to ``as_of``): one query each."""
    from analytics.models import PortfolioResult, PortfolioSnapshot
    from marketdata.calendar import trading_days

    start = as_of - dt.timedelta(days=HISTORY_CALENDAR_DAYS)
    history = BacktestHistory()
    keys = [f"payload__{m}" for m in METHOD_KEYS]
    rows = (
        PortfolioResult.objects.filter(portfolio_id__in=portfolio_ids, kind="var", as_of__gte=start, as_of__lt=as_of)
        .order_by()
        .values_list("portfolio_id", "as_of", *keys)
    )
    for pid, day, *figures in rows:
        history.var.setdefault(pid, {})[day] = {
            m: f for m, f in zip(METHOD_KEYS, figures, strict=True) if isinstance(f, dict)
        }
    snapshots = (
        PortfolioSnapshot.objects.filter(portfolio_id__in=portfolio_ids, as_of__gt=start, as_of__lte=as_of)
        .exclude(daily_pnl__isnull=True)
        .order_by()
        .values_list("portfolio_id", "as_of", "daily_pnl")
    )
    for pid, day, pnl in snapshots:
        if pnl is not None:
            history.pnl.setdefault(pid, {})[day] = float(pnl)
    sessions = trading_days(start=start, end=as_of + dt.timedelta(days=7))
    history.next_session = dict(itertools.pairwise(sessions))
    return history


def backtest_payload(
    *,
    var_by_day: dict[dt.date, dict[str, dict[str, Any]]],
    pnl_by_day: dict[dt.date, float],
    next_session: dict[dt.date, dt.date],
) -> BacktestPayload:
    """The backtest of one portfolio from its stored VaR figures by day and its P&L by day."""
    days = sorted(var_by_day)
    pairs = [(d, next_session[d]) for d in days if d in next_session and next_session[d] in pnl_by_day]
    unmatched = len(days) - len(pairs)
    pairs = pairs[-WINDOW:]
    pnl = np.array([pnl_by_day[p] for _, p in pairs], dtype=float)
    present = [m for m in METHOD_KEYS if any(m in var_by_day[d] for d, _ in pairs)]
    series_var: dict[str, list[float | None]] = {}
    methods: list[BacktestMethod] = []
    for method in present:
        levels: list[BacktestLevel] = []
        for confidence in CONFIDENCES:
            key = f"var_{round(confidence * 100)}"
            values = np.array([_number(var_by_day[d].get(method, {}).get(key)) for d, _ in pairs], dtype=float).reshape(
                -1
            )
            series_var[f"{method}_{round(confidence * 100)}"] = [rounded(v) for v in values]
            usable = np.isfinite(values) & np.isfinite(pnl)
            if not usable.any():
                continue
            result = backtest.var_backtest(var=values[usable], pnl=pnl[usable], confidence=confidence)
            dates = [p for (_, p), u in zip(pairs, usable, strict=True) if u]
            hit_dates = [d.isoformat() for d, hit in zip(dates, result.hits, strict=True) if hit]
            levels.append(_level(confidence, result, hit_dates[-MAX_EXCEPTION_DATES:]))
        if levels:
            methods.append({"method": method, "levels": levels})
    return {
        "horizon_days": 1,
        "window_days": WINDOW,
        "observations": len(pairs),
        "var_days": len(days),
        "unmatched_days": unmatched,
        "first_pnl_date": pairs[0][1].isoformat() if pairs else None,
        "last_pnl_date": pairs[-1][1].isoformat() if pairs else None,
        "pnl_convention": PNL_CONVENTION,
        "exception_convention": EXCEPTION_CONVENTION,
        "zone_convention": ZONE_CONVENTION,
        "methods": methods,
        "series": {
            "var_dates": [d.isoformat() for d, _ in pairs],
            "pnl_dates": [p.isoformat() for _, p in pairs],
            "pnl": [round(float(v), 2) for v in pnl],
            "var": series_var,
        },
    }


def _sentence(phrase: str) -> str:
    return phrase[:1].upper() + phrase[1:] + "."


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else np.nan


def _level(confidence: float, result: backtest.BacktestResult, dates: list[str]) -> BacktestLevel:
    counts = result.counts
    return {
        "confidence": confidence,
        "observations": result.observations,
        "exceptions": result.exceptions,
        "expected_exceptions": round(result.expected, 4),
        "exception_rate": rounded(result.rate, 6),
        "kupiec_lr": rounded(result.pof.statistic, 6),
        "kupiec_p_value": rounded(result.pof.p_value, 6),
        "christoffersen_lr": rounded(result.independence.statistic, 6),
        "christoffersen_p_value": rounded(result.independence.p_value, 6),
        "conditional_coverage_lr": rounded(result.conditional.statistic, 6),
        "conditional_coverage_p_value": rounded(result.conditional.p_value, 6),
        "n00": counts.n00,
        "n01": counts.n01,
        "n10": counts.n10,
        "n11": counts.n11,
        "zone": result.zone,
        "zone_observations": result.zone_observations,
        "zone_exceptions": result.zone_exceptions,
        "exception_dates": dates,
    }


class Backtest(ResultSpec[BacktestPayload, BacktestHistory]):
    name = "backtest"
    title = "VaR backtest"
    payload_type = BacktestPayload
    depends_on = ("snapshots",)
    method = "stored 1-day VaR vs next-session actual P&L: Kupiec POF, Christoffersen independence, Basel zones"
    lookback_days = WINDOW
    summary = "VaR backtest: exceptions, Kupiec and Christoffersen tests, Basel traffic light"
    description = (
        "Each stored day's 1-day VaR (historical, parametric, Monte Carlo when stored) against the next session's "
        "realised P&L over the last 250 pairs: exceptions, Kupiec POF and Christoffersen independence LR statistics "
        "with p-values, and the Basel traffic-light zone, per method and confidence."
    )
    tool = AgentTool(
        description=(
            "VaR backtest: how often the next session's loss exceeded each stored 1-day VaR (historical, parametric, "
            "Monte Carlo when stored; 95% and 99%) over the last 250 days, with Kupiec (right number of exceptions) "
            "and Christoffersen (no clustering) likelihood-ratio tests and p-values, and the Basel traffic-light zone "
            "(99%: green 0-4 exceptions, yellow 5-9, red 10+). A p-value below 0.05 rejects the VaR model."
        ),
    )

    def prepare(self, chunk: ChunkContext) -> BacktestHistory:
        # Today's snapshots were handed to the writer by the snapshots step: wait until they are stored (that write
        # alone: the later steps' writes go on while this one computes).
        chunk.wait_stored("snapshots")
        # Keyed by the owners' ids (a what-if's two portfolios are one owner's), as the payloads read them.
        owners = sorted({part.info.id for part in chunk.slices.values()})
        return chunk.read(
            ("backtest_history", tuple(owners), chunk.market.as_of),
            lambda: history_load(portfolio_ids=owners, as_of=chunk.market.as_of),
        )

    def build(self, chunk: ChunkContext, part: PortfolioSlice, prepared: BacktestHistory) -> BacktestPayload:
        pid = part.info.id
        # A function of the owner's stored history alone (a what-if's before and after share it): kept with it.
        return chunk.read(
            ("backtest_payload", pid, chunk.market.as_of),
            lambda: backtest_payload(
                var_by_day=prepared.var.get(pid, {}),
                pnl_by_day=prepared.pnl.get(pid, {}),
                next_session=prepared.next_session,
            ),
        )

    def inputs(self, chunk: ChunkContext, part: PortfolioSlice, prepared: BacktestHistory) -> dict[str, Any]:
        return {
            "window_days": WINDOW,
            "confidences": list(CONFIDENCES),
            "var_kind": "var",
            "pnl": PNL_CONVENTION,
            "history": "run `python manage.py backfill_snapshots` and `backfill_var` to rebuild past days",
        }

    def tool_data(
        self, payload: BacktestPayload, args: dict[str, Any], portfolio: Portfolio
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        data = {key: value for key, value in payload.items() if key != "series"}
        return data, {}

    def report(self, payload: BacktestPayload) -> ReportSection:
        observations = payload["observations"]
        facts: list[tuple[str, Any]] = [
            ("Pairs tested", (text(observations), f" of the {payload['window_days']} days the Basel test asks")),
            ("Window", text(f"{payload['first_pnl_date'] or '-'} to {payload['last_pnl_date'] or '-'}")),
            ("VaR days without the next session's P&L", text(payload["unmatched_days"])),
        ]
        rows: list[list[Cell]] = []
        for method in payload["methods"]:
            for level in method["levels"]:
                rows.append(
                    [
                        text(method["method"].replace("_", " ")),
                        text(f"{round(level['confidence'] * 100)}%"),
                        text(level["observations"]),
                        (text(level["exceptions"]), " (", num(level["expected_exceptions"], 1), ")"),
                        (num(level["kupiec_lr"]), " (p ", num(level["kupiec_p_value"], 3), ")"),
                        (num(level["christoffersen_lr"]), " (p ", num(level["christoffersen_p_value"], 3), ")"),
                        text(level["zone"]),
                    ]
                )
        headers = ["Method", "Level", "Days", "Exceptions (expected)", "Kupiec LR", "Christoffersen LR", "Zone"]
        tables = [Table(headers, rows, title="Backtest by method")] if rows else []
        pnl = payload["series"]["pnl"]
        if pnl:
            facts.append(("Worst next-session P&L", money(min(pnl))))
        note = " ".join(
            _sentence(phrase)
            for phrase in (payload["exception_convention"], payload["zone_convention"], payload["pnl_convention"])
        )
        if not rows:
            note = "No stored VaR with the next session's P&L yet: run backfill_snapshots and backfill_var. " + note
        return ReportSection(facts=facts, tables=tables, note=note)


SPEC = register(Backtest())
