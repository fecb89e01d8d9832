"""Pid files for the long-running commands (``serve``, ``worker``) and the clean stop that reads them.

Each running ``serve`` or ``worker`` keeps ``<RUN_DIR>/<command>-<pid>.pid`` (JSON: pid, command,
argv, start time) for as long as it runs; several of a kind on one machine each have their own.
``processes_stop`` sends SIGTERM — the signal both commands stop cleanly on: ``serve`` stops its
daphne processes, ``worker`` lets django-q2 finish the task in hand — and waits for each to exit.

A pid file can outlive its process (``kill -9``, a reboot) and the pid can then belong to someone
else: a process is signalled only when it is alive and its command line is still the SigmaSight
command the file names; otherwise the file is removed as stale. Pids are per machine (and per
container), which is why ``RUN_DIR`` is set per container in docker-compose.yml.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone

COMMANDS = ("serve", "worker")


@dataclass(frozen=True)
class PidFile:
    """One ``<command>-<pid>.pid`` file and what it says."""

    path: Path
    pid: int
    command: str


@dataclass(frozen=True)
class StopOutcome:
    """What ``processes_stop`` did for one pid file: ``stopped``, ``stale``, ``killed`` or ``timeout``."""

    command: str
    pid: int
    result: str
    seconds: float = 0.0


def _run_dir() -> Path:
    return Path(settings.RUN_DIR)


def pidfile_write(*, command: str, pid: int | None = None) -> Path:
    """Write this process's pid file (atomically: a reader never sees half of it) and return its path."""
    pid = os.getpid() if pid is None else pid
    folder = _run_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{command}-{pid}.pid"
    staging = path.with_suffix(".tmp")
    body = {"pid": pid, "command": command, "argv": sys.argv, "started_at": timezone.now().isoformat()}
    staging.write_text(json.dumps(body) + "\n", encoding="utf-8")
    staging.replace(path)
    return path


def pidfile_remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


@contextlib.contextmanager
def pidfile_kept(*, command: str) -> Iterator[Path]:
    """The pid file exists for as long as the ``with`` block runs."""
    path = pidfile_write(command=command)
    try:
        yield path
    finally:
        pidfile_remove(path)


def pidfiles_list(*, commands: tuple[str, ...] = COMMANDS) -> list[PidFile]:
    """The pid files under ``RUN_DIR`` for ``commands``, oldest pid first; unreadable ones are skipped."""
    found: list[PidFile] = []
    folder = _run_dir()
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.pid")):
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
            pid, command = int(body["pid"]), str(body["command"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if command in commands:
            found.append(PidFile(path=path, pid=pid, command=command))
    return sorted(found, key=lambda f: (f.command, f.pid))


def process_running(pid: int) -> bool:
    """True while ``pid`` is a live process (a zombie waiting to be reaped has already exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's: not ours to stop
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        # "pid (comm) state ...": the state follows the last ')' (comm may itself contain one).
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS): kill(0) is all we can tell
    return state not in ("Z", "X")


def process_is_command(pid: int, command: str) -> bool:
    """Whether ``pid`` still runs ``manage.py <command>`` (not a process that got the pid later)."""
    if not Path("/proc/self").exists():
        return True  # no /proc (macOS): the live pid and the file are all we have
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    words = [a.decode(errors="replace") for a in argv if a]
    return command in words and any(w.endswith("manage.py") for w in words)


def processes_stop(
    *, commands: tuple[str, ...] = COMMANDS, timeout: float = 30.0, kill: bool = False
) -> list[StopOutcome]:
    """SIGTERM every running ``commands`` process that has a pid file, and wait for each to exit.

    ``timeout`` seconds each (they are signalled together, so the wait is for the slowest). A process
    still running then is SIGKILLed when ``kill`` is true, else reported as ``timeout``.
    """
    outcomes: list[StopOutcome] = []
    signalled: list[PidFile] = []
    for entry in pidfiles_list(commands=commands):
        if not process_running(entry.pid) or not process_is_command(entry.pid, entry.command):
            pidfile_remove(entry.path)
            outcomes.append(StopOutcome(entry.command, entry.pid, "stale"))
            continue
        try:
            os.kill(entry.pid, signal.SIGTERM)
        except ProcessLookupError:
            pidfile_remove(entry.path)
            outcomes.append(StopOutcome(entry.command, entry.pid, "stale"))
            continue
        signalled.append(entry)
    started = time.monotonic()
    deadline = started + timeout
    waiting = list(signalled)
    while waiting:
        for entry in list(waiting):
            if not process_running(entry.pid):
                waiting.remove(entry)
                pidfile_remove(entry.path)  # normally removed by the process itself
                outcomes.append(StopOutcome(entry.command, entry.pid, "stopped", time.monotonic() - started))
        if not waiting:
            break
        if time.monotonic() >= deadline:
            for entry in waiting:
                if kill:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(entry.pid, signal.SIGKILL)
                    pidfile_remove(entry.path)
                    outcomes.append(StopOutcome(entry.command, entry.pid, "killed", time.monotonic() - started))
                else:
                    outcomes.append(StopOutcome(entry.command, entry.pid, "timeout", time.monotonic() - started))
            break
        time.sleep(0.1)
    return outcomes
