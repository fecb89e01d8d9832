"""The ``doctor`` checklist: each check's OK / WARN / FAIL on crafted states, output and exit codes."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError

from core import doctor
from core.doctor import FAIL, OK, WARN, CheckResult
from core.health import database_fingerprint

pytestmark = pytest.mark.django_db

# Friday 2026-11-20, 22:00 UTC = 17:00 in New York: that day's session is complete.
NOW = dt.datetime(2026, 11, 20, 22, 0, tzinfo=dt.UTC)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the registry -----------------------------------------------------------------------------


def test_every_app_registers_its_checks_in_checklist_order():
    names = [r.name for r in doctor.doctor_run(port=free_port(), now=NOW)]
    assert names[:1] == ["database"] and names[-1].startswith("port ")
    assert names[1:-1] == [
        "migrations",
        "demo data",
        "market data freshness",
        "market data coverage",
        "factor data",
        "price quarantine",
        "last batch",
        "limit breaches",
        "market data provider",
        "agent provider",
        "data folder",
    ]
    paths = {c.name: c.path for c in doctor.registered_checks()}
    assert paths["demo data"].startswith("portfolios.") and paths["last batch"].startswith("analytics.")


def test_core_imports_no_app_to_assemble_the_checklist():
    source = Path(doctor.__file__).read_text()
    for app in ("portfolios", "analytics", "agent", "reports"):
        assert f"from {app}" not in source and f"import {app}" not in source


def test_a_registered_check_runs_and_one_that_raises_is_a_fail(monkeypatch):
    monkeypatch.setattr(doctor, "_REGISTRY", dict(doctor._REGISTRY))
    doctor.register_doctor_check("extra", "core.tests.test_doctor.extra_check", order=91, needs_database=False)
    doctor.register_doctor_check("broken", "core.tests.test_doctor.broken_check", order=92)
    results = {r.name: r for r in doctor.doctor_run(port=free_port(), now=NOW)}
    assert results["extra"] == CheckResult("extra", WARN, "from a test", "do something")
    assert results["broken"].status == FAIL and "ZeroDivisionError" in results["broken"].detail


def extra_check() -> CheckResult:
    return CheckResult("extra", WARN, "from a test", "do something")


def broken_check() -> CheckResult:
    return CheckResult("broken", OK, str(1 / 0))


# --- database and migrations ------------------------------------------------------------------


def test_database_is_ok_and_named_without_credentials():
    result = doctor.check_database()
    assert result.status == OK and result.detail.split()[0] in ("sqlite", "postgresql")
    assert "password" not in result.detail.lower()


def test_a_database_down_fails_it_and_everything_that_needs_it(monkeypatch):
    from django.db import connection

    def refuse() -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "ensure_connection", refuse)
    results = {r.name: r for r in doctor.doctor_run(port=free_port(), now=NOW)}
    assert results["database"].status == FAIL and "connection refused" in results["database"].detail
    assert results["database"].hint
    for name in ("migrations", "demo data", "market data freshness", "factor data", "last batch"):
        assert results[name].status == FAIL and "database unreachable" in results[name].detail
    assert results["market data provider"].status == OK  # configuration checks still run


def test_migrations_are_all_applied_in_the_test_database():
    assert doctor.check_migrations().status == OK


def test_an_unapplied_migration_fails_with_the_migrate_hint(monkeypatch):
    from django.db.migrations.executor import MigrationExecutor
    from django.db.migrations.migration import Migration

    pending = Migration("0099_pending", "analytics")
    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: [(pending, False)])
    result = doctor.check_migrations()
    assert result.status == FAIL and "analytics.0099_pending" in result.detail
    assert result.hint == "python manage.py migrate"


def test_a_market_data_function_that_does_not_import_fails_the_check(monkeypatch):
    monkeypatch.setitem(sys.modules, "marketdata.selectors", None)  # makes ``from marketdata.selectors import`` fail
    results = {r.name: r for r in doctor.doctor_run(port=free_port(), now=NOW)}
    for name in ("market data freshness", "market data coverage", "factor data"):
        assert results[name].status == FAIL and "import" in results[name].detail


# --- files from the layout before the data folder ---------------------------------------------


def test_the_data_folder_is_ok_when_nothing_is_left_in_the_old_places(settings, tmp_path):
    settings.BASE_DIR = tmp_path
    assert doctor.check_old_file_layout().status == OK


def test_files_left_where_earlier_versions_wrote_them_are_pointed_out(settings, tmp_path):
    settings.BASE_DIR = tmp_path
    (tmp_path / "db.sqlite3").write_bytes(b"")
    (tmp_path / "logs").mkdir()
    (tmp_path / "reports" / "demo-book_2026-11-20").mkdir(parents=True)
    result = doctor.check_old_file_layout()
    assert result.status == WARN
    assert "db.sqlite3" in result.detail and "logs/" in result.detail and "1 report folder(s)" in result.detail
    assert str(settings.DATA_DIR) in result.hint


# --- port -------------------------------------------------------------------------------------


@pytest.fixture
def http_server(request) -> Iterator[int]:
    """A local HTTP server on a free port answering GET /health with ``request.param`` (status, body)."""
    status, body = request.param
    body = body() if callable(body) else body

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            payload = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if body.startswith("{") else "text/html")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_free_port_is_ok():
    port = free_port()
    assert doctor.check_port(port=port) == CheckResult(f"port {port}", OK, f"free (127.0.0.1:{port})")


def _health(status: str = "healthy", **database: str) -> str:
    return json.dumps(
        {"status": status, "checks": {"database": {"status": "ok", **database}, "cache": {"status": "ok"}}}
    )


def _ours() -> str:
    from django.db import connection

    return _health(vendor=connection.vendor, id=database_fingerprint(connection.settings_dict))


def _elsewhere() -> str:
    return _health(vendor="sqlite", id=database_fingerprint({"ENGINE": "sqlite3", "NAME": "/elsewhere/db.sqlite3"}))


@pytest.mark.parametrize("http_server", [(200, _ours)], indirect=True)
def test_a_healthy_sigmasight_on_our_database_is_serving(http_server):
    result = doctor.check_port(port=http_server)
    assert result.status == OK and result.detail.startswith("serving") and "on this database" in result.detail


@pytest.mark.parametrize("http_server", [(200, _elsewhere)], indirect=True)
def test_a_healthy_sigmasight_on_another_database_is_not_called_healthy(http_server):
    """The issue's case: doctor on PostgreSQL, the server on :8000 on SQLite."""
    result = doctor.check_port(port=http_server)
    assert result.status == WARN and "serving on another database" in result.detail
    assert "healthy" not in result.detail and "manage.py stop" in result.hint


@pytest.mark.parametrize("http_server", [(200, lambda: _health())], indirect=True)
def test_a_server_whose_health_does_not_name_its_database_is_not_called_ours(http_server):
    result = doctor.check_port(port=http_server)
    assert result.status == WARN and "does not say which database" in result.detail


def test_our_health_endpoint_carries_the_database_fingerprint_and_no_location(client):
    from django.db import connection

    database = client.get("/health").json()["checks"]["database"]
    assert database["id"] == database_fingerprint(connection.settings_dict)
    assert str(connection.settings_dict["NAME"]) not in json.dumps(database)


def test_fingerprints_differ_by_database_and_ignore_credentials():
    base = {"ENGINE": "django.db.backends.postgresql", "HOST": "db", "PORT": 5432, "NAME": "sigmasight"}
    assert database_fingerprint(base) == database_fingerprint({**base, "USER": "x", "PASSWORD": "y"})
    assert database_fingerprint(base) != database_fingerprint({**base, "NAME": "other"})
    assert database_fingerprint(base) != database_fingerprint({**base, "HOST": "db2"})


@pytest.mark.parametrize(
    "http_server",
    [(503, json.dumps({"status": "unhealthy", "checks": {"database": {"status": "error"}}}))],
    indirect=True,
)
def test_an_unhealthy_sigmasight_on_the_port_fails(http_server):
    result = doctor.check_port(port=http_server)
    assert result.status == FAIL and "database" in result.detail


@pytest.mark.parametrize("http_server", [(200, "<html>some other app</html>")], indirect=True)
def test_another_web_app_on_the_port_warns(http_server):
    result = doctor.check_port(port=http_server)
    assert result.status == WARN and "another program" in result.detail and "lsof" in result.hint


def test_a_raw_socket_holding_the_port_warns():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        port = listener.getsockname()[1]

        def accept_and_hang_up() -> None:
            for _ in range(2):  # the connect probe, then the GET
                conn, _addr = listener.accept()
                conn.close()

        thread = threading.Thread(target=accept_and_hang_up, daemon=True)
        thread.start()
        result = doctor.check_port(port=port, timeout=1.0)
        thread.join(timeout=2)
    assert result.status == WARN and "another program" in result.detail


# --- the command ------------------------------------------------------------------------------


def run(*args: str) -> str:
    out = StringIO()
    call_command("doctor", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_the_command_prints_one_line_per_check_with_hints_and_a_summary(settings):
    settings.MARKET_DATA_PROVIDER, settings.AGENT_PROVIDER = "simulated", "local"
    output = run("--port", str(free_port()))
    lines = output.splitlines()
    assert lines[0].startswith("[ OK ] database — ")
    assert "[WARN] demo data — demo data not seeded" in lines
    assert "  hint: python manage.py seed_demo" in lines
    assert "[WARN] last batch — no batch has run yet" in lines
    assert "[ OK ] market data provider — simulated (offline)" in lines
    assert lines[-1].endswith("0 FAIL")
    assert sum(line.startswith(("[ OK ]", "[WARN]", "[FAIL]")) for line in lines) == 13


def test_the_command_fails_when_a_check_fails(settings):
    settings.MARKET_DATA_PROVIDER, settings.FMP_API_KEY = "fmp", ""
    with pytest.raises(CommandError, match="1 check"):
        run("--port", str(free_port()))


def test_the_command_json_output(settings):
    settings.AGENT_PROVIDER, settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "openai", "", None
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("doctor", "--json", "--port", str(free_port()), stdout=out)
    data = json.loads(out.getvalue())
    assert data["summary"]["status"] == FAIL and data["summary"]["fail"] == 1
    agent = next(c for c in data["checks"] if c["name"] == "agent provider")
    assert agent["status"] == FAIL and agent["hint"]
    assert {c["name"] for c in data["checks"]} >= {"database", "migrations", "last batch", "factor data"}


def test_the_command_rejects_a_bad_port():
    with pytest.raises(CommandError, match="--port"):
        run("--port", "70000")


def test_manage_py_doctor_exits_non_zero_on_a_failure(tmp_path: Path):
    """The real process exit code, against a fresh, unmigrated SQLite database."""
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'doctor.sqlite3'}",
        "MARKET_DATA_PROVIDER": "fmp",
        "FMP_API_KEY": "",
        "LOG_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, str(root / "manage.py"), "doctor", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "[FAIL] market data provider — fmp selected but FMP_API_KEY is not set" in done.stdout
    assert "[FAIL] migrations — " in done.stdout and "hint: python manage.py migrate" in done.stdout
    assert "[ OK ] database" in done.stdout
    assert "check(s) failed" in done.stderr
