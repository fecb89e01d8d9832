"""Data quality: reject bad provider rows before they are stored; flag suspicious stored series.

Rejected (logged to ``logs/market_data.log`` via the ``sigmasight.marketdata`` logger, never
stored): non-finite or non-positive prices, high below low, negative volume, a date that is not
an NYSE session or lies outside the asked range, every row of a date sent twice, and a row the
vendor labelled with another ticker than the one asked for.

Quarantined (stored, flagged, left out of every price read until confirmed or corrected):
bars whose adjusted close moved beyond a bound from the symbol's last good bar (``jumps_beyond``;
the sync applies it with ``settings.PRICE_QUARANTINE_LOG_RETURN``).

Flagged (stored, reported by ``market_data_status``): stale symbols (last bar older than the
latest completed session), gaps (missing sessions between a symbol's first and last bar) and
extreme jumps (|daily return| above ``EXTREME_JUMP``).
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import numpy as np

from marketdata.calendar import _session_set, all_sessions, is_trading_day
from marketdata.providers.base import Bar, BarColumns

logger = logging.getLogger("sigmasight.marketdata")

EXTREME_JUMP = 0.40  # |simple daily return| above this is flagged as a suspicious jump


@dataclass
class ValidationResult:
    """Rows that passed and the reasons rows were rejected."""

    valid: list[Bar] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


def _bad_number(value: object) -> bool:
    return not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value)


def bar_problem(bar: Bar) -> str | None:
    """Why ``bar`` cannot be stored, or ``None`` if it is fine."""
    prices = (bar.open, bar.high, bar.low, bar.close, bar.adj_close)
    if any(_bad_number(p) for p in prices):
        return "non-numeric or non-finite price"
    if any(p <= 0 for p in prices):
        return "non-positive price"
    if bar.high < bar.low:
        return "high below low"
    if _bad_number(bar.volume) or bar.volume < 0:
        return "missing or negative volume"
    if not isinstance(bar.date, date):
        return "malformed date"
    try:
        if not is_trading_day(bar.date):
            return "date is not an NYSE session"
    except ValueError:
        return "date outside the trading calendar"
    return None


def bars_validate(
    *, bars: Iterable[Bar], symbol: str, source: str, wanted: set[date] | None = None
) -> ValidationResult:
    """Split provider rows into storable bars and logged rejections.

    ``wanted``: when given, rows for other dates are dropped silently (the provider sent more than
    the missing dates, e.g. a whole range) — they are not errors.
    """
    result = ValidationResult()
    rows = [bar for bar in bars if wanted is None or bar.date in wanted]
    if not rows:
        return result
    counts = Counter(bar.date for bar in rows)
    suspect = _suspect_rows(rows)
    for index, bar in enumerate(rows):
        # A row the vendor labelled with another ticker (META answered with SPY's rows) is never stored as ours.
        if str(bar.symbol).upper() != symbol.upper():
            problem: str | None = f"row for another symbol ({str(bar.symbol)[:40]})"
        # Two rows for one date: we cannot tell which is right, so neither is stored.
        elif counts[bar.date] > 1:
            problem = "duplicate date"
        elif suspect is None or suspect[index]:
            problem = bar_problem(bar)
        else:
            problem = None
        if problem is not None:
            message = f"{source} {symbol} {bar.date}: rejected ({problem}): {tuple(bar)[2:]}"
            logger.warning("Rejected bar: %s", message)
            result.rejected.append(message)
            continue
        result.valid.append(bar)
    return result


@dataclass
class ColumnsValidation:
    """``bar_columns_validate``'s answer: the storable rows (as columns) and the rejection messages."""

    valid: BarColumns
    rejected: list[str] = field(default_factory=list)


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@lru_cache(maxsize=1)
def _session_days() -> np.ndarray:
    """Every NYSE session as days since the epoch (int64, ascending), read-only."""
    days = np.array(all_sessions(), dtype="datetime64[D]").view(np.int64)
    days.setflags(write=False)
    return days


def bar_columns_validate(
    *, columns: BarColumns, source: str, wanted: Iterable[date] | np.ndarray | None = None
) -> ColumnsValidation:
    """``bars_validate`` for columns: the same rows pass, the same rejections (and log lines) come out.

    The checks run over whole arrays; only rows the screen flags are turned into ``Bar`` tuples,
    so that their rejection reasons and messages are exactly the row path's. ``wanted`` may be
    dates or a ``datetime64[D]`` array.
    """
    symbol = columns.symbol
    if wanted is not None:
        if isinstance(wanted, np.ndarray):
            wanted_days = wanted.astype("datetime64[D]").view(np.int64)
        else:
            wanted_days = np.fromiter((d.toordinal() for d in wanted), dtype=np.int64) - _EPOCH_ORDINAL
        if len(wanted_days) > 1 and not (wanted_days[1:] > wanted_days[:-1]).all():
            wanted_days = np.unique(wanted_days)
        days = columns.date.astype("datetime64[D]").view(np.int64)
        keep = np.zeros(len(days), dtype=bool)
        if len(wanted_days):
            at = np.minimum(np.searchsorted(wanted_days, days), len(wanted_days) - 1)
            keep = wanted_days[at] == days
        if not keep.all():
            columns = columns.select(keep)
    if len(columns) == 0:
        return ColumnsValidation(columns)
    days = columns.date.astype("datetime64[D]").view(np.int64)
    if len(days) > 1 and not (days[1:] > days[:-1]).all():
        _, inverse, counts = np.unique(days, return_inverse=True, return_counts=True)
        duplicate = counts[inverse] > 1
    else:
        duplicate = np.zeros(len(days), dtype=bool)
    prices = (columns.open, columns.high, columns.low, columns.close, columns.adj_close)
    # NaN propagates through minimum and maximum: "lowest > 0" and "highest finite" reject it, and ±inf.
    lowest = np.minimum(np.minimum(np.minimum(prices[0], prices[1]), np.minimum(prices[2], prices[3])), prices[4])
    highest = np.maximum(np.maximum(np.maximum(prices[0], prices[1]), np.maximum(prices[2], prices[3])), prices[4])
    ok = (lowest > 0) & np.isfinite(highest) & (columns.high >= columns.low) & (columns.volume >= 0)
    sessions = _session_days()
    at = np.minimum(np.searchsorted(sessions, days), len(sessions) - 1)
    ok &= sessions[at] == days
    bad = duplicate | ~ok
    if not bad.any():
        return ColumnsValidation(columns)
    result = ColumnsValidation(columns)
    for index in np.flatnonzero(bad).tolist():
        bar = columns.select(slice(index, index + 1)).rows()[0]
        problem = "duplicate date" if duplicate[index] else bar_problem(bar)
        if problem is None:  # the screen is conservative; the row check has the last word
            bad[index] = False
            continue
        message = f"{source} {symbol} {bar.date}: rejected ({problem}): {tuple(bar)[2:]}"
        logger.warning("Rejected bar: %s", message)
        result.rejected.append(message)
    result.valid = columns.select(~bad)
    return result


def _suspect_rows(rows: list[Bar]) -> np.ndarray | None:
    """Vectorised screen: True where a row may be bad (checked in detail), None if it cannot screen.

    A 250k-row backfill spends most of its validation time here instead of in per-row Python.
    """
    try:
        prices = np.array([row[2:7] for row in rows], dtype=np.float64)
        volumes = np.array([row.volume for row in rows], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if any(type(v) is bool for row in rows[:1] for v in row[2:8]):
        return None
    ok = np.isfinite(prices).all(axis=1) & (prices > 0).all(axis=1) & (prices[:, 1] >= prices[:, 2])
    ok &= np.isfinite(volumes) & (volumes >= 0)
    sessions = _session_set()
    ok &= np.fromiter((row.date in sessions for row in rows), dtype=bool, count=len(rows))
    return ~ok


@dataclass(frozen=True)
class Jump:
    """A new bar whose adjusted close moved beyond the bound from the symbol's last good bar.

    ``log_return`` is ln(adj_close / reference_close), a daily log return (dimensionless)."""

    date: _dt.date
    adj_close: float
    reference_date: _dt.date
    reference_close: float
    log_return: float


def jumps_beyond(
    *,
    dates: Sequence[date],
    closes: np.ndarray,
    is_new: np.ndarray,
    quarantined: np.ndarray,
    bound: float,
) -> list[Jump]:
    """The new bars of one symbol to quarantine: |ln(close / last good close)| > ``bound``.

    ``dates`` ascending; ``closes`` their adjusted closes (per share, > 0); ``is_new`` marks the bars
    just stored (only they can be quarantined); ``quarantined`` marks stored bars already held back
    (never a reference). Each bar is measured from the last *good* bar before it — not from the bar
    before it — so a single bad print (×1000 on one day) is caught, and the day after it, back to
    normal, is not. The first good bar has no reference and is taken as it is.
    """
    closes = np.asarray(closes, dtype=np.float64)
    good = ~np.asarray(quarantined, dtype=bool)
    new = np.asarray(is_new, dtype=bool)
    if len(closes) < 2 or not new.any():
        return []
    # Screen: consecutive log returns among good bars. A bar with no big move from its good neighbour
    # cannot be a jump from the last good bar unless an earlier bar was a jump; so nothing to walk.
    log_closes = np.log(closes[good])
    if not (np.abs(np.diff(log_closes)) > bound).any():
        return []
    jumps: list[Jump] = []
    reference: int | None = None
    for index in range(len(closes)):
        if not good[index]:
            continue
        if reference is not None and new[index]:
            change = math.log(closes[index] / closes[reference])
            if abs(change) > bound:
                jumps.append(
                    Jump(dates[index], float(closes[index]), dates[reference], float(closes[reference]), change)
                )
                continue  # a quarantined bar is never the next bar's reference
        reference = index
    return jumps
