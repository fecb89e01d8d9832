from __future__ import annotations

import datetime as dt
import uuid

from django.apps import AppConfig


def reports_batch_step(as_of: dt.date, portfolio_ids: list[uuid.UUID]) -> int:
    """The batch's "reports" step: a report per portfolio; raises if any report failed."""
    from reports.services import reports_generate_all

    results = reports_generate_all(as_of=as_of, portfolio_ids=portfolio_ids or None)
    failed = [f"{r.portfolio_name or r.portfolio_id}: {r.error}" for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} report(s) failed: " + "; ".join(failed))
    return sum(len(r.paths) for r in results)


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The batch runs reports as its last step without importing this app (data flows one way).
        from analytics.services.batch import post_step_register

        post_step_register("reports", reports_batch_step)
