"""Load what the analytics need: positions as one frame, and market data as arrays.

One query per table: the open positions (with tags) of every portfolio asked for, the close
prices of every symbol they need over the lookback, and the latest option quotes.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.conf import settings

from marketdata import selectors as market
from marketdata.factors import FACTOR_SYMBOLS
from portfolios.models import OPTION_TYPES, Portfolio
from portfolios.selectors import open_position_rows

logger = logging.getLogger(__name__)

# Calendar days of price history loaded: 252 trading days of returns plus margin for holidays.
PRICE_HISTORY_CALENDAR_DAYS = 400
# Calendar days of option quotes loaded: each day's implied vol over the 252 VaR days (and the snapshots).
QUOTE_HISTORY_CALENDAR_DAYS = 380
DIVIDEND_YIELD = 0.0  # Per-symbol dividend yields are not stored yet; BSM runs with q = 0 (recorded in inputs).

POSITION_COLUMNS = (
    "position_id",
    "portfolio_id",
    "symbol",
    "price_symbol",
    "position_type",
    "asset_class",
    "is_option",
    "is_call",
    "quantity",
    "multiplier",
    "entry_price",
    "entry_date",
    "strike",
    "expiration",
    "tags",
    "exit_date",
    "exit_price",
)


@dataclass(frozen=True)
class PortfolioInfo:
    id: uuid.UUID
    name: str
    equity_balance: float | None
    benchmark_symbol: str = "SPY"


def portfolios_load(*, portfolio_ids: Sequence[uuid.UUID] | None = None) -> dict[uuid.UUID, PortfolioInfo]:
    queryset = Portfolio.objects.order_by("name", "id")
    if portfolio_ids is not None:
        queryset = queryset.filter(pk__any=list(portfolio_ids))
    return {p.pk: portfolio_info(p) for p in queryset.only("id", "name", "equity_balance", "benchmark_symbol")}


def portfolio_info(portfolio: Portfolio) -> PortfolioInfo:
    """What the result kinds read of a portfolio (equity balance in USD, None when not set)."""
    return PortfolioInfo(
        id=portfolio.pk,
        name=portfolio.name,
        equity_balance=None if portfolio.equity_balance is None else float(portfolio.equity_balance),
        benchmark_symbol=portfolio.benchmark_symbol,
    )


def positions_frame(
    *, portfolio_ids: Sequence[uuid.UUID], as_of: dt.date | None = None, since: dt.date | None = None
) -> pd.DataFrame:
    """Positions of these portfolios — the open ones, or with ``as_of`` those held at its close (entered on
    or before it and not exited before it; ``exit_date`` is the last day held), or with ``since`` too
    those held on any day from ``since`` to ``as_of`` — one row each, numeric columns as float64
    (``exit_price`` NaN and ``exit_date`` None while open).

    ``price_symbol`` is the symbol whose close drives the position (the underlying for options);
    ``quantity`` is signed (negative = short); ``strike`` is NaN and ``expiration`` None for stocks.
    """
    raw_rows, tags = open_position_rows(portfolio_ids=list(portfolio_ids), as_of=as_of, since=since)
    rows = []
    for (
        pk,
        portfolio_id,
        symbol,
        position_type,
        asset_class,
        quantity,
        multiplier,
        entry_price,
        entry_date,
        strike,
        expiration,
        underlying,
        exit_date,
        exit_price,
    ) in raw_rows:
        is_option = position_type in OPTION_TYPES
        rows.append(
            (
                pk,
                portfolio_id,
                symbol,
                underlying if is_option else symbol,
                position_type,
                asset_class,
                is_option,
                position_type in ("LC", "SC"),
                float(quantity),
                float(multiplier),
                float(entry_price),
                entry_date,
                float(strike) if strike is not None else np.nan,
                expiration,
                tags.get(pk, []),
                exit_date,
                float(exit_price) if exit_price is not None else np.nan,
            )
        )
    frame = pd.DataFrame.from_records(rows, columns=list(POSITION_COLUMNS))
    if frame.empty:
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in POSITION_COLUMNS})
    return frame


@dataclass(frozen=True)
class PositionsLoad:
    """The positions frame of the portfolios that could be read, and why each other one could not."""

    frame: pd.DataFrame
    unreadable: dict[uuid.UUID, str]


def positions_load(
    *, portfolio_ids: Sequence[uuid.UUID], as_of: dt.date | None = None, since: dt.date | None = None
) -> PositionsLoad:
    """``positions_frame`` that isolates a portfolio whose stored positions cannot be read.

    Positions enter through one validation, but a row written around it (raw SQL, a restore, a
    value SQLite stored and cannot convert back, such as ``1e308`` in a ``max_digits=20`` column)
    makes the one bulk query fail for every portfolio. Then each portfolio is read on its own and
    the ones that fail are returned in ``unreadable`` (portfolio → the error), not raised: the
    batch fails their jobs with that error and computes the others.
    """
    ids = list(portfolio_ids)
    try:
        return PositionsLoad(positions_frame(portfolio_ids=ids, as_of=as_of, since=since), {})
    except Exception:  # noqa: S110 — read each portfolio apart below, which names the failing ones
        pass
    frames: list[pd.DataFrame] = []
    unreadable: dict[uuid.UUID, str] = {}
    for pid in sorted(ids):  # the bulk query's order: by portfolio id
        try:
            frames.append(positions_frame(portfolio_ids=[pid], as_of=as_of, since=since))
        except Exception as exc:
            logger.error("The positions of portfolio %s cannot be read: %s: %s", pid, type(exc).__name__, exc)
            unreadable[pid] = (
                f"its positions cannot be read from the database ({type(exc).__name__}: {exc}); "
                "a stored number is out of its column's range: correct or delete that position in the database"
            )
    readable = [f for f in frames if not f.empty]
    frame = pd.concat(readable, ignore_index=True) if readable else positions_frame(portfolio_ids=[], as_of=as_of)
    return PositionsLoad(frame, unreadable)


@dataclass
class MarketInputs:
    """Prices and quotes as of one trading day.

    ``prices`` holds adjusted closes (T dates × S symbols, float64, NaN where missing) up to and
    including ``as_of``; ``spot`` is each symbol's last close on or before ``as_of`` and
    ``spot_date`` its date (a symbol whose last close is older than ``as_of`` is stale).
    ``option_quotes`` is each contract's last quote on or before ``as_of``; ``option_quote_history``
    every stored quote of the contracts over the price window, oldest first (each day's implied vol).
    """

    as_of: dt.date
    prices: pd.DataFrame
    spot: pd.Series
    spot_date: pd.Series
    data_source: str
    option_quotes: dict[str, market.OptionQuoteRow]
    rate: float
    div_yield: float = DIVIDEND_YIELD
    sectors: dict[str, str] = field(default_factory=dict)
    option_quote_history: dict[str, list[market.OptionQuoteRow]] = field(default_factory=dict)
    _quote_dates: dict[str, list[dt.date]] = field(default_factory=dict, repr=False, compare=False)

    def quotes_on(self, day: dt.date) -> dict[str, market.OptionQuoteRow]:
        """Each contract's quote as seen on ``day``: its last stored quote on or before ``day``; a contract
        whose stored quotes all come later gets its first one (its implied vol carried back: a provider
        without quote history has only the quotes stored since the contract was held)."""
        out: dict[str, market.OptionQuoteRow] = {}
        for contract, rows in self.option_quote_history.items():
            dates = self._quote_dates.get(contract)
            if dates is None:
                dates = self._quote_dates[contract] = [q.date for q in rows]
            at = bisect_right(dates, day)
            out[contract] = rows[at - 1] if at else rows[0]
        for contract, quote in self.option_quotes.items():
            out.setdefault(contract, quote)
        return out

    def implied_vols(self, contracts: Sequence[str]) -> pd.DataFrame:
        """Stored implied vols (dates × ``contracts``, annualised decimals, NaN where no quote or not positive),
        oldest first: every date any of them was quoted, each contract once (its first place)."""
        wanted = list(dict.fromkeys(contracts))
        history = [self.option_quote_history.get(c) or [] for c in wanted]
        days = sorted({q.date for rows in history for q in rows})
        row_of = {d: i for i, d in enumerate(days)}
        values = np.full((len(days), len(wanted)), np.nan)
        for j, rows in enumerate(history):
            for q in rows:
                if q.implied_vol and q.implied_vol > 0:
                    values[row_of[q.date], j] = q.implied_vol
        return pd.DataFrame(values, index=pd.DatetimeIndex(days), columns=wanted)

    @property
    def stale_symbols(self) -> list[str]:
        as_of = pd.Timestamp(self.as_of)
        return sorted(s for s, d in self.spot_date.items() if pd.notna(d) and d < as_of)

    @property
    def missing_symbols(self) -> list[str]:
        return sorted(s for s, v in self.spot.items() if not np.isfinite(v))


def last_closes(prices: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Each column's last non-missing close and its date (NaN / NaT where a column has none), vectorised."""
    values = prices.to_numpy(dtype=float)
    if values.size == 0:
        empty = pd.Series(np.nan, index=prices.columns, dtype=float)
        return empty, pd.Series(pd.NaT, index=prices.columns, dtype="datetime64[ns]")
    present = np.isfinite(values)
    last = values.shape[0] - 1 - np.argmax(present[::-1], axis=0)
    has_any = present.any(axis=0)
    columns = np.arange(values.shape[1])
    spot = np.where(has_any, values[last, columns], np.nan)
    dates = pd.DatetimeIndex(prices.index)[last].to_numpy()
    dates = np.where(has_any, dates, np.datetime64("NaT"))
    return pd.Series(spot, index=prices.columns, dtype=float), pd.Series(dates, index=prices.columns)


def market_inputs_load(
    *, symbols: Sequence[str], option_contracts: Sequence[str], as_of: dt.date, history_from: dt.date | None = None
) -> MarketInputs:
    """Close prices for ``symbols`` and the factor proxies over the lookback, spots and quotes.

    ``history_from`` (a backfill over past days) moves the start of the prices and quotes loaded back to
    that day's lookback: the inputs then serve every day from ``history_from`` to ``as_of``
    (``market_window`` cuts out one day's)."""
    wanted = sorted(set(symbols) | set(FACTOR_SYMBOLS))
    first = min(history_from or as_of, as_of)
    start = first - dt.timedelta(days=PRICE_HISTORY_CALENDAR_DAYS)
    prices = market.close_prices(symbols=wanted, start=start, end=as_of)
    prices = prices.reindex(columns=wanted)
    spot, last_valid = last_closes(prices)
    quotes = market.option_quotes_latest(contracts=list(option_contracts), as_of=as_of) if option_contracts else {}
    quote_start = first - dt.timedelta(days=QUOTE_HISTORY_CALENDAR_DAYS)
    history = (
        market.option_quote_history(contracts=list(option_contracts), start=quote_start, end=as_of)
        if option_contracts
        else {}
    )
    instruments = market.instruments_by_symbol(symbols=wanted)
    return MarketInputs(
        as_of=as_of,
        prices=prices,
        spot=spot,
        spot_date=last_valid,
        data_source=market.data_source_for(symbols=wanted) if len(prices) else "none",
        option_quotes=quotes,
        rate=float(settings.RISK_FREE_RATE),
        sectors={s: (i.sector or "") for s, i in instruments.items()},
        option_quote_history=history,
    )


def market_window(loaded: MarketInputs, day: dt.date) -> MarketInputs:
    """The inputs the batch would load on ``day`` (on or before ``loaded.as_of``), cut out of a longer load:
    prices over ``PRICE_HISTORY_CALENDAR_DAYS`` to ``day``, quotes over ``QUOTE_HISTORY_CALENDAR_DAYS``, each
    contract's last quote on or before ``day``. No look-ahead."""
    start = pd.Timestamp(day - dt.timedelta(days=PRICE_HISTORY_CALENDAR_DAYS))
    prices = loaded.prices.loc[start : pd.Timestamp(day)]
    spot, last_valid = last_closes(prices)
    quote_start = day - dt.timedelta(days=QUOTE_HISTORY_CALENDAR_DAYS)
    history = {
        contract: kept
        for contract, rows in loaded.option_quote_history.items()
        if (kept := [q for q in rows if quote_start <= q.date <= day])
    }
    latest: dict[str, market.OptionQuoteRow] = {}
    for contract, rows in loaded.option_quote_history.items():  # oldest first
        dates = [q.date for q in rows]
        if at := bisect_right(dates, day):
            latest[contract] = rows[at - 1]
    return MarketInputs(
        as_of=day,
        prices=prices,
        spot=spot,
        spot_date=last_valid,
        data_source=loaded.data_source,
        option_quotes=latest,
        rate=loaded.rate,
        div_yield=loaded.div_yield,
        sectors=loaded.sectors,
        option_quote_history=history,
    )
