"""The provider interface every market data source implements, and its errors.

A provider answers for one symbol at a time (so one bad symbol never stops a sync) and raises:

- ``SymbolUnavailable(reason)`` when it does not carry the symbol (unknown ticker, a mutual fund
  or an index its plan does not cover). The sync reports the symbol with the reason.
- ``ProviderError`` when the request failed (timeouts, 5xx after retries, malformed body, bad
  key). The sync records the failure and retries the symbol on the next run.

Providers return raw rows; ``marketdata.quality`` validates them before anything is stored.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

import numpy as np


class ProviderError(Exception):
    """A request to the provider failed (after its retries)."""


class SymbolUnavailable(ProviderError):
    """The provider does not carry this symbol; ``reason`` says why (shown to the user)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Bar(NamedTuple):
    """One raw daily bar from a provider; prices per share in the instrument's currency."""

    symbol: str
    date: date
    open: float
    high: float
    low: float
    close: float
    adj_close: float
    volume: int


@dataclass(frozen=True, eq=False)
class BarColumns:
    """Daily bars of one symbol as columns: the fast path from an offline provider to the database.

    ``date`` is ``datetime64[D]``; the prices are float64 arrays and ``volume`` int64, all the
    same length. ``rows()`` gives the same bars as ``Bar`` tuples (Python floats, ints and dates).
    """

    symbol: str
    date: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    adj_close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.date)

    def arrays(self) -> tuple[np.ndarray, ...]:
        """(date, open, high, low, close, adj_close, volume)."""
        return (self.date, self.open, self.high, self.low, self.close, self.adj_close, self.volume)

    def select(self, index: np.ndarray | slice) -> BarColumns:
        """The rows picked by a boolean mask, an index array or a slice."""
        return BarColumns(self.symbol, *(a[index] for a in self.arrays()))

    def rows(self) -> list[Bar]:
        """The bars as ``Bar`` tuples, in order."""
        symbol = self.symbol
        return [Bar(symbol, *values) for values in zip(*(a.tolist() for a in self.arrays()), strict=True)]

    @classmethod
    def from_bars(cls, symbol: str, bars: Sequence[Bar]) -> BarColumns:
        """Columns of already validated bars (finite numbers, integral volumes) of one symbol."""
        open_, high, low, close, adj_close = (np.array([b[i] for b in bars], dtype=np.float64) for i in range(2, 7))
        return cls(
            symbol,
            np.array([b.date for b in bars], dtype="datetime64[D]"),
            open_,
            high,
            low,
            close,
            adj_close,
            np.array([b.volume for b in bars], dtype=np.int64),
        )


@dataclass(frozen=True)
class OptionQuoteData:
    """One option quote from a provider; prices per share, ``implied_vol`` annualised decimal."""

    contract: str
    underlying: str
    date: date
    bid: float | None
    ask: float | None
    last: float | None
    implied_vol: float | None
    open_interest: int | None
    underlying_price: float | None = None


@dataclass(frozen=True)
class InstrumentProfile:
    """Reference data for a symbol, as the provider describes it."""

    symbol: str
    name: str = ""
    asset_class: str = "stock"
    sector: str = ""
    industry: str = ""
    exchange: str = ""
    currency: str = "USD"


class Provider(ABC):
    """A source of daily bars, option quotes and profiles."""

    name: str = ""
    supports_options: bool = False
    supports_profiles: bool = False
    # Offline providers that can answer with numpy columns (``daily_bar_columns``) set this; the
    # sync then validates and stores whole arrays instead of one ``Bar`` at a time.
    supports_columns: bool = False
    # Providers that can quote an option on a past session (``option_quote(as_of=<earlier day>)``) set
    # this; the sync then stores each day's quote (and implied vol) over its window, not only today's.
    supports_option_history: bool = False

    def start_run(self, *, retry_budget_s: float | None = None) -> None:  # noqa: B027 - optional hook
        """Called once at the start of a sync (HTTP providers reset their retry budget here)."""

    @property
    def requests_made(self) -> int:
        """HTTP requests sent since ``start_run`` (0 for offline providers)."""
        return 0

    @abstractmethod
    def daily_bars(self, *, symbol: str, start: date, end: date, asset_class: str | None = None) -> list[Bar]:
        """Daily bars for ``symbol`` on sessions ``start``…``end`` inclusive (may be empty)."""

    def daily_bar_columns(self, *, symbol: str, start: date, end: date, asset_class: str | None = None) -> BarColumns:
        """``daily_bars`` as columns; only providers with ``supports_columns`` implement it."""
        raise NotImplementedError(f"{self.name} provider does not serve bars as columns.")

    def option_quote(self, *, contract: str, as_of: date) -> OptionQuoteData:
        """The end-of-day quote of an OCC contract on ``as_of``."""
        raise SymbolUnavailable(f"{self.name} provider does not serve option quotes.")

    def profile(self, *, symbol: str, asset_class: str | None = None) -> InstrumentProfile | None:
        """The symbol's reference data, or ``None`` if the provider has none."""
        return None
