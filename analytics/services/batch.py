"""The daily batch: market data, expired options settled, then every analytics step for every portfolio,
then reports.

A run is recorded in ``BatchRun`` with one ``BatchJob`` per step and portfolio (universe-level
steps — the market data sync and the factor model — have no portfolio). A failing portfolio or
step is recorded and the rest go on; a step whose input failed for a portfolio is marked
skipped with the reason. Results are upserted per (subject, as_of), so a rerun or a run after an
interruption replaces rows and never duplicates them. One run per date at a time (database lock).

The symbol-level stage (factor betas of every symbol) is computed once per run and stored; the
portfolio steps then run per chunk of portfolios — inline, or fanned out as django-q2 tasks when
a cluster is used — on that stage as stored (built from the rows written, handed to cluster workers
through the shared cache), so both paths give identical numbers. The run's serial part, before the
first chunk: the run's instruments (one DISTINCT query), their market inputs, the symbol stage. Each
chunk loads its own positions, so a run's memory is that of its shared inputs and one chunk, whatever the
number of portfolios (``bench/bench_analytics.py``: flat from 1,000 to 10,000).
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.db.models import Count
from django.utils import timezone

from analytics.engines import covariance
from analytics.models import (
    BatchJob,
    BatchLock,
    BatchRefusal,
    BatchRun,
    FactorModelFit,
    RunStatus,
    SymbolFactorBeta,
)
from analytics.results import registry
from analytics.selectors import factor_model_latest
from analytics.services import compute, persist
from analytics.services.heartbeat import Heartbeat, runs_abandoned_mark
from analytics.services.inputs import (
    MarketInputs,
    PortfolioInfo,
    market_inputs_load,
    portfolios_load,
    positions_load,
)
from analytics.services.jobs import (
    EXPIRIES_STEP,
    JobRecorder,
    error_text,
    needs_factor_model,
    portfolio_steps,
    steps_all,
)
from analytics.services.locking import BatchLocked, batch_lock, interrupted_runs_mark
from analytics.services.steps import ChunkContext, position_metrics_flush, step_run
from analytics.services.writer import ResultWriter
from marketdata.factors import FACTOR_LOOKBACK_DAYS, FACTOR_NAMES
from portfolios.selectors import held_instruments

logger = logging.getLogger("sigmasight.batch")

# Portfolios per chunk: the heavy arrays of a chunk (252 historical days × positions, 22 stress
# scenarios × positions × factors) stay around 60 MB at 250 portfolios of 60 positions, while the
# per-chunk fixed costs (queries, staging tables, job rows) are paid 4 times per 1,000 portfolios.
CHUNK_SIZE = 250


def chunks_split(ids: Sequence[uuid.UUID], *, workers: int = 1) -> list[list[uuid.UUID]]:
    """Split a run's portfolios into chunks of at most ``CHUNK_SIZE``, in order, their sizes within one of each
    other, and as many chunks as a multiple of ``workers`` (the cluster's worker count; 1 inline).

    A cluster worker runs a chunk at a time, so the run's wall time is that of its busiest worker: 5,000
    portfolios as 20 chunks of 250 keep 14 workers busy for two chunks each (500 portfolios) while 6 of them
    idle through the second round; as 28 chunks of 178–179 every worker runs two, 357 portfolios. A run smaller
    than ``workers × CHUNK_SIZE`` is spread over every worker (1,000 portfolios on 14 workers: 14 chunks of
    71–72), never into more chunks than portfolios."""
    if not ids:
        return []
    count = math.ceil(len(ids) / CHUNK_SIZE)
    count = min(math.ceil(count / workers) * workers, len(ids))
    size, larger = divmod(len(ids), count)
    chunks, start = [], 0
    for number in range(count):
        end = start + size + (1 if number < larger else 0)
        chunks.append(list(ids[start:end]))
        start = end
    return chunks


def cluster_workers() -> int:
    """The worker count of the django-q2 cluster as configured (``Q_WORKERS``): the processes a run's chunks are
    shared among. The driver reads the same settings as the cluster it queues to."""
    return int(settings.Q_CLUSTER.get("workers") or 1)  # type: ignore[call-overload]


def worker_blas_threads(workers: int) -> int:
    """Threads for one cluster worker's BLAS (numpy's and scipy's OpenBLAS): the cores this process may use,
    shared among the cluster's ``workers``, at least one. OpenBLAS otherwise starts one thread per core in every
    worker process: 14 workers × 16 threads on 16 cores, each matrix product's threads spinning for cores that
    the other workers hold."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)  # Linux; others
    return max(1, cores // max(workers, 1))


# Python's cyclic garbage collector while a batch computes: a full young-generation pass every 10,000 container
# allocations instead of every 700. A chunk allocates millions of short-lived dicts and lists (the payloads) while
# the ones queued for the writer survive, so with the default thresholds the collector ran ~2,700 times per 1,000
# portfolios, walking the same survivors each time: 4.7 s of a 35 s run (timed by ``gc.callbacks``); relaxed,
# 170 times and 2.0 s (BENCHMARKS.md). Reference counting frees everything without cycles as before; garbage in
# cycles waits for at most 10,000 allocations.
BATCH_GC_THRESHOLD = 10_000
_relaxed_lock = threading.Lock()
_relaxed_holders = 0
_thresholds_before: tuple[int, int, int] | None = None


@contextmanager
def collector_relaxed(threshold: int = BATCH_GC_THRESHOLD) -> Iterator[None]:
    """Raise the collector's young-generation threshold to ``threshold`` for the block (process-wide: the
    thresholds are the interpreter's). Threads may overlap their blocks: the first to enter sets it, the last to
    leave restores the thresholds found; a threshold already higher (or the collector off) is left as it is."""
    global _relaxed_holders, _thresholds_before
    with _relaxed_lock:
        if _relaxed_holders == 0:
            current = gc.get_threshold()
            _thresholds_before = current
            if current[0] and current[0] < threshold:
                gc.set_threshold(threshold, *current[1:])
        _relaxed_holders += 1
    try:
        yield
    finally:
        with _relaxed_lock:
            _relaxed_holders -= 1
            if _relaxed_holders == 0 and _thresholds_before is not None:
                gc.set_threshold(*_thresholds_before)
                _thresholds_before = None


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


def __getattr__(name: str) -> tuple[str, ...]:
    # ``STEPS`` and ``PORTFOLIO_STEPS`` as they were before the registry: read from it when asked for.
    if name == "STEPS":
        return steps_all()
    if name == "PORTFOLIO_STEPS":
        return portfolio_steps()
    raise AttributeError(name)


def steps_resolve(steps: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """Validate ``--steps`` (a kind's earlier names are accepted): (the steps in run order, a note per earlier
    name used). Raises ValueError naming unknown steps."""
    every = steps_all()
    if not steps:
        return list(every), []
    chosen: set[str] = set()
    notes: list[str] = []
    unknown: list[str] = []
    for step in steps:
        if step in every:
            chosen.add(step)
            continue
        try:
            name = registry.canonical_name(step)
        except registry.UnknownKind:
            unknown.append(step)
            continue
        chosen.add(name)
        notes.append(f"step '{step}' is now called '{name}'")
    if unknown:
        raise ValueError(f"Unknown step(s): {', '.join(unknown)}. Steps: {', '.join(every)}.")
    return [s for s in every if s in chosen], notes


def steps_normalise(steps: Sequence[str] | None) -> list[str]:
    """Validate ``--steps``; returns them in run order, earlier names mapped. Raises ValueError naming unknown ones."""
    return steps_resolve(steps)[0]


def batch_run(
    *,
    as_of: dt.date,
    portfolio_ids: Sequence[uuid.UUID] | None = None,
    steps: Sequence[str] | None = None,
    trigger: str = "command",
    use_cluster: bool = False,
    fan_out_workers: int | None = None,
    progress: Callable[[str], None] | None = None,
    market_data_sync: Callable[..., Any] | None = None,
) -> BatchOutcome:
    """Run the daily batch for ``as_of``; see the module docstring. Raises ``BatchLocked``.

    ``fan_out_workers``: with ``use_cluster``, the cluster workers free to run the chunks (default: all of them,
    :func:`cluster_workers`); a run started by a task of the same cluster holds one of them while it waits."""
    selected = steps_normalise(steps)
    say = progress or (lambda message: None)
    portfolios = portfolios_load(portfolio_ids=portfolio_ids)
    if portfolio_ids is not None and len(portfolios) != len(set(portfolio_ids)):
        missing = sorted(str(p) for p in set(portfolio_ids) - set(portfolios))
        raise ValueError(f"No portfolio with id {', '.join(missing)}.")
    runs_abandoned_mark()
    run_id = uuid.uuid4()
    with ExitStack() as held:
        held.enter_context(collector_relaxed())
        try:
            held.enter_context(batch_lock(as_of=as_of, run_id=run_id))
        except BatchLocked as exc:
            # Recorded apart from the runs: a refusal is not a run and never becomes the "latest run".
            holder = BatchLock.objects.filter(as_of=as_of).values_list("holder", flat=True).first()
            BatchRefusal.objects.create(as_of=as_of, trigger=trigger, holder=holder, message=str(exc))
            logger.warning("Batch for %s refused: %s", as_of, exc)
            raise
        run = BatchRun.objects.create(
            id=run_id,
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
            with Heartbeat(run.pk):
                interrupted = interrupted_runs_mark(as_of=as_of, except_run=run.pk)
                if interrupted:
                    say(f"Marked {interrupted} earlier run(s) for {as_of} as interrupted.")
                _run_locked(
                    run=run,
                    recorder=recorder,
                    portfolios=portfolios,
                    selected=selected,
                    use_cluster=use_cluster,
                    fan_out_workers=fan_out_workers or cluster_workers(),
                    say=say,
                    market_data_sync=market_data_sync,
                )
            return _finish(run, started)
        except Exception as exc:
            _record_failed(run, exc, started)
            raise


def _record_failed(run: BatchRun, exc: Exception, started: float) -> None:
    """Record the run as failed. If the database connection itself was lost (a restarted server, a
    terminated backend), reconnect once to record it; if even that fails, the run is left ``running``
    and the next run marks it interrupted or abandoned."""
    run.status = RunStatus.FAILED
    run.error_summary = error_text(exc)
    run.finished_at = timezone.now()
    run.duration_ms = (time.perf_counter() - started) * 1000
    fields = ["status", "error_summary", "finished_at", "duration_ms"]
    try:
        run.save(update_fields=fields)
        return
    except DatabaseError:
        logger.warning("Recording batch run %s as failed lost the connection; reconnecting once", run.pk)
    try:
        connection.close()  # the next query opens a new connection
        run.save(update_fields=fields)
    except DatabaseError:
        logger.exception("Could not record batch run %s as failed; it stays 'running' until the next run", run.pk)


def _finish(run: BatchRun, started: float) -> BatchOutcome:
    # Counted by the database: 65,001 job rows at 5,000 portfolios took 0.1–0.26 s to read for their status alone.
    counts = dict(run.jobs.order_by().values("status").annotate(n=Count("id")).values_list("status", "n"))
    failed = counts.get(RunStatus.FAILED, 0)
    skipped = counts.get(RunStatus.SKIPPED, 0)
    completed = counts.get(RunStatus.COMPLETED, 0)
    if failed == 0 and skipped == 0:
        # Every job completed; on data with quarantined prices left out, say so rather than plainly "completed".
        run.status = RunStatus.WARNINGS if run.warnings else RunStatus.COMPLETED
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
    fan_out_workers: int,
    say: Callable[[str], None],
    market_data_sync: Callable[..., Any] | None,
) -> None:
    as_of = run.as_of
    if "market_data" in selected:
        say("market_data: syncing prices")
        _market_data_step(run=run, recorder=recorder, say=say, sync=market_data_sync)

    if EXPIRIES_STEP in selected:
        say("expiries: settling options that expired before this date")
        _expiries_step(run=run, recorder=recorder, say=say)

    kinds = [s for s in selected if s in portfolio_steps()]
    ids = list(portfolios)
    if kinds and ids:
        # The run's instruments by one DISTINCT query, not from a frame of every position of the run: the driver
        # never needs the positions (each chunk, inline or in a cluster worker, loads its own).
        symbols, contracts = run_instruments(portfolio_ids=ids, as_of=as_of, portfolios=portfolios)
        market = market_inputs_load(symbols=symbols, option_contracts=contracts, as_of=as_of)
        run.data_source = market.data_source
        run.warnings = _quarantine_warnings(market)
        run.save(update_fields=["data_source", "warnings"])
        if run.warnings:
            say(f"warning: {run.warnings.splitlines()[0]}")
        users = [kind for kind in kinds if registry.spec_for(kind).uses_symbol_stage]
        stage: compute.SymbolStage | None = None
        if users:
            # Not "factors: …": the fit runs for whichever of these steps were asked, the factors step or not.
            say(f"factor model: fitting every symbol's betas (for {', '.join(users)})")
            stage = _symbol_stage_step(run=run, recorder=recorder, market=market)
        if stage is None:  # not asked for, or the fit failed: the day's stored model, if any (as before)
            stage = symbol_stage_load(market=market, as_of=as_of)
        chunks = chunks_split(ids, workers=fan_out_workers if use_cluster else 1)
        if use_cluster:
            key = _shared_inputs_key(run)
            # Handed to the workers through the shared cache (Redis in a cluster deployment): a worker then
            # reads the run's inputs in milliseconds instead of loading them again from the database.
            cache.set(key, (market, stage), SHARED_INPUTS_SECONDS)
            try:
                _fan_out(run=run, chunks=chunks, steps=kinds, say=say)
            finally:
                cache.delete(key)
        else:
            writer = ResultWriter.for_batch()  # one writer for the run: a chunk's last writes overlap the next
            try:
                _chunks_run_inline(
                    run=run,
                    chunks=chunks,
                    steps=kinds,
                    recorder=recorder,
                    market=market,
                    stage=stage,
                    writer=writer,
                    say=say,
                )
            finally:
                writer.close()
            recorder.flush()

    for name in [s for s in selected if s in POST_STEPS]:
        say(f"{name}: writing")
        started = time.perf_counter()
        try:
            rows = POST_STEPS[name](as_of, ids)
            recorder.record(
                step=name, portfolio_id=None, status=RunStatus.COMPLETED, started=started, rows=rows, flush=True
            )
        except Exception as exc:
            logger.exception("Post step %s failed", name)
            recorder.record_failure(step=name, started=started, exc=exc)


def unreadable_record(
    *,
    recorder: JobRecorder,
    unreadable: dict[uuid.UUID, str],
    steps: Sequence[str],
    say: Callable[[str], None] = lambda message: None,
) -> None:
    """Fail every step of each portfolio whose positions could not be read, with the reason (the
    other portfolios of the run go on)."""
    if not unreadable:
        return
    say(f"positions: {len(unreadable)} portfolio(s) could not be read; their jobs fail, the others run")
    started = time.perf_counter()
    for pid, reason in unreadable.items():
        for step in steps_to_run(steps):
            recorder.record(step=step, portfolio_id=pid, status=RunStatus.FAILED, started=started, error=reason)
    recorder.flush()


def _chunks_run_inline(
    *,
    run: BatchRun,
    chunks: list[list[uuid.UUID]],
    steps: list[str],
    recorder: JobRecorder,
    market: MarketInputs,
    stage: compute.SymbolStage | None,
    writer: ResultWriter,
    say: Callable[[str], None],
) -> None:
    """Run the chunks one after the other in this process. They share the run's prices and factor model; each
    loads its own positions (one query), as a cluster worker's chunk does, so that the run holds one chunk's
    positions at a time and its memory does not grow with the number of portfolios."""
    preloaded = Preloaded(market=market, stage=stage)
    for number, chunk in enumerate(chunks, start=1):
        say(f"portfolios: chunk {number}/{len(chunks)} ({len(chunk)} portfolios)")
        portfolio_chunk_run(
            run=run, portfolio_ids=chunk, steps=steps, recorder=recorder, preloaded=preloaded, writer=writer
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
        recorder.record(
            step="market_data", portfolio_id=None, status=status, started=started, rows=rows, error=error, flush=True
        )
        say(f"market_data: {rows} rows written, {failed} symbol(s) failed")
    except Exception as exc:
        logger.exception("Market data sync failed")
        job = recorder.record_failure(step="market_data", started=started, exc=exc)
        # No step depends on "market_data": they run on cached prices and their staleness flag tells the truth.
        say(f"market_data: FAILED ({job.error_summary}); continuing on cached prices")


def _expiries_step(*, run: BatchRun, recorder: JobRecorder, say: Callable[[str], None]) -> None:
    """Settle the options that expired before the run's date (``analytics.services.expiries``), across every
    portfolio: a settlement is a position change, not one portfolio's result."""
    from analytics.services.expiries import expiries_settle

    started = time.perf_counter()
    try:
        report = expiries_settle(as_of=run.as_of)
    except Exception as exc:
        logger.exception("Settling expired options failed")
        job = recorder.record_failure(step=EXPIRIES_STEP, started=started, exc=exc)
        say(f"expiries: FAILED ({job.error_summary}); expired options stay open and show as expired")
        return
    unpriced = "; ".join(f"{c}: {why}" for c, why in sorted(report.unpriced.items()))
    recorder.record(
        step=EXPIRIES_STEP,
        portfolio_id=None,
        status=RunStatus.PARTIAL if report.unpriced else RunStatus.COMPLETED,
        started=started,
        rows=len(report.settled),
        error=f"left open (no settlement close): {unpriced}"[:2000] if unpriced else "",
        flush=True,
    )
    outcomes = ", ".join(f"{s.contract} {s.outcome}" for s in report.settled)
    say(f"expiries: {len(report.settled)} settled" + (f" ({outcomes})" if outcomes else ""))


def run_instruments(
    *, portfolio_ids: Sequence[uuid.UUID], as_of: dt.date, portfolios: dict[uuid.UUID, PortfolioInfo] | None = None
) -> tuple[list[str], list[str]]:
    """The symbols a run prices (those its positions held at ``as_of`` price, and the portfolios' benchmarks)
    and the option contracts it quotes, sorted: the universe of its market inputs and symbol stage.

    One ``DISTINCT`` query (``portfolios.selectors.held_instruments``): at 5,000 portfolios reading every
    position into a frame just to learn them took seconds of the run's serial part."""
    held, contracts = held_instruments(portfolio_ids=list(portfolio_ids), as_of=as_of)
    benchmarks = {p.benchmark_symbol for p in (portfolios or {}).values()}
    return sorted(set(held) | benchmarks), contracts


def _load_market(
    *, positions: pd.DataFrame, as_of: dt.date, portfolios: dict[uuid.UUID, PortfolioInfo] | None = None
) -> MarketInputs:
    """Prices of the symbols ``positions`` price, the factor proxies and the portfolios' benchmarks, and the
    quotes of its option contracts (a chunk that loads its own inputs)."""
    symbols = positions["price_symbol"].dropna().unique().tolist() if len(positions) else []
    symbols += sorted({p.benchmark_symbol for p in (portfolios or {}).values()} - set(symbols))
    contracts = positions.loc[positions["is_option"].astype(bool), "symbol"].tolist() if len(positions) else []
    return market_inputs_load(symbols=symbols, option_contracts=contracts, as_of=as_of)


def _quarantine_warnings(market: MarketInputs) -> str:
    """One line per quarantined price (held back, not used) among the run's symbols over its price window."""
    from marketdata.selectors import quarantines_open

    if not len(market.prices):
        return ""
    start = pd.Timestamp(market.prices.index[0]).date()
    held_back = quarantines_open(symbols=list(market.prices.columns), start=start, end=market.as_of)
    if not held_back:
        return ""
    lines = [
        f"{len(held_back)} quarantined price(s) left out (awaiting confirmation or correction in the admin): "
        + ", ".join(f"{q.symbol} {q.date} (×{q.multiple:.4g})" for q in held_back[:10])
        + (" …" if len(held_back) > 10 else "")
    ]
    return "\n".join(lines)


def _symbol_stage_step(*, run: BatchRun, recorder: JobRecorder, market: MarketInputs) -> compute.SymbolStage | None:
    """Fit the factor model once for every symbol and store it; returns the stage as stored, or None when the
    fit failed (the steps that need it are then skipped).

    The stage returned is built from the very rows written (:func:`symbol_stage_from_rows`), not read back:
    what ``symbol_stage_load`` would rebuild from the database, without the round trip in the run's serial
    part. Every chunk, inline or in a cluster worker (handed through the shared cache), uses it."""
    started = time.perf_counter()
    try:
        fitted = compute.symbol_stage_compute(
            market=market,
            estimator=covariance.estimator_named(settings.RISK_COVARIANCE_ESTIMATOR),
            ewma_lambda=settings.RISK_EWMA_LAMBDA,
        )
        provenance = persist.provenance_fields(
            run=run,
            as_of=market.as_of,
            data_source=market.data_source,
            method=(
                f"OLS on {len(FACTOR_NAMES)} factors (styles as spreads over SPY, rates = TLT); "
                f"covariance: {covariance.describe(fitted.covariance_estimator, fitted.ewma_lambda)}"
            ),
            lookback=FACTOR_LOOKBACK_DAYS,
            inputs={
                "observations": fitted.n_observations,
                "condition_number": fitted.condition_number,
                "covariance_estimator": fitted.covariance_estimator,
                "ewma_lambda": fitted.ewma_lambda,
            },
            stale=market.stale_symbols,
        )
        fit_row, beta_rows = persist.factor_fit_rows(stage=fitted, as_of=run.as_of, provenance=provenance)
        rows = persist.factor_fit_write(model_fit=fit_row, rows=beta_rows)
        stage = symbol_stage_from_rows(fit_row=fit_row, rows=beta_rows, market=market)
        recorder.record(
            step="factor_model", portfolio_id=None, status=RunStatus.COMPLETED, started=started, rows=rows, flush=True
        )
        return stage
    except Exception as exc:
        logger.exception("Factor model failed")
        recorder.record_failure(step="factor_model", started=started, exc=exc)
        recorder.failed.setdefault(None, set()).update(needs_factor_model())
        return None


def symbol_stage_load(*, market: MarketInputs, as_of: dt.date) -> compute.SymbolStage | None:
    """Rebuild the run's symbol stage from the stored factor model and betas (the day's model when this run
    did not fit one, and a chunk that loads its own inputs)."""
    fit_row = factor_model_latest(as_of=as_of)
    if fit_row is None or fit_row.as_of != as_of:
        return None
    return symbol_stage_from_rows(
        fit_row=fit_row, rows=SymbolFactorBeta.objects.filter(as_of=as_of).order_by("symbol"), market=market
    )


def symbol_stage_from_rows(
    *, fit_row: FactorModelFit, rows: Iterable[SymbolFactorBeta], market: MarketInputs
) -> compute.SymbolStage:
    """The run's symbol stage of a factor model's rows (stored, or about to be: the same values either way,
    since floats and JSON numbers survive the database exactly), with the betas in symbol order. The run's
    Monte Carlo rows (each symbol's simulated returns, each contract's repriced values) are made once and
    kept in it for every chunk of the run that a process computes."""
    ordered = sorted(rows, key=lambda row: row.symbol)
    stored = persist.StoredFit(ordered)
    return symbol_stage_from_stored(fit_row=fit_row, fit=stored, market=market, monte_carlo_draws={})


def symbol_stage_from_stored(
    *, fit_row: FactorModelFit, fit: persist.StoredFit, market: MarketInputs, **extra: Any
) -> compute.SymbolStage:
    """The symbol stage of a stored factor model (``fit_row``, its betas ``fit``) over ``market``'s prices:
    returns, realised vols, the stored covariances and the estimator it was fitted with. ``extra``: the
    stage's optional caches (a what-if's scenario shocks and Monte Carlo draws)."""
    prices = market.prices
    returns = prices.pct_change(fill_method=None).iloc[1:]
    log_returns = np.log(prices).diff().iloc[1:]
    factor_cov = pd.DataFrame(fit_row.factor_covariance, dtype=float).reindex(index=FACTOR_NAMES, columns=FACTOR_NAMES)
    proxy_cov = pd.DataFrame(fit_row.proxy_covariance, dtype=float)
    inputs = fit_row.inputs or {}
    return compute.SymbolStage(
        returns=returns,
        log_returns=log_returns,
        realised_vol=log_returns.iloc[-compute.REALISED_VOL_DAYS :].std(ddof=1) * math.sqrt(252),
        factor_returns=pd.DataFrame(),
        proxy_returns=pd.DataFrame(),
        fit=fit,
        univariate_beta=fit.univariate,
        factor_cov=factor_cov,
        proxy_cov=proxy_cov.reindex(index=proxy_cov.columns),
        condition_number=fit_row.condition_number,
        n_observations=fit_row.n_observations,
        covariance_estimator=covariance.estimator_named(inputs.get("covariance_estimator", "equal_weighted")),
        ewma_lambda=float(inputs.get("ewma_lambda", covariance.RISKMETRICS_LAMBDA)),
        **extra,
    )


@dataclass(frozen=True)
class Preloaded:
    """The run's inputs shared by its chunks: loaded once by an inline run, once per run by a cluster worker
    (:func:`run_inputs_shared`). Positions are not among them: each chunk loads its own."""

    market: MarketInputs
    stage: compute.SymbolStage | None


# A worker process's market inputs and symbol stage of the run whose chunks it last ran, keyed by the run.
_shared_inputs: tuple[tuple[str, dt.date], MarketInputs, compute.SymbolStage | None] | None = None
SHARED_INPUTS_SECONDS = 6 * 3600  # the driver deletes them when its run ends; this only bounds a crash


def _shared_inputs_key(run: BatchRun) -> str:
    return f"sigmasight:batch-inputs:{run.pk}:{run.as_of.isoformat()}"


def run_inputs_shared(
    *, run: BatchRun, symbols: Sequence[str] | None = None, contracts: Sequence[str] | None = None
) -> Preloaded:
    """The run's market inputs (prices of every symbol of the run, as the driver loaded them) and its symbol
    stage, loaded by the first chunk a worker process runs and reused by its next chunks of the same run.

    Before, every chunk task loaded the prices of its own symbols and read the stored factor model back:
    with 250 portfolios of a 1,500-symbol universe nearly the whole universe, once per chunk, so a cluster
    of one worker took 1.6× the inline run. Now the driver hands its own (the inline run's exactly: same
    symbols, same dates, the stored fit read back once) through the shared cache; a worker that cannot
    read them there loads the run's whole instrument set itself, once: the ``symbols`` and ``contracts`` given
    (a task queued by an earlier version carried them), else the run's own (:func:`run_instruments` over the
    portfolios the run records)."""
    global _shared_inputs
    key = (str(run.pk), run.as_of)
    if _shared_inputs is None or _shared_inputs[0] != key:
        _shared_inputs = None  # the previous run's inputs can go before the next are loaded
        handed = cache.get(_shared_inputs_key(run))  # the driver's, when the cache is shared (Redis)
        if handed is not None:
            _shared_inputs = (key, *handed)
        else:  # a per-process cache (locmem) or an expired entry: load them as the driver did
            if symbols is None:
                ids = [uuid.UUID(p) for p in run.portfolio_ids]
                symbols, contracts = run_instruments(
                    portfolio_ids=ids, as_of=run.as_of, portfolios=portfolios_load(portfolio_ids=ids)
                )
            market = market_inputs_load(symbols=symbols, option_contracts=contracts or [], as_of=run.as_of)
            _shared_inputs = (key, market, symbol_stage_load(market=market, as_of=run.as_of))
    return Preloaded(market=_shared_inputs[1], stage=_shared_inputs[2])


def portfolio_chunk_run(
    *,
    run: BatchRun,
    portfolio_ids: Sequence[uuid.UUID],
    steps: Sequence[str],
    recorder: JobRecorder | None = None,
    preloaded: Preloaded | None = None,
    writer: ResultWriter | None = None,
) -> dict[str, int]:
    """Run the portfolio steps for one chunk: load once, compute per portfolio, write in bulk per step.

    Returns the rows submitted per step. With a ``writer`` of the caller's, the last writes may still be
    in flight on return (the caller drains or closes it); otherwise every write has settled.
    """
    if recorder is None:
        recorder = JobRecorder(run=run, sequence=run.jobs.count())
        if run.jobs.filter(step="factor_model", portfolio__isnull=True, status=RunStatus.FAILED).exists():
            recorder.failed.setdefault(None, set()).update(needs_factor_model())
    as_of = run.as_of
    portfolios = portfolios_load(portfolio_ids=portfolio_ids)
    loaded = positions_load(portfolio_ids=list(portfolios), as_of=as_of)
    unreadable_record(recorder=recorder, unreadable=loaded.unreadable, steps=steps)
    portfolios = {pid: info for pid, info in portfolios.items() if pid not in loaded.unreadable}
    positions = loaded.frame
    if preloaded is not None:
        market, stage = preloaded.market, preloaded.stage
    else:
        market = _load_market(positions=positions, as_of=as_of, portfolios=portfolios)
        stage = symbol_stage_load(market=market, as_of=as_of)
    state = compute.position_state_compute(positions=positions, market=market, stage=stage)
    own_writer = writer is None
    writer = writer or ResultWriter.for_batch()
    try:
        context = ChunkContext.build(
            run=run, market=market, stage=stage, positions=positions, state=state, portfolios=portfolios, writer=writer
        )
        specs = [registry.spec_for(step) for step in steps_to_run(steps)]
        # The position metrics are queued as soon as the last kind that fills them is: behind those kinds' writes
        # (it leaves out the metrics of a kind whose results failed to store), and stored while the later kinds
        # compute instead of after them all (a chunk task waits for its last write).
        last_filling = next((spec for spec in reversed(specs) if spec.fills_position_metrics), None)
        submitted: dict[str, int] = {"position_metrics": 0}
        for spec in specs:
            submitted[spec.name] = step_run(spec, context, recorder)
            if spec is last_filling:
                submitted["position_metrics"] = position_metrics_flush(context, recorder)
    finally:
        if own_writer:
            writer.close()
    return submitted


def steps_to_run(selected: Sequence[str]) -> list[str]:
    """The result kinds among ``selected`` (earlier names accepted), in step order."""
    chosen = {registry.aliases().get(s, s) for s in selected}
    return [step for step in portfolio_steps() if step in chosen]


def _fan_out(*, run: BatchRun, chunks: list[list[uuid.UUID]], steps: list[str], say: Callable[[str], None]) -> None:
    """Queue one django-q2 task per chunk and wait for the group (workers write their own jobs). A task carries
    the run, its chunk's portfolios and the steps — a few kilobytes; the run's inputs reach a worker once
    through the shared cache (:func:`run_inputs_shared`). Tasks that also carried the run's instruments
    (28,701 option contracts at 5,000 portfolios, 1 MB a task) took 30 ms each to queue, in the serial part."""
    from django_q.tasks import async_task, count_group, fetch_group

    group = f"batch-{run.pk}"
    for chunk in chunks:
        async_task(
            "analytics.tasks.portfolio_chunk_task",
            str(run.pk),
            [str(p) for p in chunk],
            steps,
            shared_inputs=True,
            group=group,
        )
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
