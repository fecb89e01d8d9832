"""Financial Modeling Prep (``fmp``): daily history, quotes and company profiles over REST.

Endpoints (the "stable" API; the legacy v3 ``{"symbol", "historical": [...]}`` shape is also
accepted):

- ``GET /stable/historical-price-eod/full?symbol=AAPL&from=YYYY-MM-DD&to=YYYY-MM-DD&apikey=…`` →
  ``[{"symbol","date","open","high","low","close","volume","change","changePercent","vwap"}, …]``
  (``adjClose`` used when present, else ``close``);
- ``GET /stable/quote?symbol=AAPL`` → ``[{"symbol","name","price","timestamp",…}]``;
- ``GET /stable/profile?symbol=AAPL`` → ``[{"symbol","companyName","currency","exchange",
  "industry","sector","isEtf","isFund",…}]``.

An empty answer (``[]`` or ``{}``) means FMP does not carry the symbol: ``SymbolUnavailable``.
VIX is asked for as ``^VIX``. Settings: ``FMP_API_KEY``, ``FMP_BASE_URL``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from marketdata.providers import _parse
from marketdata.providers.base import Bar, InstrumentProfile, Provider, ProviderError, SymbolUnavailable
from marketdata.providers.http import HttpClient, ProviderHTTPError

INDEX_SYMBOLS = {"VIX": "^VIX"}


@dataclass(frozen=True)
class Quote:
    """A real-time (or last) quote: price per share and the time FMP stamped it."""

    symbol: str
    price: float
    timestamp: datetime | None
    source: str = "fmp"


class FMPProvider(Provider):
    """Financial Modeling Prep REST client (one request per symbol per missing range)."""

    name = "fmp"
    supports_profiles = True

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://financialmodelingprep.com",
        timeout_s: float = 10.0,
        retry_budget_s: float = 30.0,
        max_retries: int = 4,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 8.0,
        requests_per_minute: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise ProviderError("FMP_API_KEY is not set; the fmp provider needs it.")
        self.api_key = api_key
        self.http = HttpClient(
            provider=self.name,
            base_url=base_url,
            timeout_s=timeout_s,
            max_retries=max_retries,
            backoff_base_s=backoff_base_s,
            backoff_max_s=backoff_max_s,
            requests_per_minute=requests_per_minute,
            burst=max(1, int(requests_per_minute // 6)),  # FMP meters per minute: allow short bursts
            retry_budget_s=retry_budget_s,
            sleep=sleep,
        )

    def start_run(self, *, retry_budget_s: float | None = None) -> None:
        self.http.start_run(retry_budget_s=retry_budget_s)

    @property
    def requests_made(self) -> int:
        return self.http.requests_made

    def _get(self, path: str, symbol: str, **params: Any) -> Any:
        try:
            return self.http.get_json(path, params={"symbol": symbol, **params, "apikey": self.api_key})
        except ProviderHTTPError as exc:
            if exc.status == 404:
                raise SymbolUnavailable(f"FMP does not know {symbol} (HTTP 404).") from None
            if exc.status == 402 or (exc.status == 403 and "exclusive" in str(exc).lower()):
                raise SymbolUnavailable(f"FMP: {symbol} is not covered by this plan ({exc}).") from None
            raise

    def daily_bars(self, *, symbol: str, start: date, end: date, asset_class: str | None = None) -> list[Bar]:
        vendor_symbol = INDEX_SYMBOLS.get(symbol, symbol)
        payload = self._get(
            "/stable/historical-price-eod/full", vendor_symbol, **{"from": start.isoformat(), "to": end.isoformat()}
        )
        if isinstance(payload, dict) and "Error Message" in payload:
            raise ProviderError(f"FMP error for {symbol}: {payload['Error Message']}"[:300])
        rows = payload.get("historical") if isinstance(payload, dict) else payload
        # The legacy shape names the symbol once at the top; the stable shape names it on every row.
        named = payload.get("symbol") if isinstance(payload, dict) else None
        if rows is None and isinstance(payload, dict) and not payload:
            rows = []
        if not isinstance(rows, list):
            raise ProviderError(f"FMP: unexpected response shape for {symbol}: {type(payload).__name__}")
        if not rows:
            kind = {"mutual_fund": "mutual fund ", "index": "index "}.get(asset_class or "", "")
            raise SymbolUnavailable(f"FMP returned no daily history for {kind}{symbol} between {start} and {end}.")
        bars: list[Bar] = []
        for row in rows:
            if not isinstance(row, dict):
                continue
            when = _parse.iso_date(row.get("date"))
            if when is None:
                continue
            row_symbol = _parse.row_symbol(symbol, vendor_symbol, row.get("symbol", named))
            bars.append(
                _parse.bar(
                    row_symbol, when, row.get("open"), row.get("high"), row.get("low"), row.get("close"),
                    row.get("adjClose"), row.get("volume"),
                )
            )  # fmt: skip
        return sorted(bars, key=lambda b: b.date)

    def quote(self, *, symbol: str) -> Quote:
        """The latest quote of ``symbol`` (price per share)."""
        payload = self._get("/stable/quote", INDEX_SYMBOLS.get(symbol, symbol))
        if not isinstance(payload, list) or not payload or not isinstance(payload[0], dict):
            raise SymbolUnavailable(f"FMP has no quote for {symbol}.")
        row = payload[0]
        price = _parse.number(row.get("price"))
        if not price > 0:
            raise ProviderError(f"FMP sent an invalid price for {symbol}: {row.get('price')!r}")
        stamp = row.get("timestamp")
        when = datetime.fromtimestamp(stamp, tz=UTC) if isinstance(stamp, int | float) else None
        return Quote(symbol=symbol, price=price, timestamp=when)

    def profile(self, *, symbol: str, asset_class: str | None = None) -> InstrumentProfile | None:
        payload = self._get("/stable/profile", INDEX_SYMBOLS.get(symbol, symbol))
        if not isinstance(payload, list) or not payload or not isinstance(payload[0], dict):
            return None
        row = payload[0]
        if asset_class is None:
            asset_class = "etf" if row.get("isEtf") else "mutual_fund" if row.get("isFund") else "stock"
        return InstrumentProfile(
            symbol=symbol,
            name=str(row.get("companyName") or "")[:200],
            asset_class=asset_class,
            sector=str(row.get("sector") or "")[:100],
            industry=str(row.get("industry") or "")[:150],
            exchange=str(row.get("exchange") or row.get("exchangeShortName") or "")[:40],
            currency=str(row.get("currency") or "USD")[:3].upper(),
        )
