"""``check_database_content``: counts of users, portfolios and positions."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from portfolios.selectors import database_counts


class Command(BaseCommand):
    help = "Print Users, Portfolios and Total Positions (staff-only accounts are listed apart)."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = database_counts()
        self.stdout.write(f"Users: {counts.users}")
        self.stdout.write(f"Portfolios: {counts.portfolios}")
        self.stdout.write(f"Total Positions: {counts.positions}")
        self.stdout.write(f"Staff-only accounts (not counted as users): {counts.staff_only}")
