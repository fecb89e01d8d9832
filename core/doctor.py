"""The daily pre-flight checklist (``python manage.py doctor`` prints it), assembled from every app.

Each check returns a :class:`CheckResult` — ``OK``, ``WARN`` (works, but something needs doing)
or ``FAIL`` (the day cannot run) — with a one-line detail and, when not OK, a hint naming the
command that fixes it. A check that raises (a missing table, an import that does not resolve)
is a ``FAIL`` carrying the error: the doctor never passes a check it could not run.

Core owns the infrastructure checks (database, migrations, leftovers of the old file layout, the
server's port). Every app registers its own — ``register_doctor_check`` in its ``AppConfig.ready``,
as it registers its ``/health`` checks — by dotted path, so nothing is imported before the doctor
runs and core never imports an app. ``order`` places a check in the list.
"""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

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


@dataclass(frozen=True)
class DoctorCheck:
    """A registered check: ``path`` names a function returning a :class:`CheckResult`."""

    name: str
    path: str
    order: int
    needs_database: bool = True
    takes_now: bool = False


_REGISTRY: dict[str, DoctorCheck] = {}


def register_doctor_check(
    name: str, path: str, *, order: int, needs_database: bool = True, takes_now: bool = False
) -> None:
    """Add (or replace) a check. ``needs_database``: FAIL as "not checked" when the database is down;
    ``takes_now``: the function accepts ``now=`` (the clock, injectable for tests)."""
    _REGISTRY[name] = DoctorCheck(name, path, order, needs_database, takes_now)


def registered_checks() -> list[DoctorCheck]:
    return sorted(_REGISTRY.values(), key=lambda c: (c.order, c.name))


def listed(items: list[str], limit: int = 10) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" … (+{len(items) - limit} more)" if len(items) > limit else "")


def expected_session(now: dt.datetime | None) -> dt.date:
    """The latest completed NYSE session at ``now`` (default: the real clock)."""
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
        return CheckResult("migrations", FAIL, f"{len(names)} unapplied: {listed(names, 5)}", HINT_MIGRATE)
    applied = len(executor.loader.applied_migrations)
    return CheckResult("migrations", OK, f"all applied ({applied} migrations)")


def check_old_file_layout() -> CheckResult:
    """Files where earlier versions wrote them (before the data folder) are not read any more: say so."""
    base = Path(settings.BASE_DIR)
    data = Path(settings.DATA_DIR)
    name = "data folder"
    leftovers = []
    database = settings.DATABASES["default"]
    old_db = base / "db.sqlite3"
    if old_db.is_file() and str(database["NAME"]) != str(old_db):
        leftovers.append(f"{old_db.name} (the database in use is {database['NAME']})")
    if (base / "logs").is_dir() and Path(settings.LOG_DIR) != base / "logs":
        leftovers.append("logs/")
    old_reports = [p.name for p in (base / "reports").glob("*_20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]") if p.is_dir()]
    if old_reports:
        leftovers.append(f"{len(old_reports)} report folder(s) in reports/")
    if leftovers:
        return CheckResult(
            name,
            WARN,
            f"not used since generated files moved to {data}: {', '.join(leftovers)}",
            f"move what you want to keep into {data} (e.g. mv db.sqlite3 {data}/), then delete the rest",
        )
    return CheckResult(name, OK, f"{data}")


def check_port(*, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, timeout: float = 2.0) -> CheckResult:
    """Port free (OK), or held by a SigmaSight on our database that answers ``/health`` (OK "serving"), or not."""
    import requests
    from django.db import connection

    from core.health import database_fingerprint

    name = f"port {port}"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError:
        return CheckResult(name, OK, f"free ({host}:{port})")
    url = f"http://{host}:{port}/health"
    other = f"run it on another port: python manage.py serve --port {port + 1}"
    hint = f"another program holds {host}:{port}: stop it (lsof -i :{port}) or {other}"
    try:
        response = requests.get(url, timeout=timeout)
        body: Any = response.json()
    except (requests.RequestException, ValueError) as exc:
        return CheckResult(name, WARN, f"held by another program ({exc.__class__.__name__} on GET /health)", hint)
    if not isinstance(body, dict) or "status" not in body or not isinstance(body.get("checks"), dict):
        return CheckResult(name, WARN, f"held by another program (GET /health gave HTTP {response.status_code})", hint)
    status = body["status"]
    if status == "unhealthy":
        failing = sorted(k for k, v in body["checks"].items() if isinstance(v, dict) and v.get("status") != "ok")
        return CheckResult(name, FAIL, f"serving, but /health says unhealthy ({', '.join(failing)})", f"see {url}")
    # Healthy or degraded says nothing about *which* database it serves: compare with ours.
    theirs = body["checks"].get("database")
    theirs = theirs if isinstance(theirs, dict) else {}
    ours = database_fingerprint(connection.settings_dict)
    restart = "stop it (python manage.py stop) and serve again with this configuration, or fix DATABASE_URL here"
    if "id" not in theirs:
        return CheckResult(
            name,
            WARN,
            f"serving: SigmaSight at http://{host}:{port}/ is {status}, but its /health does not say which "
            "database it uses, so it may not be this one",
            restart,
        )
    if theirs["id"] != ours:
        return CheckResult(
            name,
            WARN,
            f"serving on another database: the server uses {theirs.get('vendor', '?')} ({theirs['id']}), "
            f"this configuration {connection.vendor} ({ours})",
            restart,
        )
    if status == "healthy":
        return CheckResult(name, OK, f"serving: SigmaSight at http://{host}:{port}/ is healthy, on this database")
    failing = sorted(k for k, v in body["checks"].items() if isinstance(v, dict) and v.get("status") != "ok")
    return CheckResult(name, WARN, f"serving, but /health says {status} ({', '.join(failing) or 'no detail'})")


register_doctor_check("database", "core.doctor.check_database", order=0, needs_database=False)
register_doctor_check("migrations", "core.doctor.check_migrations", order=10)
register_doctor_check("data folder", "core.doctor.check_old_file_layout", order=95, needs_database=False)


# --- the checklist ----------------------------------------------------------------------------


def _guarded(name: str, call: Callable[[], CheckResult]) -> CheckResult:
    try:
        return call()
    except ImportError as exc:
        return CheckResult(name, FAIL, f"cannot import what this check needs: {exc}", "update the code (git pull)")
    except Exception as exc:
        return CheckResult(name, FAIL, f"check failed: {exc.__class__.__name__}: {str(exc).strip()[:200]}")


def _call(check: DoctorCheck, now: dt.datetime | None) -> CheckResult:
    function = import_string(check.path)
    return function(now=now) if check.takes_now else function()


def doctor_run(
    *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, now: dt.datetime | None = None
) -> list[CheckResult]:
    """Every registered check in order, then the port. When the database is down, the checks that need it
    FAIL as "not checked"."""
    results: list[CheckResult] = []
    database_up = True
    for check in registered_checks():
        if check.needs_database and not database_up:
            results.append(CheckResult(check.name, FAIL, "not checked: database unreachable", "fix the database first"))
            continue
        result = _guarded(check.name, lambda c=check: _call(c, now))
        if check.name == "database":
            database_up = result.status == OK
        results.append(result)
    results.append(_guarded(f"port {port}", lambda: check_port(host=host, port=port)))
    return results


def doctor_summary(results: list[CheckResult]) -> dict[str, Any]:
    counts = {level: sum(r.status == level for r in results) for level in (OK, WARN, FAIL)}
    overall = FAIL if counts[FAIL] else WARN if counts[WARN] else OK
    return {"status": overall, "ok": counts[OK], "warn": counts[WARN], "fail": counts[FAIL]}
