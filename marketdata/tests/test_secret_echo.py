"""Issue 17.11: a vendor error body that echoes the API key is logged and stored redacted.

A real local HTTP server plays FMP and Polygon answering every request with an error that repeats
the key it was sent — in a JSON error message, a plain-text 5xx body and a malformed 200 body —
and a sync runs against it. The key must appear in no log line (as the log handlers format it),
no log file and no stored sync record.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings as django_settings
from django.core import serializers

from core.logformat import SafeFormatter
from core.secrets import secrets_redact
from marketdata.models import SyncRun
from marketdata.services import prices_sync

FMP_KEY = "fmp-echoed-key-8c1d2f"
POLYGON_KEY = "polygon-echoed-key-77a0"


class EchoHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        split = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        key = query.get("apikey") or self.headers.get("Authorization", "").removeprefix("Bearer ")
        symbol = query.get("symbol") or split.path.rstrip("/").split("/")[-1]
        bucket = sum(map(ord, symbol)) % 3
        if bucket == 0:
            status, body = 401, json.dumps({"Error Message": f"Invalid API KEY: {key}", "error": f"bad key {key}"})
        elif bucket == 1:
            status, body = 503, f"upstream down for {key}"
        else:
            status, body = 200, f"<html>not json; your key is {key}</html>"
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def echo_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.django_db
@pytest.mark.parametrize("provider", ["fmp", "polygon"])
def test_an_echoed_api_key_reaches_no_log_and_no_stored_record(
    settings: Any, echo_server: str, caplog: pytest.LogCaptureFixture, provider: str
) -> None:
    settings.FMP_API_KEY, settings.FMP_BASE_URL = FMP_KEY, echo_server
    settings.POLYGON_API_KEY, settings.POLYGON_BASE_URL = POLYGON_KEY, echo_server
    settings.MARKET_DATA_TIMEOUT_S = 0.5
    settings.MARKET_DATA_RETRY_BUDGET_S = 0.3
    key = FMP_KEY if provider == "fmp" else POLYGON_KEY

    with caplog.at_level(logging.DEBUG):
        run = prices_sync(symbols=["AAPL", "MSFT", "SPY", "QQQ"], days=3, provider=provider, as_of=date(2026, 11, 20))

    assert run.symbols_failed >= 1  # the vendor did refuse
    formatter = SafeFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    lines = [formatter.format(record) for record in caplog.records]
    assert any("***" in line for line in lines), lines  # the echo was logged, redacted
    assert not [line for line in lines if key in line]
    stored = serializers.serialize("json", SyncRun.objects.all())
    assert key not in stored
    for path in Path(django_settings.LOG_DIR).glob("*.log*"):
        assert key not in path.read_text(errors="replace"), path


def test_every_configured_secret_is_redacted_verbatim(settings: Any) -> None:
    settings.SECRET_KEY = "django-secret-" + "k" * 40
    settings.OPENAI_API_KEY = "sk-openai-0123456789"

    text = secrets_redact(f"boom {settings.SECRET_KEY} and {settings.OPENAI_API_KEY} and ?token=abc&x=1")

    assert text == "boom *** and *** and ?token=***&x=1"
