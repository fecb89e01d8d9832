"""A fork server for the fault trials: Django is imported once, each command runs in a forked child.

Started as ``python analytics/tests/fault_zygote.py`` with the trial's environment (DATABASE_URL…).
It never opens a database connection itself, so every child starts with none and opens its own —
exactly like ``manage.py <command>`` run from a shell, minus the seconds of imports. The child is a
real process: ``kill -9`` ends it with no cleanup, which is what the trials need.

Protocol: one JSON object per line on stdin, one answer per line on stdout.
``{"op": "start", "argv": [...], "log": path}`` → ``{"pid": n}`` (the child's output goes to ``log``);
``{"op": "wait", "pid": n}`` → ``{"status": exit code, or -signal}``; ``{"op": "quit"}``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _child(argv: list[str], log: str) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    code = 0
    try:
        from django.core.management import ManagementUtility

        ManagementUtility(["manage.py", *argv]).execute()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 2
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sigmasight.settings")
    import django

    django.setup()
    # What every command of the trials imports, loaded once before any fork.
    import importlib

    for module in (
        "analytics.management.commands.run_batch",
        "analytics.services.batch",
        "marketdata.management.commands.sync_market_data",
        "portfolios.management.commands.seed_demo",
    ):
        importlib.import_module(module)

    out = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "start":
            pid = os.fork()
            if pid == 0:
                _child(request["argv"], request["log"])
            answer: dict[str, int] = {"pid": pid}
        elif request["op"] == "wait":
            _, status = os.waitpid(int(request["pid"]), 0)
            answer = {"status": os.waitstatus_to_exitcode(status)}
        else:
            break
        out.write(json.dumps(answer) + "\n")
        out.flush()


# --- The client (used by the tests) ----------------------------------------------------------------


class Zygote:
    """A running fork server for one database (its environment names the database)."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.logs = logs
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__))],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.count = 0

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(f"the fork server died (exit {self.process.wait()})")
        return json.loads(line)

    def start(self, *argv: str) -> tuple[int, Path]:
        self.count += 1
        log = self.logs / f"{self.count:03d}-{argv[0]}.log"
        return self._ask({"op": "start", "argv": list(argv), "log": str(log)})["pid"], log

    def wait(self, pid: int) -> int:
        return self._ask({"op": "wait", "pid": pid})["status"]

    def run(self, *argv: str) -> tuple[int, str]:
        pid, log = self.start(*argv)
        return self.wait(pid), log.read_text()

    def close(self) -> None:
        with contextlib.suppress(AssertionError, BrokenPipeError, ValueError):
            if self.process.poll() is None:
                self._ask({"op": "quit"})
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


if __name__ == "__main__":
    main()
