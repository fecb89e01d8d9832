"""Benchmark: what one response-front hit costs, in process, and what reaches the database server.

Runs ``sigmasight.asgi.application`` in this process (asgiref's ``ApplicationCommunicator``: the pooled
request threads, the front, Django) against the database DATABASE_URL names, with a bearer token of a demo
user, and sends one read GET after the other: a warm-up (the first goes through Django, which records the
answer; the rest are front hits), then ``--requests`` front hits. Reports per hit: wall time, this process's
CPU, and on PostgreSQL the statements the server committed (``pg_stat_database.xact_commit``: one per
autocommit statement, Django's health check ``SELECT 1`` included) and the CPU of the server processes serving
this database (``/proc/<pid>/stat``; the server must run on this machine). No HTTP server, no load generator:
figures that the two shared cores' scheduling does not swamp (``bench/bench_api.py`` measures through daphne).

Usage (the database must hold the demo with the batch run, e.g. from ``manage.py demo --no-serve``):
    DATABASE_URL=postgres://... .venv/bin/python bench/bench_front_hits.py [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sigmasight.settings")

from bench.bench_api import DEMO_USERS  # noqa: E402  (the demo logins and their portfolios)

WARM_UP = 50
# PostgreSQL flushes a backend's statistics at most every second, and an idle backend's within 10 s.
STATS_FLUSH_SECONDS = 11.0


def server_counters() -> tuple[int, float] | None:
    """(committed transactions of this database, CPU seconds of its server processes but this one), or None
    off PostgreSQL. Runs on this thread's own connection, which is not one the hits use."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        (transactions,) = cursor.fetchone()
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        pids = [pid for (pid,) in cursor.fetchall()]
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return int(transactions), ticks / os.sysconf("SC_CLK_TCK")


async def get(application: Any, scope: dict[str, Any]) -> None:
    """One request through the application; asserts a 200."""
    from asgiref.testing import ApplicationCommunicator

    communicator = ApplicationCommunicator(application, dict(scope))
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(10)
    assert start["status"] == 200, start
    while (await communicator.receive_output(10)).get("more_body"):
        pass
    await communicator.wait(10)


async def run(requests: int, path: str) -> dict[str, float]:
    """Warm up, then ``requests`` front hits of ``path``; figures per hit (ms, and statements)."""
    from asgiref.sync import sync_to_async
    from rest_framework_simplejwt.tokens import AccessToken

    from portfolios.models import User
    from sigmasight.asgi import application

    user = await User.objects.aget(email=DEMO_USERS["hedgefund"][0])
    token = str(AccessToken.for_user(user))
    scope = {
        "type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {token}".encode())],
        "scheme": "http", "http_version": "1.1", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000),
    }  # fmt: skip
    counters = sync_to_async(server_counters, thread_sensitive=True)
    for _ in range(WARM_UP):
        await get(application, scope)
    await asyncio.sleep(STATS_FLUSH_SECONDS)
    before = await counters()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(requests):
        await get(application, scope)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    await asyncio.sleep(STATS_FLUSH_SECONDS)
    after = await counters()
    figures = {"wall_ms": 1000 * wall / requests, "cpu_ms": 1000 * cpu / requests}
    if before is not None and after is not None:
        # the counters' own two statements between the readings: the first reading's commit, the second's clear
        figures["statements"] = (after[0] - before[0] - 2) / requests
        figures["server_cpu_ms"] = 1000 * (after[1] - before[1]) / requests
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="Front hits measured (default 3000).")
    parser.add_argument(
        "--path",
        default=f"/api/v1/data/portfolios/{DEMO_USERS['hedgefund'][1]}/positions",
        help="The read GET (default: the hedge fund's positions).",
    )
    args = parser.parse_args()
    import django

    django.setup()
    from django.db import connection

    figures = asyncio.run(run(args.requests, args.path))
    line = f"{connection.vendor}: {args.requests} front hits, {figures['wall_ms']:.3f} ms wall and "
    line += f"{figures['cpu_ms']:.3f} ms CPU (this process) per hit"
    if "statements" in figures:
        line += f", server: {figures['statements']:.2f} statements and {figures['server_cpu_ms']:.3f} ms CPU per hit"
    print(f"{line}; load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
