"""Serve the ASGI application with several daphne processes on one listening socket.

One daphne process runs Python on one core; the overview benchmark needs both of this machine's
(one process: 467 requests/s, p99 59 ms; two: 1,224 requests/s, p99 30 ms — BENCHMARKS.md). The
parent binds the socket, starts the processes with ``daphne --fd`` so that the kernel spreads
connections between them, forwards SIGINT/SIGTERM, and stops them all if one exits.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import FrameType

APPLICATION = "sigmasight.asgi:application"


def daphne_path() -> str:
    return str(Path(sys.executable).with_name("daphne"))


def serve(*, host: str, port: int, processes: int, application: str = APPLICATION) -> int:
    """Run ``processes`` daphne processes on ``host:port`` until interrupted; returns the exit code."""
    if processes < 1:
        raise ValueError("processes must be at least 1")
    listener = socket.create_server((host, port), backlog=1024)  # SO_REUSEADDR on POSIX
    fd = listener.fileno()
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    # Handlers first, then the processes: a signal at any point stops every process already started.
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for _ in range(processes):
            if stopping:
                break
            children.append(subprocess.Popen([daphne_path(), "--fd", str(fd), application], pass_fds=(fd,)))
        listener.close()  # the children hold the socket now
        code = 0
        while children:
            for child in list(children):
                try:
                    returncode = child.wait(timeout=0.5)
                except subprocess.TimeoutExpired:
                    continue
                children.remove(child)
                # A process we stopped may end by the signal itself (if it was still starting up): not an error.
                if not (stopping and returncode == -signal.SIGTERM):
                    code = code or returncode
                stop(signal.SIGTERM, None)  # one gone: stop the others rather than serve at half capacity
        return code
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
