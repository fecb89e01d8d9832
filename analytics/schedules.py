"""The schedules of the daily operation, declared in one place and synced by ``setup_schedules``.

Cron times are UTC (settings.TIME_ZONE). 21:30 UTC on weekdays is after the New York close all
year (16:30 EST / 17:30 EDT); the task itself skips non-trading days (NYSE holidays) and runs for
the latest completed session.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    func: str
    cron: str
    kwargs: dict[str, object]
    description: str


SCHEDULES: tuple[ScheduleSpec, ...] = (
    ScheduleSpec(
        name="sigmasight-daily-batch",
        func="analytics.tasks.daily_batch_task",
        cron="30 21 * * 1-5",
        kwargs={"use_cluster": True},
        description="Daily batch after the NYSE close (market data, analytics, reports).",
    ),
    ScheduleSpec(
        name="sigmasight-weekly-backfill",
        func="analytics.tasks.weekly_backfill_task",
        cron="0 12 * * 6",
        kwargs={"days": 30},
        description="Saturday: top up factor history and rebuild the last 30 sessions of snapshots.",
    ),
)


@transaction.atomic
def schedules_sync() -> dict[str, str]:
    """Create or update each declared schedule by name; returns name → created/updated/unchanged."""
    from django_q.models import Schedule

    outcome: dict[str, str] = {}
    for spec in SCHEDULES:
        wanted = {
            "func": spec.func,
            "schedule_type": Schedule.CRON,
            "cron": spec.cron,
            "kwargs": spec.kwargs,
            "repeats": -1,
        }
        existing = Schedule.objects.filter(name=spec.name).first()
        if existing is None:
            Schedule.objects.create(name=spec.name, **wanted)
            outcome[spec.name] = "created"
            continue
        changed = [field for field, value in wanted.items() if getattr(existing, field) != value]
        for field in changed:
            setattr(existing, field, wanted[field])
        if changed:
            existing.save()
        outcome[spec.name] = "updated" if changed else "unchanged"
    return outcome
