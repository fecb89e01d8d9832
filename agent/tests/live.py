"""A live daphne server over a temporary SQLite file, for tests that need real HTTP and websockets.

The test database of pytest-django is a transaction another process could not see, so the server
gets its own file, migrated and seeded with ``manage.py`` (the three demo users), and the tests log
in through the API like any client.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
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


@contextmanager
def live_server(tmp: Path, *, extra_env: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
    """Migrate and seed ``tmp/agent.sqlite3``, serve it with daphne on a free port; yields base URLs and env."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'agent.sqlite3'}",
        "LOG_DIR": str(tmp / "logs"),
        "AGENT_PROVIDER": "local",
        "FAST_PASSWORD_HASHER": "1",
        "DJANGO_SETTINGS_MODULE": "sigmasight.settings",
        **(extra_env or {}),
    }
    for command in (["migrate", "--noinput"], ["seed_demo"]):
        subprocess.run(
            [sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300
        )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "sigmasight.asgi:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(process.stderr.read().decode() if process.stderr else "daphne exited") from None
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError("daphne did not start")
    try:
        yield {
            "base": f"http://127.0.0.1:{port}",
            "ws": f"ws://127.0.0.1:{port}",
            "env": env,
            "process": process,
            "db": tmp / "agent.sqlite3",
        }
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
