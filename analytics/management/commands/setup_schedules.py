"""``setup_schedules``: declare the django-q2 schedules (idempotent); ``qcluster`` runs them."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from analytics.schedules import SCHEDULES, schedules_sync


class Command(BaseCommand):
    help = "Create or update the daily batch and weekly backfill schedules. Run `manage.py qcluster` to execute them."

    def handle(self, *args: Any, **options: Any) -> None:
        outcome = schedules_sync()
        for spec in SCHEDULES:
            self.stdout.write(f"{spec.name}: {outcome[spec.name]} — cron '{spec.cron}' UTC — {spec.description}")
        self.stdout.write(self.style.SUCCESS("Schedules ready. Start the workers with `python manage.py qcluster`."))
