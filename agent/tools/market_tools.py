"""Tools over market data and operations: price history, quotes, factor ETF prices, data quality, batch status.

Prices are market data, not the user's; these tools still pass the executor's portfolio scope
check, and the ones that default to "the portfolio's symbols" read only the caller's holdings.
The market data selectors are imported when a tool runs, so that the registry loads even while
market data is not configured.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

from django.utils import timezone

from agent.formatting import rounded
from agent.tools.common import result_kinds
from agent.tools.registry import register, tool_error, truncate
from analytics.selectors import batch_jobs_for_run, batch_run_latest, portfolio_results_latest
from marketdata.factors import FACTOR_PROXIES, RATE_FACTOR, RATE_PROXY
from portfolios.models import Portfolio
from portfolios.selectors import positions_open

MAX_PRICE_DAYS = 252
MAX_QUOTE_SYMBOLS = 20
MAX_JOBS = 30
SYMBOL_PATTERN = r"^[A-Za-z0-9.\-^=/]{1,20}$"
SYNC_HINT = "python manage.py sync_market_data"


def _held_price_symbols(portfolio: Portfolio) -> list[str]:
    symbols: list[str] = []
    for position in positions_open(portfolio_ids=[portfolio.id]):
        symbol = position.price_symbol
        if symbol and symbol not in symbols:
            symbols.append(symbol)
    return symbols


MAX_QUALITY_ITEMS = 20


def _summary_data(summary: Any) -> dict[str, Any]:
    """The market data summary, capped: counts, dates, sources, stale symbols, gaps, jumps, last sync."""
    stale = list(getattr(summary, "stale_symbols", []))
    gaps = [dataclasses.asdict(g) for g in getattr(summary, "gaps", [])]
    jumps = [dataclasses.asdict(j) for j in getattr(summary, "jumps", [])]
    last_sync = getattr(summary, "last_sync", None)
    return {
        "records": getattr(summary, "records", None),
        "unique_symbols": getattr(summary, "unique_symbols", None),
        "first_date": getattr(summary, "first_date", None),
        "last_date": getattr(summary, "last_date", None),
        "expected_last_date": getattr(summary, "expected_last_date", None),
        "sources": getattr(summary, "sources", {}),
        "stale_symbols": stale[:MAX_QUALITY_ITEMS],
        "stale_count": len(stale),
        "gaps": gaps[:MAX_QUALITY_ITEMS],
        "gap_count": len(gaps),
        "jumps": jumps[:MAX_QUALITY_ITEMS],
        "jump_count": len(jumps),
        "option_quotes": getattr(summary, "option_quotes", None),
        "last_sync": (
            {"status": getattr(last_sync, "status", None), "started_at": getattr(last_sync, "started_at", None)}
            if last_sync is not None
            else None
        ),
        "truncated": max(len(stale), len(gaps), len(jumps)) > MAX_QUALITY_ITEMS,
    }


def _result_state(result: Any) -> dict[str, Any]:
    if result is None:
        return {"status": "not_computed"}
    return {
        "as_of": result.as_of,
        "is_stale": result.is_stale,
        "stale_reason": result.stale_reason,
        "data_source": result.data_source,
    }


def _close_series(frame: Any, symbol: str) -> list[tuple[Any, float]]:
    """(date, close) pairs from ``close_prices``' frame: dates as index, one column per symbol."""
    if frame is None or getattr(frame, "empty", True) or symbol not in frame.columns:
        return []
    series = frame[symbol].dropna()
    return [(index.date() if hasattr(index, "date") else index, float(value)) for index, value in series.items()]


@register(
    name="get_price_history",
    description=(
        "Daily closing prices of one symbol over the last `days` trading days (capped), with first/last close, "
        "return, high and low over the window, and the data source."
    ),
    properties={
        "symbol": {"type": "string", "pattern": SYMBOL_PATTERN},
        "days": {"type": "integer", "minimum": 1, "maximum": MAX_PRICE_DAYS, "default": 30},
    },
    required=("symbol",),
    limits={"days": MAX_PRICE_DAYS},
)
def get_price_history(portfolio: Portfolio, args: dict[str, Any]) -> dict[str, Any]:
    from marketdata.selectors import price_bars

    symbol = args["symbol"].upper()
    days = int(args.get("days", 30))
    end = timezone.localdate()
    # Trading days are ~252 of 365: ask for enough calendar days, then keep the last `days` bars.
    start = end - dt.timedelta(days=int(days * 7 / 5) + 10)
    bars = list(price_bars(symbol=symbol, start=start, end=end))
    if not bars:
        return {"status": "no_data", "message": f"No stored prices for {symbol}; run `{SYNC_HINT}`.", "symbol": symbol}
    bars = bars[-days:]
    rows = [
        {"date": b.date, "close": rounded(b.close, 4), "adj_close": rounded(b.adj_close, 4), "volume": b.volume}
        for b in bars
    ]
    closes = [b.close for b in bars]
    return {
        "status": "ok",
        "data": {
            "symbol": symbol,
            "start": bars[0].date,
            "end": bars[-1].date,
            "first_close": rounded(closes[0], 4),
            "last_close": rounded(closes[-1], 4),
            "return": rounded(bars[-1].adj_close / bars[0].adj_close - 1.0, 6),
            "high": rounded(max(b.high for b in bars), 4),
            "low": rounded(min(b.low for b in bars), 4),
            "rows": rows,
            "data_source": sorted({b.source for b in bars}),
        },
        "truncated": False,
        "days_requested": days,
        "days_returned": len(rows),
    }


@register(
    name="get_quotes",
    description="Latest stored close per symbol (default: the portfolio's price symbols), with its date and source.",
    properties={
        "symbols": {
            "type": "array",
            "items": {"type": "string", "pattern": SYMBOL_PATTERN},
            "maxItems": MAX_QUOTE_SYMBOLS,
        }
    },
    limits={"symbols": MAX_QUOTE_SYMBOLS},
)
def get_quotes(portfolio: Portfolio, args: dict[str, Any]) -> dict[str, Any]:
    from marketdata.selectors import latest_closes

    requested = [s.upper() for s in args.get("symbols") or []] or _held_price_symbols(portfolio)
    symbols, marker = truncate(requested, MAX_QUOTE_SYMBOLS)
    closes = latest_closes(symbols=symbols, as_of=timezone.localdate()) if symbols else {}
    quotes = []
    for symbol in symbols:
        close = closes.get(symbol)
        quotes.append(
            {"symbol": symbol, "date": close.date, "close": rounded(close.close, 4), "source": close.source}
            if close
            else {"symbol": symbol, "date": None, "close": None, "source": None, "missing": True}
        )
    missing = [q["symbol"] for q in quotes if q["close"] is None]
    note = f"No stored price for {', '.join(missing)}; run `{SYNC_HINT}`." if missing else None
    return {"status": "ok", "data": {"quotes": quotes}, "note": note, **marker}


@register(
    name="get_factor_etf_prices",
    description=(
        "Latest close and return over `days` trading days of the factor proxies (SPY, VTV, VUG, MTUM, QUAL, IWM, "
        "USMV) and the rate proxy TLT."
    ),
    properties={"days": {"type": "integer", "minimum": 1, "maximum": MAX_PRICE_DAYS, "default": 21}},
    limits={"days": MAX_PRICE_DAYS},
)
def get_factor_etf_prices(portfolio: Portfolio, args: dict[str, Any]) -> dict[str, Any]:
    from marketdata.selectors import close_prices

    days = int(args.get("days", 21))
    proxies = {**FACTOR_PROXIES, RATE_FACTOR: RATE_PROXY}
    end = timezone.localdate()
    frame = close_prices(symbols=list(proxies.values()), start=end - dt.timedelta(days=int(days * 7 / 5) + 10), end=end)
    rows: list[dict[str, Any]] = []
    for factor, symbol in proxies.items():
        series = _close_series(frame, symbol)[-(days + 1) :]
        if not series:
            rows.append({"factor": factor, "symbol": symbol, "last_close": None, "date": None, "missing": True})
            continue
        first, last = series[0], series[-1]
        change = last[1] / first[1] - 1.0 if len(series) > 1 else None
        rows.append(
            {"factor": factor, "symbol": symbol, "date": last[0], "last_close": rounded(last[1], 4),
             "return": rounded(change, 6), "observations": len(series) - 1}
        )  # fmt: skip
    missing = [r["symbol"] for r in rows if r.get("missing")]
    note = f"No stored prices for {', '.join(missing)}; run `{SYNC_HINT} --ensure-factor-data`." if missing else None
    return {"status": "ok", "data": {"days": days, "proxies": rows}, "note": note, "truncated": False}


@register(
    name="get_data_quality",
    description=(
        "Data quality for this portfolio: missing prices, expired options, factor-beta quality flags, stale or "
        "missing analytics results, and the market data summary (symbols, date range, sources)."
    ),
)
def get_data_quality(portfolio: Portfolio, args: dict[str, Any]) -> dict[str, Any]:
    results = portfolio_results_latest(portfolio_id=portfolio.id)
    overview = results.get("overview")
    factor = results.get("factor_exposures")
    kinds = result_kinds()
    analytics = {kind: _result_state(results.get(kind)) for kind in kinds}
    try:
        from marketdata.selectors import market_data_summary

        summary = _summary_data(market_data_summary())
    except ImportError:
        summary = tool_error("unavailable", "Market data selectors are not installed.")
    return {
        "status": "ok",
        "data": {
            "missing_prices": overview.payload["missing_prices"] if overview else None,
            "expired_options": overview.payload["expired_options"] if overview else None,
            "factor_quality_flags": factor.payload["quality_flags"] if factor else None,
            "analytics": analytics,
            "not_computed": [kind for kind in kinds if kind not in results],
            "stale": [kind for kind, result in results.items() if result.is_stale],
            "market_data": summary,
        },
        "truncated": False,
    }


@register(
    name="get_batch_status",
    description=(
        "The latest daily batch run (status, as-of date, timings) and its jobs for this portfolio and the shared "
        "market-wide steps, with each job's status and error."
    ),
    limits={"rows": MAX_JOBS},
)
def get_batch_status(portfolio: Portfolio, args: dict[str, Any]) -> dict[str, Any]:
    from analytics.services.heartbeat import runs_abandoned_mark

    runs_abandoned_mark()  # a run whose process died reads "abandoned", never "running" forever
    run = batch_run_latest()  # refusals by the lock are not runs: never reported as the latest
    if run is None:
        return {"status": "not_computed", "message": "No batch has run yet; run `python manage.py run_batch`."}
    # Only this portfolio's jobs and the market-wide ones: other portfolios' jobs belong to other users.
    jobs = [
        {"step": j.step, "scope": "portfolio" if j.portfolio_id else "market", "status": j.status,
         "duration_ms": rounded(j.duration_ms, 1), "rows_written": j.rows_written, "error": j.error_summary[:500]}
        for j in batch_jobs_for_run(run_id=run.id)
        if j.portfolio_id in (None, portfolio.id)
    ]  # fmt: skip
    kept, marker = truncate(jobs, MAX_JOBS)
    return {
        "status": "ok",
        "data": {
            "run_id": run.id,
            "as_of": run.as_of,
            "status": run.status,
            "includes_this_portfolio": not run.portfolio_ids or str(portfolio.id) in map(str, run.portfolio_ids),
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "duration_ms": rounded(run.duration_ms, 1),
            "data_source": run.data_source,
            "warnings": run.warnings,
            "jobs": kept,
            "failed_jobs": [j["step"] for j in jobs if j["status"] == "failed"],
        },
        **marker,
    }


def symbols_in(text: str) -> list[str]:
    """Ticker-looking words in a question (used by the local provider)."""
    return re.findall(r"\b[A-Z][A-Z0-9.]{0,5}\b", text)
