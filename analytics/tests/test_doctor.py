"""``doctor``'s last batch check (registered by the analytics app)."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics.doctor import check_last_batch
from analytics.models import BatchRun, RunStatus
from core.doctor import FAIL, OK, WARN

pytestmark = pytest.mark.django_db

# Friday 2026-11-20, 22:00 UTC = 17:00 in New York: that day's session is complete.
NOW = dt.datetime(2026, 11, 20, 22, 0, tzinfo=dt.UTC)
SESSION = dt.date(2026, 11, 20)


# --- last batch -------------------------------------------------------------------------------


def batch(status: str, *, as_of: dt.date = SESSION, error: str = "") -> BatchRun:
    return BatchRun.objects.create(as_of=as_of, status=status, error_summary=error, duration_ms=12_300)


def test_no_batch_warns_with_the_run_batch_hint():
    result = check_last_batch(now=NOW)
    assert (result.status, result.hint) == (WARN, "python manage.py run_batch")


def test_a_failed_batch_fails_with_its_error():
    batch(RunStatus.FAILED, error="prices: provider down")
    result = check_last_batch(now=NOW)
    assert result.status == FAIL and "prices: provider down" in result.detail
    assert result.hint == "python manage.py run_batch"


def test_a_partial_batch_warns():
    batch(RunStatus.PARTIAL, error="1 of 3 portfolios failed")
    result = check_last_batch(now=NOW)
    assert result.status == WARN and "partial" in result.detail


def test_a_completed_batch_is_ok_unless_it_is_for_an_older_session():
    batch(RunStatus.COMPLETED, as_of=dt.date(2026, 11, 19))
    result = check_last_batch(now=NOW)
    assert result.status == WARN and "latest completed session is 2026-11-20" in result.detail
    batch(RunStatus.COMPLETED)
    result = check_last_batch(now=NOW)
    assert result.status == OK and "completed for 2026-11-20" in result.detail and "12.3 s" in result.detail
