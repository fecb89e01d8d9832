"""The portfolio steps of the batch, run over one chunk of portfolios.

Everything heavy is computed once per chunk over arrays (position state, scenario shocks); each
portfolio's payload is then built in isolation, so one failing portfolio is recorded and the others
go on. Results are written in bulk per step; per-position metrics are written once per chunk.
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from django.db import transaction

from analytics.models import BatchRun, ResultKind, RunStatus
from analytics.selectors import stress_scenarios_active
from analytics.services import compute, persist
from analytics.services.columns import Columns
from analytics.services.inputs import MarketInputs, PortfolioInfo
from analytics.services.jobs import NEEDS_SYMBOL_STAGE, JobRecorder, error_text
from analytics.services.persist import Row
from analytics.services.writer import ResultWriter
from marketdata.factors import FACTOR_LOOKBACK_DAYS, FACTOR_NAMES

logger = logging.getLogger("sigmasight.batch")

METRICS_METHOD = "end-of-day position metrics: mark-to-market, Black-Scholes-Merton Greeks, delta × factor betas"
GREEK_NAMES = ("delta", "gamma", "theta", "vega", "rho")


@dataclass
class PortfolioSlice:
    """One portfolio's rows of the chunk's frames (sliced once, used by every step)."""

    info: PortfolioInfo
    positions: Columns
    state: Columns
    rows: slice  # its range of rows in the chunk frames (grouped by portfolio)
    stale: list[str]


@dataclass
class ChunkContext:
    run: BatchRun
    market: MarketInputs
    stage: compute.SymbolStage | None
    positions: pd.DataFrame
    state: pd.DataFrame
    slices: dict[uuid.UUID, PortfolioSlice]
    writer: ResultWriter
    metrics: dict[uuid.UUID, dict[str, MetricColumns]] = field(default_factory=dict)
    # (portfolio, step) whose results failed to store: filled by the write itself (writer thread), read by
    # the position-metrics write queued after it, so the metrics of a step that was not stored are dropped.
    failed_writes: set[tuple[uuid.UUID, str]] = field(default_factory=set)

    @classmethod
    def build(
        cls,
        *,
        run: BatchRun,
        market: MarketInputs,
        stage: compute.SymbolStage | None,
        positions: pd.DataFrame,
        state: pd.DataFrame,
        portfolios: dict[uuid.UUID, PortfolioInfo],
        writer: ResultWriter,
    ) -> ChunkContext:
        without_price = set(market.stale_symbols) | set(market.missing_symbols)
        # Rows grouped by portfolio once, so that each portfolio's rows are one contiguous range:
        # slicing a range is a view, where a fancy index copies every column of the wide frames.
        owner = positions["portfolio_id"].to_numpy()
        order = np.argsort(owner.astype(str), kind="stable") if len(owner) else np.array([], dtype=int)
        positions, state = positions.iloc[order], state.iloc[order]
        owner = owner[order]
        starts = [0, *(np.flatnonzero(owner[1:] != owner[:-1]) + 1).tolist()] if len(owner) else []
        ends = [*starts[1:], len(owner)] if starts else []
        bounds = {owner[s]: (s, e) for s, e in zip(starts, ends, strict=True)}
        position_columns, state_columns = Columns.from_frame(positions), Columns.from_frame(state)
        # The position id as the payloads write it, converted once per chunk.
        position_columns = position_columns.with_column(
            "position_key", np.array([str(p) for p in positions["position_id"]], dtype=object)
        )
        state_columns = state_columns.with_column(
            "price_day", np.array([d.date() if pd.notna(d) else None for d in state["price_date"]], dtype=object)
        )
        if stage is not None:
            # Per-position factor inputs as arrays, once per chunk: betas (N × K), daily residual vol.
            betas = np.vstack(state["betas"].to_numpy()) if len(state) else np.empty((0, len(FACTOR_NAMES)))
            residual = stage.fit.residual_vol.reindex(positions["price_symbol"].to_numpy()).to_numpy(dtype=float)
            state_columns = state_columns.with_column("beta_matrix", betas).with_column("residual_vol", residual)
        slices = {}
        for pid, info in portfolios.items():
            rows = slice(*bounds.get(pid, (0, 0)))
            part = position_columns.rows(rows)
            slices[pid] = PortfolioSlice(
                info=info,
                positions=part,
                state=state_columns.rows(rows),
                rows=rows,
                stale=sorted(set(part["price_symbol"].tolist()) & without_price),
            )
        return cls(run=run, market=market, stage=stage, positions=positions, state=state, slices=slices, writer=writer)

    def provenance(self, part: PortfolioSlice, *, method: str, lookback: int | None, inputs: dict[str, Any]) -> dict:
        return persist.provenance_fields(
            run=self.run,
            as_of=self.market.as_of,
            data_source=self.market.data_source,
            method=method,
            lookback=lookback,
            inputs=inputs,
            stale=part.stale,
        )

    def result(
        self,
        pid: uuid.UUID,
        kind: str,
        payload: dict[str, Any],
        *,
        method: str,
        lookback: int | None,
        inputs: dict[str, Any],
    ) -> dict[str, Any]:
        """A ``PortfolioResult`` row as a mapping (the bulk write takes mappings; no model instance needed)."""
        return {
            "portfolio_id": pid,
            "kind": kind,
            "as_of": self.market.as_of,
            "payload": payload,
            **self.provenance(self.slices[pid], method=method, lookback=lookback, inputs=inputs),
        }


# A step's per-position metrics for one portfolio, column-wise: attname → one value per position,
# "position_id" included, in the portfolio's row order (the same for every step).
MetricColumns = dict[str, list[Any]]
Build = Callable[[uuid.UUID, PortfolioSlice], tuple[list[Row], MetricColumns | None]]


def _results_write(rows: list[Row]) -> int:
    with transaction.atomic():
        return persist.portfolio_results_upsert(rows=rows)


def _per_portfolio(
    context: ChunkContext,
    recorder: JobRecorder,
    step: str,
    build: Build,
    write: Callable[[list[Row]], int] = _results_write,
) -> int:
    """Build ``step`` for each portfolio (isolated), then hand every success to the writer in one bulk
    write; the jobs are recorded completed once that write has committed. Returns the rows submitted."""
    results: list[Row] = []
    succeeded: list[tuple[uuid.UUID, float, int]] = []  # (portfolio, compute seconds, rows)
    for pid, part in context.slices.items():
        started = time.perf_counter()
        blocked = recorder.blocked_by(pid, step)
        if blocked is not None:
            recorder.record(
                step=step,
                portfolio_id=pid,
                status=RunStatus.SKIPPED,
                started=started,
                error=f"skipped: its input step '{blocked}' failed for this portfolio",
            )
            continue
        if step in NEEDS_SYMBOL_STAGE and context.stage is None:
            recorder.record(
                step=step,
                portfolio_id=pid,
                status=RunStatus.SKIPPED,
                started=started,
                error="skipped: no factor model for this date (the factor_model job failed or did not run)",
            )
            continue
        try:
            objects, metrics = build(pid, part)
        except Exception as exc:
            logger.error("Step %s failed for portfolio %s:\n%s", step, pid, traceback.format_exc())
            recorder.record(
                step=step, portfolio_id=pid, status=RunStatus.FAILED, started=started, error=error_text(exc)
            )
            continue
        results.extend(objects)
        if metrics is not None:
            context.metrics.setdefault(pid, {})[step] = metrics
        # Remember this portfolio's own compute time; the shared bulk write comes after the loop.
        rows_written = len(objects) + (len(metrics["position_id"]) if metrics else 0)
        succeeded.append((pid, time.perf_counter() - started, rows_written))
    recorder.flush(context.writer)  # failures and skips are known now

    def record_each(status: str, **outcome: Any) -> None:
        for pid, elapsed, rows in succeeded:
            recorder.record(
                step=step,
                portfolio_id=pid,
                status=status,
                started=time.perf_counter() - elapsed,
                rows=rows if status == RunStatus.COMPLETED else 0,
                **outcome,
            )
        recorder.flush(context.writer)

    def on_done(_: int) -> None:
        record_each(RunStatus.COMPLETED)

    def on_error(exc: Exception) -> None:
        logger.error("Writing %s failed: %s", step, exc, exc_info=exc)
        # Not blocking: the steps after this one ran on its results in memory, whether or not this write had failed yet.
        record_each(RunStatus.FAILED, error=f"write failed: {error_text(exc)}", blocks_dependants=False)

    def store() -> int:
        try:
            return write(results) if results else 0
        except Exception:
            context.failed_writes.update((pid, step) for pid, _, _ in succeeded)
            raise

    context.writer.submit(store, on_done=on_done, on_error=on_error)
    return len(results)


# Stored precision: money to the cent, prices and vols to 6 decimals, Greeks to 8.
MONEY_COLUMNS = frozenset(
    {"market_value", "cost_basis", "unrealised_pnl", "delta_exposure", "dollar_delta", "dollar_gamma"}
    | {f"position_{n}" for n in GREEK_NAMES}
)


def _column(frame: Columns, name: str) -> list[float | None]:
    """A float column as JSON-safe rounded Python values (NaN → None), at the precision of its kind."""
    digits = 2 if name in MONEY_COLUMNS else 8 if name in GREEK_NAMES else 6
    return compute.rounded_list(np.asarray(frame[name], dtype=float), digits)


def _aggregation(context: ChunkContext, recorder: JobRecorder) -> int:
    def build(pid: uuid.UUID, part: PortfolioSlice) -> tuple[list[Row], MetricColumns]:
        values = np.asarray(part.state["market_value"], dtype=float)
        if len(values) and not np.isfinite(values).any():
            raise RuntimeError(
                "no prices for any position on or before this date; run `python manage.py sync_market_data`"
            )
        payload = compute.overview_payload(positions=part.positions, state=part.state, info=part.info)
        state = part.state
        columns = {
            name: _column(state, source)
            for name, source in (
                ("price", "price"),
                ("underlying_price", "spot"),
                ("market_value", "market_value"),
                ("cost_basis", "cost_basis"),
                ("unrealised_pnl", "unrealised_pnl"),
                ("delta_exposure", "delta_exposure"),
            )
        }
        metrics = {
            "position_id": state["position_id"].tolist(),
            "price_date": state["price_day"].tolist(),
            "price_source": state["price_source"].tolist(),
            "is_expired": np.asarray(state["expired"], dtype=bool).tolist(),
            **columns,
        }
        result = context.result(
            pid,
            ResultKind.OVERVIEW,
            payload,
            method="mark-to-market at last close",
            lookback=None,
            inputs={"positions": len(state)},
        )
        return [result], metrics

    return _per_portfolio(context, recorder, "aggregation", build)


def _greeks(context: ChunkContext, recorder: JobRecorder) -> int:
    market = context.market

    def build(pid: uuid.UUID, part: PortfolioSlice) -> tuple[list[Row], MetricColumns]:
        state, positions = part.state, part.positions
        payload = compute.greeks_payload(positions=positions, state=state, rate=market.rate, div_yield=market.div_yield)
        names = [*GREEK_NAMES, *(f"position_{n}" for n in GREEK_NAMES), "dollar_delta", "dollar_gamma"]
        columns = {name: _column(state, name) for name in names}
        vol, years, spot = _column(state, "vol"), _column(state, "years"), _column(state, "spot")
        strike = _column(positions, "strike")
        sources = state["vol_source"].tolist()
        metrics = {
            "position_id": state["position_id"].tolist(),
            "implied_vol": vol,
            "implied_vol_source": sources,
            "years_to_expiry": years,
            **columns,
            "greeks_inputs": [
                {
                    "spot": spot[k],
                    "strike": strike[k],
                    "years_to_expiry": years[k],
                    "implied_vol": vol[k],
                    "implied_vol_source": sources[k],
                    "rate": market.rate,
                    "div_yield": market.div_yield,
                }
                if is_option
                else {}
                for k, is_option in enumerate(np.asarray(positions["is_option"], dtype=bool).tolist())
            ],
        }
        result = context.result(
            pid,
            ResultKind.GREEKS,
            payload,
            method="Black-Scholes-Merton (analytic)",
            lookback=compute.REALISED_VOL_DAYS,
            inputs={
                "rate": market.rate,
                "div_yield": market.div_yield,
                "vol_fallback": "realised volatility of the underlying, 252 daily log returns",
            },
        )
        return [result], metrics

    return _per_portfolio(context, recorder, "greeks", build)


def _factors(context: ChunkContext, recorder: JobRecorder) -> int:
    stage = context.stage

    def build(pid: uuid.UUID, part: PortfolioSlice) -> tuple[list[Row], MetricColumns]:
        payload = compute.factor_exposure_payload(
            positions=part.positions, state=part.state, info=part.info, stage=stage
        )
        metrics = {
            "position_id": part.state["position_id"].tolist(),
            "factor_betas": [row["betas"] for row in payload["positions"]],
            "factor_exposures": [row["exposures"] for row in payload["positions"]],
        }
        result = context.result(
            pid,
            ResultKind.FACTOR_EXPOSURE,
            payload,
            method="OLS factor betas (styles as spreads over SPY, rates = TLT) × delta exposure",
            lookback=FACTOR_LOOKBACK_DAYS,
            inputs={"condition_number": stage.condition_number, "observations": stage.n_observations},
        )
        return [result], metrics

    return _per_portfolio(context, recorder, "factors", build)


def _market_scenarios(context: ChunkContext, recorder: JobRecorder) -> int:
    market = context.market
    pnl = compute.market_scenario_pnl(
        positions=context.positions, state=context.state, rate=market.rate, div_yield=market.div_yield
    )

    def build(pid: uuid.UUID, part: PortfolioSlice) -> tuple[list[Row], None]:
        payload = compute.market_scenarios_payload(positions=part.positions, info=part.info, pnl=pnl[:, part.rows])
        return [
            context.result(
                pid,
                ResultKind.MARKET_SCENARIOS,
                payload,
                method="univariate market beta; options fully repriced (BSM)",
                lookback=FACTOR_LOOKBACK_DAYS,
                inputs={"shocks": list(compute.scenarios.MARKET_SHOCKS)},
            )
        ], None

    return _per_portfolio(context, recorder, "market_scenarios", build)


def _stress(context: ChunkContext, recorder: JobRecorder) -> int:
    market = context.market
    catalog = [
        {
            "id": s.pk,
            "name": s.name,
            "category": s.category,
            "severity": s.severity,
            "shocks": s.shocks,
            "implied_vol_shift": s.implied_vol_shift,
        }
        for s in stress_scenarios_active()
    ]
    # Scenario factor shocks do not depend on the portfolio: solve them once per chunk.
    solved = compute.scenario_shocks_compute(catalog=catalog, stage=context.stage) if context.stage else []
    arrays = (
        compute.stress_arrays_compute(
            positions=context.positions,
            state=context.state,
            shocks=solved,
            rate=market.rate,
            div_yield=market.div_yield,
        )
        if context.stage
        else None
    )

    def build(pid: uuid.UUID, part: PortfolioSlice) -> tuple[list[Row], None]:
        if not catalog:
            raise RuntimeError("no active stress scenarios; run `python manage.py migrate` to seed the catalog")
        payload = compute.stress_payload(positions=part.positions, info=part.info, arrays=arrays, rows=part.rows)
        return [
            context.result(
                pid,
                ResultKind.STRESS_TEST,
                payload,
                method="factor betas × proxy shocks; conditioned on the factor covariance; options repriced",
                lookback=FACTOR_LOOKBACK_DAYS,
                inputs={"scenarios": len(catalog), "rate_proxy_duration": compute.RATE_PROXY_DURATION},
            )
        ], None

    return _per_portfolio(context, recorder, "stress_tests", build)


def _correlations(context: ChunkContext, recorder: JobRecorder) -> int:
    held = sorted(set(context.positions["price_symbol"]) & set(context.market.prices.columns))
    window = compute.correlation_window(prices=context.market.prices[held])

    def build(pid: uuid.UUID, part: PortfolioSlice) -> tuple[list[Row], None]:
        payload = compute.correlations_payload(
            positions=part.positions, state=part.state, window=window, sectors=context.market.sectors
        )
        return [
            context.result(
                pid,
                ResultKind.CORRELATIONS,
                payload,
                method="Pearson on daily log returns",
                lookback=compute.CORRELATION_WINDOW_DAYS,
                inputs={"min_weight": compute.CORRELATION_MIN_WEIGHT, "cluster_threshold": compute.CLUSTER_THRESHOLD},
            )
        ], None

    return _per_portfolio(context, recorder, "correlations", build)


def _var(context: ChunkContext, recorder: JobRecorder) -> int:
    market = context.market
    # Every position of the chunk revalued under each historical day once; portfolios take their columns.
    pnl = (
        compute.historical_pnl_compute(
            positions=context.positions,
            state=context.state,
            stage=context.stage,
            rate=market.rate,
            div_yield=market.div_yield,
        )
        if context.stage
        else None
    )

    def build(pid: uuid.UUID, part: PortfolioSlice) -> tuple[list[Row], None]:
        payload = compute.var_payload(
            positions=part.positions, state=part.state, stage=context.stage, scenario_pnl=pnl[:, part.rows]
        )
        return [
            context.result(
                pid,
                ResultKind.VAR,
                payload,
                method="historical simulation (options revalued) and parametric (factor covariance)",
                lookback=compute.VAR_LOOKBACK_DAYS,
                inputs={"confidences": list(compute.VAR_CONFIDENCES)},
            )
        ], None

    return _per_portfolio(context, recorder, "var", build)


def _snapshots(context: ChunkContext, recorder: JobRecorder) -> int:
    from analytics.services.snapshots import snapshot_rows

    rows_by_portfolio = snapshot_rows(context=context)

    def build(pid: uuid.UUID, part: PortfolioSlice) -> tuple[list[Row], None]:
        row = rows_by_portfolio[pid]
        if isinstance(row, Exception):
            raise row
        return [row], None

    def write(rows: list[Row]) -> int:
        with transaction.atomic():
            return persist.snapshots_upsert(rows=rows)

    return _per_portfolio(context, recorder, "snapshots", build, write)


STEP_RUNNERS: dict[str, Callable[[ChunkContext, JobRecorder], int]] = {
    "aggregation": _aggregation,
    "greeks": _greeks,
    "factors": _factors,
    "market_scenarios": _market_scenarios,
    "stress_tests": _stress,
    "snapshots": _snapshots,
    "correlations": _correlations,
    "var": _var,
}


def position_metrics_flush(context: ChunkContext, recorder: JobRecorder) -> int:
    """Write every position's metrics of the chunk: one row per position and day, the columns of the steps that
    completed for its portfolio (grouped so that each upsert updates exactly those columns), in one transaction.

    Queued behind the chunk's result writes: it runs once they are done, and leaves out the metrics of
    a step whose results failed to store. Returns the rows submitted; a failed write is recorded as a
    failed ``position_metrics`` job."""
    metrics, context.metrics = context.metrics, {}
    as_of = context.market.as_of
    started = time.perf_counter()

    def write() -> int:
        groups, portfolios_by_fields = _metric_groups(context, metrics)
        with transaction.atomic():
            return sum(
                persist.position_metrics_upsert(
                    columns=columns, update_fields=list(fields), portfolio_ids=portfolios_by_fields[fields], as_of=as_of
                )
                for fields, columns in groups.items()
            )

    def on_error(exc: Exception) -> None:
        logger.error("Writing position metrics failed: %s", exc, exc_info=exc)
        recorder.record_failure(step="position_metrics", started=started, exc=exc)

    context.writer.submit(write, on_done=lambda rows: None, on_error=on_error)
    return sum(len(next(iter(by_step.values()))["position_id"]) for by_step in metrics.values() if by_step)


def _metric_groups(
    context: ChunkContext, metrics: dict[uuid.UUID, dict[str, MetricColumns]]
) -> tuple[dict[tuple[str, ...], dict[str, list[Any]]], dict[tuple[str, ...], list[uuid.UUID]]]:
    """Column-wise rows per set of metric columns, and the portfolios of each set."""
    groups: dict[tuple[str, ...], dict[str, list[Any]]] = {}
    portfolios_by_fields: dict[tuple[str, ...], list[uuid.UUID]] = {}
    as_of = context.market.as_of
    for pid, all_steps in metrics.items():
        by_step = {step: columns for step, columns in all_steps.items() if (pid, step) not in context.failed_writes}
        if not by_step:
            continue
        provenance = context.provenance(
            context.slices[pid], method=METRICS_METHOD, lookback=FACTOR_LOOKBACK_DAYS, inputs={"steps": sorted(by_step)}
        )
        run = provenance.pop("batch_run")
        constants = {"portfolio_id": pid, "as_of": as_of, "batch_run_id": run.pk if run else None, **provenance}
        merged: MetricColumns = {}
        for step_columns in by_step.values():
            merged.update(step_columns)
        count = len(merged["position_id"])
        fields = tuple(sorted(set(merged) - {"position_id"}))
        group = groups.setdefault(fields, {name: [] for name in [*merged, *constants]})
        for name, values in merged.items():
            group[name].extend(values)
        for name, value in constants.items():
            group[name].extend([value] * count)
        portfolios_by_fields.setdefault(fields, []).append(pid)
    return groups, portfolios_by_fields
