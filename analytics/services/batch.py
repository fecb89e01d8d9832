"""The daily batch: market data, then every analytics step for every portfolio, then reports.

A run is recorded in ``BatchRun`` with one ``BatchJob`` per step and portfolio (universe-level
steps — the market data sync and the factor model — have no portfolio). A failing portfolio or
step is recorded and the rest go on; a step whose input failed for a portfolio is marked
skipped with the reason. Results are upserted per (subject, as_of), so a rerun or a run after an
interruption replaces rows and never duplicates them. One run per date at a time (database lock).

The symbol-level stage (factor betas of every symbol) is computed once per run and stored; the
portfolio steps then run per chunk of portfolios — inline, or fanned out as django-q2 tasks when
a cluster is used — and read the stored stage, so both paths give identical numbers.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from django.db import transaction
from django.utils import timezone

from analytics.models import (
    BatchJob,
    BatchRun,
    PortfolioResult,
    PositionMetrics,
    ResultKind,
    RunStatus,
    SymbolFactorBeta,
)
from analytics.selectors import factor_model_latest, stress_scenarios_active
from analytics.services import compute, persist
from analytics.services.inputs import MarketInputs, PortfolioInfo, market_inputs_load, portfolios_load, positions_frame
from analytics.services.locking import batch_lock, interrupted_runs_mark
from marketdata.factors import FACTOR_LOOKBACK_DAYS, FACTOR_NAMES

logger = logging.getLogger("sigmasight.batch")

STEPS: tuple[str, ...] = (
    "market_data",
    "aggregation",
    "greeks",
    "factors",
    "market_scenarios",
    "stress_tests",
    "snapshots",
    "correlations",
    "var",
    "reports",
)
PORTFOLIO_STEPS = STEPS[1:-1]
# A portfolio's step is skipped when one of these steps failed for it in the same run.
DEPENDS_ON: dict[str, tuple[str, ...]] = {
    "aggregation": (),
    "greeks": ("aggregation",),
    "factors": ("aggregation", "greeks"),
    "market_scenarios": ("greeks", "factors"),
    "stress_tests": ("greeks", "factors"),
    "snapshots": ("aggregation", "greeks"),
    "correlations": ("aggregation",),
    "var": ("greeks", "factors"),
}
NEEDS_SYMBOL_STAGE = {"factors", "market_scenarios", "stress_tests", "var"}
CHUNK_SIZE = 50

# Post-batch hooks registered by downstream apps (the reports app registers "reports"), so that
# analytics never imports them: fn(as_of, portfolio_ids) -> rows written.
PostStep = Callable[[dt.date, list[uuid.UUID]], int]
POST_STEPS: dict[str, PostStep] = {}


def post_step_register(name: str, fn: PostStep) -> None:
    POST_STEPS[name] = fn


@dataclass
class BatchOutcome:
    run: BatchRun
    failed_jobs: int
    skipped_jobs: int
    completed_jobs: int

    @property
    def ok(self) -> bool:
        return self.failed_jobs == 0


@dataclass
class JobRecorder:
    """Creates and finishes ``BatchJob`` rows; remembers which (portfolio, step) failed."""

    run: BatchRun
    sequence: int = 0
    failed: dict[uuid.UUID | None, set[str]] = field(default_factory=dict)

    def record(
        self,
        *,
        step: str,
        portfolio_id: uuid.UUID | None,
        status: str,
        started: float,
        rows: int = 0,
        error: str = "",
    ) -> BatchJob:
        self.sequence += 1
        elapsed = (time.perf_counter() - started) * 1000
        now = timezone.now()
        if status in (RunStatus.FAILED, RunStatus.SKIPPED):
            self.failed.setdefault(portfolio_id, set()).add(step)
        job, _ = BatchJob.objects.update_or_create(
            run=self.run,
            step=step,
            portfolio_id=portfolio_id,
            defaults={
                "status": status,
                "started_at": now - dt.timedelta(milliseconds=elapsed),
                "finished_at": now,
                "duration_ms": round(elapsed, 2),
                "rows_written": rows,
                "error_summary": error[:2000],
                "sequence": self.sequence,
            },
        )
        return job

    def blocked_by(self, portfolio_id: uuid.UUID, step: str) -> str | None:
        failed = self.failed.get(portfolio_id, set()) | self.failed.get(None, set())
        for dependency in DEPENDS_ON.get(step, ()):
            if dependency in failed:
                return dependency
        return None


def _error_text(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {exc}"


def steps_normalise(steps: Sequence[str] | None) -> list[str]:
    """Validate ``--steps``; returns them in run order. Raises ValueError naming unknown steps."""
    if not steps:
        return list(STEPS)
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise ValueError(f"Unknown step(s): {', '.join(unknown)}. Steps: {', '.join(STEPS)}.")
    return [s for s in STEPS if s in set(steps)]


def batch_run(
    *,
    as_of: dt.date,
    portfolio_ids: Sequence[uuid.UUID] | None = None,
    steps: Sequence[str] | None = None,
    trigger: str = "command",
    use_cluster: bool = False,
    progress: Callable[[str], None] | None = None,
    market_data_sync: Callable[..., Any] | None = None,
) -> BatchOutcome:
    """Run the daily batch for ``as_of``; see the module docstring. Raises ``BatchLocked``."""
    selected = steps_normalise(steps)
    say = progress or (lambda message: None)
    portfolios = portfolios_load(portfolio_ids=portfolio_ids)
    if portfolio_ids is not None and len(portfolios) != len(set(portfolio_ids)):
        missing = sorted(str(p) for p in set(portfolio_ids) - set(portfolios))
        raise ValueError(f"No portfolio with id {', '.join(missing)}.")
    run = BatchRun.objects.create(
        as_of=as_of,
        status=RunStatus.RUNNING,
        steps=selected,
        portfolio_ids=[str(p) for p in portfolios],
        trigger=trigger,
        mode="cluster" if use_cluster else "inline",
        started_at=timezone.now(),
    )
    started = time.perf_counter()
    recorder = JobRecorder(run=run)
    try:
        with batch_lock(as_of=as_of, run_id=run.pk):
            interrupted = interrupted_runs_mark(as_of=as_of, except_run=run.pk)
            if interrupted:
                say(f"Marked {interrupted} earlier run(s) for {as_of} as interrupted.")
            _run_locked(
                run=run,
                recorder=recorder,
                portfolios=portfolios,
                selected=selected,
                use_cluster=use_cluster,
                say=say,
                market_data_sync=market_data_sync,
            )
    except Exception as exc:
        run.status = RunStatus.FAILED
        run.error_summary = _error_text(exc)
        run.finished_at = timezone.now()
        run.duration_ms = (time.perf_counter() - started) * 1000
        run.save(update_fields=["status", "error_summary", "finished_at", "duration_ms"])
        raise
    return _finish(run, started)


def _finish(run: BatchRun, started: float) -> BatchOutcome:
    statuses = list(run.jobs.values_list("status", flat=True))
    failed = statuses.count(RunStatus.FAILED)
    skipped = statuses.count(RunStatus.SKIPPED)
    completed = statuses.count(RunStatus.COMPLETED)
    if failed == 0 and skipped == 0:
        run.status = RunStatus.COMPLETED
    elif completed == 0:
        run.status = RunStatus.FAILED
    else:
        run.status = RunStatus.PARTIAL
    errors = list(
        run.jobs.filter(status__in=[RunStatus.FAILED, RunStatus.SKIPPED])
        .order_by("sequence")
        .values_list("step", "portfolio__name", "error_summary")[:20]
    )
    run.error_summary = "\n".join(f"{step} [{name or 'all'}]: {error}" for step, name, error in errors)
    run.finished_at = timezone.now()
    run.duration_ms = round((time.perf_counter() - started) * 1000, 2)
    run.save(update_fields=["status", "error_summary", "finished_at", "duration_ms"])
    return BatchOutcome(run=run, failed_jobs=failed, skipped_jobs=skipped, completed_jobs=completed)


def _run_locked(
    *,
    run: BatchRun,
    recorder: JobRecorder,
    portfolios: dict[uuid.UUID, PortfolioInfo],
    selected: list[str],
    use_cluster: bool,
    say: Callable[[str], None],
    market_data_sync: Callable[..., Any] | None,
) -> None:
    as_of = run.as_of
    if "market_data" in selected:
        say("market_data: syncing prices")
        _market_data_step(run=run, recorder=recorder, say=say, sync=market_data_sync)

    portfolio_steps = [s for s in selected if s in PORTFOLIO_STEPS]
    ids = list(portfolios)
    if portfolio_steps and ids:
        positions = positions_frame(portfolio_ids=ids)
        market = _load_market(positions=positions, as_of=as_of)
        run.data_source = market.data_source
        run.save(update_fields=["data_source"])
        if set(portfolio_steps) & NEEDS_SYMBOL_STAGE or "greeks" in portfolio_steps:
            say("factors: fitting the factor model for every symbol")
            _symbol_stage_step(run=run, recorder=recorder, market=market, persist_fit="factors" in portfolio_steps)
        chunks = [ids[i : i + CHUNK_SIZE] for i in range(0, len(ids), CHUNK_SIZE)]
        if use_cluster:
            _fan_out(run=run, chunks=chunks, steps=portfolio_steps, say=say)
        else:
            for number, chunk in enumerate(chunks, start=1):
                say(f"portfolios: chunk {number}/{len(chunks)} ({len(chunk)} portfolios)")
                # A single chunk reuses the prices already loaded for the symbol stage.
                preloaded = (positions, market) if len(chunks) == 1 else None
                portfolio_chunk_run(
                    run=run, portfolio_ids=chunk, steps=portfolio_steps, recorder=recorder, preloaded=preloaded
                )

    for name in [s for s in selected if s in POST_STEPS]:
        say(f"{name}: writing")
        started = time.perf_counter()
        try:
            rows = POST_STEPS[name](as_of, ids)
            recorder.record(step=name, portfolio_id=None, status=RunStatus.COMPLETED, started=started, rows=rows)
        except Exception as exc:
            logger.exception("Post step %s failed", name)
            recorder.record(
                step=name, portfolio_id=None, status=RunStatus.FAILED, started=started, error=_error_text(exc)
            )


def _market_data_step(
    *, run: BatchRun, recorder: JobRecorder, say: Callable[[str], None], sync: Callable[..., Any] | None
) -> None:
    started = time.perf_counter()
    try:
        if sync is None:
            from marketdata.services import prices_sync

            sync = prices_sync
        result = sync(as_of=run.as_of)
        asked = int(getattr(result, "symbols_requested", 0) or 0)
        failed = int(getattr(result, "symbols_failed", 0) or 0)
        rows = int(getattr(result, "rows_written", 0) or 0)
        if asked and failed >= asked:
            raise RuntimeError(
                f"every one of {asked} symbols failed; the steps run on cached prices and are flagged stale"
            )
        status = RunStatus.COMPLETED if failed == 0 else RunStatus.PARTIAL
        error = "" if failed == 0 else f"{failed} of {asked} symbols failed (see the sync run record)"
        recorder.record(step="market_data", portfolio_id=None, status=status, started=started, rows=rows, error=error)
        say(f"market_data: {rows} rows written, {failed} symbol(s) failed")
    except Exception as exc:
        logger.exception("Market data sync failed")
        job = recorder.record(
            step="market_data", portfolio_id=None, status=RunStatus.FAILED, started=started, error=_error_text(exc)
        )
        # No step depends on "market_data": they run on cached prices and their staleness flag tells the truth.
        say(f"market_data: FAILED ({job.error_summary}); continuing on cached prices")


def _load_market(*, positions: pd.DataFrame, as_of: dt.date) -> MarketInputs:
    symbols = positions["price_symbol"].dropna().unique().tolist() if len(positions) else []
    contracts = positions.loc[positions["is_option"].astype(bool), "symbol"].tolist() if len(positions) else []
    return market_inputs_load(symbols=symbols, option_contracts=contracts, as_of=as_of)


def _provenance(
    *,
    run: BatchRun | None,
    market: MarketInputs,
    method: str,
    lookback: int | None,
    inputs: dict[str, Any],
    stale: list[str],
) -> dict[str, Any]:
    reason = ""
    if stale:
        shown = ", ".join(stale[:10]) + (" …" if len(stale) > 10 else "")
        reason = f"no price on {market.as_of.isoformat()} for: {shown}"
    return {
        "method": method,
        "lookback_days": lookback,
        "data_source": market.data_source,
        "inputs": inputs,
        "is_stale": bool(stale),
        "stale_reason": reason[:300],
        "batch_run": run,
    }


def _symbol_stage_step(*, run: BatchRun, recorder: JobRecorder, market: MarketInputs, persist_fit: bool) -> None:
    """Fit the factor model once for every symbol and store it (read back by every chunk)."""
    started = time.perf_counter()
    try:
        stage = compute.symbol_stage_compute(market=market)
        provenance = _provenance(
            run=run,
            market=market,
            method=f"OLS on {len(FACTOR_NAMES)} factors (styles as spreads over SPY, rates = TLT)",
            lookback=FACTOR_LOOKBACK_DAYS,
            inputs={"observations": stage.n_observations, "condition_number": stage.condition_number},
            stale=market.stale_symbols,
        )
        rows = persist.factor_fit_persist(stage=stage, as_of=run.as_of, provenance=provenance)
        recorder.record(step="factor_model", portfolio_id=None, status=RunStatus.COMPLETED, started=started, rows=rows)
    except Exception as exc:
        logger.exception("Factor model failed")
        recorder.record(
            step="factor_model", portfolio_id=None, status=RunStatus.FAILED, started=started, error=_error_text(exc)
        )
        for step in NEEDS_SYMBOL_STAGE:
            recorder.failed.setdefault(None, set()).add(step)
    del persist_fit


def symbol_stage_load(*, market: MarketInputs, as_of: dt.date) -> compute.SymbolStage | None:
    """Rebuild the run's symbol stage from the stored factor model and betas (what every chunk uses)."""
    fit_row = factor_model_latest(as_of=as_of)
    if fit_row is None or fit_row.as_of != as_of:
        return None
    stored = persist.StoredFit(SymbolFactorBeta.objects.filter(as_of=as_of).order_by("symbol"))
    prices = market.prices
    returns = prices.pct_change(fill_method=None).iloc[1:]
    log_returns = np.log(prices).diff().iloc[1:]
    factor_cov = pd.DataFrame(fit_row.factor_covariance, dtype=float).reindex(index=FACTOR_NAMES, columns=FACTOR_NAMES)
    proxy_cov = pd.DataFrame(fit_row.proxy_covariance, dtype=float)
    return compute.SymbolStage(
        returns=returns,
        log_returns=log_returns,
        realised_vol=log_returns.iloc[-compute.REALISED_VOL_DAYS :].std(ddof=1) * math.sqrt(252),
        factor_returns=pd.DataFrame(),
        proxy_returns=pd.DataFrame(),
        fit=stored,
        univariate_beta=stored.univariate,
        factor_cov=factor_cov,
        proxy_cov=proxy_cov.reindex(index=proxy_cov.columns),
        condition_number=fit_row.condition_number,
        n_observations=fit_row.n_observations,
    )


def portfolio_chunk_run(
    *,
    run: BatchRun,
    portfolio_ids: Sequence[uuid.UUID],
    steps: Sequence[str],
    recorder: JobRecorder | None = None,
    preloaded: tuple[pd.DataFrame, MarketInputs] | None = None,
) -> dict[str, int]:
    """Run the portfolio steps for one chunk: load once, compute per portfolio, write in bulk per step."""
    recorder = recorder or JobRecorder(run=run, sequence=run.jobs.count())
    if recorder.failed == {} and run.jobs.filter(portfolio__isnull=True, status=RunStatus.FAILED).exists():
        for step in run.jobs.filter(portfolio__isnull=True, status=RunStatus.FAILED).values_list("step", flat=True):
            if step == "factor_model":
                for dependent in NEEDS_SYMBOL_STAGE:
                    recorder.failed.setdefault(None, set()).add(dependent)
    as_of = run.as_of
    portfolios = portfolios_load(portfolio_ids=portfolio_ids)
    if preloaded is not None:
        positions, market = preloaded
    else:
        positions = positions_frame(portfolio_ids=list(portfolios))
        market = _load_market(positions=positions, as_of=as_of)
    stage = symbol_stage_load(market=market, as_of=as_of)
    state = compute.position_state_compute(positions=positions, market=market, stage=stage)
    groups = {pid: positions.index[positions["portfolio_id"] == pid] for pid in portfolios}
    context = ChunkContext(
        run=run, market=market, stage=stage, positions=positions, state=state, portfolios=portfolios, groups=groups
    )
    written: dict[str, int] = {}
    for step in steps:
        written[step] = STEP_RUNNERS[step](context, recorder)
    return written


@dataclass
class ChunkContext:
    run: BatchRun
    market: MarketInputs
    stage: compute.SymbolStage | None
    positions: pd.DataFrame
    state: pd.DataFrame
    portfolios: dict[uuid.UUID, PortfolioInfo]
    groups: dict[uuid.UUID, pd.Index]

    def stale_for(self, index: pd.Index) -> list[str]:
        stale = set(self.market.stale_symbols) | set(self.market.missing_symbols)
        return sorted(set(self.positions.loc[index, "price_symbol"]) & stale)


def _per_portfolio(
    context: ChunkContext,
    recorder: JobRecorder,
    step: str,
    build: Callable[[uuid.UUID, pd.Index], tuple[list[Any], int]],
    write: Callable[[list[Any], list[uuid.UUID]], int],
) -> int:
    """Compute ``step`` for each portfolio (isolated), then write all successes in one bulk upsert."""
    collected: list[Any] = []
    succeeded: list[tuple[uuid.UUID, float, int]] = []
    for pid, index in context.groups.items():
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
            objects, rows = build(pid, index)
        except Exception as exc:
            logger.error("Step %s failed for portfolio %s:\n%s", step, pid, traceback.format_exc())
            recorder.record(
                step=step, portfolio_id=pid, status=RunStatus.FAILED, started=started, error=_error_text(exc)
            )
            continue
        collected.extend(objects)
        succeeded.append((pid, started, rows))
    try:
        with transaction.atomic():
            written = write(collected, [pid for pid, _, _ in succeeded])
    except Exception as exc:
        logger.exception("Writing %s failed", step)
        for pid, started, _ in succeeded:
            recorder.record(
                step=step,
                portfolio_id=pid,
                status=RunStatus.FAILED,
                started=started,
                error=f"write failed: {_error_text(exc)}",
            )
        return 0
    for pid, started, rows in succeeded:
        recorder.record(step=step, portfolio_id=pid, status=RunStatus.COMPLETED, started=started, rows=rows)
    return written


def _require_prices(context: ChunkContext, index: pd.Index) -> None:
    """Refuse to 'complete' a portfolio none of whose positions has a price."""
    values = context.state.loc[index, "market_value"].to_numpy(dtype=float)
    if len(index) and not np.isfinite(values).any():
        raise RuntimeError("no prices for any position on or before this date; run `python manage.py sync_market_data`")


def _result(
    context: ChunkContext,
    pid: uuid.UUID,
    kind: str,
    payload: dict[str, Any],
    *,
    method: str,
    lookback: int | None,
    inputs: dict[str, Any],
    index: pd.Index,
) -> PortfolioResult:
    return PortfolioResult(
        portfolio_id=pid,
        kind=kind,
        as_of=context.market.as_of,
        payload=payload,
        **_provenance(
            run=context.run,
            market=context.market,
            method=method,
            lookback=lookback,
            inputs=inputs,
            stale=context.stale_for(index),
        ),
    )


def _write_results(objects: list[Any], _: list[uuid.UUID]) -> int:
    return persist.portfolio_results_upsert(rows=objects)


def _f(value: Any) -> float | None:
    return compute._finite(value)


def _aggregation(context: ChunkContext, recorder: JobRecorder) -> int:
    valuation_fields = [
        "price",
        "price_date",
        "price_source",
        "underlying_price",
        "market_value",
        "cost_basis",
        "unrealised_pnl",
        "delta_exposure",
        "is_expired",
    ]
    metrics: list[PositionMetrics] = []

    def build(pid: uuid.UUID, index: pd.Index) -> tuple[list[Any], int]:
        _require_prices(context, index)
        positions, state = context.positions.loc[index], context.state.loc[index]
        payload = compute.overview_payload(positions=positions, state=state, info=context.portfolios[pid])
        provenance = _provenance(
            run=context.run,
            market=context.market,
            method="mark-to-market at last close",
            lookback=None,
            inputs={"rate": context.market.rate},
            stale=context.stale_for(index),
        )
        for i in index:
            s = context.state.loc[i]
            price_date = s["price_date"]
            metrics.append(
                PositionMetrics(
                    position_id=s["position_id"],
                    portfolio_id=pid,
                    as_of=context.market.as_of,
                    price=_f(s["price"]),
                    price_date=price_date.date() if pd.notna(price_date) else None,
                    price_source=s["price_source"],
                    underlying_price=_f(s["spot"]),
                    market_value=_f(s["market_value"]),
                    cost_basis=_f(s["cost_basis"]),
                    unrealised_pnl=_f(s["unrealised_pnl"]),
                    delta_exposure=_f(s["delta_exposure"]),
                    is_expired=bool(s["expired"]),
                    **provenance,
                )
            )
        result = _result(
            context,
            pid,
            ResultKind.OVERVIEW,
            payload,
            method="mark-to-market at last close",
            lookback=None,
            inputs={"positions": len(index)},
            index=index,
        )
        return [result], 1 + len(index)

    def write(objects: list[Any], pids: list[uuid.UUID]) -> int:
        mine = [m for m in metrics if m.portfolio_id in set(pids)]
        persist.position_metrics_upsert(
            rows=mine, update_fields=valuation_fields, portfolio_ids=pids, as_of=context.market.as_of
        )
        return persist.portfolio_results_upsert(rows=objects) + len(mine)

    return _per_portfolio(context, recorder, "aggregation", build, write)


def _greeks(context: ChunkContext, recorder: JobRecorder) -> int:
    fields = [
        "implied_vol",
        "implied_vol_source",
        "years_to_expiry",
        "delta",
        "gamma",
        "theta",
        "vega",
        "rho",
        "position_delta",
        "position_gamma",
        "position_theta",
        "position_vega",
        "position_rho",
        "dollar_delta",
        "dollar_gamma",
        "greeks_inputs",
        "is_expired",
        "underlying_price",
    ]
    metrics: list[PositionMetrics] = []
    market = context.market

    def build(pid: uuid.UUID, index: pd.Index) -> tuple[list[Any], int]:
        positions, state = context.positions.loc[index], context.state.loc[index]
        payload = compute.greeks_payload(positions=positions, state=state, rate=market.rate, div_yield=market.div_yield)
        provenance = _provenance(
            run=context.run,
            market=market,
            method="Black-Scholes-Merton (analytic)",
            lookback=compute.REALISED_VOL_DAYS,
            inputs={"rate": market.rate, "div_yield": market.div_yield},
            stale=context.stale_for(index),
        )
        for i in index:
            s, p = context.state.loc[i], context.positions.loc[i]
            metrics.append(
                PositionMetrics(
                    position_id=s["position_id"],
                    portfolio_id=pid,
                    as_of=market.as_of,
                    implied_vol=_f(s["vol"]),
                    implied_vol_source=s["vol_source"],
                    years_to_expiry=_f(s["years"]),
                    is_expired=bool(s["expired"]),
                    underlying_price=_f(s["spot"]),
                    **{name: _f(s[name]) for name in ("delta", "gamma", "theta", "vega", "rho")},
                    **{f"position_{n}": _f(s[f"position_{n}"]) for n in ("delta", "gamma", "theta", "vega", "rho")},
                    dollar_delta=_f(s["dollar_delta"]),
                    dollar_gamma=_f(s["dollar_gamma"]),
                    greeks_inputs={
                        "spot": _f(s["spot"]),
                        "strike": _f(p["strike"]),
                        "years_to_expiry": _f(s["years"]),
                        "implied_vol": _f(s["vol"]),
                        "implied_vol_source": s["vol_source"],
                        "rate": market.rate,
                        "div_yield": market.div_yield,
                    }
                    if p["is_option"]
                    else {},
                    **provenance,
                )
            )
        result = _result(
            context,
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
            index=index,
        )
        return [result], 1 + len(index)

    def write(objects: list[Any], pids: list[uuid.UUID]) -> int:
        mine = [m for m in metrics if m.portfolio_id in set(pids)]
        persist.position_metrics_upsert(rows=mine, update_fields=fields, portfolio_ids=pids, as_of=market.as_of)
        return persist.portfolio_results_upsert(rows=objects) + len(mine)

    return _per_portfolio(context, recorder, "greeks", build, write)


def _factors(context: ChunkContext, recorder: JobRecorder) -> int:
    metrics: list[PositionMetrics] = []
    market, stage = context.market, context.stage

    def build(pid: uuid.UUID, index: pd.Index) -> tuple[list[Any], int]:
        positions, state = context.positions.loc[index], context.state.loc[index]
        payload = compute.factor_exposure_payload(
            positions=positions, state=state, info=context.portfolios[pid], stage=stage
        )
        provenance = _provenance(
            run=context.run,
            market=market,
            method="delta exposure × symbol factor betas",
            lookback=FACTOR_LOOKBACK_DAYS,
            inputs={},
            stale=context.stale_for(index),
        )
        for row, i in zip(payload["positions"], index, strict=True):
            metrics.append(
                PositionMetrics(
                    position_id=context.state.at[i, "position_id"],
                    portfolio_id=pid,
                    as_of=market.as_of,
                    factor_betas=row["betas"],
                    factor_exposures=row["exposures"],
                    **provenance,
                )
            )
        result = _result(
            context,
            pid,
            ResultKind.FACTOR_EXPOSURE,
            payload,
            method="OLS factor betas (styles as spreads over SPY, rates = TLT) × delta exposure",
            lookback=FACTOR_LOOKBACK_DAYS,
            inputs={"condition_number": stage.condition_number, "observations": stage.n_observations},
            index=index,
        )
        return [result], 1 + len(index)

    def write(objects: list[Any], pids: list[uuid.UUID]) -> int:
        mine = [m for m in metrics if m.portfolio_id in set(pids)]
        persist.position_metrics_upsert(
            rows=mine, update_fields=["factor_betas", "factor_exposures"], portfolio_ids=pids, as_of=market.as_of
        )
        return persist.portfolio_results_upsert(rows=objects) + len(mine)

    return _per_portfolio(context, recorder, "factors", build, write)


def _market_scenarios(context: ChunkContext, recorder: JobRecorder) -> int:
    market = context.market

    def build(pid: uuid.UUID, index: pd.Index) -> tuple[list[Any], int]:
        payload = compute.market_scenarios_payload(
            positions=context.positions.loc[index],
            state=context.state.loc[index],
            info=context.portfolios[pid],
            rate=market.rate,
            div_yield=market.div_yield,
        )
        return [
            _result(
                context,
                pid,
                ResultKind.MARKET_SCENARIOS,
                payload,
                method="univariate market beta; options fully repriced (BSM)",
                lookback=FACTOR_LOOKBACK_DAYS,
                inputs={"shocks": list(compute.scenarios.MARKET_SHOCKS)},
                index=index,
            )
        ], 1

    return _per_portfolio(context, recorder, "market_scenarios", build, _write_results)


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

    solved = compute.scenario_shocks_compute(catalog=catalog, stage=context.stage) if context.stage else []

    def build(pid: uuid.UUID, index: pd.Index) -> tuple[list[Any], int]:
        if not catalog:
            raise RuntimeError("no active stress scenarios; run `python manage.py migrate` to seed the catalog")
        payload = compute.stress_payload(
            positions=context.positions.loc[index],
            state=context.state.loc[index],
            info=context.portfolios[pid],
            shocks=solved,
            rate=market.rate,
            div_yield=market.div_yield,
        )
        return [
            _result(
                context,
                pid,
                ResultKind.STRESS_TEST,
                payload,
                method="factor betas × proxy shocks; conditioned on the factor covariance; options repriced",
                lookback=FACTOR_LOOKBACK_DAYS,
                inputs={"scenarios": len(catalog), "rate_proxy_duration": compute.RATE_PROXY_DURATION},
                index=index,
            )
        ], 1

    return _per_portfolio(context, recorder, "stress_tests", build, _write_results)


def _correlations(context: ChunkContext, recorder: JobRecorder) -> int:
    def build(pid: uuid.UUID, index: pd.Index) -> tuple[list[Any], int]:
        payload = compute.correlations_payload(
            positions=context.positions.loc[index],
            state=context.state.loc[index],
            stage=context.stage,
            prices=context.market.prices,
            sectors=context.market.sectors,
        )
        return [
            _result(
                context,
                pid,
                ResultKind.CORRELATIONS,
                payload,
                method="Pearson on daily log returns",
                lookback=compute.CORRELATION_WINDOW_DAYS,
                inputs={"min_weight": compute.CORRELATION_MIN_WEIGHT, "cluster_threshold": compute.CLUSTER_THRESHOLD},
                index=index,
            )
        ], 1

    return _per_portfolio(context, recorder, "correlations", build, _write_results)


def _var(context: ChunkContext, recorder: JobRecorder) -> int:
    market = context.market

    def build(pid: uuid.UUID, index: pd.Index) -> tuple[list[Any], int]:
        payload = compute.var_payload(
            positions=context.positions.loc[index],
            state=context.state.loc[index],
            stage=context.stage,
            rate=market.rate,
            div_yield=market.div_yield,
        )
        return [
            _result(
                context,
                pid,
                ResultKind.VAR,
                payload,
                method="historical simulation (options revalued) and parametric (factor covariance)",
                lookback=compute.VAR_LOOKBACK_DAYS,
                inputs={"confidences": list(compute.VAR_CONFIDENCES)},
                index=index,
            )
        ], 1

    return _per_portfolio(context, recorder, "var", build, _write_results)


def _snapshots(context: ChunkContext, recorder: JobRecorder) -> int:
    from analytics.services.snapshots import snapshot_rows

    rows_by_portfolio = snapshot_rows(context=context)

    def build(pid: uuid.UUID, index: pd.Index) -> tuple[list[Any], int]:
        row = rows_by_portfolio[pid]
        if isinstance(row, Exception):
            raise row
        return [row], 1

    def write(objects: list[Any], pids: list[uuid.UUID]) -> int:
        return persist.snapshots_upsert(rows=objects)

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


def _fan_out(*, run: BatchRun, chunks: list[list[uuid.UUID]], steps: list[str], say: Callable[[str], None]) -> None:
    """Queue one django-q2 task per chunk and wait for the group (workers write their own jobs)."""
    from django_q.tasks import async_task, count_group, fetch_group

    group = f"batch-{run.pk}"
    for chunk in chunks:
        async_task("analytics.tasks.portfolio_chunk_task", str(run.pk), [str(p) for p in chunk], steps, group=group)
    say(f"cluster: queued {len(chunks)} chunk task(s) in group {group}; waiting for the workers")
    deadline = time.monotonic() + 1800
    while count_group(group) < len(chunks):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the cluster did not finish {len(chunks)} chunk(s) within 30 minutes")
        time.sleep(0.2)
    failures = [t for t in fetch_group(group, failures=True) or [] if not t.success]
    for task in failures:
        say(f"cluster: chunk task failed: {str(task.result)[:300]}")
        BatchJob.objects.create(
            run=run, step="chunk_task", status=RunStatus.FAILED, error_summary=str(task.result)[:2000], sequence=10_000
        )
