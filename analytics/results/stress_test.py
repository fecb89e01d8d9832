"""``stress_test``: P&L of every active catalog scenario, direct and conditioned on the factor covariance.

A scenario shocks some factor proxies (total returns) and the 10-year yield; the unshocked factors
get their conditional expectation given the shocked ones (in proxy space, from the day's proxy
covariance). Stocks move by their factor betas; options are repriced at the shocked spot and the
shifted implied vol. A volatility index (VIX) moves by its own model, not its betas: the scenario's
stated implied-vol shift sets its level, else the market factor's shock moves it through its log-level
sensitivity (a shift of 0, the catalog's default, states none); its options are repriced on the index's
forward (``analytics.engines.volatility_index``).
No loss cap: ``losses_exceed_equity`` names the scenarios that lose more than the equity balance.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np
import pandas as pd

from analytics.engines import stress
from analytics.results.base import AgentTool, Need, ResultSpec
from analytics.results.common import PositionKey, position_keys, rounded
from analytics.results.presentation import Bar, BarChart, ReportSection, Table, finite, money, pct, text
from analytics.results.registry import register
from analytics.results.tooling import abs_key, truncate
from analytics.selectors import scenario_position_rows
from analytics.services import compute
from marketdata.factors import FACTOR_LOOKBACK_DAYS, FACTOR_NAMES, RATE_PROXY_DURATION

if TYPE_CHECKING:
    from analytics.services.steps import ChunkContext, PortfolioSlice
    from portfolios.models import Portfolio

MAX_SCENARIOS = 50
MAX_SCENARIO_POSITIONS = 20


class StressScenarioResult(TypedDict):
    """One scenario's P&L (USD; % of equity as decimals, null without equity).

    shocks: The catalog's proxy shocks (total returns; interest_rate as a yield change).
    factor_shocks_conditioned: Every factor's shock after conditioning on the shocked ones.
    by_factor: Conditioned P&L per factor (and the option repricing residual).
    direct_pnl_by_position: USD per position, in the order of the payload's positions.
    conditioned_pnl_by_position: USD per position, in the order of the payload's positions.
    """

    id: str
    name: str
    category: str
    severity: str
    shocks: dict[str, float]
    implied_vol_shift: float
    direct_pnl: float | None
    conditioned_pnl: float | None
    direct_pct: float | None
    conditioned_pct: float | None
    factor_shocks_direct: dict[str, float | None]
    factor_shocks_conditioned: dict[str, float | None]
    by_factor: dict[str, float]
    direct_pnl_by_position: list[float]
    conditioned_pnl_by_position: list[float]


class WorstScenario(TypedDict):
    id: str
    name: str
    conditioned_pnl: float | None
    conditioned_pct: float | None


class StressTestPayload(TypedDict):
    positions: list[PositionKey]
    scenarios: list[StressScenarioResult]
    worst: WorstScenario | None
    losses_exceed_equity: list[str]


@dataclass(frozen=True)
class ScenarioShocks:
    """A catalog scenario with its factor shocks solved once per run (they do not depend on the portfolio)."""

    spec: dict[str, Any]
    direct: pd.Series
    conditioned: pd.Series
    vol_shift: float
    stated_vol_shift: float | None = None  # the catalog's shift when not 0 (it sets a volatility index's level)

    @cached_property
    def direct_rounded(self) -> dict[str, float | None]:
        return {f: rounded(self.direct[f], 6) for f in FACTOR_NAMES}

    @cached_property
    def conditioned_rounded(self) -> dict[str, float | None]:
        return {f: rounded(self.conditioned[f], 6) for f in FACTOR_NAMES}


def scenario_shocks_compute(*, catalog: list[dict[str, Any]], stage: compute.SymbolStage) -> list[ScenarioShocks]:
    """Direct and conditioned factor shocks of every scenario (conditioning in proxy space).

    They depend only on the catalog and the run's factor model: solved once per stage and reused
    by every chunk of the run.
    """
    key = repr(catalog)
    if key not in stage.scenario_shocks_cache:
        stage.scenario_shocks_cache[key] = [
            ScenarioShocks(
                spec=scenario,
                direct=stress.direct_factor_shocks(scenario["shocks"], compute.FACTOR_SET),
                conditioned=stress.conditioned_factor_shocks(scenario["shocks"], stage.proxy_cov, compute.FACTOR_SET),
                vol_shift=float(scenario.get("implied_vol_shift") or 0.0),
                # A shift of 0 — the catalog's default — states nothing about a volatility index's level.
                stated_vol_shift=float(scenario["implied_vol_shift"]) if scenario.get("implied_vol_shift") else None,
            )
            for scenario in catalog
        ]
    solved: list[ScenarioShocks] = stage.scenario_shocks_cache[key]
    return solved


@dataclass(frozen=True)
class StressArrays:
    """Every scenario's P&L over every position of a chunk (USD), scenarios in catalog order."""

    shocks: list[ScenarioShocks]
    direct: np.ndarray  # S × N
    conditioned: np.ndarray  # S × N
    conditioned_by_factor: np.ndarray  # S × N × columns
    factor_columns: list[str]


def _stacked(series: list[pd.Series], names: list[str]) -> np.ndarray:
    """Scenario shocks as rows (S × K, columns ``names``); aligned only when a series is in another order."""
    return np.vstack(
        [v.to_numpy(dtype=float) if list(v.index) == names else v.reindex(names).to_numpy(dtype=float) for v in series]
    )


def stress_arrays_compute(
    *, positions: pd.DataFrame, state: pd.DataFrame, shocks: list[ScenarioShocks], rate: float, div_yield: float
) -> StressArrays:
    """Reprice every position of the chunk under every scenario, once (options at the shocked spot and vol)."""
    book = compute.position_book(positions, state, rate, div_yield)
    betas = np.vstack(state["betas"].to_numpy()) if len(state) else np.empty((0, len(FACTOR_NAMES)))
    betas = np.where(np.isfinite(betas), betas, 0.0)
    n = len(state)
    columns = [str(f) for f in FACTOR_NAMES]
    if not shocks:
        return StressArrays(
            shocks=shocks,
            direct=np.empty((0, n)),
            conditioned=np.empty((0, n)),
            conditioned_by_factor=np.empty((0, n, len(columns) + 1)),
            factor_columns=[*columns, stress.VOL_BUCKET],
        )
    # Every scenario at once (one pass over S × N arrays, options repriced together), direct and conditioned.
    names = [str(f) for f in shocks[0].direct.index]
    shifts = [solved.stated_vol_shift for solved in shocks]
    market = compute.FACTOR_SET.market
    direct, _ = stress.stress_pnl_scenarios(
        factor_shocks=_stacked([s.direct for s in shocks], names),
        factor_names=names, betas=betas, book=book, vol_shifts=shifts, market_factor=market,
    )  # fmt: skip
    conditioned, by_factor = stress.stress_pnl_scenarios(
        factor_shocks=_stacked([s.conditioned for s in shocks], names),
        factor_names=names, betas=betas, book=book, vol_shifts=shifts, market_factor=market,
    )  # fmt: skip
    return StressArrays(
        shocks=shocks,
        direct=np.nan_to_num(direct),
        conditioned=np.nan_to_num(conditioned),
        conditioned_by_factor=np.nan_to_num(by_factor),
        factor_columns=[*names, stress.VOL_BUCKET],
    )


@dataclass(frozen=True)
class StressChunk:
    catalog: list[dict[str, Any]]
    arrays: StressArrays | None


def _scenario_filter(scenarios: list[StressScenarioResult], args: dict[str, Any]) -> list[StressScenarioResult]:
    wanted = (args.get("scenario") or "").strip().lower()
    category = (args.get("category") or "").strip().lower()
    out = []
    for scenario in scenarios:
        if wanted and wanted != scenario["id"].lower() and wanted not in scenario["name"].lower():
            continue
        if category and category != scenario["category"].lower():
            continue
        out.append(scenario)
    return out


class StressTest(ResultSpec[StressTestPayload, StressChunk]):
    name = "stress_test"
    title = "Stress tests"
    payload_type = StressTestPayload
    aliases = ("stress_tests",)
    depends_on = ("greeks", "factor_exposures")
    needs = frozenset({Need.FACTOR_MODEL})
    method = "factor betas × proxy shocks; conditioned on the factor covariance; options repriced"
    lookback_days = FACTOR_LOOKBACK_DAYS
    summary = "Stress scenario P&L (direct and factor-conditioned)"
    description = "P&L of every active stress scenario, per factor and per position, and the worst one."
    tool = AgentTool(
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
        aliases=("get_stress_results",),
    )

    def prepare(self, chunk: ChunkContext) -> StressChunk:
        from analytics.selectors import stress_scenarios_active

        catalog = chunk.read(
            ("stress_catalog",),
            lambda: [
                {
                    "id": s.pk,
                    "name": s.name,
                    "category": s.category,
                    "severity": s.severity,
                    "shocks": s.shocks,
                    "implied_vol_shift": s.implied_vol_shift,
                }
                for s in stress_scenarios_active()
            ],
        )
        if chunk.stage is None:
            return StressChunk(catalog=catalog, arrays=None)
        # Scenario factor shocks do not depend on the portfolio: solved once per run.
        solved = scenario_shocks_compute(catalog=catalog, stage=chunk.stage)
        arrays = stress_arrays_compute(
            positions=chunk.positions,
            state=chunk.state,
            shocks=solved,
            rate=chunk.market.rate,
            div_yield=chunk.market.div_yield,
        )
        return StressChunk(catalog=catalog, arrays=arrays)

    def build(self, chunk: ChunkContext, part: PortfolioSlice, prepared: StressChunk) -> StressTestPayload:
        if not prepared.catalog:
            raise RuntimeError("no active stress scenarios; run `python manage.py migrate` to seed the catalog")
        arrays, rows, equity = prepared.arrays, part.rows, part.info.equity_balance
        assert arrays is not None  # the runner skips kinds needing the factor model without one
        direct, conditioned = arrays.direct[:, rows], arrays.conditioned[:, rows]
        direct_totals, conditioned_totals = direct.sum(axis=1).tolist(), conditioned.sum(axis=1).tolist()
        by_factor = np.round(arrays.conditioned_by_factor[:, rows, :].sum(axis=1), 2).tolist()
        direct_by_position, conditioned_by_position = np.round(direct, 2).tolist(), np.round(conditioned, 2).tolist()
        results: list[StressScenarioResult] = []
        for k, solved in enumerate(arrays.shocks):
            scenario = solved.spec
            direct_total, conditioned_total = direct_totals[k], conditioned_totals[k]
            results.append(
                {
                    "id": scenario["id"],
                    "name": scenario["name"],
                    "category": scenario.get("category", ""),
                    "severity": scenario.get("severity", ""),
                    "shocks": scenario["shocks"],
                    "implied_vol_shift": solved.vol_shift,
                    "direct_pnl": rounded(direct_total),
                    "conditioned_pnl": rounded(conditioned_total),
                    "direct_pct": rounded(direct_total / equity, 6) if equity else None,
                    "conditioned_pct": rounded(conditioned_total / equity, 6) if equity else None,
                    "factor_shocks_direct": solved.direct_rounded,
                    "factor_shocks_conditioned": solved.conditioned_rounded,
                    "by_factor": dict(zip(arrays.factor_columns, by_factor[k], strict=True)),
                    "direct_pnl_by_position": direct_by_position[k],
                    "conditioned_pnl_by_position": conditioned_by_position[k],
                }
            )
        worst = min(results, key=lambda r: r["conditioned_pnl"] or 0.0) if results else None
        return {
            "positions": position_keys(part.positions),
            "scenarios": results,
            "worst": {
                "id": worst["id"],
                "name": worst["name"],
                "conditioned_pnl": worst["conditioned_pnl"],
                "conditioned_pct": worst["conditioned_pct"],
            }
            if worst
            else None,
            "losses_exceed_equity": [
                r["id"]
                for r in results
                if equity and r["conditioned_pnl"] is not None and -r["conditioned_pnl"] > equity
            ],
        }

    def inputs(self, chunk: ChunkContext, part: PortfolioSlice, prepared: StressChunk) -> dict[str, Any]:
        return {"scenarios": len(prepared.catalog), "rate_proxy_duration": RATE_PROXY_DURATION}

    def tool_data(
        self, payload: StressTestPayload, args: dict[str, Any], portfolio: Portfolio
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        scenarios = _scenario_filter(payload["scenarios"], args)
        scenarios.sort(key=lambda s: s["conditioned_pnl"] if s["conditioned_pnl"] is not None else 0.0)
        kept, marker = truncate(scenarios, int(args.get("limit", 10)))
        rows = []
        for scenario in kept:
            row: dict[str, Any] = {key: value for key, value in scenario.items() if not key.endswith("_by_position")}
            if len(kept) == 1:
                positions = sorted(
                    scenario_position_rows(dict(payload), dict(scenario)), key=abs_key("conditioned_pnl")
                )
                row["positions"], row["positions_marker"] = truncate(positions, MAX_SCENARIO_POSITIONS)
            rows.append(row)
        equity = float(portfolio.equity_balance) if portfolio.equity_balance is not None else None
        data = {
            "scenarios": rows,
            "worst": payload["worst"],
            "losses_exceed_equity": payload["losses_exceed_equity"],
            "equity_balance": equity,
        }
        return data, marker

    def report(self, payload: StressTestPayload) -> ReportSection:
        section = ReportSection()
        worst = payload["worst"]
        if worst:
            section.facts = [
                ("Worst scenario", (worst["name"], ": ", money(worst["conditioned_pnl"]))),
                ("Worst, % of equity", pct(worst["conditioned_pct"])),
            ]
        scenarios = sorted(payload["scenarios"], key=lambda s: s["conditioned_pnl"] or 0.0)
        rows = [
            [
                text(s["name"]),
                text(s["category"]),
                text(s["severity"]),
                money(s["direct_pnl"]),
                money(s["conditioned_pnl"]),
                pct(s["conditioned_pct"]),
            ]
            for s in scenarios
        ]
        highlight = frozenset(k for k, s in enumerate(scenarios) if worst and s["id"] == worst["id"])
        headers = ["Scenario", "Category", "Severity", "Direct P&L", "Conditioned P&L", "Conditioned % of equity"]
        section.tables.append(Table(headers, rows, highlight=highlight))
        if payload["losses_exceed_equity"]:
            section.note = "Losses exceed equity in: " + ", ".join(payload["losses_exceed_equity"])
        drawn = sorted(
            ((s, value) for s in payload["scenarios"] if (value := finite(s["conditioned_pnl"])) is not None),
            key=lambda item: item[1],
        )  # worst first, drawn on top
        if drawn:
            worst_id = worst["id"] if worst else drawn[0][0]["id"]
            bars = [
                Bar(
                    s["name"] or s["id"] or "?",
                    value,
                    "worst" if s["id"] == worst_id else "positive" if value >= 0 else "muted",
                    emphasis=s["id"] == worst_id,
                )
                for s, value in drawn
            ]
            section.charts.append(
                BarChart(
                    key="stress",
                    title="Stress tests: conditioned P&L (worst in red)",
                    bars=bars,
                    unit="money",
                    horizontal=True,
                )
            )
        return section


SPEC = register(StressTest())
