"""The shared HTTP client of the vendor providers (FMP, Polygon).

- ``requests`` session with (connect, read) timeouts on every call;
- retries on 429, 5xx, timeouts and connection errors, with exponential backoff and full jitter
  (``backoff_base · 2^attempt`` × U(0.5, 1), capped at ``backoff_max``), honouring a
  ``Retry-After`` header (seconds or an HTTP date) when the server sends one;
- a token-bucket rate limiter shared by every request of the provider;
- a total retry budget per sync (``MARKET_DATA_RETRY_BUDGET_S``): the seconds spent in failed
  attempts and backoff sleeps are charged to it; once it is spent, every further request fails at
  once with ``ProviderError`` so that a down provider costs a bounded time, and the sync marks the
  remaining symbols failed quickly instead of retrying each one.

API keys travel in query strings (FMP) or headers (Polygon); every message that could contain a
URL passes through ``redact`` first, so a key never reaches a log or a SyncRun record.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from marketdata.providers.base import ProviderError

logger = logging.getLogger("sigmasight.marketdata")

_SECRET_PARAM = re.compile(r"(?i)(api_?key|token|apikey)=([^&\s'\"]+)")


def redact(text: str) -> str:
    """``text`` with API keys in query strings replaced by ``***``."""
    return _SECRET_PARAM.sub(r"\1=***", text)


class ProviderHTTPError(ProviderError):
    """A non-retryable HTTP error status (4xx other than 429)."""

    def __init__(self, status: int, message: str, payload: Any = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.payload = payload


class RetryBudgetExhausted(ProviderError):
    """The sync's total retry budget is spent; the provider is treated as down."""


class RateLimiter:
    """Token bucket: at most ``per_minute`` requests a minute, bursts up to ``burst``."""

    def __init__(
        self,
        *,
        per_minute: float,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive.")
        self.rate = per_minute / 60.0  # tokens per second
        self.capacity = float(max(1, burst))
        self.tokens = self.capacity
        self.clock, self.sleep = clock, sleep
        self.updated = clock()
        self.lock = threading.Lock()
        self.waited_s = 0.0

    def acquire(self) -> float:
        """Take one token, sleeping until one is available; returns the seconds waited."""
        with self.lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            wait = 0.0
            if self.tokens < 1.0:
                wait = (1.0 - self.tokens) / self.rate
                self.sleep(wait)
                self.tokens = 1.0
                self.updated = self.clock()
            self.tokens -= 1.0
            self.waited_s += wait
            return wait


class RetryBudget:
    """Seconds a sync may spend on failed attempts and backoff before it gives up on the provider."""

    def __init__(self, seconds: float) -> None:
        self.seconds = max(0.0, seconds)
        self.spent = 0.0
        self.exhausted = False

    @property
    def remaining(self) -> float:
        return max(0.0, self.seconds - self.spent)

    def charge(self, seconds: float) -> None:
        self.spent += max(0.0, seconds)
        if self.spent >= self.seconds:
            self.exhausted = True


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), if any."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class HttpClient:
    """GET JSON from one vendor with timeouts, retries, a rate limit and a retry budget."""

    def __init__(
        self,
        *,
        provider: str,
        base_url: str,
        timeout_s: float = 10.0,
        connect_timeout_s: float | None = None,
        max_retries: int = 4,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 8.0,
        retry_after_max_s: float = 60.0,
        requests_per_minute: float = 300.0,
        burst: int = 5,
        retry_budget_s: float = 30.0,
        headers: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout_s or min(timeout_s, 5.0), timeout_s)
        self.max_retries = max_retries
        self.backoff_base_s, self.backoff_max_s = backoff_base_s, backoff_max_s
        self.retry_after_max_s = retry_after_max_s
        self.session = session or requests.Session()
        if headers:
            self.session.headers.update(headers)
        self.session.headers.setdefault("User-Agent", "SigmaSight/1.0 (+market data sync)")
        self.sleep, self.clock = sleep, clock
        self.rate_limiter = RateLimiter(per_minute=requests_per_minute, burst=burst, clock=clock, sleep=sleep)
        self.default_budget_s = retry_budget_s
        self.budget = RetryBudget(retry_budget_s)
        self.requests_made = 0
        self.sleeps: list[float] = []  # backoff sleeps of this run, for reporting and tests

    def start_run(self, *, retry_budget_s: float | None = None) -> None:
        """Reset the retry budget and counters at the start of a sync."""
        self.budget = RetryBudget(self.default_budget_s if retry_budget_s is None else retry_budget_s)
        self.requests_made = 0
        self.sleeps = []

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_max_s, self.backoff_base_s * 2**attempt) * random.uniform(0.5, 1.0)

    def get_json(self, path_or_url: str, *, params: Mapping[str, Any] | None = None) -> Any:
        """GET and decode JSON; raises ``ProviderHTTPError`` on 4xx, ``ProviderError`` otherwise."""
        url = path_or_url if path_or_url.startswith(("http://", "https://")) else f"{self.base_url}{path_or_url}"
        last_error = ""
        for attempt in range(self.max_retries + 1):
            if self.budget.exhausted:
                raise RetryBudgetExhausted(
                    f"{self.provider}: retry budget of {self.budget.seconds:g} s exhausted; provider treated as down"
                    + (f" (last error: {last_error})" if last_error else "")
                )
            self.rate_limiter.acquire()
            started = self.clock()
            retry_after: float | None = None
            self.requests_made += 1
            try:
                response = self.session.get(url, params=params, timeout=self.timeout)
            except requests.Timeout as exc:
                last_error = f"timeout after {self.timeout[1]:g} s ({exc.__class__.__name__})"
            except requests.ConnectionError as exc:
                last_error = redact(f"connection error: {exc}")[:300]
            else:
                status = response.status_code
                if status == 429 or status >= 500:
                    last_error = f"HTTP {status}: {redact(response.text[:200])}"
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                elif status >= 400:
                    payload = _json_or_none(response)
                    message = _error_message(payload) or redact(response.text[:200])
                    raise ProviderHTTPError(status, message, payload)
                else:
                    try:
                        return response.json()
                    except ValueError:
                        logger.warning(
                            "%s: malformed JSON from %s: %r",
                            self.provider,
                            redact(response.url),
                            response.text[:200],
                        )
                        raise ProviderError(f"{self.provider}: malformed JSON in the response") from None
            self.budget.charge(self.clock() - started)
            if attempt == self.max_retries:
                break
            delay = min(retry_after, self.retry_after_max_s) if retry_after is not None else self._backoff(attempt)
            if delay > self.budget.remaining:
                self.budget.charge(self.budget.remaining)
                break
            logger.info(
                "%s: %s; retry %d/%d in %.2f s", self.provider, last_error, attempt + 1, self.max_retries, delay
            )
            self.budget.charge(delay)
            self.sleeps.append(delay)
            self.sleep(delay)
        logger.warning("%s: giving up on %s: %s", self.provider, redact(url), last_error)
        if self.budget.exhausted:
            raise RetryBudgetExhausted(
                f"{self.provider}: {last_error}; retry budget of {self.budget.seconds:g} s exhausted"
            )
        raise ProviderError(f"{self.provider}: {last_error} (after {self.max_retries + 1} attempts)")


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error_message(payload: Any) -> str:
    """The vendor's error text from a JSON error body (FMP ``Error Message``, Polygon ``error``)."""
    if isinstance(payload, dict):
        for key in ("Error Message", "error", "message"):
            if isinstance(payload.get(key), str):
                return redact(payload[key])[:300]
    return ""
