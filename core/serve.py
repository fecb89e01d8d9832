"""Serve the ASGI application with daphne: several processes on one socket, or one that reloads on code changes.

One daphne process runs Python on one core; the overview benchmark needs both of this machine's
(one process: 467 requests/s, p99 59 ms; two: 1,224 requests/s, p99 30 ms — BENCHMARKS.md). The
parent binds the socket (:func:`listen`, so a taken port fails before anything says "Serving"),
starts the processes with ``daphne --fd`` so that the kernel spreads connections between them,
forwards SIGINT/SIGTERM, and stops them all if one exits.

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


def listen(*, host: str, port: int) -> socket.socket:
    """Bind and listen on ``host:port`` (SO_REUSEADDR on POSIX); raises ``OSError`` when taken."""
    return socket.create_server((host, port), backlog=1024)


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


def serve(*, listener: socket.socket, processes: int, application: str = APPLICATION) -> int:
    """Run ``processes`` daphne processes on ``listener`` until interrupted; returns the exit code."""
    if processes < 1:
        raise ValueError("processes must be at least 1")
    fd = listener.fileno()
    with _Children() as children:
        for _ in range(processes):
            if children.stopping:
                break
            children.processes.append(
                # -v 0: no daphne access lines on stdout — they print the raw path (a "%0a" in it forges a
                # line); every request is in access.log, escaped (core.middleware.AccessLogMiddleware).
                subprocess.Popen([daphne_path(), "-v", "0", "--fd", str(fd), application], pass_fds=(fd,))
            )
        listener.close()  # the children hold the socket now
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
