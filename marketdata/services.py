"""Writes of the market data layer: cache-first sync and backfill, factor data, CSV import.

Cache-first: for each symbol the sync reads which sessions of the window are already stored (one
query for the whole universe) and asks the provider only for the missing ones, one request per
contiguous run of missing sessions. Bars are validated (``marketdata.quality``) and upserted in
bulk — COPY into a staging table then ``INSERT … ON CONFLICT`` on PostgreSQL,
``bulk_create(update_conflicts=True)`` elsewhere. One bad symbol never stops a sync: its failure
is recorded with the reason in the ``SyncRun`` and the next default sync asks for it again.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from marketdata.calendar import last_trading_days, latest_completed_session, session_on_or_before
from marketdata.factors import FACTOR_SYMBOLS
from marketdata.models import Instrument, OptionQuote, PriceBar, SyncRun, SyncStatus
from marketdata.providers import get_provider
from marketdata.providers.base import Bar, InstrumentProfile, Provider, ProviderError, SymbolUnavailable
from marketdata.providers.csv import price_csv_parse
from marketdata.providers.http import RetryBudgetExhausted
from marketdata.providers.simulated import parse_occ
from marketdata.quality import bars_validate
from marketdata.selectors import symbols_with_history

logger = logging.getLogger("sigmasight.marketdata")

Progress = Callable[[int, int, str], None]
MAX_ERRORS_KEPT = 200
BAR_COLUMNS = ("symbol", "date", "open", "high", "low", "close", "adj_close", "volume", "source")


# --- Universe ----------------------------------------------------------------------------------


def universe_symbols() -> dict[str, str]:
    """Every symbol the platform prices, with its asset class.

    Symbols of open positions and option underlyings (``portfolios.selectors.held_symbols``), the
    factor proxy ETFs and TLT. Sorted by symbol.
    """
    from portfolios.selectors import held_symbols

    universe = dict.fromkeys(FACTOR_SYMBOLS, "etf")
    universe.update(held_symbols())
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
    if connection.vendor == "postgresql":
        return _bars_upsert_postgres(bars, source)
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


def _bars_upsert_postgres(bars: Sequence[Bar], source: str) -> int:
    """Binary COPY straight into the table; on a conflict, COPY to a staging table and upsert.

    The sync is cache-first, so the rows it writes are almost always new: the direct COPY (in a
    savepoint) is the fast path. If another writer stored one of the same (symbol, date) rows in
    the meantime, the unique constraint fires, the savepoint rolls back, and the rows go through a
    session-local staging table and one ``INSERT … ON CONFLICT DO UPDATE`` instead.
    """
    table = PriceBar._meta.db_table
    columns = ", ".join(BAR_COLUMNS)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            _copy_binary(cursor, table, columns, bars, source)
        return len(bars)
    except IntegrityError:
        logger.info("bars_upsert: %d rows overlap stored bars; upserting through the staging table", len(bars))
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
        _copy_binary(cursor, "marketdata_pricebar_stage", columns, bars, source)
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM marketdata_pricebar_stage "  # noqa: S608
            f"ON CONFLICT (symbol, date) DO UPDATE SET {updates}"
        )
        return cursor.rowcount


def _copy_binary(cursor: Any, table: str, columns: str, bars: Sequence[Bar], source: str) -> None:
    with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["text", "date", "float8", "float8", "float8", "float8", "float8", "int8", "text"])
        for bar in bars:
            copy.write_row((*bar, source))


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


@dataclass
class _Outcome:
    bars: list[Bar] = field(default_factory=list)
    ok: int = 0
    cached: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)


def _fetch_symbol(
    prov: Provider, symbol: str, asset_class: str, window: Sequence[date], have: set[date], outcome: _Outcome
) -> None:
    runs = _missing_runs(window, have)
    if not runs:
        outcome.ok += 1
        outcome.cached += 1
        return
    received = 0
    rejected_here = 0
    try:
        for run in runs:
            raw = prov.daily_bars(symbol=symbol, start=run[0], end=run[-1], asset_class=asset_class)
            checked = bars_validate(bars=raw, symbol=symbol, source=prov.name, wanted=set(run))
            outcome.bars.extend(checked.valid)
            outcome.rejected.extend(checked.rejected)
            received += len(checked.valid)
            rejected_here += len(checked.rejected)
    except SymbolUnavailable as exc:
        outcome.unavailable[symbol] = exc.reason
        logger.info("%s: %s unavailable: %s", prov.name, symbol, exc.reason)
        return
    except ProviderError as exc:
        outcome.failures[symbol] = str(exc)[:500]
        logger.warning("%s: %s failed: %s", prov.name, symbol, exc)
        return
    except Exception as exc:  # per-symbol isolation: a provider bug must not stop the sync
        outcome.failures[symbol] = f"{exc.__class__.__name__}: {exc}"[:500]
        logger.exception("%s: %s failed unexpectedly", prov.name, symbol)
        return
    if received == 0 and rejected_here:
        outcome.failures[symbol] = f"all {rejected_here} rows from {prov.name} were rejected (see market_data.log)"
        return
    if received == 0 and not have:
        outcome.failures[symbol] = f"{prov.name} returned no bars for {runs[0][0]} … {runs[-1][-1]}"
        return
    outcome.ok += 1


def _sync_options(prov: Provider, as_of: date, run: SyncRun) -> int:
    """Quotes for held option contracts on ``as_of`` that are not stored yet; returns rows written."""
    if not prov.supports_options:
        return 0
    contracts = _held_option_contracts()
    if not contracts:
        return 0
    stored = set(
        OptionQuote.objects.filter(contract__in=[c for c, _, _ in contracts], date=as_of)
        .order_by()
        .values_list("contract", flat=True)
    )
    quotes = []
    for contract, _underlying, expiry in contracts:
        if contract in stored:
            continue
        if expiry is not None and expiry < as_of:
            run.unavailable[contract] = f"expired on {expiry}"
            continue
        try:
            quotes.append(prov.option_quote(contract=contract, as_of=as_of))
        except SymbolUnavailable as exc:
            run.unavailable[contract] = exc.reason
        except ProviderError as exc:
            run.failures[contract] = str(exc)[:500]
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
    after each symbol. Returns the finished ``SyncRun`` (status success, partial or failed).
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
    for done, (symbol, asset_class) in enumerate(universe.items(), start=1):
        if budget_gone:
            # The provider is down: fail the rest fast, but still count what the cache covers.
            if _missing_runs(window, have.get(symbol, set())):
                outcome.failures[symbol] = "not attempted: provider down (retry budget exhausted)"
            else:
                outcome.ok += 1
                outcome.cached += 1
        else:
            _fetch_symbol(prov, symbol, asset_class, window, have.get(symbol, set()), outcome)
            budget_gone = "retry budget" in outcome.failures.get(symbol, "")
        if progress is not None:
            progress(done, total, symbol)
    rows_written = bars_upsert(bars=outcome.bars, source=prov.name)

    run.failures = dict(outcome.failures)
    run.unavailable = dict(outcome.unavailable)
    quotes_written = 0
    if not budget_gone:
        try:
            quotes_written = _sync_options(prov, as_of, run)
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
    run.errors = [*run.errors, *outcome.rejected][:MAX_ERRORS_KEPT]
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
