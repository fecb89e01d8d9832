"""``list_portfolios [--verbose]``: each portfolio's id, name, owner and position count."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from portfolios.selectors import portfolios_all, positions_open


class Command(BaseCommand):
    help = "List portfolios: id, name, owner, positions; --verbose adds counts per position type and entry value."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--verbose", action="store_true", help="Counts per position type and value at entry.")

    def handle(self, *args: Any, **options: Any) -> None:
        portfolios = list(portfolios_all())
        if not portfolios:
            self.stdout.write(self.style.WARNING("No portfolios. Run `python manage.py seed_demo` to load the demo."))
            return
        positions_by_portfolio: dict[Any, list[Any]] = {p.pk: [] for p in portfolios}
        for position in positions_open(portfolio_ids=list(positions_by_portfolio)):
            positions_by_portfolio[position.portfolio_id].append(position)
        for portfolio in portfolios:
            positions = positions_by_portfolio[portfolio.pk]
            self.stdout.write(self.style.MIGRATE_HEADING(portfolio.name))
            self.stdout.write(f"  ID: {portfolio.pk}")
            self.stdout.write(f"  Owner: {portfolio.user.email}")
            self.stdout.write(f"  Positions: {len(positions)}")
            if options["verbose"]:
                by_type = Counter(p.position_type for p in positions)
                self.stdout.write("  By type: " + ", ".join(f"{t} {n}" for t, n in sorted(by_type.items())))
                entry_value = sum((p.quantity * p.entry_price * p.multiplier for p in positions), Decimal(0))
                gross = sum((abs(p.quantity * p.entry_price * p.multiplier) for p in positions), Decimal(0))
                self.stdout.write(f"  Value at entry (net): ${entry_value:,.2f}")
                self.stdout.write(f"  Value at entry (gross): ${gross:,.2f}")
                if portfolio.equity_balance is not None:
                    self.stdout.write(f"  Equity balance: ${portfolio.equity_balance:,.2f}")
