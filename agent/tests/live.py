"""A live daphne server over a temporary SQLite file, for tests that need real HTTP and websockets.

The test database of pytest-django is a transaction another process could not see, so the server
gets its own file, migrated and seeded with ``manage.py`` (the three demo users), and the tests log
in through the API like any client.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEMO_PASSWORD = "demo12345"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def login(base: str, email: str, password: str = DEMO_PASSWORD) -> str:
    """An access token from the real login endpoint."""
    request = urllib.request.Request(
        f"{base}/api/v1/auth/login",
        data=json.dumps({"email": email, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.loads(response.read())["access_token"])


def api(base: str, jwt: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One JSON call to the live server's ``/api/v1`` with a JWT; the decoded answer (None when empty)."""
    request = urllib.request.Request(
        f"{base}/api/v1{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {jwt}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        raw = response.read()
        return json.loads(raw) if raw else None


def postgres_server() -> str | None:
    """``postgres://user@host:port`` of the run's PostgreSQL (``DATABASE_URL``); None when it is not PostgreSQL."""
    url = os.environ.get("DATABASE_URL", "")
    return url.rsplit("/", 1)[0] if url.startswith(("postgres://", "postgresql://")) else None


@contextmanager
def _database(tmp: Path, backend: str) -> Iterator[tuple[str, Callable[[str], list[tuple[Any, ...]]]]]:
    """A fresh database for the live server: ``(its DATABASE_URL, query(sql) -> rows)``; dropped afterwards."""
    if backend == "sqlite":
        path = tmp / "agent.sqlite3"

        def sqlite_query(sql: str) -> list[tuple[Any, ...]]:
            with sqlite3.connect(path) as db:
                return db.execute(sql).fetchall()

        yield f"sqlite:///{path}", sqlite_query
        return
    import psycopg

    server = postgres_server()
    if server is None:
        raise RuntimeError("a PostgreSQL live server needs DATABASE_URL=postgres://…")
    name = f"sigmasight_live_{uuid.uuid4().hex[:10]}"

    def admin(sql: str) -> None:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as db:
            db.execute(sql)

    def pg_query(sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(f"{server}/{name}", autocommit=True) as db:
            return db.execute(sql).fetchall()

    admin(f"CREATE DATABASE {name}")
    try:
        yield f"{server}/{name}", pg_query
    finally:
        admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


SEED_COMMANDS = (("migrate", "--noinput"), ("seed_demo",))  # the demo users, portfolios and positions


@contextmanager
def live_server(
    tmp: Path, *, extra_env: dict[str, str] | None = None, backend: str = "sqlite", seeded: Path | None = None
) -> Iterator[dict[str, Any]]:
    """Migrate and seed a fresh database, serve it with daphne on a free port; yields base URLs and env.

    ``backend`` is ``sqlite`` (a file under ``tmp``) or ``postgresql`` (a new database on the
    server of ``DATABASE_URL``, dropped afterwards). The yielded ``query(sql)`` reads that database.
    ``seeded``: a SQLite file ``SEED_COMMANDS`` already made (the ``demo_seeded_sqlite`` fixture),
    copied instead of running them again.
    """
    if seeded is not None and backend != "sqlite":
        raise ValueError("a seeded SQLite file serves the sqlite backend only")
    with _database(tmp, backend) as (database_url, query), _serve(tmp, database_url, extra_env, seeded) as live:
        yield {**live, "query": query, "backend": backend}


def database_seed(database_url: str, env: dict[str, str], seeded: Path | None = None) -> None:
    """Make ``database_url`` the seeded demo: copy ``seeded`` (a SQLite file) or run ``SEED_COMMANDS``."""
    if seeded is not None:
        shutil.copy(seeded, database_url.removeprefix("sqlite:///"))
        return
    for command in SEED_COMMANDS:
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT, env={**env, "DATABASE_URL": database_url}, check=True, capture_output=True, timeout=300,
        )  # fmt: skip


@contextmanager
def _serve(
    tmp: Path, database_url: str, extra_env: dict[str, str] | None, seeded: Path | None = None
) -> Iterator[dict[str, Any]]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LOG_DIR": str(tmp / "logs"),
        "AGENT_PROVIDER": "local",
        "FAST_PASSWORD_HASHER": "1",
        "DJANGO_SETTINGS_MODULE": "sigmasight.settings",
        **(extra_env or {}),
    }
    database_seed(database_url, env, seeded)
    port = free_port()
    # The server's output goes to a file: an unread pipe would block daphne once its buffer is full.
    stderr_path = tmp / f"daphne-{port}.stderr"
    stderr = stderr_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "sigmasight.asgi:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if process.poll() is not None:
                stderr.close()
                raise RuntimeError(stderr_path.read_text(errors="replace") or "daphne exited") from None
            time.sleep(0.1)
    else:
        process.kill()
        stderr.close()
        raise RuntimeError("daphne did not start")
    try:
        yield {
            "base": f"http://127.0.0.1:{port}",
            "ws": f"ws://127.0.0.1:{port}",
            "env": env,
            "process": process,
            "db": tmp / "agent.sqlite3",  # the SQLite file (unused on PostgreSQL)
            "stderr": stderr_path,
        }
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        stderr.close()
