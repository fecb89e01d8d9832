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

import json
import os
import sys
from pathlib import Path

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


if __name__ == "__main__":
    main()
