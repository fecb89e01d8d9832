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

from analytics.models import BatchRun, RunStatus
from core import doctor
from core.doctor import FAIL, OK, WARN, CheckResult
from marketdata.calendar import last_trading_days
from marketdata.factors import FACTOR_SYMBOLS
from marketdata.models import PriceBar
from portfolios.models import Position

pytestmark = pytest.mark.django_db

# Friday 2026-11-20, 22:00 UTC = 17:00 in New York: that day's session is complete.
NOW = dt.datetime(2026, 11, 20, 22, 0, tzinfo=dt.UTC)
SESSION = dt.date(2026, 11, 20)


def bars(symbols: list[str] | tuple[str, ...], *, days: int, end: dt.date = SESSION) -> None:
    PriceBar.objects.bulk_create(
        PriceBar(symbol=s, date=d, open=10, high=11, low=9, close=10, adj_close=10, volume=1, source="simulated")
        for s in symbols
        for d in last_trading_days(count=days, as_of=end)
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


# --- demo data --------------------------------------------------------------------------------


def test_demo_data_absent_warns_with_the_seed_hint():
    result = doctor.check_demo_data()
    assert (result.status, result.hint) == (WARN, "python manage.py seed_demo")


def test_demo_data_present_is_ok(demo_data):
    result = doctor.check_demo_data()
    assert (result.status, result.detail) == (OK, "3 users, 3 portfolios, 63 positions")


def test_incomplete_demo_data_warns(demo_data):
    Position.objects.filter(portfolio__user__email="demo_individual@sigmasight.com").first().delete()
    result = doctor.check_demo_data()
    assert result.status == WARN and "62 positions" in result.detail and "expected" in result.detail


# --- market data ------------------------------------------------------------------------------


def test_no_prices_warns_with_the_sync_hint():
    result = doctor.check_market_data_freshness(now=NOW)
    assert result.status == WARN and result.hint.startswith("python manage.py sync_market_data")


def test_prices_up_to_the_latest_completed_session_are_fresh():
    bars(FACTOR_SYMBOLS, days=3)
    result = doctor.check_market_data_freshness(now=NOW)
    assert result.status == OK and "2026-11-20" in result.detail and "simulated" in result.detail


def test_prices_behind_the_latest_completed_session_are_stale():
    bars(FACTOR_SYMBOLS, days=3, end=dt.date(2026, 11, 18))
    result = doctor.check_market_data_freshness(now=NOW)
    assert result.status == WARN and "2 sessions behind" in result.detail
    assert result.hint == "python manage.py sync_market_data"
    # Before Friday's close the latest completed session is Thursday: one session behind.
    thursday_evening = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)
    assert "1 sessions behind" in doctor.check_market_data_freshness(now=thursday_evening).detail


def test_a_held_symbol_lagging_behind_warns(portfolio):
    Position.objects.create(
        portfolio=portfolio, symbol="AAPL", position_type="LONG", quantity=1, entry_price=1, entry_date=SESSION
    )
    bars(FACTOR_SYMBOLS, days=2)
    bars(["AAPL"], days=2, end=dt.date(2026, 11, 19))
    result = doctor.check_market_data_freshness(now=NOW)
    assert result.status == WARN and "AAPL" in result.detail


def test_coverage_lists_held_symbols_and_factor_etfs_without_a_price(portfolio):
    Position.objects.create(
        portfolio=portfolio, symbol="AAPL", position_type="LONG", quantity=1, entry_price=1, entry_date=SESSION
    )
    bars([s for s in FACTOR_SYMBOLS if s != "TLT"], days=1)
    result = doctor.check_market_data_coverage(now=NOW)
    assert result.status == WARN and "2 of 9 symbols have no price: AAPL, TLT" in result.detail
    assert result.hint == "python manage.py sync_market_data"
    bars(["AAPL", "TLT"], days=1)
    assert doctor.check_market_data_coverage(now=NOW).status == OK


def test_factor_data_needs_252_sessions_per_factor_symbol():
    bars(FACTOR_SYMBOLS, days=252)
    assert doctor.check_factor_data(now=NOW).status == OK
    PriceBar.objects.filter(symbol="MTUM").order_by("date").first().delete()
    result = doctor.check_factor_data(now=NOW)
    assert result.status == WARN and "MTUM 251/252" in result.detail
    assert result.hint == "python manage.py sync_market_data --ensure-factor-data"


def test_a_market_data_function_that_does_not_import_fails_the_check(monkeypatch):
    monkeypatch.setitem(sys.modules, "marketdata.selectors", None)  # makes ``from marketdata.selectors import`` fail
    results = {r.name: r for r in doctor.doctor_run(port=free_port(), now=NOW)}
    for name in ("market data freshness", "market data coverage", "factor data"):
        assert results[name].status == FAIL and "import" in results[name].detail


# --- last batch -------------------------------------------------------------------------------


def batch(status: str, *, as_of: dt.date = SESSION, error: str = "") -> BatchRun:
    return BatchRun.objects.create(as_of=as_of, status=status, error_summary=error, duration_ms=12_300)


def test_no_batch_warns_with_the_run_batch_hint():
    result = doctor.check_last_batch(now=NOW)
    assert (result.status, result.hint) == (WARN, "python manage.py run_batch")


def test_a_failed_batch_fails_with_its_error():
    batch(RunStatus.FAILED, error="prices: provider down")
    result = doctor.check_last_batch(now=NOW)
    assert result.status == FAIL and "prices: provider down" in result.detail
    assert result.hint == "python manage.py run_batch"


def test_a_partial_batch_warns():
    batch(RunStatus.PARTIAL, error="1 of 3 portfolios failed")
    result = doctor.check_last_batch(now=NOW)
    assert result.status == WARN and "partial" in result.detail


def test_a_completed_batch_is_ok_unless_it_is_for_an_older_session():
    batch(RunStatus.COMPLETED, as_of=dt.date(2026, 11, 19))
    result = doctor.check_last_batch(now=NOW)
    assert result.status == WARN and "latest completed session is 2026-11-20" in result.detail
    batch(RunStatus.COMPLETED)
    result = doctor.check_last_batch(now=NOW)
    assert result.status == OK and "completed for 2026-11-20" in result.detail and "12.3 s" in result.detail


# --- providers --------------------------------------------------------------------------------


def test_simulated_market_data_needs_no_key(settings):
    settings.MARKET_DATA_PROVIDER = "simulated"
    assert doctor.check_market_data_provider() == CheckResult("market data provider", OK, "simulated (offline)")


@pytest.mark.parametrize(("provider", "key"), [("fmp", "FMP_API_KEY"), ("polygon", "POLYGON_API_KEY")])
def test_a_vendor_without_its_key_fails_and_with_it_is_ok(settings, provider, key):
    settings.MARKET_DATA_PROVIDER = provider
    setattr(settings, key, "")
    result = doctor.check_market_data_provider()
    assert result.status == FAIL and key in result.detail and key in result.hint
    setattr(settings, key, "secret-key-value")
    result = doctor.check_market_data_provider()
    assert result.status == OK and "secret-key-value" not in result.detail


def test_the_local_agent_needs_no_key(settings):
    settings.AGENT_PROVIDER = "local"
    assert doctor.check_agent_provider().status == OK


def test_openai_without_key_or_base_url_fails(settings):
    settings.AGENT_PROVIDER, settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "openai", "", None
    result = doctor.check_agent_provider()
    assert result.status == FAIL and "OPENAI_API_KEY" in result.hint


def test_openai_with_a_base_url_or_a_key_is_ok_and_hides_credentials(settings):
    settings.AGENT_PROVIDER, settings.OPENAI_API_KEY = "openai", ""
    settings.OPENAI_BASE_URL = "http://user:hunter2@127.0.0.1:11434/v1"
    result = doctor.check_agent_provider()
    assert result.status == OK and "http://127.0.0.1:11434/v1" in result.detail and "hunter2" not in result.detail
    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "sk-test-123", None
    result = doctor.check_agent_provider()
    assert result.status == OK and "sk-test" not in result.detail


# --- port -------------------------------------------------------------------------------------


@pytest.fixture
def http_server(request) -> Iterator[int]:
    """A local HTTP server on a free port answering GET /health with ``request.param`` (status, body)."""
    status, body = request.param

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


@pytest.mark.parametrize("http_server", [(200, json.dumps({"status": "healthy", "checks": {}}))], indirect=True)
def test_a_healthy_sigmasight_on_the_port_is_serving(http_server):
    result = doctor.check_port(port=http_server)
    assert result.status == OK and result.detail.startswith("serving")


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
    assert sum(line.startswith(("[ OK ]", "[WARN]", "[FAIL]")) for line in lines) == 10


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
