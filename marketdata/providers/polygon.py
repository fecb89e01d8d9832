"""Polygon.io (now trading as Massive; same API) as the ``polygon`` provider.

Endpoints:

- ``GET /v2/aggs/ticker/{T}/range/1/day/{from}/{to}?adjusted=true&sort=asc&limit=50000`` →
  ``{"ticker","status":"OK","resultsCount","adjusted":true,"results":[{"t": ms since epoch
  (midnight New York), "o","h","l","c","v","vw","n"}, …], "next_url"?}``; every ``next_url``
  page is followed. ``c`` is split-adjusted (``adjusted=true``), so ``adj_close == close``.
- ``GET /v3/reference/options/contracts?underlying_ticker=SPY`` → contracts (paged the same way);
- ``GET /v3/snapshot/options/{underlying}/O:{contract}`` → ``{"results": {"day", "details",
  "greeks", "implied_volatility", "last_quote": {"bid","ask"}, "last_trade": {"price"},
  "open_interest", "underlying_asset": {"price"}}}`` — today's snapshot, stored for the latest
  completed session;
- ``GET /v3/reference/tickers/{T}`` → ``{"results": {"name","type","primary_exchange",
  "currency_name","sic_description"}}``.

The key travels in an ``Authorization: Bearer`` header (so ``next_url`` pages need no key in the
URL). The rate limit follows ``POLYGON_PLAN``: the free plan allows 5 requests a minute, paid
plans are unmetered (we still cap at 100/s). Polygon carries no mutual funds: they are reported
unavailable with that reason, without a request. VIX is the index ``I:VIX`` (Indices plan).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Any

from marketdata.occ import parse_occ
from marketdata.providers import _parse
from marketdata.providers.base import (
    Bar,
    InstrumentProfile,
    OptionQuoteData,
    Provider,
    ProviderError,
    SymbolUnavailable,
)
from marketdata.providers.http import HttpClient, ProviderHTTPError

PLAN_REQUESTS_PER_MINUTE: dict[str, float] = {"free": 5, "starter": 6000, "developer": 6000, "advanced": 6000}
INDEX_TICKERS = {"VIX": "I:VIX"}
MAX_PAGES = 200
_TYPES = {"CS": "stock", "ADRC": "stock", "ETF": "etf", "ETN": "etf", "ETV": "etf", "INDEX": "index"}


class PolygonProvider(Provider):
    """Polygon.io REST client: adjusted daily aggregates, option contracts and snapshots."""

    name = "polygon"
    supports_options = True
    supports_profiles = True

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://api.polygon.io",
        plan: str = "free",
        timeout_s: float = 10.0,
        retry_budget_s: float = 30.0,
        max_retries: int = 4,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 8.0,
        requests_per_minute: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise ProviderError("POLYGON_API_KEY is not set; the polygon provider needs it.")
        if plan not in PLAN_REQUESTS_PER_MINUTE:
            raise ProviderError(f"Unknown POLYGON_PLAN {plan!r}.")
        self.plan = plan
        per_minute = requests_per_minute or PLAN_REQUESTS_PER_MINUTE[plan]
        self.http = HttpClient(
            provider=self.name,
            base_url=base_url,
            timeout_s=timeout_s,
            max_retries=max_retries,
            backoff_base_s=backoff_base_s,
            backoff_max_s=backoff_max_s,
            requests_per_minute=per_minute,
            burst=5 if per_minute <= 5 else 50,
            retry_budget_s=retry_budget_s,
            headers={"Authorization": f"Bearer {api_key}"},
            sleep=sleep,
        )

    def start_run(self, *, retry_budget_s: float | None = None) -> None:
        self.http.start_run(retry_budget_s=retry_budget_s)

    @property
    def requests_made(self) -> int:
        return self.http.requests_made

    def _get(self, path: str, symbol: str, params: dict[str, Any] | None = None) -> Any:
        try:
            payload = self.http.get_json(path, params=params)
        except ProviderHTTPError as exc:
            if exc.status == 404:
                raise SymbolUnavailable(f"Polygon does not know {symbol} (HTTP 404).") from None
            if exc.status == 403:
                raise SymbolUnavailable(f"Polygon: {symbol} is not covered by the {self.plan} plan ({exc}).") from None
            raise
        if not isinstance(payload, dict):
            raise ProviderError(f"Polygon: unexpected response shape for {symbol}: {type(payload).__name__}")
        if payload.get("status") in ("ERROR", "NOT_AUTHORIZED"):
            raise ProviderError(f"Polygon error for {symbol}: {payload.get('error') or payload.get('message')}")
        return payload

    def _pages(self, path: str, symbol: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """All ``results`` rows, following ``next_url`` until the last page."""
        rows: list[dict[str, Any]] = []
        payload = self._get(path, symbol, params)
        for _ in range(MAX_PAGES):
            results = payload.get("results") or []
            if not isinstance(results, list):
                raise ProviderError(f"Polygon: 'results' is not a list for {symbol}.")
            page_ticker = payload.get("ticker")  # aggregates name their ticker once per page
            rows.extend({**r, "_page_ticker": page_ticker} for r in results if isinstance(r, dict))
            next_url = payload.get("next_url")
            if not next_url:
                return rows
            payload = self._get(next_url, symbol)
        raise ProviderError(f"Polygon: more than {MAX_PAGES} pages for {symbol}; stopped.")

    def daily_bars(self, *, symbol: str, start: date, end: date, asset_class: str | None = None) -> list[Bar]:
        if asset_class == "mutual_fund":
            raise SymbolUnavailable(
                f"Polygon.io does not carry mutual fund NAVs ({symbol}); use the simulated or csv provider."
            )
        ticker = INDEX_TICKERS.get(symbol, symbol)
        rows = self._pages(
            f"/v2/aggs/ticker/{ticker}/range/1/day/{start.isoformat()}/{end.isoformat()}",
            symbol,
            {"adjusted": "true", "sort": "asc", "limit": 50000},
        )
        if not rows:
            kind = "index " if ticker.startswith("I:") else ""
            raise SymbolUnavailable(f"Polygon returned no daily bars for {kind}{symbol} between {start} and {end}.")
        bars: list[Bar] = []
        for row in rows:
            when = _parse.epoch_ms_date(row.get("t"))
            if when is None:
                continue
            row_symbol = _parse.row_symbol(symbol, ticker, row.get("_page_ticker"))
            bars.append(
                _parse.bar(
                    row_symbol, when, row.get("o"), row.get("h"), row.get("l"), row.get("c"), row.get("c"),
                    row.get("v", 0),
                )
            )  # fmt: skip
        return sorted(bars, key=lambda b: b.date)

    def option_contracts(self, *, underlying: str, expiration: date | None = None) -> list[str]:
        """OCC symbols (without the ``O:`` prefix) of the listed contracts on ``underlying``."""
        params: dict[str, Any] = {"underlying_ticker": underlying, "limit": 1000}
        if expiration is not None:
            params["expiration_date"] = expiration.isoformat()
        rows = self._pages("/v3/reference/options/contracts", underlying, params)
        return [str(r["ticker"]).removeprefix("O:") for r in rows if isinstance(r.get("ticker"), str)]

    def option_quote(self, *, contract: str, as_of: date) -> OptionQuoteData:
        try:
            underlying, expiry, _is_call, _strike = parse_occ(contract)
        except ValueError as exc:
            raise SymbolUnavailable(str(exc)) from None
        if as_of > expiry:
            raise SymbolUnavailable(f"{contract} expired on {expiry}.")
        contract = contract.upper().removeprefix("O:")
        payload = self._get(f"/v3/snapshot/options/{INDEX_TICKERS.get(underlying, underlying)}/O:{contract}", contract)
        result = payload.get("results")
        if not isinstance(result, dict) or not result:
            raise SymbolUnavailable(f"Polygon has no snapshot for {contract}.")
        quote = result.get("last_quote") or {}
        trade = result.get("last_trade") or {}
        day = result.get("day") or {}
        iv = _parse.number(result.get("implied_volatility"))
        oi = _parse.number(result.get("open_interest"))
        spot = _parse.number((result.get("underlying_asset") or {}).get("price"))
        last = _parse.number(trade.get("price"))
        if last != last:  # NaN: no trade today, fall back on the day's close
            last = _parse.number(day.get("close"))
        return OptionQuoteData(
            contract=contract,
            underlying=underlying,
            date=as_of,
            bid=_finite_or_none(_parse.number(quote.get("bid"))),
            ask=_finite_or_none(_parse.number(quote.get("ask"))),
            last=_finite_or_none(last),
            implied_vol=iv if iv == iv and iv > 0 else None,
            open_interest=int(oi) if oi == oi and oi >= 0 else None,
            underlying_price=_finite_or_none(spot),
        )

    def profile(self, *, symbol: str, asset_class: str | None = None) -> InstrumentProfile | None:
        if asset_class == "mutual_fund":
            return None
        ticker = INDEX_TICKERS.get(symbol, symbol)
        try:
            payload = self._get(f"/v3/reference/tickers/{ticker}", symbol)
        except SymbolUnavailable:
            return None
        row = payload.get("results")
        if not isinstance(row, dict):
            return None
        return InstrumentProfile(
            symbol=symbol,
            name=str(row.get("name") or "")[:200],
            asset_class=asset_class or _TYPES.get(str(row.get("type")), "stock"),
            sector=str(row.get("sic_description") or "")[:100],
            industry="",
            exchange=str(row.get("primary_exchange") or "")[:40],
            currency=str(row.get("currency_name") or "usd")[:3].upper(),
        )


def _finite_or_none(value: float) -> float | None:
    return value if value == value and value not in (float("inf"), float("-inf")) else None
