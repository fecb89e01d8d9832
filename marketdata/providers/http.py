"""The shared HTTP client of the vendor providers (FMP, Polygon), on well-kept libraries.

- a ``requests`` session with (connect, read) timeouts on every call;
- retries by urllib3's ``Retry``, mounted on the session: on 429 and 5xx, timeouts and connection
  errors, honouring ``Retry-After`` (seconds or an HTTP date; capped at ``retry_after_max_s``), else
  exponential backoff with jitter (``backoff_base · 2^n`` × U(0.5, 1), capped at ``backoff_max``);
- a token-bucket rate limit shared by every request of the provider (pyrate-limiter);
- a total retry budget per sync (``MARKET_DATA_RETRY_BUDGET_S``): the seconds spent in failed
  attempts and backoff sleeps are charged to it; once it is spent, every further request fails at
  once with ``RetryBudgetExhausted`` so that a down provider costs a bounded time, and the sync marks
  the remaining symbols failed quickly instead of retrying each one.

API keys travel in query strings (FMP) or headers (Polygon); every message that could contain a
URL passes through ``redact`` first, so a key never reaches a log or a SyncRun record.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, cast

import requests
from pyrate_limiter import Duration, Limiter, Rate, StateBucket, TokenBucket
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import InvalidHeader, MaxRetryError, ReadTimeoutError
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from core.secrets import secrets_redact
from marketdata.providers.base import ProviderError

logger = logging.getLogger("sigmasight.marketdata")

RETRY_STATUSES = frozenset({429, *range(500, 600)})


def redact(text: str) -> str:
    """``text`` with API keys replaced by ``***``: in query strings (``apikey=…``) and wherever a
    configured key appears verbatim (a vendor's error body that echoes the key it was sent)."""
    return secrets_redact(text)


class ProviderHTTPError(ProviderError):
    """A non-retryable HTTP error status (4xx other than 429)."""

    def __init__(self, status: int, message: str, payload: Any = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.payload = payload


class RetryBudgetExhausted(ProviderError):
    """The sync's total retry budget is spent; the provider is treated as down."""


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


class _BudgetSpent(Exception):
    """Raised by the retry's sleep when the next wait would overrun the budget."""


def rate_limiter(*, per_minute: float, burst: int) -> Limiter:
    """A token bucket: ``burst`` requests at once, then ``per_minute`` a minute (pyrate-limiter)."""
    if per_minute <= 0:
        raise ValueError("per_minute must be positive.")
    # Rate limits are integers per interval: 5/min is 5 per 60,000 ms, 0.5/min 1 per 120,000 ms.
    limit = max(1, round(per_minute)) if per_minute >= 1 else 1
    interval = round(Duration.MINUTE.value * limit / per_minute)
    return Limiter(StateBucket([Rate(limit, interval, burst=max(1, burst))], algorithm=TokenBucket()), buffer_ms=0)


class BudgetedRetry(Retry):
    """urllib3's ``Retry`` with the client's backoff, retry budget, ``Retry-After`` cap and (injectable) sleep.

    urllib3 decides what is retried (statuses, errors, counts) and parses ``Retry-After``; this
    subclass only says how long to wait and whether the sync can still afford it."""

    def __init__(self, *args: Any, client: HttpClient | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client = client

    def new(self, **kwargs: Any) -> BudgetedRetry:
        retry = super().new(**kwargs)
        retry.client = self.client
        return retry

    def get_backoff_time(self) -> float:
        """``backoff_factor · 2^n`` × U(0.5, 1), n = retries so far (the first retry waits too), capped."""
        n = max(0, len(self.history) - 1)
        return min(self.backoff_max, self.backoff_factor * 2**n) * random.uniform(0.5, 1.0)

    def get_retry_after(self, response: Any) -> float | None:
        """The server's ``Retry-After`` in seconds (an unreadable one is ignored, not an error)."""
        try:
            seconds = super().get_retry_after(response)
        except InvalidHeader:
            return None
        if seconds is None or self.client is None:
            return seconds
        return min(seconds, self.client.retry_after_max_s)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> BudgetedRetry:
        """Charge the failed attempt to the budget; a spent budget ends the retries (``MaxRetryError``)."""
        client = self.client
        if client is not None:
            client.attempt_failed(error=error, response=response)
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        if client is not None and client.budget.exhausted:
            raise MaxRetryError(cast(ConnectionPool, _pool), url or "", error)
        return retry

    def sleep(self, response: Any = None) -> None:
        client = self.client
        if client is None:
            super().sleep(response)
            return
        retry_after = self.get_retry_after(response) if response is not None else None
        delay = retry_after if retry_after is not None else self.get_backoff_time()
        client.wait(delay)


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
        self.retry_after_max_s = retry_after_max_s
        self.session = session or requests.Session()
        retry = BudgetedRetry(
            total=max_retries,
            status_forcelist=RETRY_STATUSES,
            backoff_factor=backoff_base_s,
            backoff_max=backoff_max_s,
            respect_retry_after_header=True,
            raise_on_status=False,  # the last retryable answer comes back: its status names the failure
            client=self,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        if headers:
            self.session.headers.update(headers)
        self.session.headers.setdefault("User-Agent", "SigmaSight/1.0 (+market data sync)")
        self.sleep, self.clock = sleep, clock
        self.rate_limit = rate_limiter(per_minute=requests_per_minute, burst=burst)
        self.requests_per_minute = requests_per_minute
        self.default_budget_s = retry_budget_s
        self.budget = RetryBudget(retry_budget_s)
        self.requests_made = 0
        self.sleeps: list[float] = []  # backoff sleeps of this run, for reporting and tests
        self.last_error = ""
        self._attempt_started = clock()

    def start_run(self, *, retry_budget_s: float | None = None) -> None:
        """Reset the retry budget and counters at the start of a sync."""
        self.budget = RetryBudget(self.default_budget_s if retry_budget_s is None else retry_budget_s)
        self.requests_made = 0
        self.sleeps = []

    # --- called by BudgetedRetry from inside urllib3 ------------------------------------------------

    def attempt_failed(self, *, error: BaseException | None, response: Any) -> None:
        """A failed attempt's time is charged to the budget, and what went wrong remembered."""
        self.budget.charge(self.clock() - self._attempt_started)
        if response is not None:
            self.last_error = f"HTTP {response.status}"
        elif isinstance(error, ReadTimeoutError):
            self.last_error = f"timeout after {self.timeout[1]:g} s (ReadTimeout)"
        elif error is not None:
            self.last_error = redact(f"connection error: {error}")[:300]

    def wait(self, delay: float) -> None:
        """Sleep ``delay`` before the next attempt, or give up when the budget cannot afford it."""
        if delay > self.budget.remaining:
            self.budget.charge(self.budget.remaining)
            raise _BudgetSpent
        logger.info("%s: retry %d/%d in %.2f s", self.provider, len(self.sleeps) + 1, self.max_retries, delay)
        self.budget.charge(delay)
        self.sleeps.append(delay)
        self.sleep(delay)
        self.rate_limit.try_acquire(self.provider)
        self.requests_made += 1
        self._attempt_started = self.clock()

    # --- requests ---------------------------------------------------------------------------------

    def get_json(self, path_or_url: str, *, params: Mapping[str, Any] | None = None) -> Any:
        """GET and decode JSON; raises ``ProviderHTTPError`` on 4xx, ``ProviderError`` otherwise."""
        url = path_or_url if path_or_url.startswith(("http://", "https://")) else f"{self.base_url}{path_or_url}"
        if self.budget.exhausted:
            raise RetryBudgetExhausted(
                f"{self.provider}: retry budget of {self.budget.seconds:g} s exhausted; provider treated as down"
            )
        self.rate_limit.try_acquire(self.provider)
        self.requests_made += 1
        attempts_before = self.requests_made - 1
        self._attempt_started = self.clock()
        try:
            response = self.session.get(url, params=params, timeout=self.timeout)
        except (_BudgetSpent, requests.RequestException) as exc:
            error = self._error_text(exc)
            attempts = self.requests_made - attempts_before
            logger.warning("%s: giving up on %s: %s", self.provider, redact(url), error)
            if isinstance(exc, _BudgetSpent) or self.budget.exhausted:
                raise RetryBudgetExhausted(
                    f"{self.provider}: {error}; retry budget of {self.budget.seconds:g} s exhausted"
                ) from None
            raise ProviderError(f"{self.provider}: {error} (after {attempts} attempts)") from None
        status = response.status_code
        if status in RETRY_STATUSES:
            error = f"HTTP {status}: {redact(response.text[:200])}"
            attempts = self.requests_made - attempts_before
            logger.warning("%s: giving up on %s: %s", self.provider, redact(url), error)
            if self.budget.exhausted:
                raise RetryBudgetExhausted(
                    f"{self.provider}: {error}; retry budget of {self.budget.seconds:g} s exhausted"
                )
            raise ProviderError(f"{self.provider}: {error} (after {attempts} attempts)")
        if status >= 400:
            payload = _json_or_none(response)
            raise ProviderHTTPError(status, _error_message(payload) or redact(response.text[:200]), payload)
        try:
            return response.json()
        except ValueError:
            logger.warning(
                "%s: malformed JSON from %s: %r", self.provider, redact(response.url), redact(response.text[:200])
            )
            raise ProviderError(f"{self.provider}: malformed JSON in the response") from None

    def _error_text(self, exc: BaseException) -> str:
        if isinstance(exc, _BudgetSpent):
            return self.last_error or "no time left for another retry"
        reason = exc.args[0].reason if exc.args and isinstance(exc.args[0], MaxRetryError) else None
        if isinstance(exc, requests.Timeout) or isinstance(reason, ReadTimeoutError):
            return f"timeout after {self.timeout[1]:g} s ({exc.__class__.__name__})"
        return redact(f"connection error: {exc}")[:300]


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
