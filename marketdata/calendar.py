"""The NYSE trading calendar (exchange_calendars ``XNYS``): sessions, holidays, early closes.

Dates are exchange-local session dates (``datetime.date``). A session's bar is final only after
the close: ``latest_completed_session`` returns today only from the close + 5 minutes in New York
(16:05 on a regular day, 13:05 on an early-close day such as the day after Thanksgiving).

The calendar is built for 2000-01-01 … 2035-12-31. Future holidays come from exchange_calendars'
rules; the simulated provider anchors its series on these sessions, so the window is fixed rather
than "today + 1 year" (which would move every day). Building it costs about 0.3 s, so the table of
sessions and closes is cached on disk per exchange_calendars version (``CALENDAR_CACHE_DIR``,
default ``<DATA_DIR>/cache``) and every command after the first starts without it — and
without importing exchange_calendars at all (0.1–0.2 s with its pandas machinery): the library is
loaded only to build the table when the cache file is missing, stale or unreadable.
"""

from __future__ import annotations

import bisect
import importlib.metadata
import json
import os
import tempfile
import warnings
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.utils import timezone

if TYPE_CHECKING:
    import exchange_calendars as xcals

NEW_YORK = ZoneInfo("America/New_York")
CALENDAR_NAME = "XNYS"
CALENDAR_START = date(2000, 1, 3)
CALENDAR_END = date(2035, 12, 31)
# A bar is taken as final this long after the session's close.
SETTLEMENT_DELAY = timedelta(minutes=5)


@lru_cache(maxsize=1)
def _calendar() -> xcals.ExchangeCalendar:
    import exchange_calendars as xcals

    with warnings.catch_warnings():
        # exchange_calendars 4.x trips pandas' deprecation of tz-dropping ``Series.values``; not ours to fix.
        warnings.simplefilter("ignore", category=FutureWarning)
        warnings.simplefilter("ignore", category=DeprecationWarning)
        return xcals.get_calendar(CALENDAR_NAME, start=CALENDAR_START.isoformat(), end=CALENDAR_END.isoformat())


def _library_version() -> str:
    # From the installed distribution's metadata, so that finding the cache file does not import the library.
    try:
        return importlib.metadata.version("exchange_calendars")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _cache_folder() -> Path:
    """``CALENDAR_CACHE_DIR`` from the environment, else the setting (``<DATA_DIR>/cache``), else the temp folder."""
    if os.environ.get("CALENDAR_CACHE_DIR"):
        return Path(os.environ["CALENDAR_CACHE_DIR"])
    from django.conf import settings

    if settings.configured and getattr(settings, "CALENDAR_CACHE_DIR", None):
        return Path(settings.CALENDAR_CACHE_DIR)
    return Path(tempfile.gettempdir())


def _cache_path() -> Path:
    folder = _cache_folder()
    version = _library_version()
    return folder / f"sigmasight-{CALENDAR_NAME}-{version}-{CALENDAR_START}-{CALENDAR_END}.json"


def _closes_from_library() -> dict[date, datetime]:
    closes = _calendar().closes
    return {session.date(): close.to_pydatetime().astimezone(UTC) for session, close in closes.items()}


@lru_cache(maxsize=1)
def _closes() -> dict[date, datetime]:
    """Every session's close (UTC), from the on-disk cache when it is there, else from the library."""
    path = _cache_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {date.fromisoformat(d): datetime.fromtimestamp(ts, tz=UTC) for d, ts in raw.items()}
    except (OSError, ValueError, TypeError):
        pass
    closes = _closes_from_library()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps({d.isoformat(): c.timestamp() for d, c in closes.items()}), encoding="utf-8")
        temporary.replace(path)  # atomic: a concurrent reader sees the old file or the whole new one
    except OSError:
        pass  # a read-only disk only costs the next process the build again
    return closes


@lru_cache(maxsize=1)
def _sessions() -> tuple[date, ...]:
    return tuple(sorted(_closes()))


@lru_cache(maxsize=1)
def _session_set() -> frozenset[date]:
    return frozenset(_sessions())


def _check_range(d: date) -> None:
    if not CALENDAR_START <= d <= CALENDAR_END:
        raise ValueError(f"{d} is outside the trading calendar ({CALENDAR_START} … {CALENDAR_END}).")


def all_sessions() -> tuple[date, ...]:
    """Every NYSE session the calendar knows, ascending."""
    return _sessions()


def is_trading_day(d: date) -> bool:
    """Whether ``d`` is an NYSE session (not a weekend or an exchange holiday)."""
    _check_range(d)
    return d in _session_set()


def trading_days(*, start: date, end: date) -> list[date]:
    """NYSE sessions from ``start`` to ``end`` inclusive, ascending (empty if ``end < start``)."""
    if end < start:
        return []
    sessions = _sessions()
    lo = bisect.bisect_left(sessions, max(start, CALENDAR_START))
    hi = bisect.bisect_right(sessions, min(end, CALENDAR_END))
    return list(sessions[lo:hi])


def previous_trading_day(d: date) -> date:
    """The last session strictly before ``d``."""
    _check_range(d)
    sessions = _sessions()
    index = bisect.bisect_left(sessions, d)
    if index == 0:
        raise ValueError(f"No session before {d} in the calendar.")
    return sessions[index - 1]


def next_trading_day(d: date) -> date:
    """The first session strictly after ``d``."""
    _check_range(d)
    sessions = _sessions()
    index = bisect.bisect_right(sessions, d)
    if index >= len(sessions):
        raise ValueError(f"No session after {d} in the calendar.")
    return sessions[index]


def session_on_or_before(d: date) -> date:
    """``d`` itself if it is a session, else the previous session."""
    return d if is_trading_day(d) else previous_trading_day(d)


def session_close(d: date) -> datetime:
    """The session's close as an aware datetime in New York (16:00, or 13:00 on an early close)."""
    if not is_trading_day(d):
        raise ValueError(f"{d} is not an NYSE session.")
    return _closes()[d].astimezone(NEW_YORK)


def is_early_close(d: date) -> bool:
    """Whether the session on ``d`` closes early (13:00 New York)."""
    return is_trading_day(d) and session_close(d).hour < 16


def latest_completed_session(*, now: datetime | None = None) -> date:
    """The most recent session whose bar is final at ``now`` (default: the current time).

    Today counts only from its close + 5 minutes in New York (16:05, or 13:05 on an early-close
    day); before that, and on weekends and holidays, it is the previous session.
    """
    now = now or timezone.now()
    if timezone.is_naive(now):
        raise ValueError("latest_completed_session needs a timezone-aware datetime.")
    local = now.astimezone(NEW_YORK)
    today = local.date()
    if is_trading_day(today) and local >= session_close(today) + SETTLEMENT_DELAY:
        return today
    return previous_trading_day(today)


def last_trading_days(*, count: int, as_of: date | None = None) -> list[date]:
    """The last ``count`` sessions ending at ``as_of`` (or the session before it), ascending.

    ``as_of`` defaults to ``latest_completed_session()``.
    """
    if count < 1:
        raise ValueError("count must be at least 1.")
    end = session_on_or_before(as_of) if as_of is not None else latest_completed_session()
    sessions = _sessions()
    hi = bisect.bisect_right(sessions, end)
    if hi < count:
        raise ValueError(f"The calendar has only {hi} sessions up to {end}; asked for {count}.")
    return list(sessions[hi - count : hi])
