"""Serve the ASGI application with daphne: several processes on one port, or one that reloads on code changes.

One daphne process runs Python on one core; the API benchmark needs both of this machine's
(one process: 467 requests/s, p99 59 ms; two: 1,224 requests/s, p99 30 ms — BENCHMARKS.md). The
parent binds the port (:func:`listen`, so a taken port fails before anything says "Serving"),
starts the processes with ``daphne --fd``, forwards SIGINT/SIGTERM, and stops them all if one exits.

Each process gets a listening socket of its own on the same port (``SO_REUSEPORT``, Linux and the BSDs),
and the kernel spreads new connections between the sockets by their addresses. With one socket shared
by every process the connections went to whichever process woke first, and twisted accepts every
pending connection at once (up to 100 per wake-up): a client opening 16 connections together often had
all of them served by one process while the other idled (half the throughput, twice the latency;
BENCHMARKS.md, "The ASGI front"). Where ``SO_REUSEPORT`` is missing the processes share one socket.

Development (:func:`serve_reloading`): the parent keeps the socket and runs one child that serves
it with daphne — HTTP and websockets, as in production — while Django's autoreloader watches every
loaded module; on a change the child exits with status 3 and the parent starts a fresh one on the
same socket (no "Address already in use" window between the two).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

APPLICATION = "sigmasight.asgi:application"
RELOAD_EXIT_STATUS = 3  # what django.utils.autoreload's child exits with when a file changed
SOCKET_FD_ENV = "SIGMASIGHT_SERVE_FD"  # the reloading child's inherited listening socket


def daphne_path() -> str:
    return str(Path(sys.executable).with_name("daphne"))


def listen(*, host: str, port: int, count: int = 1) -> list[socket.socket]:
    """``count`` sockets listening on ``host:port`` (one per serving process, see the module doc; one socket
    when ``count`` is 1 or the platform lacks ``SO_REUSEPORT``). Raises ``OSError`` when the port is taken:
    the port is first bound without ``SO_REUSEPORT``, which fails while anyone else listens on it (even
    sockets of their own with ``SO_REUSEPORT``), then released and bound again by the ``count`` sockets."""
    probe = socket.create_server((host, port), backlog=1024)
    if count <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        return [probe]
    address = probe.getsockname()[:2]  # port 0 resolved to the port given
    probe.close()
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sockets.append(socket.create_server(address, backlog=1024, reuse_port=True))
    except OSError:
        for made in sockets:
            made.close()
        raise
    return sockets


class _Children:
    """Child processes stopped together by SIGINT/SIGTERM (handlers installed before the first starts)."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []
        self.stopping = False

    def stop(self, signum: int = signal.SIGTERM, frame: FrameType | None = None) -> None:
        self.stopping = True
        for child in self.processes:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    def __enter__(self) -> _Children:
        self._previous = {sig: signal.signal(sig, self.stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def ended_by_us(self, returncode: int) -> bool:
        # A process we stopped may end by the signal itself (if it was still starting up): not an error.
        return self.stopping and returncode in (0, -signal.SIGTERM, -signal.SIGINT)


def serve(*, listeners: list[socket.socket], processes: int, application: str = APPLICATION) -> int:
    """Run ``processes`` daphne processes until interrupted, process ``i`` on ``listeners[i % len(listeners)]``
    (:func:`listen`); returns the exit code."""
    if processes < 1:
        raise ValueError("processes must be at least 1")
    with _Children() as children:
        for index in range(processes):
            if children.stopping:
                break
            fd = listeners[index % len(listeners)].fileno()
            children.processes.append(
                # -v 0: no daphne access lines on stdout — they print the raw path (a "%0a" in it forges a
                # line); every request is in access.log, escaped (core.middleware.AccessLogMiddleware).
                subprocess.Popen([daphne_path(), "-v", "0", "--fd", str(fd), application], pass_fds=(fd,))
            )
        for listener in listeners:
            listener.close()  # the children hold the sockets now
        code = 0
        running = list(children.processes)
        while running:
            for child in list(running):
                try:
                    returncode = child.wait(timeout=0.5)
                except subprocess.TimeoutExpired:
                    continue
                running.remove(child)
                if not children.ended_by_us(returncode):
                    code = code or returncode
                children.stop()  # one gone: stop the others rather than serve at half capacity
        return code


def serve_reloading(*, listener: socket.socket, child_argv: list[str], log: Callable[[str], None]) -> int:
    """Run ``child_argv`` (this command in child mode) on ``listener``, restarting it after each code change."""
    from django.utils.autoreload import DJANGO_AUTORELOAD_ENV

    fd = listener.fileno()
    # Django's marker for "you are the reloader's child": watch and serve, do not spawn another level.
    env = {**os.environ, SOCKET_FD_ENV: str(fd), DJANGO_AUTORELOAD_ENV: "true"}
    with _Children() as children:
        while not children.stopping:
            child = subprocess.Popen(child_argv, env=env, pass_fds=(fd,))
            children.processes = [child]
            returncode = child.wait()
            if children.ended_by_us(returncode):
                return 0
            if returncode != RELOAD_EXIT_STATUS:
                return returncode
            log("Code changed: restarting the server")
        return 0


def serve_reloading_child(*, log: Callable[[str], None]) -> None:
    """In the child: daphne on the inherited socket in a thread, Django's autoreloader in the main thread."""
    from django.utils import autoreload

    fd = int(os.environ[SOCKET_FD_ENV])

    def run_daphne() -> None:
        # Imported here, in the serving thread, so that a syntax error in the project shows as a
        # traceback and the reloader keeps watching (and restarts once it is fixed).
        from daphne.server import Server

        from core.logformat import control_escape
        from sigmasight.asgi import application

        def action(protocol: str, action: str, details: dict[str, Any]) -> None:
            if protocol == "http" and action == "complete":
                log(f"HTTP {details['method']} {control_escape(details['path'])} {details['status']}")
            elif protocol == "websocket" and action in ("connected", "disconnected", "rejected"):
                log(f"WebSocket {action.upper()} {control_escape(details['path'])}")

        Server(
            application=application,
            endpoints=[f"fd:fileno={fd}"],
            signal_handlers=False,  # not the main thread: the reloader owns the signals
            action_logger=action,
        ).run()

    autoreload.run_with_reloader(autoreload.check_errors(run_daphne))
