"""The portfolio steps of the batch, run over one chunk of portfolios: one runner for every result kind.

Everything heavy is computed once per chunk over arrays (the position state here, each kind's
``prepare``); each portfolio's payload is then built in isolation (the kind's ``build``), so one
failing portfolio is recorded and the others go on. Results are written in bulk per step (the
kind's ``write``); per-position metrics are written once per chunk.
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from django.db import transaction

from analytics.models import BatchRun, RunStatus
from analytics.results.base import MetricColumns, ResultSpec, Row
from analytics.services import compute, persist
from analytics.services.book import book_fingerprint, with_book_texts
from analytics.services.columns import Columns
from analytics.services.inputs import MarketInputs, PortfolioInfo
from analytics.services.jobs import JobRecorder, error_text
from analytics.services.writer import ResultWriter
from marketdata.factors import FACTOR_LOOKBACK_DAYS, FACTOR_NAMES

logger = logging.getLogger("sigmasight.batch")
T = TypeVar("T")

METRICS_METHOD = "end-of-day position metrics: mark-to-market, Black-Scholes-Merton Greeks, delta × factor betas"


@dataclass
class PortfolioSlice:
    """One portfolio's rows of the chunk's frames (sliced once, used by every step)."""

    info: PortfolioInfo
    positions: Columns
    state: Columns
    rows: slice  # its range of rows in the chunk frames (grouped by portfolio)
    stale: list[str]
    book: str = ""  # the book's fingerprint (``services.book``), recorded in every result's provenance inputs


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
    # Each step's bulk write of this chunk as the writer returned it (a future; None when it ran inline): a kind
    # that reads a step's stored rows waits for that write alone (:meth:`wait_stored`), not for every write queued.
    writes: dict[str, Future[int] | None] = field(default_factory=dict)
    # (portfolio, step) whose results failed to store: filled by the write itself (writer thread), read by
    # the position-metrics write queued after it, so the metrics of a step that was not stored are dropped.
    failed_writes: set[tuple[uuid.UUID, str]] = field(default_factory=set)
    # Each portfolio's payloads of the kinds built so far in this chunk (portfolio → kind → payload): a kind
    # that judges the others' results (``limits``) reads them here, in memory, before they are stored.
    payloads: dict[uuid.UUID, dict[str, Mapping[str, Any]]] = field(default_factory=dict)
    # What the kinds read from the database beyond the positions and prices (:meth:`read`), kept past the chunk:
    # a what-if's, shared by the process's what-ifs while the database's change counter stays where it was
    # (``whatif.reads_kept``). None in the batch, which reads each once per chunk anyway.
    reads: dict[Hashable, Any] | None = None

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
        order = _grouped_order(owner)
        positions, state = positions.iloc[order], state.iloc[order]
        owner = owner[order]
        starts = [0, *(np.flatnonzero(owner[1:] != owner[:-1]) + 1).tolist()] if len(owner) else []
        ends = [*starts[1:], len(owner)] if starts else []
        bounds = {owner[s]: (s, e) for s, e in zip(starts, ends, strict=True)}
        position_columns, state_columns = Columns.from_frame(positions), Columns.from_frame(state)
        # The position id as the payloads write it, converted once per chunk; each price symbol as an integer code
        # (equal codes, equal symbols), for the kinds that group positions by symbol without comparing strings.
        position_key = np.empty(len(positions), dtype=object)
        position_key[:] = [str(p) for p in positions["position_id"].tolist()]
        position_columns = position_columns.with_column("position_key", position_key)
        symbol_code = np.unique(positions["price_symbol"].astype(str).to_numpy(), return_inverse=True)[1]
        position_columns = position_columns.with_column("symbol_code", symbol_code.reshape(-1))
        # The price date as a ``datetime.date`` (None where there is no price), converted as one array: a
        # datetime64[D] array becomes dates and NaT None when cast to object.
        price_day = pd.to_datetime(state["price_date"]).to_numpy(dtype="datetime64[D]").astype(object)
        state_columns = state_columns.with_column("price_day", price_day)
        if stage is not None:
            # Per-position factor inputs as arrays, once per chunk: betas (N × K), daily residual vol.
            betas = np.vstack(state["betas"].to_numpy()) if len(state) else np.empty((0, len(FACTOR_NAMES)))
            residual = stage.fit.residual_vol.reindex(positions["price_symbol"].to_numpy()).to_numpy(dtype=float)
            state_columns = state_columns.with_column("beta_matrix", betas).with_column("residual_vol", residual)
        book_columns = with_book_texts(position_columns, known={"position_id": position_key})
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
                book=book_fingerprint(positions=book_columns.rows(rows), info=info),
            )
        return cls(run=run, market=market, stage=stage, positions=positions, state=state, slices=slices, writer=writer)

    def wait_stored(self, step: str) -> None:
        """Wait until this chunk's results of ``step`` are stored (its write committed, or failed); at once when the
        step did not run in this chunk, its write ran inline, or the chunk has no writer."""
        if self.writer is not None and step in self.writes:
            self.writer.wait_for(self.writes[step])

    def read(self, key: Hashable, load: Callable[[], T]) -> T:
        """``load()``, or what it returned for ``key`` earlier while ``reads`` is kept (:func:`kept_read`)."""
        return kept_read(self.reads, key, load)

    def payloads_for(self, part: PortfolioSlice) -> dict[str, Mapping[str, Any]]:
        """The payloads built so far in this chunk for the portfolio of ``part`` (kind → payload)."""
        for pid, candidate in self.slices.items():
            if candidate is part:
                return self.payloads.get(pid, {})
        return {}

    def provenance(
        self, part: PortfolioSlice, *, method: str, lookback: int | None, inputs: dict[str, Any]
    ) -> dict[str, Any]:
        return persist.provenance_fields(
            run=self.run,
            as_of=self.market.as_of,
            data_source=self.market.data_source,
            method=method,
            lookback=lookback,
            inputs={**inputs, "book": part.book},
            stale=part.stale,
        )

    def result(
        self,
        pid: uuid.UUID,
        kind: str,
        payload: Mapping[str, Any],
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


def _grouped_order(owner: np.ndarray) -> np.ndarray:
    """The stable order that groups rows by owner, owners by their text (``np.argsort(owner.astype(str),
    kind="stable")``), converting each distinct owner to text once instead of every row's."""
    if not len(owner):
        return np.array([], dtype=np.intp)
    codes, distinct = pd.factorize(owner, use_na_sentinel=False)
    rank = np.empty(len(distinct), dtype=np.intp)
    rank[np.argsort(np.array([str(o) for o in distinct]), kind="stable")] = np.arange(len(distinct))
    return np.argsort(rank[codes], kind="stable")


def kept_read(reads: dict[Hashable, Any] | None, key: Hashable, load: Callable[[], T]) -> T:
    """``load()``, or what it returned for ``key`` earlier when ``reads`` keeps reads (None: read every time).
    ``key`` names the read and every argument it takes; the caller must not change what it gets (concurrent
    what-ifs may share it)."""
    if reads is None:
        return load()
    if key in reads:
        kept: T = reads[key]
        return kept
    value = load()
    reads[key] = value
    return value


Build = Callable[[uuid.UUID, PortfolioSlice], tuple[list[Row], MetricColumns | None]]


def step_run(spec: ResultSpec[Any, Any], context: ChunkContext, recorder: JobRecorder) -> int:
    """Run one kind over a chunk: skip the portfolios whose inputs failed, ``prepare`` once, ``build`` each
    portfolio in isolation, then hand every success to the writer in one bulk write (``spec.write``); the
    jobs are recorded completed once that write has committed. Returns the rows submitted."""
    step = spec.name
    runnable: list[uuid.UUID] = []
    for pid in context.slices:
        started = time.perf_counter()
        blocked = recorder.blocked_by(pid, step)
        if blocked is not None:
            reason = f"skipped: its input step '{blocked}' failed for this portfolio"
        elif spec.needs_factor_model and context.stage is None:
            reason = "skipped: no factor model for this date (the factor_model job failed or did not run)"
        else:
            runnable.append(pid)
            continue
        recorder.record(step=step, portfolio_id=pid, status=RunStatus.SKIPPED, started=started, error=reason)
    prepared: Any = None
    if runnable:
        started = time.perf_counter()
        try:
            prepared = spec.prepare(context)
        except Exception as exc:
            # Work shared by the whole chunk failed: every portfolio of it fails this step.
            logger.error(
                "Step %s failed for a chunk of %d portfolios:\n%s", step, len(runnable), traceback.format_exc()
            )
            for pid in runnable:
                recorder.record(
                    step=step, portfolio_id=pid, status=RunStatus.FAILED, started=started, error=error_text(exc)
                )
            runnable = []

    def build(pid: uuid.UUID, part: PortfolioSlice) -> tuple[list[Row], MetricColumns | None]:
        payload = spec.build(context, part, prepared)
        context.payloads.setdefault(pid, {})[step] = payload
        return spec.rows(context, part, payload, prepared), spec.metric_columns(context, part, payload, prepared)

    return _per_portfolio(context, recorder, step, build, spec.write, runnable)


def _per_portfolio(
    context: ChunkContext,
    recorder: JobRecorder,
    step: str,
    build: Build,
    write: Callable[[list[Row]], int],
    portfolio_ids: list[uuid.UUID],
) -> int:
    """Build ``step`` for each portfolio (isolated), then hand every success to the writer in one bulk
    write; the jobs are recorded completed once that write has committed. Returns the rows submitted."""
    results: list[Row] = []
    succeeded: list[tuple[uuid.UUID, float, int]] = []  # (portfolio, compute seconds, rows)
    for pid in portfolio_ids:
        part = context.slices[pid]
        started = time.perf_counter()
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

    context.writes[step] = context.writer.submit(store, on_done=on_done, on_error=on_error)
    return len(results)


def position_metrics_flush(context: ChunkContext, recorder: JobRecorder) -> int:
    """Write every position's metrics of the chunk: one row per position and day, the columns of the steps that
    completed for its portfolio (grouped so that each upsert updates exactly those columns), in one transaction.

    Queued behind the result writes of the steps that fill the metrics (the batch queues it after the last of
    them): it runs once they are done, and leaves out the metrics of a step whose results failed to store.
    Returns the rows submitted; a failed write is recorded as a failed ``position_metrics`` job."""
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
        # The ids as text, converted once per portfolio rather than once per row by the COPY.
        constants = {"portfolio_id": str(pid), "as_of": as_of, "batch_run_id": str(run.pk) if run else None}
        constants.update(provenance)
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
