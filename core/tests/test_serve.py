"""``manage.py serve``: several daphne processes on one socket, stopped together (by ``stop`` too); a taken
port is a clear error before anything says "Serving"; ``--reload`` serves websockets and restarts on a change."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
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


def _wait_for(url: str, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _status(url)
        # The socket is bound before daphne starts: a request can wait in the backlog past its timeout.
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            assert time.monotonic() < deadline, f"nothing answered {url} within {timeout} s"
            time.sleep(0.3)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:  # 503 from /health still proves a daphne answered
        return exc.code


@pytest.mark.slow
def test_serve_runs_two_daphne_processes_on_one_port_and_stop_ends_them_together(tmp_path) -> None:
    port = _free_port()
    log = tmp_path / "serve.out"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}"}
    env.pop("REDIS_URL", None)
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--processes", "2"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),  # a file, not a pipe: a stray child holding it never blocks the read
        stderr=subprocess.STDOUT,
    )
    try:
        status = _wait_for(f"http://127.0.0.1:{port}/health")
        assert status in (200, 503)
        children = _children(server.pid)
        assert len(children) == 2
        assert {_status(f"http://127.0.0.1:{port}/health") for _ in range(10)} <= {200, 503}
        pidfile = Path(settings.RUN_DIR) / f"serve-{server.pid}.pid"
        assert json.loads(pidfile.read_text())["command"] == "serve"

        out = StringIO()
        call_command("stop", "serve", stdout=out)  # SIGTERM through the pid file, waits for the exit

        assert f"serve (pid {server.pid}) stopped" in out.getvalue()
        assert server.wait(timeout=30) == 0
        assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]  # stopped and reaped
        assert not pidfile.exists()
    finally:
        if server.poll() is None:
            for pid in _children(server.pid):
                os.kill(pid, signal.SIGKILL)
            server.kill()
            server.wait()
        output = log.read_text()
    assert "with 2 daphne process(es)" in output


def test_a_port_in_use_is_a_clear_error_before_anything_says_serving() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = StringIO()
        with pytest.raises(CommandError, match=f"cannot listen on 127.0.0.1:{port}: Address already in use"):
            call_command("serve", port=port, processes=2, stdout=out)
        assert "Serving on" not in out.getvalue()
        assert not list(Path(settings.RUN_DIR).glob("serve-*.pid"))


def test_each_process_gets_a_socket_of_its_own_and_connections_are_spread_between_them() -> None:
    """``listen(count=2)``: two sockets on one port (SO_REUSEPORT); the kernel hands 64 connections from one
    client to both (with one shared socket, twisted's accept burst let one process take them all); the port is
    then taken for anyone else."""
    from core.serve import listen

    if not hasattr(socket, "SO_REUSEPORT"):
        pytest.skip("no SO_REUSEPORT on this platform: the processes share one socket")
    listeners = listen(host="127.0.0.1", port=0, count=2)
    try:
        assert len(listeners) == 2
        port = listeners[0].getsockname()[1]
        assert listeners[1].getsockname()[1] == port
        with pytest.raises(OSError):
            listen(host="127.0.0.1", port=port, count=2)
        clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(64)]
        try:
            accepted = []
            for listener in listeners:
                listener.setblocking(False)
                count = 0
                while True:
                    try:
                        conn, _ = listener.accept()
                    except BlockingIOError:
                        break
                    conn.close()
                    count += 1
                accepted.append(count)
        finally:
            for client in clients:
                client.close()
        assert sum(accepted) == 64
        assert min(accepted) >= 8, accepted  # by hash of the source port: about half each
    finally:
        for listener in listeners:
            listener.close()


def _websocket_error_code(port: int) -> str:
    """Open the agent socket without a token: a websocket server accepts, sends an error event and closes."""
    from websockets.sync.client import connect

    with connect(f"ws://127.0.0.1:{port}/ws/agent/chat/", open_timeout=10) as ws:
        return json.loads(ws.recv(timeout=10))["code"]


@pytest.mark.slow
def test_serve_reload_serves_websockets_and_restarts_when_a_loaded_module_changes(tmp_path) -> None:
    # A module every process of the server imports at start-up, outside the repository, to touch.
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "sitecustomize.py").write_text("PROBE = 1\n")
    port = _free_port()
    log = tmp_path / "serve.out"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'reload.sqlite3'}", "PYTHONPATH": str(probe)}
    env.pop("REDIS_URL", None)
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--reload", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),  # a file, not a pipe: a stray child holding it never blocks the read
        stderr=subprocess.STDOUT,
    )
    try:
        assert _wait_for(f"http://127.0.0.1:{port}/health") in (200, 503)
        assert _websocket_error_code(port) == "not_authenticated"
        [first] = _children(server.pid)

        # The reloader's first scan records each file's time without acting on it; a change written before
        # that scan reaches the probe goes unseen (a busy machine starts serving well before it). So the
        # change is written again, with a new time, until the server restarts.
        deadline = time.monotonic() + 90
        version = 2
        while (children := _children(server.pid)) in ([first], []):
            assert time.monotonic() < deadline, "no restart within 90 s of the change"
            if children == [first]:  # not while the next one starts: it would restart again
                (probe / "sitecustomize.py").write_text(f"PROBE = {version}\n")
                version += 1
            time.sleep(2)
        [second] = _children(server.pid)
        assert second != first
        assert _wait_for(f"http://127.0.0.1:{port}/health") in (200, 503)
        assert _websocket_error_code(port) == "not_authenticated"  # same socket, served again

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        assert not Path(f"/proc/{second}").exists()
    finally:
        if server.poll() is None:
            for pid in _children(server.pid):
                os.kill(pid, signal.SIGKILL)
            server.kill()
            server.wait()
        output = log.read_text()
    assert "reloading on code changes" in output
    assert "Code changed: restarting the server" in output
    assert "HTTP GET /health" in output
