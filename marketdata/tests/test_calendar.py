"""The NYSE calendar: holidays, weekends, early closes and the 16:05 rule (no database)."""

from __future__ import annotations

import itertools
import sys
from datetime import date, datetime, timedelta

import pytest

from marketdata.calendar import (
    is_early_close,
    is_trading_day,
    last_trading_days,
    latest_completed_session,
    previous_trading_day,
    session_close,
    trading_days,
)
from marketdata.tests.conftest import aware


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2024, 7, 4), False),  # Independence Day
        (date(2024, 11, 28), False),  # Thanksgiving
        (date(2024, 11, 29), True),  # day after Thanksgiving: open, closes early
        (date(2024, 12, 25), False),  # Christmas
        (date(2025, 1, 9), False),  # national day of mourning (President Carter)
        (date(2025, 4, 18), False),  # Good Friday
        (date(2026, 6, 19), False),  # Juneteenth
        (date(2026, 11, 21), False),  # Saturday
        (date(2026, 11, 22), False),  # Sunday
        (date(2026, 11, 23), True),  # Monday
    ],
)
def test_it_knows_sessions_holidays_and_weekends(day: date, expected: bool) -> None:
    assert is_trading_day(day) is expected


def test_the_day_after_thanksgiving_closes_at_1pm_new_york() -> None:
    close = session_close(date(2026, 11, 27))
    assert (close.hour, close.minute) == (13, 0)
    assert is_early_close(date(2026, 11, 27))
    assert is_early_close(date(2024, 12, 24))  # Christmas Eve
    assert not is_early_close(date(2026, 11, 23))


def test_trading_days_skip_holidays_and_weekends() -> None:
    days = trading_days(start=date(2024, 11, 25), end=date(2024, 12, 2))
    assert days == [date(2024, 11, 25), date(2024, 11, 26), date(2024, 11, 27), date(2024, 11, 29), date(2024, 12, 2)]
    assert trading_days(start=date(2024, 12, 2), end=date(2024, 11, 25)) == []


def test_a_year_has_about_252_sessions() -> None:
    assert len(trading_days(start=date(2024, 1, 1), end=date(2024, 12, 31))) == 252
    assert len(trading_days(start=date(2025, 1, 1), end=date(2025, 12, 31))) == 250


def test_previous_trading_day_steps_over_weekends_and_holidays() -> None:
    assert previous_trading_day(date(2026, 11, 23)) == date(2026, 11, 20)  # Monday → Friday
    assert previous_trading_day(date(2024, 11, 29)) == date(2024, 11, 27)  # over Thanksgiving
    assert previous_trading_day(date(2024, 11, 28)) == date(2024, 11, 27)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (aware(2026, 11, 23, 16, 4), date(2026, 11, 20)),  # Monday before 16:05: Friday's bar
        (aware(2026, 11, 23, 16, 5), date(2026, 11, 23)),  # from 16:05 today's bar is final
        (aware(2026, 11, 23, 9, 30), date(2026, 11, 20)),
        (aware(2026, 11, 22, 12, 0), date(2026, 11, 20)),  # Sunday
        (aware(2026, 11, 26, 18, 0), date(2026, 11, 25)),  # Thanksgiving evening
        (aware(2026, 11, 27, 13, 4), date(2026, 11, 25)),  # early close day, before 13:05
        (aware(2026, 11, 27, 13, 5), date(2026, 11, 27)),  # early close day, after its close + 5 min
        (aware(2026, 11, 24, 0, 30), date(2026, 11, 23)),  # just after midnight New York
    ],
)
def test_latest_completed_session_follows_the_close_plus_five_minutes(now: datetime, expected: date) -> None:
    assert latest_completed_session(now=now) == expected


def test_latest_completed_session_uses_new_york_time_not_utc() -> None:
    # 21:04 UTC on 23 Nov 2026 is 16:04 in New York (EST, UTC−5): not yet.
    from datetime import UTC

    assert latest_completed_session(now=datetime(2026, 11, 23, 21, 4, tzinfo=UTC)) == date(2026, 11, 20)
    assert latest_completed_session(now=datetime(2026, 11, 23, 21, 6, tzinfo=UTC)) == date(2026, 11, 23)
    # Summer (EDT, UTC−4): 20:05 UTC is 16:05 New York.
    assert latest_completed_session(now=datetime(2026, 7, 14, 20, 5, tzinfo=UTC)) == date(2026, 7, 14)


def test_latest_completed_session_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="aware"):
        latest_completed_session(now=datetime(2026, 11, 23, 17, 0))


def test_last_trading_days_are_ascending_and_end_at_as_of_or_before() -> None:
    days = last_trading_days(count=5, as_of=date(2024, 12, 1))  # a Sunday
    assert days == [date(2024, 11, 22), date(2024, 11, 25), date(2024, 11, 26), date(2024, 11, 27), date(2024, 11, 29)]
    assert last_trading_days(count=1, as_of=date(2024, 11, 29)) == [date(2024, 11, 29)]
    assert len(last_trading_days(count=252, as_of=date(2026, 11, 20))) == 252
    with pytest.raises(ValueError):
        last_trading_days(count=0, as_of=date(2024, 11, 29))


def test_last_trading_days_default_to_the_latest_completed_session() -> None:
    days = last_trading_days(count=3)
    assert days[-1] == latest_completed_session()
    assert all(b - a >= timedelta(days=1) for a, b in itertools.pairwise(days))


def test_the_on_disk_session_table_matches_the_library_and_survives_a_corrupt_file(tmp_path, monkeypatch):
    from marketdata import calendar as nyse

    monkeypatch.setenv("CALENDAR_CACHE_DIR", str(tmp_path))
    nyse._closes.cache_clear()
    nyse._sessions.cache_clear()
    nyse._session_set.cache_clear()
    try:
        built = nyse._closes()  # no file yet: built from exchange_calendars and written
        assert nyse._cache_path().is_file()
        assert built == nyse._closes_from_library()
        nyse._closes.cache_clear()
        assert nyse._closes() == built  # read back from the file
        nyse._cache_path().write_text("{not json", encoding="utf-8")
        nyse._closes.cache_clear()
        assert nyse._closes() == built  # a corrupt file is rebuilt, not trusted
        day_after_thanksgiving = date(2026, 11, 27)
        assert nyse.session_close(day_after_thanksgiving).hour == 13
        assert nyse.session_close(date(2026, 11, 20)).hour == 16
    finally:
        nyse._closes.cache_clear()
        nyse._sessions.cache_clear()
        nyse._session_set.cache_clear()


def test_the_session_table_is_read_from_the_cache_without_importing_exchange_calendars(tmp_path, monkeypatch):
    from marketdata import calendar as nyse

    monkeypatch.setenv("CALENDAR_CACHE_DIR", str(tmp_path))
    nyse._closes.cache_clear()
    try:
        built = nyse._closes()  # writes the cache file
        nyse._closes.cache_clear()
        monkeypatch.setitem(sys.modules, "exchange_calendars", None)  # any import of it now fails
        assert nyse._closes() == built
    finally:
        nyse._closes.cache_clear()
