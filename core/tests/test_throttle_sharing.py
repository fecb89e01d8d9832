"""Issue 17.6: login throttles cannot be dodged by a forged ``X-Forwarded-For``, hold across
processes, and cover the admin's and the web app's login forms."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import Client, override_settings
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from core.testing import LOGIN_URL
from core.throttling import LoginIPThrottle, client_ip
from portfolios.models import User

ROOT = Path(__file__).resolve().parents[2]


def ip_budget() -> int:
    num_requests, _ = LoginIPThrottle().parse_rate(api_settings.DEFAULT_THROTTLE_RATES["login_ip"])
    assert num_requests is not None
    return num_requests


# --- the client address ------------------------------------------------------------------


def test_by_default_the_forwarded_header_is_ignored() -> None:
    meta = {"REMOTE_ADDR": "198.51.100.7", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}

    assert client_ip(meta, proxy_count=0, proxy_networks=[]) == "198.51.100.7"


def test_behind_one_trusted_proxy_the_last_forwarded_hop_is_the_client() -> None:
    # The client forged "6.6.6.6"; the proxy appended the address it saw.
    meta = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.9"}

    assert client_ip(meta, proxy_count=1, proxy_networks=[]) == "203.0.113.9"
    assert client_ip(meta, proxy_count=2, proxy_networks=[]) == "6.6.6.6"  # the deployment says two
    assert client_ip({"REMOTE_ADDR": "10.0.0.2"}, proxy_count=1, proxy_networks=[]) == "10.0.0.2"


def test_trusted_proxy_networks_are_skipped_from_the_right() -> None:
    networks = [ipaddress.ip_network("10.0.0.0/8")]
    meta = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.9, 10.1.1.1"}

    assert client_ip(meta, proxy_count=0, proxy_networks=networks) == "203.0.113.9"
    # A direct client (not from a trusted proxy) is its own address, whatever it forwards.
    direct = {"REMOTE_ADDR": "198.51.100.7", "HTTP_X_FORWARDED_FOR": "10.9.9.9"}
    assert client_ip(direct, proxy_count=0, proxy_networks=networks) == "198.51.100.7"
    garbage = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "<script>"}
    assert client_ip(garbage, proxy_count=0, proxy_networks=networks) == "10.0.0.2"


def _attempt(client: APIClient, number: int, **headers: str) -> int:
    body = {"email": f"nobody{number}@example.com", "password": "wrong"}
    return client.post(LOGIN_URL, body, format="json", REMOTE_ADDR="198.51.100.7", **headers).status_code


def test_rotating_the_forwarded_header_does_not_bypass_the_ip_limit(db) -> None:
    client = APIClient()
    budget = ip_budget()

    statuses = [_attempt(client, n, HTTP_X_FORWARDED_FOR=f"203.0.113.{n % 250}") for n in range(budget + 3)]

    assert statuses[:budget] == [401] * budget
    assert set(statuses[budget:]) == {429}


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(db) -> None:
    client = APIClient()
    budget = ip_budget()

    statuses = [_attempt(client, n, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}") for n in range(budget + 3)]

    assert set(statuses) == {401}


def test_the_counters_are_in_the_shared_database_cache_not_in_process_memory() -> None:
    backend = settings.CACHES["throttle"]["BACKEND"]

    if os.environ.get("REDIS_URL"):
        assert backend.endswith("RedisCache")
    else:
        assert backend.endswith("DatabaseCache")
    assert "LocMem" not in type(caches["throttle"]).__name__


# --- the admin and web login forms -------------------------------------------------------


def test_the_admin_login_is_throttled_and_then_refuses_even_the_right_password(staff_user: User) -> None:
    browser = Client(REMOTE_ADDR="198.51.100.8")
    budget = ip_budget()
    statuses = [
        browser.post("/admin/login/", {"username": f"guess{n}@example.com", "password": "x"}).status_code
        for n in range(budget)
    ]
    assert set(statuses) == {200}  # the form again, with its error

    right = browser.post("/admin/login/", {"username": staff_user.email, "password": "staff-pass-1"})

    assert right.status_code == 429
    assert int(right["Retry-After"]) >= 1
    assert "_auth_user_id" not in browser.session


def test_the_api_web_and_admin_logins_spend_one_budget(staff_user: User) -> None:
    budget = ip_budget()
    api, browser = APIClient(), Client(REMOTE_ADDR="198.51.100.9")
    for n in range(budget):
        if n % 3 == 0:
            api.post(LOGIN_URL, {"email": f"a{n}@example.com", "password": "x"}, REMOTE_ADDR="198.51.100.9")
        elif n % 3 == 1:
            browser.post("/", {"username": f"w{n}@example.com", "password": "x"})
        else:
            browser.post("/admin/login/", {"username": f"d{n}@example.com", "password": "x"})

    assert browser.post("/", {"username": staff_user.email, "password": "staff-pass-1"}).status_code == 429
    assert browser.post("/admin/login/", {"username": "z@example.com", "password": "x"}).status_code == 429


# --- two server processes ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post(port: int, email: str, forwarded: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{LOGIN_URL}",
        data=f'{{"email": "{email}", "password": "wrong"}}'.encode(),
        headers={"Content-Type": "application/json", "X-Forwarded-For": forwarded},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _wait_for(port: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5):
                return
        except urllib.error.HTTPError:
            return  # a 503 from /health still proves the server answers
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            assert time.monotonic() < deadline, f"nothing answered on port {port} within {timeout} s"
            time.sleep(0.3)


def _redis_throttle_keys(url: str) -> list[str]:
    """The throttle cache's keys in Redis (``KEY_PREFIX`` ``throttle``)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        return sorted(key.decode() for key in client.scan_iter(match="throttle:*", count=1000))
    finally:
        client.close()


def _redis_throttle_clear(url: str) -> None:
    """Forget earlier counters (only the throttle cache's keys: the Redis database may be shared)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match="throttle:*", count=1000):
            client.delete(key)
    finally:
        client.close()


@pytest.mark.slow
@pytest.mark.parametrize("cache", ["database", "redis"])
def test_two_server_processes_share_one_login_budget(tmp_path: Path, cache: str, migrated_sqlite: Path) -> None:
    """Two ``serve`` processes, alternating, spend one budget: the database cache (the default), or
    Redis when ``REDIS_URL`` is set (as in CI; skipped otherwise), whose keys then hold the counts."""
    env: dict[str, Any] = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite3'}"}
    redis_url = os.environ.get("REDIS_URL", "")
    if cache == "database":
        env.pop("REDIS_URL", None)  # the default: the database cache
    elif not redis_url:
        pytest.skip("the Redis case needs REDIS_URL=redis://host:port/db")
    else:
        _redis_throttle_clear(redis_url)
    env.pop("TRUSTED_PROXY_COUNT", None)
    env.pop("TRUSTED_PROXY_CIDRS", None)
    shutil.copy(migrated_sqlite, tmp_path / "shared.sqlite3")  # `manage.py migrate`, run once per test run
    ports = [_free_port(), _free_port()]
    servers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port), "--processes", "1"],
            cwd=ROOT,
            env=env,
            stdout=(tmp_path / f"serve-{port}.out").open("w"),
            stderr=subprocess.STDOUT,
        )
        for port in ports
    ]
    try:
        for port in ports:
            _wait_for(port)
        budget = ip_budget()
        # Alternate between the two processes, each attempt with a new forged address and email.
        statuses = [_post(ports[n % 2], f"p{n}@example.com", f"203.0.113.{n}") for n in range(budget + 4)]
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)

    assert statuses[:budget] == [401] * budget, statuses
    assert set(statuses[budget:]) == {429}, statuses
    if cache == "redis":  # the counts were in Redis, not in a table or a process
        assert any("login_ip" in key for key in _redis_throttle_keys(redis_url)), _redis_throttle_keys(redis_url)
