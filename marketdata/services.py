"""Writes of the market data layer: cache-first sync and backfill, factor data, CSV import.

Cache-first: for each symbol the sync reads which sessions of the window are already stored (one
query for the whole universe) and asks the provider only for the missing ones, one request per
contiguous run of missing sessions. Bars are validated (``marketdata.quality``) and upserted in
bulk — a binary COPY built from numpy arrays on PostgreSQL (through a staging table and
``INSERT … ON CONFLICT`` when rows overlap), ``bulk_create(update_conflicts=True)`` elsewhere. An
offline provider that answers with columns (the simulated one) skips per-row Python entirely: its
arrays are validated vectorised and streamed into the COPY while the next symbols are generated.
One bad symbol never stops a sync: its failure is recorded with the reason in the ``SyncRun``
and the next default sync asks for it again.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.datachange import data_changed
from marketdata.calendar import last_trading_days, latest_completed_session, session_on_or_before
from marketdata.factors import FACTOR_SYMBOLS
from marketdata.models import (
    Instrument,
    OptionQuote,
    PriceBar,
    PriceQuarantine,
    QuarantineStatus,
    SyncRun,
    SyncStatus,
)
from marketdata.occ import parse_occ
from marketdata.providers import get_provider
from marketdata.providers.base import Bar, BarColumns, InstrumentProfile, Provider, ProviderError, SymbolUnavailable
from marketdata.providers.csv import price_csv_parse
from marketdata.providers.http import RetryBudgetExhausted
from marketdata.quality import Jump, bar_columns_validate, bars_validate, jumps_beyond
from marketdata.selectors import symbols_with_history

logger = logging.getLogger("sigmasight.marketdata")

Progress = Callable[[int, int, str], None]
MAX_ERRORS_KEPT = 200
# Sessions of option quotes a provider with quote history is asked for: a year of VaR days (252 vol
# changes need 253 quotes) and of backfilled snapshots, plus margin.
OPTION_HISTORY_SESSIONS = 260
BAR_COLUMNS = ("symbol", "date", "open", "high", "low", "close", "adj_close", "volume", "source")


# --- Universe ----------------------------------------------------------------------------------


def universe_symbols() -> dict[str, str]:
    """Every symbol the platform prices, with its asset class.

    Symbols of open positions and option underlyings (``portfolios.selectors.held_symbols``), the
    factor proxy ETFs and TLT, and the portfolios' benchmark symbols. Sorted by symbol.
    """
    from portfolios.selectors import benchmark_symbols, held_symbols

    universe = dict.fromkeys(FACTOR_SYMBOLS, "etf")
    universe.update(held_symbols())
    for symbol in benchmark_symbols():  # tracking error's benchmarks are priced like held symbols
        universe.setdefault(symbol, "etf")
    return dict(sorted(universe.items()))


def _held_option_contracts() -> list[tuple[str, str, date | None]]:
    """(OCC contract, underlying, expiry) of every open option position."""
    from portfolios.models import OPTION_TYPES
    from portfolios.selectors import positions_open

    rows = (
        positions_open()
        .filter(position_type__in=OPTION_TYPES)
        .prefetch_related(None)
        .values_list("symbol", "underlying_symbol", "expiration")
        .distinct()
    )
    return sorted({(s.upper(), u.upper(), e) for s, u, e in rows if s})


def _asset_classes(symbols: Iterable[str]) -> dict[str, str]:
    wanted = list(dict.fromkeys(s.strip().upper() for s in symbols if s and s.strip()))
    known = dict(Instrument.objects.filter(symbol__in=wanted).order_by().values_list("symbol", "asset_class"))
    from portfolios.selectors import held_symbols

    held = held_symbols()
    result = {}
    for symbol in wanted:
        default = "etf" if symbol in FACTOR_SYMBOLS else "index" if symbol == "VIX" else "stock"
        result[symbol] = held.get(symbol) or known.get(symbol) or default
    return result


# --- Upserts -----------------------------------------------------------------------------------


def bars_upsert(*, bars: Sequence[Bar], source: str) -> int:
    """Insert or replace bars (one row per symbol and date); returns the rows written."""
    if not bars:
        return 0
    with _bars_writer(source=source) as writer:
        writer.add_rows(bars)
    return writer.written


def bar_columns_upsert(*, columns: Iterable[BarColumns], source: str) -> int:
    """``bars_upsert`` for columns (one ``BarColumns`` per symbol); returns the rows written."""
    with _bars_writer(source=source) as writer:
        for chunk in columns:
            writer.add(chunk)
    return writer.written


@contextmanager
def _bars_writer(*, source: str, stream: bool = False) -> Iterator[_BarsWriter]:
    """A ``_BarsWriter`` that writes on leaving the block, or writes nothing if the block raises."""
    writer = _BarsWriter(source=source, stream=stream)
    try:
        yield writer
    except BaseException:
        writer.abort()
        raise
    writer.finish()


class _BarsWriter:
    """Stores validated bars: binary COPY on PostgreSQL, ``bulk_create(update_conflicts=True)`` elsewhere.

    On PostgreSQL each symbol's columns become one preformatted block of the binary COPY format
    (a numpy structured array, no per-row Python). With ``stream`` the COPY is opened at the first
    block and every block is sent as soon as it is added, so the server inserts and maintains its
    indexes while the caller is still generating and validating the next symbols (the offline
    provider's backfill); otherwise the blocks are sent together by ``finish``. The COPY goes
    straight into the table in a savepoint: the sync is cache-first, so its rows are almost always
    new. If another writer stored one of the same (symbol, date) rows in the meantime, the unique
    constraint fires, the savepoint rolls back and the same blocks go through a session-local
    staging table and one ``INSERT … ON CONFLICT DO UPDATE`` instead.

    While a streamed COPY is open the connection is busy: the caller must not run queries on it
    between ``add`` calls.
    """

    def __init__(self, *, source: str, stream: bool = False) -> None:
        self.source = source
        self.stream = stream
        self.written = 0
        self.postgres = connection.vendor == "postgresql"
        self._blocks: list[bytes] = []
        self._rows: list[Bar] = []
        self._count = 0
        self._copy: Any = None
        self._pending: list[bytes] = []  # blocks not yet sent (sent in chunks of ~_STREAM_CHUNK_BYTES)
        self._pending_bytes = 0
        self._stack: ExitStack | None = None
        self._encoding = "utf-8"
        if self.postgres:
            connection.ensure_connection()
            self._encoding = connection.connection.info.encoding

    def add(self, columns: BarColumns) -> None:
        """Add one symbol's bars."""
        if len(columns) == 0:
            return
        self._count += len(columns)
        if not self.postgres:
            self._rows.extend(columns.rows())
            return
        if self.stream and self._copy is None:
            self._open()
        block = _copy_block(columns, self.source, self._encoding)
        self._blocks.append(block)
        if self._copy is not None:
            self._pending.append(block)
            self._pending_bytes += len(block)
            if self._pending_bytes >= _STREAM_CHUNK_BYTES:
                self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._copy.write(b"".join(self._pending))
            self._pending, self._pending_bytes = [], 0

    def add_rows(self, bars: Sequence[Bar]) -> None:
        """Add bars of any symbols (each run of one symbol becomes one block)."""
        if not self.postgres:
            self._count += len(bars)
            self._rows.extend(bars)
            return
        start = 0
        for index in range(1, len(bars) + 1):
            if index == len(bars) or bars[index].symbol != bars[start].symbol:
                self.add(BarColumns.from_bars(bars[start].symbol, bars[start:index]))
                start = index

    def _open(self) -> None:
        stack = ExitStack()
        try:
            stack.enter_context(transaction.atomic())
            data_changed()  # COPY bypasses Django's execute wrappers: move the change counter at commit
            cursor = stack.enter_context(connection.cursor())
            columns = ", ".join(BAR_COLUMNS)
            table = PriceBar._meta.db_table
            copy = stack.enter_context(cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)"))
            copy.write(_COPY_HEADER)
        except BaseException:
            stack.__exit__(*sys.exc_info())
            raise
        self._stack, self._copy = stack, copy

    def abort(self) -> None:
        """Give up: the open COPY is cancelled and its savepoint rolled back; nothing is stored."""
        stack, self._stack, self._copy = self._stack, None, None
        self._pending, self._pending_bytes = [], 0
        if stack is not None:
            stack.__exit__(*sys.exc_info())

    def finish(self) -> int:
        """Write what was added; returns (and sets ``written`` to) the rows written."""
        if not self.postgres:
            self.written = _bars_upsert_orm(self._rows, self.source)
            return self.written
        if not self._blocks:
            return 0
        import psycopg

        try:
            if self._copy is None:
                self._open()
                self._pending = list(self._blocks)
            self._pending.append(_COPY_TRAILER)
            self._flush()
            stack, self._stack, self._copy = self._stack, None, None
            assert stack is not None
            stack.close()  # ends the COPY (the server reports a conflict here) and releases the savepoint
            self.written = self._count
        except (IntegrityError, psycopg.errors.UniqueViolation):
            self.abort()
            logger.info("bars_upsert: %d rows overlap stored bars; upserting through the staging table", self._count)
            self.written = _bars_upsert_staged(self._blocks)
        return self.written


_STREAM_CHUNK_BYTES = 256 * 1024
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
_COPY_TRAILER = b"\xff\xff"
_POSTGRES_EPOCH = np.datetime64("2000-01-01", "D")
_PRICE_FIELDS = ("open", "high", "low", "close", "adj_close")


@lru_cache(maxsize=256)
def _copy_row_dtype(symbol_bytes: int, source_bytes: int) -> np.dtype:
    """One row of the binary COPY format for BAR_COLUMNS: a field count, then (length, value) pairs."""
    fields: list[tuple[str, str]] = [("fields", ">i2"), ("symbol_len", ">i4"), ("symbol", f"S{symbol_bytes}")]
    fields += [("date_len", ">i4"), ("date", ">i4")]
    for name in _PRICE_FIELDS:
        fields += [(f"{name}_len", ">i4"), (name, ">f8")]
    fields += [("volume_len", ">i4"), ("volume", ">i8"), ("source_len", ">i4"), ("source", f"S{source_bytes}")]
    return np.dtype(fields)  # packed: no padding between fields


def _copy_block(columns: BarColumns, source: str, encoding: str) -> bytes:
    """The rows of ``columns`` in PostgreSQL's binary COPY format (without header and trailer)."""
    symbol = columns.symbol.encode(encoding)
    source_bytes = source.encode(encoding)
    rows = np.empty(len(columns), dtype=_copy_row_dtype(len(symbol), len(source_bytes)))
    rows["fields"] = len(BAR_COLUMNS)
    rows["symbol_len"] = len(symbol)
    rows["symbol"] = symbol
    rows["date_len"] = 4
    rows["date"] = (columns.date.astype("datetime64[D]") - _POSTGRES_EPOCH).astype(np.int64)
    for name in _PRICE_FIELDS:
        rows[f"{name}_len"] = 8
        rows[name] = getattr(columns, name)
    rows["volume_len"] = 8
    rows["volume"] = columns.volume
    rows["source_len"] = len(source_bytes)
    rows["source"] = source_bytes
    return rows.tobytes()


def _bars_upsert_staged(blocks: Sequence[bytes]) -> int:
    """COPY the blocks into a session-local staging table, then one ``INSERT … ON CONFLICT DO UPDATE``."""
    table = PriceBar._meta.db_table
    columns = ", ".join(BAR_COLUMNS)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in BAR_COLUMNS[2:])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS marketdata_pricebar_stage ("
            "symbol varchar(40), date date, open double precision, high double precision, low double precision, "
            "close double precision, adj_close double precision, volume bigint, source varchar(12)"
            ") ON COMMIT DELETE ROWS"
        )
        # Inside an outer transaction (a test, a batch) the commit that empties the stage has not happened.
        cursor.execute("TRUNCATE marketdata_pricebar_stage")
        data_changed()  # COPY bypasses Django's execute wrappers (the INSERT below is seen anyway)
        with cursor.cursor.copy(f"COPY marketdata_pricebar_stage ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(_COPY_HEADER)
            for block in blocks:
                copy.write(block)
            copy.write(_COPY_TRAILER)
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM marketdata_pricebar_stage "  # noqa: S608
            f"ON CONFLICT (symbol, date) DO UPDATE SET {updates}"
        )
        return cursor.rowcount


def _bars_upsert_orm(bars: Sequence[Bar], source: str) -> int:
    """SQLite and other backends: ``bulk_create`` with ``update_conflicts``."""
    if not bars:
        return 0
    objects = [
        PriceBar(
            symbol=b.symbol,
            date=b.date,
            open=b.open,
            high=b.high,
            low=b.low,
            close=b.close,
            adj_close=b.adj_close,
            volume=b.volume,
            source=source,
        )
        for b in bars
    ]
    with transaction.atomic():
        PriceBar.objects.bulk_create(
            objects,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["symbol", "date"],
            update_fields=["open", "high", "low", "close", "adj_close", "volume", "source"],
        )
    return len(objects)


def instruments_upsert(*, profiles: Sequence[InstrumentProfile], source: str) -> int:
    """Insert or refresh instrument reference data; returns the rows written."""
    objects = [
        Instrument(
            symbol=p.symbol,
            name=p.name,
            asset_class=p.asset_class,
            sector=p.sector,
            industry=p.industry,
            exchange=p.exchange,
            currency=p.currency,
            source=source,
            updated_at=timezone.now(),
        )
        for p in profiles
    ]
    if objects:
        Instrument.objects.bulk_create(
            objects,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["symbol"],
            update_fields=["name", "asset_class", "sector", "industry", "exchange", "currency", "source", "updated_at"],
        )
    return len(objects)


# --- Sync --------------------------------------------------------------------------------------


def _missing_runs(window: Sequence[date], have: set[date]) -> list[list[date]]:
    """Contiguous runs (in session order) of the window's sessions not in ``have``."""
    if not have:
        return [list(window)] if window else []
    runs: list[list[date]] = []
    previous_missing = False
    for d in window:
        if d in have:
            previous_missing = False
            continue
        if previous_missing:
            runs[-1].append(d)
        else:
            runs.append([d])
        previous_missing = True
    return runs


def _existing_dates(symbols: Sequence[str], start: date, end: date) -> dict[str, set[date]]:
    have: dict[str, set[date]] = defaultdict(set)
    rows = (
        PriceBar.objects.filter(symbol__in=list(symbols), date__gte=start, date__lte=end)
        .order_by()
        .values_list("symbol", "date")
    )
    for symbol, d in rows.iterator(chunk_size=20000):
        have[symbol].add(d)
    return have


@lru_cache(maxsize=8)
def _window_days(window: tuple[date, ...]) -> tuple[np.ndarray, dict[date, int]]:
    """The window as ``datetime64[D]`` and each session's position in it (computed once per sync)."""
    return np.array(window, dtype="datetime64[D]"), {d: i for i, d in enumerate(window)}


@dataclass
class _Outcome:
    ok: int = 0
    cached: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)
    fetched: set[str] = field(default_factory=set)  # symbols with new bars handed to the writer


def _fetch_symbol(
    prov: Provider,
    symbol: str,
    asset_class: str,
    window: Sequence[date],
    have: set[date],
    outcome: _Outcome,
    writer: _BarsWriter,
) -> None:
    runs = _missing_runs(window, have)
    if not runs:
        outcome.ok += 1
        outcome.cached += 1
        return
    if prov.supports_columns:
        window_days, position = _window_days(tuple(window))
    received = 0
    rejected_here = 0
    fetched: list[BarColumns | list[Bar]] = []
    failed = False
    try:
        for run in runs:
            if prov.supports_columns:
                raw_columns = prov.daily_bar_columns(symbol=symbol, start=run[0], end=run[-1], asset_class=asset_class)
                first = position[run[0]]
                wanted = window_days[first : first + len(run)]  # a run is contiguous in the window
                checked_columns = bar_columns_validate(columns=raw_columns, source=prov.name, wanted=wanted)
                fetched.append(checked_columns.valid)
                rejected = checked_columns.rejected
                received += len(checked_columns.valid)
            else:
                raw = prov.daily_bars(symbol=symbol, start=run[0], end=run[-1], asset_class=asset_class)
                checked = bars_validate(bars=raw, symbol=symbol, source=prov.name, wanted=set(run))
                fetched.append(checked.valid)
                rejected = checked.rejected
                received += len(checked.valid)
            outcome.rejected.extend(rejected)
            rejected_here += len(rejected)
    except SymbolUnavailable as exc:
        outcome.unavailable[symbol] = exc.reason
        logger.info("%s: %s unavailable: %s", prov.name, symbol, exc.reason)
        failed = True
    except ProviderError as exc:
        outcome.failures[symbol] = str(exc)[:500]
        logger.warning("%s: %s failed: %s", prov.name, symbol, exc)
        failed = True
    except Exception as exc:  # per-symbol isolation: a provider bug must not stop the sync
        outcome.failures[symbol] = f"{exc.__class__.__name__}: {exc}"[:500]
        logger.exception("%s: %s failed unexpectedly", prov.name, symbol)
        failed = True
    # Runs fetched before a failure are kept. Outside the try: a database error is not the provider's.
    for chunk in fetched:
        if len(chunk):
            outcome.fetched.add(symbol)
        if isinstance(chunk, BarColumns):
            writer.add(chunk)
        else:
            writer.add_rows(chunk)
    if failed:
        return
    if received == 0 and rejected_here:
        outcome.failures[symbol] = f"all {rejected_here} rows from {prov.name} were rejected (see market_data.log)"
        return
    if received == 0 and not have:
        outcome.failures[symbol] = f"{prov.name} returned no bars for {runs[0][0]} … {runs[-1][-1]}"
        return
    outcome.ok += 1


def _sync_options(prov: Provider, window: Sequence[date], run: SyncRun) -> int:
    """Quotes for held option contracts not stored yet; returns rows written.

    A provider that serves past quotes (``supports_option_history``, e.g. the simulated one) is asked
    for every session of the sync window (its last ``OPTION_HISTORY_SESSIONS``) up to each contract's
    expiry, so each day's implied vol is stored for snapshots and historical VaR; any other provider
    for the window's last session only (its quotes build up day by day).
    """
    if not prov.supports_options:
        return 0
    contracts = _held_option_contracts()
    if not contracts:
        return 0
    as_of = window[-1]
    sessions = list(window[-OPTION_HISTORY_SESSIONS:]) if prov.supports_option_history else [as_of]
    stored = set(
        OptionQuote.objects.filter(contract__in=[c for c, _, _ in contracts], date__gte=sessions[0], date__lte=as_of)
        .order_by()
        .values_list("contract", "date")
    )
    quotes = []
    for contract, _underlying, expiry in contracts:
        if expiry is not None and expiry < as_of:
            run.unavailable[contract] = f"expired on {expiry}"
        for day in sessions:
            if (contract, day) in stored or (expiry is not None and expiry < day):
                continue
            try:
                quotes.append(prov.option_quote(contract=contract, as_of=day))
            except SymbolUnavailable as exc:
                if day == as_of:
                    run.unavailable[contract] = exc.reason
            except ProviderError as exc:
                run.failures[contract] = str(exc)[:500]
                break
    objects = [
        OptionQuote(
            contract=q.contract,
            underlying=q.underlying,
            date=q.date,
            bid=q.bid,
            ask=q.ask,
            last=q.last,
            implied_vol=q.implied_vol,
            open_interest=q.open_interest,
            underlying_price=q.underlying_price,
            source=prov.name,
        )
        for q in quotes
    ]
    if objects:
        OptionQuote.objects.bulk_create(
            objects,
            update_conflicts=True,
            unique_fields=["contract", "date"],
            update_fields=[
                "underlying",
                "bid",
                "ask",
                "last",
                "implied_vol",
                "open_interest",
                "underlying_price",
                "source",
            ],
        )
    return len(objects)


def _sync_profiles(prov: Provider, universe: dict[str, str], skip: set[str]) -> int:
    """Profiles for symbols without an Instrument row (cache-first, like bars)."""
    if not prov.supports_profiles:
        return 0
    known = set(Instrument.objects.filter(symbol__in=list(universe)).order_by().values_list("symbol", flat=True))
    profiles = []
    for symbol, asset_class in universe.items():
        if symbol in known or symbol in skip:
            continue
        try:
            profile = prov.profile(symbol=symbol, asset_class=asset_class)
        except ProviderError as exc:
            logger.info("%s: no profile for %s: %s", prov.name, symbol, exc)
            continue
        if profile is not None:
            profiles.append(profile)
    return instruments_upsert(profiles=profiles, source=prov.name)


def _previously_failed() -> list[str]:
    last = SyncRun.objects.exclude(status=SyncStatus.RUNNING).order_by("-started_at", "-id").first()
    if last is None or not isinstance(last.failures, dict):
        return []
    return [s for s in last.failures if not _is_contract(s)]


def _is_contract(symbol: str) -> bool:
    try:
        parse_occ(symbol)
    except ValueError:
        return False
    return True


# --- Quarantine of price jumps -------------------------------------------------------------------

# Calendar days before the window read back to find each symbol's last good bar (≥ 2 weeks of sessions).
_REFERENCE_DAYS = 21


def _quarantine_line(q: PriceQuarantine) -> str:
    return (
        f"{q.source} {q.symbol} {q.date}: quarantined (adjusted close {q.adj_close:g} is ×{q.multiple:.4g} the "
        f"{q.reference_date} close {q.reference_close:g}; |ln| {abs(q.log_return):.3f} > {q.bound:g}); "
        "not used until confirmed or corrected"
    )


def prices_quarantine_jumps(
    *, symbols: Sequence[str], window: Sequence[date], have: dict[str, set[date]], source: str
) -> list[PriceQuarantine]:
    """Quarantine the bars just stored for ``symbols`` whose adjusted close jumped beyond the bound.

    The bound is ``settings.PRICE_QUARANTINE_LOG_RETURN``, an absolute daily log return measured from
    the symbol's last good bar (``marketdata.quality.jumps_beyond``). New bars are the window's
    sessions not in ``have`` (what was stored before the sync). Each quarantined bar gets
    ``PriceBar.quarantined`` and an open ``PriceQuarantine`` row, and a warning in the market data
    log. One read of the window (plus three weeks before it) for the symbols with new bars.
    """
    bound = float(settings.PRICE_QUARANTINE_LOG_RETURN)
    if not symbols or not window or bound <= 0:
        return []
    start = date.fromordinal(window[0].toordinal() - _REFERENCE_DAYS)
    queryset = (
        PriceBar.objects.filter(symbol__in=list(symbols), date__gte=start, date__lte=window[-1])
        .order_by("symbol", "date")
        .values_list("symbol", "date", "adj_close", "quarantined")
    )
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:  # raw rows: the ORM's converters cost seconds on a backfill
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    first_window_day = window[0]
    found: list[tuple[str, Jump]] = []
    start_at = 0
    for end_at in range(1, len(rows) + 1):
        if end_at < len(rows) and rows[end_at][0] == rows[start_at][0]:
            continue
        symbol = rows[start_at][0]
        part = rows[start_at:end_at]
        start_at = end_at
        stored = have.get(symbol, set())
        dates = [_as_date(r[1]) for r in part]
        found.extend(
            (symbol, jump)
            for jump in jumps_beyond(
                dates=dates,
                closes=np.array([r[2] for r in part], dtype=np.float64),
                is_new=np.array([d >= first_window_day and d not in stored for d in dates], dtype=bool),
                quarantined=np.array([bool(r[3]) for r in part], dtype=bool),
                bound=bound,
            )
        )
    quarantined: list[PriceQuarantine] = []
    for symbol, jump in found:
        with transaction.atomic():
            PriceBar.objects.filter(symbol=symbol, date=jump.date).update(quarantined=True)
            record, _ = PriceQuarantine.objects.update_or_create(
                symbol=symbol,
                date=jump.date,
                defaults={
                    "source": source,
                    "adj_close": jump.adj_close,
                    "reference_date": jump.reference_date,
                    "reference_close": jump.reference_close,
                    "log_return": jump.log_return,
                    "bound": bound,
                    "status": QuarantineStatus.OPEN,
                    "corrected_close": None,
                    "resolved_by": "",
                    "resolved_at": None,
                },
            )
        logger.warning("Quarantined price: %s", _quarantine_line(record))
        quarantined.append(record)
    return quarantined


def _as_date(value: Any) -> date:
    """A DATE column as ``date`` (SQLite's raw cursor answers ISO strings)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def quarantine_confirm(record: PriceQuarantine, *, by: str) -> None:
    """The move is real: release the bar as the vendor sent it (used by analytics from now on)."""
    with transaction.atomic():
        PriceBar.objects.filter(symbol=record.symbol, date=record.date).update(quarantined=False)
        record.status = QuarantineStatus.CONFIRMED
        record.resolved_by = by[:150]
        record.resolved_at = timezone.now()
        record.save(update_fields=["status", "resolved_by", "resolved_at"])
    logger.info("Quarantined price confirmed by %s: %s %s", by, record.symbol, record.date)


def quarantine_correct(record: PriceQuarantine, *, close: float, by: str) -> None:
    """Correct the bar to an adjusted close of ``close`` (per share, > 0): its open, high, low, close and
    adjusted close are scaled by ``close / adj_close`` (the bar keeps its shape), then released."""
    if not (isinstance(close, int | float) and np.isfinite(close) and close > 0):
        raise ValueError(f"corrected_close: must be a positive number, got {close!r}")
    with transaction.atomic():
        bar = PriceBar.objects.select_for_update().get(symbol=record.symbol, date=record.date)
        ratio = float(close) / bar.adj_close
        for name in ("open", "high", "low", "close"):
            setattr(bar, name, getattr(bar, name) * ratio)
        bar.adj_close = float(close)
        bar.quarantined = False
        bar.save(update_fields=["open", "high", "low", "close", "adj_close", "quarantined"])
        record.status = QuarantineStatus.CORRECTED
        record.corrected_close = float(close)
        record.resolved_by = by[:150]
        record.resolved_at = timezone.now()
        record.save(update_fields=["status", "corrected_close", "resolved_by", "resolved_at"])
    logger.info("Quarantined price corrected by %s: %s %s to %s", by, record.symbol, record.date, close)


def prices_sync(
    *,
    symbols: Sequence[str] | None = None,
    days: int = 5,
    backfill_days: int | None = None,
    provider: str | None = None,
    as_of: date | None = None,
    progress: Progress | None = None,
    kind: str | None = None,
) -> SyncRun:
    """Bring daily bars up to date for the last ``days`` sessions (or ``backfill_days``) ending at ``as_of``.

    ``symbols`` defaults to ``universe_symbols()`` plus the symbols the last run failed on.
    ``as_of`` defaults to the latest completed session (today only after 16:05 New York).
    Only missing sessions are asked for. Also stores quotes for held option contracts on
    ``as_of`` and instrument profiles for new symbols. ``progress(done, total, symbol)`` is called
    after each symbol; with an offline provider on PostgreSQL the bars are streaming into a COPY
    at that moment, so ``progress`` must not use the database connection. Returns the finished
    ``SyncRun`` (status success, partial or failed).
    Raises ``ProviderError`` if the provider cannot be built (unknown name, missing API key).
    """
    count = backfill_days if backfill_days is not None else days
    if count < 1:
        raise ValueError("days and backfill_days must be at least 1.")
    prov = get_provider(provider)
    as_of = session_on_or_before(as_of) if as_of is not None else latest_completed_session()
    window = last_trading_days(count=count, as_of=as_of)
    if symbols is None:
        universe = universe_symbols()
        for symbol, asset_class in _asset_classes(_previously_failed()).items():
            universe.setdefault(symbol, asset_class)
    else:
        universe = _asset_classes(symbols)
    run = SyncRun.objects.create(
        kind=kind or (SyncRun.Kind.BACKFILL if backfill_days is not None else SyncRun.Kind.SYNC),
        provider=prov.name,
        started_at=timezone.now(),
        start_date=window[0],
        end_date=window[-1],
        symbols_requested=len(universe),
    )
    started = time.perf_counter()
    prov.start_run(retry_budget_s=settings.MARKET_DATA_RETRY_BUDGET_S)
    have = _existing_dates(list(universe), window[0], window[-1])
    outcome = _Outcome()
    total = len(universe)
    budget_gone = False
    # An offline columnar provider streams into the COPY while it generates; others are written at the end.
    with _bars_writer(source=prov.name, stream=prov.supports_columns) as writer:
        for done, (symbol, asset_class) in enumerate(universe.items(), start=1):
            if budget_gone:
                # The provider is down: fail the rest fast, but still count what the cache covers.
                if _missing_runs(window, have.get(symbol, set())):
                    outcome.failures[symbol] = "not attempted: provider down (retry budget exhausted)"
                else:
                    outcome.ok += 1
                    outcome.cached += 1
            else:
                _fetch_symbol(prov, symbol, asset_class, window, have.get(symbol, set()), outcome, writer)
                budget_gone = "retry budget" in outcome.failures.get(symbol, "")
            if progress is not None:
                progress(done, total, symbol)
    rows_written = writer.written
    quarantined = prices_quarantine_jumps(symbols=sorted(outcome.fetched), window=window, have=have, source=prov.name)

    run.failures = dict(outcome.failures)
    run.unavailable = dict(outcome.unavailable)
    quotes_written = 0
    if not budget_gone:
        try:
            quotes_written = _sync_options(prov, window, run)
            _sync_profiles(prov, universe, skip=set(outcome.failures) | set(outcome.unavailable))
        except RetryBudgetExhausted as exc:
            run.errors = [*run.errors, str(exc)]
    run.symbols_ok = outcome.ok
    run.symbols_cached = outcome.cached
    run.symbols_failed = len(outcome.failures)
    run.symbols_unavailable = len(outcome.unavailable)
    run.rows_written = rows_written
    run.rows_rejected = len(outcome.rejected)
    run.option_quotes_written = quotes_written
    run.requests_made = prov.requests_made
    run.errors = [*run.errors, *(_quarantine_line(q) for q in quarantined), *outcome.rejected][:MAX_ERRORS_KEPT]
    return _finish(run, started)


def _finish(run: SyncRun, started: float) -> SyncRun:
    if run.symbols_failed and run.symbols_ok == 0 and run.symbols_unavailable == 0:
        run.status = SyncStatus.FAILED
    elif run.symbols_failed:
        run.status = SyncStatus.PARTIAL
    else:
        run.status = SyncStatus.SUCCESS
    run.finished_at = timezone.now()
    run.duration_s = round(time.perf_counter() - started, 3)
    run.save()
    logger.info(
        "sync %s (%s, %s): %d symbols, %d ok (%d cached), %d failed, %d unavailable, %d rows in %.2f s",
        run.pk,
        run.provider,
        run.kind,
        run.symbols_requested,
        run.symbols_ok,
        run.symbols_cached,
        run.symbols_failed,
        run.symbols_unavailable,
        run.rows_written,
        run.duration_s,
    )
    return run


# --- Factor data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FactorDataReport:
    """Which symbols have at least ``min_days`` bars in the window ending ``as_of``."""

    min_days: int
    as_of: date
    enough: dict[str, int]
    insufficient: dict[str, int]
    unavailable: dict[str, str]
    sync_run: SyncRun | None
    source: str

    @property
    def ok(self) -> bool:
        return not self.insufficient


def factor_data_ensure(
    *, min_days: int = 252, provider: str | None = None, progress: Progress | None = None, as_of: date | None = None
) -> FactorDataReport:
    """Make sure every symbol factor analysis needs has ``min_days`` sessions of bars; backfill the rest.

    The symbols are ``universe_symbols()`` (factor proxies, TLT, held symbols, option underlyings).
    The backfill asks for ``min_days + 1`` sessions so that ``min_days`` returns exist.
    """
    as_of = session_on_or_before(as_of) if as_of is not None else latest_completed_session()
    universe = universe_symbols()
    counts = symbols_with_history(symbols=list(universe), min_days=min_days, as_of=as_of)
    short = [s for s, n in counts.items() if n < min_days]
    run = None
    if short:
        run = prices_sync(
            symbols=short,
            backfill_days=min_days + 1,
            provider=provider,
            as_of=as_of,
            progress=progress,
            kind=SyncRun.Kind.FACTOR_DATA,
        )
        counts = symbols_with_history(symbols=list(universe), min_days=min_days, as_of=as_of)
    from marketdata.selectors import data_source_for

    return FactorDataReport(
        min_days=min_days,
        as_of=as_of,
        enough={s: n for s, n in counts.items() if n >= min_days},
        insufficient={s: n for s, n in counts.items() if n < min_days},
        unavailable=dict(run.unavailable) if run else {},
        sync_run=run,
        source=data_source_for(symbols=list(universe)),
    )


# --- CSV import --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    """What ``prices_import_csv`` did."""

    rows_read: int
    rows_written: int
    rows_rejected: int
    symbols: list[str]
    errors: list[str]
    sync_run: SyncRun


def prices_import_csv(*, path_or_text: str | Path, source: str = "csv") -> ImportResult:
    """Import bars from the CSV price format (see ``marketdata.providers.csv``) and upsert them.

    ``path_or_text``: a ``Path``, a path string to an existing file, or the CSV text itself.
    Bad rows are rejected (with their line or reason), logged to ``logs/market_data.log`` and not
    stored; the good rows are upserted with ``source``. Recorded as a ``SyncRun`` of kind import.
    """
    if isinstance(path_or_text, Path) or ("\n" not in path_or_text and Path(path_or_text).is_file()):
        text = Path(path_or_text).read_text(encoding="utf-8")
    else:
        text = str(path_or_text)
    started = time.perf_counter()
    run = SyncRun.objects.create(kind=SyncRun.Kind.IMPORT, provider=source, started_at=timezone.now())
    parsed = price_csv_parse(text)
    for error in parsed.errors:
        logger.warning("CSV import: %s", error)
    by_symbol: dict[str, list[Bar]] = defaultdict(list)
    for bar in parsed.bars:
        by_symbol[bar.symbol].append(bar)
    valid: list[Bar] = []
    rejected = list(parsed.errors)
    for symbol, bars in by_symbol.items():
        checked = bars_validate(bars=bars, symbol=symbol, source=source)
        valid.extend(checked.valid)
        rejected.extend(checked.rejected)
    written = bars_upsert(bars=valid, source=source)
    ok_symbols = sorted({b.symbol for b in valid})
    run.symbols_requested = len(by_symbol)
    run.symbols_ok = len(ok_symbols)
    run.symbols_failed = len(set(by_symbol) - set(ok_symbols))
    run.failures = dict.fromkeys(sorted(set(by_symbol) - set(ok_symbols)), "every row rejected")
    run.rows_written = written
    run.rows_rejected = len(rejected)
    run.errors = rejected[:MAX_ERRORS_KEPT]
    if valid:
        run.start_date = min(b.date for b in valid)
        run.end_date = max(b.date for b in valid)
    if not valid and rejected:
        run.symbols_failed = max(run.symbols_failed, 1)
    _finish(run, started)
    return ImportResult(
        rows_read=parsed.lines,
        rows_written=written,
        rows_rejected=len(rejected),
        symbols=ok_symbols,
        errors=rejected,
        sync_run=run,
    )
