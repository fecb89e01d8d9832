"""``manage.py serve``: several daphne processes on one socket, stopped together; a taken port is a clear error."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split()]


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:  # 503 from /health still proves a daphne answered
        return exc.code


@pytest.mark.slow
def test_serve_runs_two_daphne_processes_on_one_port_and_stops_them_together(tmp_path) -> None:
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}", "LOG_DIR": str(tmp_path)}
    env.pop("REDIS_URL", None)
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--processes", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status = _status(f"http://127.0.0.1:{port}/health")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                # TimeoutError: the parent's socket took the connection while the daphne processes were
                # still importing Django (over 5 s when other suites load the machine's two cores).
                assert time.monotonic() < deadline, "nothing answered within 60 s"
                time.sleep(0.3)
        assert status in (200, 503)
        children = _children(server.pid)
        assert len(children) == 2
        assert {_status(f"http://127.0.0.1:{port}/health") for _ in range(10)} <= {200, 503}
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]  # stopped and reaped
    finally:
        if server.poll() is None:
            server.kill()
        output = server.stdout.read() if server.stdout else ""
    assert "with 2 daphne process(es)" in output


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CommandError, match=f"cannot listen on 127.0.0.1:{port}"):
            call_command("serve", port=port, processes=2)
