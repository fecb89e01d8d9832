"""``worker`` and ``stop``: pid files, a clean stop by SIGTERM, stale files, pids that changed hands, --kill."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from core.processes import pidfile_write, pidfiles_list, process_running

ROOT = Path(__file__).resolve().parents[2]

# A process whose command line reads like `manage.py worker` but that ignores SIGTERM.
STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(120)"
)


def _stop(*args: str) -> str:
    out = StringIO()
    call_command("stop", *args, stdout=out, stderr=out)
    return out.getvalue()


def test_stop_with_nothing_running_says_so() -> None:
    assert "Nothing to stop" in _stop()


def test_a_pid_file_whose_process_died_is_removed_without_signalling_anyone() -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    path = pidfile_write(command="worker", pid=dead.pid)

    assert f"worker (pid {dead.pid}) was not running (stale pid file removed)" in _stop()
    assert not path.exists()


def test_a_pid_now_held_by_another_program_is_not_signalled() -> None:
    other = subprocess.Popen(["sleep", "30"])
    try:
        path = pidfile_write(command="serve", pid=other.pid)
        assert "stale pid file removed" in _stop("serve")
        assert not path.exists()
        assert other.poll() is None  # still running: `sleep` is not a SigmaSight server
    finally:
        other.kill()
        other.wait()


def test_a_process_that_ignores_sigterm_is_reported_then_killed_with_kill() -> None:
    stubborn = subprocess.Popen(
        [sys.executable, "-c", STUBBORN, "manage.py", "worker"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert stubborn.stdout is not None and stubborn.stdout.readline().strip() == "up"
        path = pidfile_write(command="worker", pid=stubborn.pid)
        with pytest.raises(CommandError, match="did not stop; rerun with --kill"):
            _stop("worker", "--timeout", "0.5")
        assert process_running(stubborn.pid) and path.exists()

        assert f"worker (pid {stubborn.pid}) killed" in _stop("worker", "--timeout", "0.5", "--kill")
        assert stubborn.wait(timeout=10) < 0
        assert not path.exists()
    finally:
        if stubborn.poll() is None:
            stubborn.kill()
            stubborn.wait()


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(CommandError, match="unknown process kind"):
        _stop("scheduler")


@pytest.mark.slow
def test_worker_logs_to_its_terminal_keeps_a_pid_file_and_stops_cleanly(tmp_path, migrated_sqlite) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'worker.sqlite3'}"
    env["Q_WORKERS"] = "1"
    shutil.copy(migrated_sqlite, tmp_path / "worker.sqlite3")  # `manage.py migrate`, run once per test run
    log = tmp_path / "worker.out"
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "worker"], cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while "running." not in log.read_text():
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"the cluster did not start:\n{log.read_text()}"
            time.sleep(0.2)
        [entry] = pidfiles_list(commands=("worker",))
        assert entry.pid == worker.pid
        assert json.loads(entry.path.read_text())["argv"][-1] == "worker"

        assert f"worker (pid {worker.pid}) stopped" in _stop("worker")
        assert worker.wait(timeout=10) == 0
        assert not list(Path(settings.RUN_DIR).glob("worker-*.pid"))
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    output = log.read_text()
    # django-q2's own lines, on the terminal (not only in app.log), one record per line.
    assert "INFO django-q Q Cluster" in output
    assert "starting." in output and "has stopped." in output
