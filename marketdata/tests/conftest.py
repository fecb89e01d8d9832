"""Fixtures of the market data tests: a local HTTP server that answers like FMP and Polygon.

The server (``http.server`` in a thread on 127.0.0.1, ephemeral port) serves the vendors'
documented JSON shapes from the simulated provider's bars, and misbehaves on request for
special symbols: ``NOPE`` (unknown), ``BADJSON`` (malformed body), ``BADROWS`` (NaN, negative,
null and duplicate rows), ``DOWN`` (always 500), ``RATE`` (429 with ``Retry-After: 1`` once),
``SLOW`` (answers after 0.6 s). Every request is recorded, so tests can count them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from marketdata.providers.simulated import SimulatedProvider

NEW_YORK = ZoneInfo("America/New_York")
SIM = SimulatedProvider()
SLOW_SECONDS = 0.6


@dataclass
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class VendorServer:
    """State shared between the test and the handler thread."""

    url: str = ""
    requests: list[Seen] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    page_size: int = 3
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Faults on request: symbol asked → the ticker whose rows (labelled as that ticker) are sent instead;
    # (symbol, ISO date) → a factor every price of that bar is multiplied by (a bad print).
    impostors: dict[str, str] = field(default_factory=dict)
    bad_prints: dict[tuple[str, str], float] = field(default_factory=dict)

    def count(self, fragment: str = "") -> int:
        with self.lock:
            return sum(1 for r in self.requests if fragment in r.path or fragment in r.query.values())

    def bump(self, key: str) -> int:
        with self.lock:
            self.counters[key] = self.counters.get(key, 0) + 1
            return self.counters[key]


Response = tuple[int, Any, dict[str, str]]


def _scaled(state: VendorServer | None, symbol: str, bar: Any) -> Any:
    factor = state.bad_prints.get((symbol, bar.date.isoformat()), 1.0) if state is not None else 1.0
    if factor == 1.0:
        return bar
    return bar._replace(
        open=bar.open * factor, high=bar.high * factor, low=bar.low * factor,
        close=bar.close * factor, adj_close=bar.adj_close * factor,
    )  # fmt: skip


def _fmp_rows(symbol: str, start: date, end: date, state: VendorServer | None = None) -> list[dict[str, Any]]:
    rows = []
    for raw in reversed(SIM.daily_bars(symbol=symbol, start=start, end=end)):  # FMP sends newest first
        bar = _scaled(state, symbol, raw)
        rows.append(
            {
                "symbol": symbol,
                "date": bar.date.isoformat(),
                "open": bar.open,
                "high": bar.high,
                "low": bar.low,
                "close": bar.close,
                "volume": bar.volume,
                "change": 0.0,
                "changePercent": 0.0,
                "vwap": bar.close,
            }
        )
    return rows


def _special(state: VendorServer, symbol: str) -> Response | None:
    if symbol == "NOPE":
        return None
    if symbol == "BADJSON":
        return 200, "{not json", {}
    if symbol == "DOWN":
        return 500, {"error": "internal"}, {}
    if symbol == "RATE" and state.bump("RATE") == 1:
        return 429, {"status": "ERROR", "error": "exceeded the maximum requests per minute"}, {"Retry-After": "1"}
    if symbol == "SLOW":
        time.sleep(SLOW_SECONDS)
    return None


def fmp_route(state: VendorServer, path: str, query: dict[str, str]) -> Response:
    if query.get("apikey") != "test-fmp-key":
        return 401, {"Error Message": "Invalid API KEY. Please retry or visit our documentation."}, {}
    symbol = query.get("symbol", "")
    special = _special(state, symbol)
    if special is not None:
        return special
    if path == "/stable/historical-price-eod/full":
        if symbol == "NOPE":
            return 200, [], {}
        start, end = date.fromisoformat(query["from"]), date.fromisoformat(query["to"])
        if symbol == "BADROWS":
            rows = _fmp_rows("AAPL", start, end)
            rows[0]["close"] = "NaN"  # FMP cannot send a NaN literal; a string is what bad rows look like
            rows[1]["low"] = -5.0
            rows[2]["open"] = None
            rows.append(dict(rows[3]))  # the same date twice
            return 200, [{**r, "symbol": "BADROWS"} for r in rows], {}
        if symbol in state.impostors:  # another ticker's rows, labelled as that ticker (a vendor mix-up)
            return 200, _fmp_rows(state.impostors[symbol], start, end, state), {}
        lookup = "VIX" if symbol == "^VIX" else symbol.removeprefix("RATE").removeprefix("SLOW") or "AAPL"
        # FMP labels every row with the symbol asked for.
        return 200, [{**r, "symbol": symbol} for r in _fmp_rows(lookup, start, end, state)], {}
    if path == "/stable/quote":
        return 200, [{"symbol": symbol, "name": symbol, "price": 187.5, "timestamp": 1705438800}], {}
    if path == "/stable/profile":
        if symbol == "NOPE":
            return 200, [], {}
        return (
            200,
            [
                {
                    "symbol": symbol,
                    "companyName": f"{symbol} Inc.",
                    "currency": "USD",
                    "exchange": "NASDAQ",
                    "industry": "Software",
                    "sector": "Technology",
                    "isEtf": symbol in {"SPY", "TLT"},
                    "isFund": False,
                }
            ],
            {},
        )
    return 404, {"Error Message": "not found"}, {}


def polygon_route(state: VendorServer, path: str, query: dict[str, str], headers: dict[str, str]) -> Response:
    if headers.get("Authorization") != "Bearer test-polygon-key":
        return 401, {"status": "ERROR", "error": "Unknown API Key"}, {}
    parts = path.strip("/").split("/")
    if parts[:3] == ["v2", "aggs", "ticker"]:
        ticker, start, end = parts[3], date.fromisoformat(parts[7]), date.fromisoformat(parts[8])
        special = _special(state, ticker)
        if special is not None:
            return special
        if ticker == "I:VIX":
            return 403, {"status": "NOT_AUTHORIZED", "message": "You are not entitled to this data."}, {}
        if ticker == "NOPE":
            return 200, {"ticker": ticker, "queryCount": 0, "resultsCount": 0, "adjusted": True, "status": "OK"}, {}
        source_ticker = state.impostors.get(ticker, ticker)
        bars = [_scaled(state, ticker, b) for b in SIM.daily_bars(symbol=source_ticker, start=start, end=end)]
        offset = int(query.get("cursor", "0"))
        page = bars[offset : offset + state.page_size]
        results = [
            {
                "v": float(b.volume),
                "vw": b.close,
                "o": b.open,
                "c": b.close,
                "h": b.high,
                "l": b.low,
                "t": int(datetime(b.date.year, b.date.month, b.date.day, tzinfo=NEW_YORK).timestamp() * 1000),
                "n": 1000,
            }
            for b in page
        ]
        body: dict[str, Any] = {
            "ticker": source_ticker,
            "queryCount": len(bars),
            "resultsCount": len(results),
            "adjusted": True,
            "results": results,
            "status": "OK",
            "request_id": "abc",
            "count": len(results),
        }
        if offset + state.page_size < len(bars):
            body["next_url"] = f"{state.url}{path}?cursor={offset + state.page_size}"
        return 200, body, {}
    if parts[:3] == ["v3", "snapshot", "options"]:
        contract = parts[4].removeprefix("O:")
        if contract.startswith("NOPE"):
            return 404, {"status": "NOT_FOUND", "message": "Options contract not found"}, {}
        return (
            200,
            {
                "status": "OK",
                "request_id": "x",
                "results": {
                    "break_even_price": 470.5,
                    "day": {"close": 12.3, "high": 12.9, "low": 11.8, "open": 12.0, "volume": 321},
                    "details": {
                        "contract_type": "call",
                        "exercise_style": "american",
                        "expiration_date": "2027-09-17",
                        "shares_per_contract": 100,
                        "strike_price": 460,
                        "ticker": f"O:{contract}",
                    },
                    "greeks": {"delta": 0.61, "gamma": 0.004, "theta": -0.05, "vega": 1.2},
                    "implied_volatility": 0.1834,
                    "last_quote": {"ask": 12.45, "bid": 12.15, "midpoint": 12.3},
                    "last_trade": {"price": 12.31, "size": 2},
                    "open_interest": 4321,
                    "underlying_asset": {"price": 478.2, "ticker": "SPY"},
                },
            },
            {},
        )
    if parts[:3] == ["v3", "reference", "options"]:
        underlying = query.get("underlying_ticker", "")
        tickers = [f"O:{underlying}270917C00460000", f"O:{underlying}270917P00400000", f"O:{underlying}271217C00500000"]
        offset = int(query.get("cursor", "0"))
        body = {"status": "OK", "results": [{"ticker": t} for t in tickers[offset : offset + 2]]}
        if offset + 2 < len(tickers):
            body["next_url"] = f"{state.url}{path}?cursor={offset + 2}&underlying_ticker={underlying}"
        return 200, body, {}
    if parts[:3] == ["v3", "reference", "tickers"]:
        return (
            200,
            {
                "status": "OK",
                "results": {
                    "ticker": parts[3],
                    "name": f"{parts[3]} Corp",
                    "type": "ETF" if parts[3] in {"SPY", "TLT"} else "CS",
                    "primary_exchange": "XNAS",
                    "currency_name": "usd",
                    "sic_description": "SERVICES-PREPACKAGED SOFTWARE",
                },
            },
            {},
        )
    return 404, {"status": "NOT_FOUND"}, {}


def _handler(state: VendorServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            split = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(split.query).items()}
            headers = dict(self.headers.items())
            with state.lock:
                state.requests.append(Seen(split.path, query, headers))
            if split.path.startswith("/stable/"):
                status, body, extra = fmp_route(state, split.path, query)
            else:
                status, body, extra = polygon_route(state, split.path, query, headers)
            payload = body if isinstance(body, str) else json.dumps(body)
            data = payload.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                pass

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@pytest.fixture
def vendor() -> Iterator[VendorServer]:
    """A running fake FMP + Polygon server; ``vendor.url`` is its base URL."""
    state = VendorServer()
    for symbol in ("AAPL", "MSFT", "SPY", "VIX"):  # build the simulated series before any client timeout runs
        SIM.daily_bars(symbol=symbol, start=date(2026, 1, 2), end=date(2026, 1, 2))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def sleeps() -> tuple[list[float], Callable[[float], None]]:
    """A fake ``sleep`` that records the delays asked for instead of sleeping."""
    recorded: list[float] = []
    return recorded, recorded.append


@pytest.fixture
def fmp_settings(settings, vendor: VendorServer):
    """Settings pointing the fmp provider at the local server, with a small retry budget."""
    settings.MARKET_DATA_PROVIDER = "fmp"
    settings.FMP_API_KEY = "test-fmp-key"
    settings.FMP_BASE_URL = vendor.url
    settings.MARKET_DATA_TIMEOUT_S = 0.3
    settings.MARKET_DATA_RETRY_BUDGET_S = 0.5
    return settings


def aware(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A New York wall-clock time as an aware datetime (converted to UTC like timezone.now())."""
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK).astimezone(UTC)


ONE_DAY = timedelta(days=1)
