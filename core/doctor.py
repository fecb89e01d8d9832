"""The daily pre-flight checklist as plain functions (``python manage.py doctor`` prints them).

Each check returns a :class:`CheckResult` — ``OK``, ``WARN`` (works, but something needs doing)
or ``FAIL`` (the day cannot run) — with a one-line detail and, when not OK, a hint naming the
command that fixes it. A check that raises (a missing table, an import that does not resolve)
is a ``FAIL`` carrying the error: the doctor never passes a check it could not run.
"""

from __future__ import annotations

import datetime as dt
import functools
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

OK, WARN, FAIL = "OK", "WARN", "FAIL"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000

HINT_SEED = "python manage.py seed_demo"
HINT_SYNC = "python manage.py sync_market_data"
HINT_FACTOR_DATA = "python manage.py sync_market_data --ensure-factor-data"
HINT_BATCH = "python manage.py run_batch"
HINT_MIGRATE = "python manage.py migrate"


@dataclass(frozen=True)
class CheckResult:
    """One line of the checklist."""

    name: str
    status: str
    detail: str
    hint: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _listed(items: list[str], limit: int = 10) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" … (+{len(items) - limit} more)" if len(items) > limit else "")


def _expected_session(now: dt.datetime | None) -> dt.date:
    from marketdata.calendar import latest_completed_session

    return latest_completed_session(now=now)


# --- infrastructure ---------------------------------------------------------------------------


def check_database() -> CheckResult:
    """The default database answers ``SELECT 1``; the detail names it without credentials."""
    from django.db import connection

    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return CheckResult(
            "database",
            FAIL,
            f"{connection.vendor} unreachable: {exc.__class__.__name__}: {str(exc).strip()[:200]}",
            "start the database (docker compose up -d db) or fix DATABASE_URL",
        )
    db = connection.settings_dict
    where = f" at {db['HOST']}:{db.get('PORT') or 'default port'}" if db.get("HOST") else ""
    return CheckResult("database", OK, f"{connection.vendor} {db['NAME']}{where}")


def check_migrations() -> CheckResult:
    """No unapplied migration (Django's migration executor has an empty plan)."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        names = [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]
        return CheckResult("migrations", FAIL, f"{len(names)} unapplied: {_listed(names, 5)}", HINT_MIGRATE)
    applied = len(executor.loader.applied_migrations)
    return CheckResult("migrations", OK, f"all applied ({applied} migrations)")


# --- data -------------------------------------------------------------------------------------


def check_demo_data() -> CheckResult:
    """The 3 demo users, their 3 portfolios and 63 positions (WARN when absent or incomplete)."""
    from django.contrib.auth import get_user_model

    from portfolios.demo import demo_portfolio_id, load_fixture
    from portfolios.selectors import portfolios_all, positions_open

    users = load_fixture()["users"]
    emails = [u["email"].lower() for u in users]
    expected = (len(users), len(users), sum(len(u["portfolio"]["positions"]) for u in users))
    ids = [demo_portfolio_id(email) for email in emails]
    found = (
        get_user_model().objects.filter(email__in=emails).count(),
        portfolios_all().filter(id__in=ids).count(),
        positions_open(portfolio_ids=ids).count(),
    )
    detail = f"{found[0]} users, {found[1]} portfolios, {found[2]} positions"
    if found == expected:
        return CheckResult("demo data", OK, detail)
    if not any(found):
        return CheckResult("demo data", WARN, "demo data not seeded", HINT_SEED)
    want = f"{expected[0]} users, {expected[1]} portfolios, {expected[2]} positions"
    return CheckResult("demo data", WARN, f"incomplete: {detail} (expected {want})", HINT_SEED)


def _needed_symbols() -> tuple[list[str], list[str]]:
    from marketdata.factors import FACTOR_SYMBOLS
    from portfolios.selectors import held_symbols

    held = [s.upper() for s in held_symbols()]
    return held, [s for s in FACTOR_SYMBOLS if s not in held]


def check_market_data_freshness(*, now: dt.datetime | None = None) -> CheckResult:
    """The newest stored bar is the latest completed NYSE session (today only after the close)."""
    from marketdata.selectors import market_data_summary

    expected = _expected_session(now)
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
            f"latest bar {summary.last_date} but {len(stale)} needed symbols lag: {_listed(stale)}",
            HINT_SYNC,
        )
    return CheckResult(name, OK, f"latest bar {summary.last_date} = latest completed session (source: {source})")


def check_market_data_coverage(*, now: dt.datetime | None = None) -> CheckResult:
    """Every held symbol (options: their underlying) and every factor ETF has a stored price."""
    from marketdata.selectors import latest_closes

    held, factors = _needed_symbols()
    symbols = [*held, *factors]
    closes = latest_closes(symbols=symbols, as_of=_expected_session(now))
    missing = [s for s in symbols if s not in closes]
    name = "market data coverage"
    if missing:
        return CheckResult(
            name, WARN, f"{len(missing)} of {len(symbols)} symbols have no price: {_listed(missing)}", HINT_SYNC
        )
    return CheckResult(
        name, OK, f"all {len(symbols)} symbols priced ({len(held)} held + {len(factors)} factor proxies not held)"
    )


def check_factor_data(*, now: dt.datetime | None = None) -> CheckResult:
    """Each factor proxy has a full regression window of daily bars (252 sessions)."""
    from marketdata.factors import FACTOR_LOOKBACK_DAYS, FACTOR_SYMBOLS
    from marketdata.selectors import symbols_with_history

    counts = symbols_with_history(
        symbols=list(FACTOR_SYMBOLS), min_days=FACTOR_LOOKBACK_DAYS, as_of=_expected_session(now)
    )
    short = [
        f"{s} {counts.get(s, 0)}/{FACTOR_LOOKBACK_DAYS}"
        for s in FACTOR_SYMBOLS
        if counts.get(s, 0) < FACTOR_LOOKBACK_DAYS
    ]
    name = "factor data"
    if short:
        return CheckResult(
            name, WARN, f"{len(short)} factor symbols short of history: {_listed(short)}", HINT_FACTOR_DATA
        )
    return CheckResult(name, OK, f"all {len(FACTOR_SYMBOLS)} factor symbols have ≥{FACTOR_LOOKBACK_DAYS} sessions")


def check_last_batch(*, now: dt.datetime | None = None) -> CheckResult:
    """The last batch run: FAIL when it failed, WARN when none, partial, unfinished or for an older day."""
    from analytics.models import RunStatus
    from analytics.selectors import batch_run_latest

    run = batch_run_latest()
    name = "last batch"
    if run is None:
        return CheckResult(name, WARN, "no batch has run yet", HINT_BATCH)
    when = f" at {run.finished_at:%Y-%m-%d %H:%M} UTC" if run.finished_at else ""
    took = f", {run.duration_ms / 1000:.1f} s" if run.duration_ms is not None else ""
    summary = f"{run.status} for {run.as_of}{when}{took}"
    error = f": {run.error_summary.strip()[:200]}" if run.error_summary.strip() else ""
    if run.status == RunStatus.FAILED:
        return CheckResult(name, FAIL, summary + error, HINT_BATCH)
    if run.status != RunStatus.COMPLETED:
        return CheckResult(name, WARN, summary + error, HINT_BATCH)
    expected = _expected_session(now)
    if run.as_of < expected:
        return CheckResult(name, WARN, f"{summary}; latest completed session is {expected}", HINT_BATCH)
    return CheckResult(name, OK, summary)


# --- configuration and runtime ----------------------------------------------------------------


def _safe_url(url: str) -> str:
    """A URL without user info (a password in OPENAI_BASE_URL never reaches the output)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


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


def check_agent_provider() -> CheckResult:
    """The agent's LLM: local needs nothing; openai needs a key or an OpenAI-compatible base URL."""
    provider = settings.AGENT_PROVIDER
    name = "agent provider"
    if provider == "local":
        return CheckResult(name, OK, "local (offline, no LLM key needed)")
    base_url = settings.OPENAI_BASE_URL
    model = settings.OPENAI_MODEL
    if settings.OPENAI_API_KEY:
        where = f" at {_safe_url(base_url)}" if base_url else ""
        return CheckResult(name, OK, f"openai, model {model}{where} (OPENAI_API_KEY configured)")
    if base_url:
        return CheckResult(name, OK, f"openai-compatible server at {_safe_url(base_url)}, model {model} (no key)")
    return CheckResult(
        name,
        FAIL,
        "AGENT_PROVIDER=openai but neither OPENAI_API_KEY nor OPENAI_BASE_URL is set",
        "set OPENAI_API_KEY (or OPENAI_BASE_URL for a local OpenAI-compatible server), or AGENT_PROVIDER=local",
    )


def check_port(*, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, timeout: float = 2.0) -> CheckResult:
    """Port free (OK), or held by a SigmaSight that answers ``/health`` (OK "serving"), or by something else."""
    import requests

    name = f"port {port}"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError:
        return CheckResult(name, OK, f"free ({host}:{port})")
    url = f"http://{host}:{port}/health"
    other = f"run it on another port: daphne -b {host} -p {port + 1} sigmasight.asgi:application"
    hint = f"another program holds {host}:{port}: stop it (lsof -i :{port}) or {other}"
    try:
        response = requests.get(url, timeout=timeout)
        body: Any = response.json()
    except (requests.RequestException, ValueError) as exc:
        return CheckResult(name, WARN, f"held by another program ({exc.__class__.__name__} on GET /health)", hint)
    if not isinstance(body, dict) or "status" not in body or "checks" not in body:
        return CheckResult(name, WARN, f"held by another program (GET /health gave HTTP {response.status_code})", hint)
    status = body["status"]
    if status == "healthy":
        return CheckResult(name, OK, f"serving: SigmaSight at http://{host}:{port}/ is healthy")
    failing = sorted(k for k, v in body["checks"].items() if isinstance(v, dict) and v.get("status") != "ok")
    detail = f"serving, but /health says {status} ({', '.join(failing) or 'no detail'})"
    level = FAIL if status == "unhealthy" else WARN
    return CheckResult(name, level, detail, f"see {url}")


# --- the checklist ----------------------------------------------------------------------------

DATABASE_CHECKS = (
    "check_migrations",
    "check_demo_data",
    "check_market_data_freshness",
    "check_market_data_coverage",
    "check_factor_data",
    "check_last_batch",
)
CHECK_NAMES = {
    "check_migrations": "migrations",
    "check_demo_data": "demo data",
    "check_market_data_freshness": "market data freshness",
    "check_market_data_coverage": "market data coverage",
    "check_factor_data": "factor data",
    "check_last_batch": "last batch",
}
TAKES_NOW = {"check_market_data_freshness", "check_market_data_coverage", "check_factor_data", "check_last_batch"}


def _guarded(name: str, call: Callable[[], CheckResult]) -> CheckResult:
    try:
        return call()
    except ImportError as exc:
        return CheckResult(name, FAIL, f"cannot import what this check needs: {exc}", "update the code (git pull)")
    except Exception as exc:
        return CheckResult(name, FAIL, f"check failed: {exc.__class__.__name__}: {str(exc).strip()[:200]}")


def doctor_run(
    *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, now: dt.datetime | None = None
) -> list[CheckResult]:
    """Every check in checklist order. When the database is down, the checks that need it FAIL as skipped."""
    checks = globals()
    results = [_guarded("database", checks["check_database"])]
    database_up = results[0].status == OK
    for function in DATABASE_CHECKS:
        name = CHECK_NAMES[function]
        if not database_up:
            results.append(CheckResult(name, FAIL, "not checked: database unreachable", "fix the database first"))
            continue
        kwargs = {"now": now} if function in TAKES_NOW else {}
        results.append(_guarded(name, functools.partial(checks[function], **kwargs)))
    results.append(_guarded("market data provider", checks["check_market_data_provider"]))
    results.append(_guarded("agent provider", checks["check_agent_provider"]))
    results.append(_guarded(f"port {port}", lambda: checks["check_port"](host=host, port=port)))
    return results


def doctor_summary(results: list[CheckResult]) -> dict[str, Any]:
    counts = {level: sum(r.status == level for r in results) for level in (OK, WARN, FAIL)}
    overall = FAIL if counts[FAIL] else WARN if counts[WARN] else OK
    return {"status": overall, "ok": counts[OK], "warn": counts[WARN], "fail": counts[FAIL]}
