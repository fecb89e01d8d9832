"""``doctor`` checks of the market data app: freshness, coverage, factor history, the provider's keys."""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from core.doctor import FAIL, HINT_FACTOR_DATA, HINT_SYNC, OK, WARN, CheckResult, expected_session, listed


def _needed_symbols() -> tuple[list[str], list[str]]:
    from marketdata.factors import FACTOR_SYMBOLS
    from portfolios.selectors import held_symbols

    held = [s.upper() for s in held_symbols()]
    return held, [s for s in FACTOR_SYMBOLS if s not in held]


def check_market_data_freshness(*, now: dt.datetime | None = None) -> CheckResult:
    """The newest stored bar is the latest completed NYSE session (today only after the close)."""
    from marketdata.selectors import market_data_summary

    expected = expected_session(now)
    summary = market_data_summary(jump_lookback_days=0, as_of=expected)
    name = "market data freshness"
    if not summary.records or summary.last_date is None:
        return CheckResult(name, WARN, "no prices stored", f"{HINT_SYNC} --backfill 252")
    if summary.last_date < expected:
        from marketdata.calendar import trading_days

        behind = len(trading_days(start=summary.last_date, end=expected)) - 1
        return CheckResult(
            name,
            WARN,
            f"stale: latest bar {summary.last_date}, latest completed session {expected} ({behind} sessions behind)",
            HINT_SYNC,
        )
    held, factors = _needed_symbols()
    stale = [s for s in (*held, *factors) if s in summary.stale_symbols]
    source = summary.data_source
    if stale:
        return CheckResult(
            name,
            WARN,
            f"latest bar {summary.last_date} but {len(stale)} needed symbols lag: {listed(stale)}",
            HINT_SYNC,
        )
    return CheckResult(name, OK, f"latest bar {summary.last_date} = latest completed session (source: {source})")


def check_market_data_coverage(*, now: dt.datetime | None = None) -> CheckResult:
    """Every held symbol (options: their underlying) and every factor ETF has a stored price."""
    from marketdata.selectors import latest_closes

    held, factors = _needed_symbols()
    symbols = [*held, *factors]
    closes = latest_closes(symbols=symbols, as_of=expected_session(now))
    missing = [s for s in symbols if s not in closes]
    name = "market data coverage"
    if missing:
        return CheckResult(
            name, WARN, f"{len(missing)} of {len(symbols)} symbols have no price: {listed(missing)}", HINT_SYNC
        )
    return CheckResult(
        name, OK, f"all {len(symbols)} symbols priced ({len(held)} held + {len(factors)} factor proxies not held)"
    )


def check_factor_data(*, now: dt.datetime | None = None) -> CheckResult:
    """Each factor proxy has a full regression window of daily bars (252 sessions)."""
    from marketdata.factors import FACTOR_LOOKBACK_DAYS, FACTOR_SYMBOLS
    from marketdata.selectors import symbols_with_history

    counts = symbols_with_history(
        symbols=list(FACTOR_SYMBOLS), min_days=FACTOR_LOOKBACK_DAYS, as_of=expected_session(now)
    )
    short = [
        f"{s} {counts.get(s, 0)}/{FACTOR_LOOKBACK_DAYS}"
        for s in FACTOR_SYMBOLS
        if counts.get(s, 0) < FACTOR_LOOKBACK_DAYS
    ]
    name = "factor data"
    if short:
        return CheckResult(
            name, WARN, f"{len(short)} factor symbols short of history: {listed(short)}", HINT_FACTOR_DATA
        )
    return CheckResult(name, OK, f"all {len(FACTOR_SYMBOLS)} factor symbols have ≥{FACTOR_LOOKBACK_DAYS} sessions")


def check_market_data_provider() -> CheckResult:
    """The configured provider can run: simulated/csv need nothing, fmp/polygon need their key."""
    provider = settings.MARKET_DATA_PROVIDER
    name = "market data provider"
    if provider == "simulated":
        return CheckResult(name, OK, "simulated (offline)")
    if provider == "csv":
        return CheckResult(name, OK, "csv (prices loaded with python manage.py import_prices)")
    key_name = {"fmp": "FMP_API_KEY", "polygon": "POLYGON_API_KEY"}[provider]
    if not getattr(settings, key_name, ""):
        return CheckResult(
            name,
            FAIL,
            f"{provider} selected but {key_name} is not set",
            f"set {key_name} in .env, or MARKET_DATA_PROVIDER=simulated for offline data",
        )
    plan = f", plan {settings.POLYGON_PLAN}" if provider == "polygon" else ""
    return CheckResult(name, OK, f"{provider} ({key_name} configured{plan})")


def check_price_quarantine() -> CheckResult:
    """No vendor price is held back in quarantine (a jump awaiting confirmation or correction)."""
    from marketdata.selectors import quarantines_open

    held_back = quarantines_open()
    name = "price quarantine"
    if held_back:
        listed_ = listed([f"{q.symbol} {q.date} ×{q.multiple:.4g}" for q in held_back])
        return CheckResult(
            name,
            WARN,
            f"{len(held_back)} price(s) quarantined, left out of the analytics: {listed_}",
            "confirm or correct them in the admin (Market data › Price quarantines), then rerun the batch",
        )
    return CheckResult(name, OK, "no quarantined prices")
