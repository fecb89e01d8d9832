"""Security checks against a real daphne server in production settings (``DEBUG`` off, every key set).

- request bodies over ``MAX_REQUEST_BODY_BYTES`` are refused while being read: a 50 MB multipart
  upload gets its 413 after 64 KB has been sent, the rest never needed; a chunked one too;
- an empty or broken multipart import is a 400 with the JSON error body;
- every response carries ``Content-Security-Policy``, HTTPS responses ``Strict-Transport-Security``;
- ``check --deploy`` is clean with the README's production settings, and Django's own warnings show
  without them (nothing hides them);
- with every secret set and the system exercised (logins right and wrong, API calls, a chat, URLs
  carrying keys and tokens, a market-data sync against a vendor that is down), no secret is in any log.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EMAIL = "demo_individual@sigmasight.com"
PASSWORD = "demo12345"
SECRETS = {
    "SECRET_KEY": "live-secret-key-" + "q7Zx" * 12,
    "FMP_API_KEY": "fmp-live-key-5be0c1",
    "POLYGON_API_KEY": "polygon-live-key-91af",
    "OPENAI_API_KEY": "sk-live-openai-3c9d77e1",
}
PRODUCTION = {
    "ALLOWED_HOSTS": "risk.example.com,127.0.0.1,localhost",
    "SECURE_SSL_REDIRECT": "true",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "TRUST_X_FORWARDED_PROTO": "true",
}
HTTPS = {"X-Forwarded-Proto": "https"}  # as the TLS-terminating proxy says (SECURE_SSL_REDIRECT is on)

pytestmark = pytest.mark.slow


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "REDIS_URL")}
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{tmp / 'live.sqlite3'}",
            "DATA_DIR": str(tmp / "data"),
            "LOG_DIR": str(tmp / "logs"),
            "AGENT_PROVIDER": "local",
            "FAST_PASSWORD_HASHER": "1",
            "MARKET_DATA_PROVIDER": "fmp",
            "FMP_BASE_URL": "http://127.0.0.1:9",  # nothing listens: the vendor is down
            "MARKET_DATA_RETRY_BUDGET_S": "1",
            **SECRETS,
            **PRODUCTION,
            **extra,
        }
    )
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("live")
    env = _env(tmp)
    for command in (["migrate", "--noinput"], ["seed_demo"]):
        subprocess.run(
            [sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300
        )
    port = _free_port()
    process = subprocess.Popen(
        # As production runs it (the Dockerfile's command): daphne processes started by `serve`.
        [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port), "--processes", "1"],
        cwd=ROOT,
        env=env,
        stdout=(tmp / "serve.out").open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            assert process.poll() is None, (tmp / "serve.out").read_text()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
    try:
        yield {"port": port, "base": f"http://127.0.0.1:{port}", "tmp": tmp, "env": env, "process": process}
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def _request(
    server: dict[str, Any], method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        server["base"] + path, data=body, method=method, headers={**HTTPS, **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


def _login(server: dict[str, Any], password: str = PASSWORD) -> tuple[int, dict[str, Any]]:
    status, _, body = _request(
        server,
        "POST",
        "/api/v1/auth/login",
        json.dumps({"email": EMAIL, "password": password}).encode(),
        {"Content-Type": "application/json"},
    )
    return status, json.loads(body)


def _raw_response(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        pass
    return data


def test_a_50_mb_multipart_upload_is_refused_before_it_is_read(server: dict[str, Any]) -> None:
    _, tokens = _login(server)
    declared = 50 * 1024 * 1024
    head = (
        f"POST /api/v1/data/portfolios/1d8ddd95-3b45-0ac5-35bf-cf81af94a5fe/positions/import HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nX-Forwarded-Proto: https\r\nAuthorization: Bearer {tokens['access_token']}\r\n"
        f"Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: {declared}\r\n\r\n"
    ).encode()
    part = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
    with socket.create_connection(("127.0.0.1", server["port"]), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(head + part + b"x" * 65536)  # 64 KB of the 50 MB
        answer = _raw_response(sock, timeout=15)
        elapsed = time.monotonic() - started

    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"payload_too_large" in answer or b"Content-Length" in answer
    assert elapsed < 15


def test_a_chunked_body_over_the_limit_is_refused_without_reading_it_all(server: dict[str, Any]) -> None:
    head = (
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"x" * (1024 * 1024)
    sent = 0
    with socket.create_connection(("127.0.0.1", server["port"]), timeout=10) as sock:
        sock.sendall(head)
        answer = b""
        for _ in range(40):  # up to 40 MB offered
            try:
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            except OSError:
                break  # the server answered and closed
            sent += len(chunk)
            sock.settimeout(0.05)
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                continue
            if answer:
                break
        if not answer:
            answer = _raw_response(sock, timeout=10)

    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert sent <= 12 * 1024 * 1024  # refused near the 6 MB limit, not after the 40 MB


@pytest.mark.parametrize("body", [b"", b"--xyz--\r\n", b"garbage"])
def test_an_empty_or_broken_multipart_import_is_a_400_with_a_json_body(server: dict[str, Any], body: bytes) -> None:
    _, tokens = _login(server)

    status, headers, content = _request(
        server,
        "POST",
        "/api/v1/data/portfolios/1d8ddd95-3b45-0ac5-35bf-cf81af94a5fe/positions/import",
        body,
        {"Authorization": f"Bearer {tokens['access_token']}", "Content-Type": "multipart/form-data; boundary=xyz"},
    )

    assert status == 400, content[:300]
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(content)["error"]["message"]


@pytest.mark.parametrize("path", ["/", "/health", "/api/v1/auth/me", "/docs", "/admin/login/", "/nowhere"])
def test_every_response_has_a_csp_and_https_ones_hsts(server: dict[str, Any], path: str) -> None:
    _, headers, _ = _request(server, "GET", path)

    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


def test_plain_http_is_redirected_to_https(server: dict[str, Any]) -> None:
    request = urllib.request.Request(server["base"] + "/health", headers={"X-Forwarded-Proto": "http"})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.build_opener(NoRedirect).open(request, timeout=10)
    assert caught.value.code == 301
    assert caught.value.headers["Location"].startswith("https://")


def _check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_check_deploy_is_clean_with_the_documented_production_settings(server: dict[str, Any]) -> None:
    clean = _check_deploy(server["env"])
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "no issues" in clean.stdout

    bare = {k: v for k, v in server["env"].items() if k not in PRODUCTION}
    warned = _check_deploy(bare)
    assert warned.returncode != 0
    for django_warning in ("security.W008", "security.W012", "security.W016"):
        assert django_warning in warned.stderr + warned.stdout


def test_no_secret_reaches_any_log(server: dict[str, Any]) -> None:
    status, tokens = _login(server)
    assert status == 200
    assert _login(server, password="wrong-" + PASSWORD)[0] == 401
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    portfolio = "1d8ddd95-3b45-0ac5-35bf-cf81af94a5fe"
    for method, path in [
        ("GET", "/api/v1/auth/me"),
        ("GET", f"/api/v1/data/portfolios/{portfolio}/positions"),
        ("GET", f"/api/v1/analytics/portfolios/{portfolio}/var"),
        ("GET", f"/api/v1/data/prices/AAPL?apikey={SECRETS['FMP_API_KEY']}"),
        ("GET", f"/api/v1/auth/me?token={tokens['access_token']}"),
        ("GET", f"/nowhere/{SECRETS['POLYGON_API_KEY']}"),
    ]:
        _request(server, method, path, headers=auth)
    chat = json.dumps({"message": "What is my VaR?", "portfolio_id": portfolio}).encode()
    _request(server, "POST", "/api/v1/agent/chat", chat, {**auth, "Content-Type": "application/json"})
    refresh = json.dumps({"refresh_token": tokens["refresh_token"]}).encode()
    _request(server, "POST", "/api/v1/auth/refresh", refresh, {"Content-Type": "application/json"})
    sync = subprocess.run(
        [sys.executable, "manage.py", "sync_market_data", "--symbols", "AAPL", "--days", "2", "--quiet-progress"],
        cwd=ROOT,
        env=server["env"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    time.sleep(0.5)  # the server's log handlers write as they go; a moment for the last lines

    logs = {str(path): path.read_text(errors="replace") for path in Path(server["env"]["LOG_DIR"]).glob("*.log*")}
    logs["sync output"] = sync.stdout + sync.stderr
    logs["serve output"] = (server["tmp"] / "serve.out").read_text(errors="replace")
    assert any(name.endswith("access.log") for name in logs), sorted(logs)
    assert "127.0.0.1:9" in "".join(logs.values())  # the sync did reach the (down) vendor
    secrets = {**SECRETS, "password": PASSWORD, "access token": tokens["access_token"]}
    for path, text in logs.items():
        for name, value in secrets.items():
            assert value not in text, f"{name} found in {path}"
