"""``batch_history``: recent batch runs and their jobs."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from analytics.selectors import batch_jobs_for_run, batch_refusals_recent, batch_runs_recent
from analytics.services.heartbeat import runs_abandoned_mark
from analytics.services.jobs import step_label


class Command(BaseCommand):
    help = "List recent batch runs (status, duration, failures); --jobs shows each run's jobs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=10)
        parser.add_argument("--jobs", action="store_true", help="Show every job of each run.")

    def handle(self, *args: Any, **options: Any) -> None:
        abandoned = runs_abandoned_mark()
        if abandoned:
            self.stdout.write(self.style.WARNING(f"Marked {abandoned} run(s) abandoned (no heartbeat)."))
        runs = list(batch_runs_recent(limit=options["limit"]))
        refusals = list(batch_refusals_recent(limit=options["limit"]))
        if refusals:
            self.stdout.write(f"Refused (another run held the lock; not runs): {len(refusals)} most recent:")
            for refusal in refusals:
                self.stdout.write(
                    f"    {refusal.refused_at:%Y-%m-%d %H:%M:%S} as_of={refusal.as_of} trigger={refusal.trigger} "
                    f"holder={refusal.holder or '-'}"
                )
        if not runs:
            self.stdout.write("No batch runs yet. Run `python manage.py run_batch`.")
            return
        for run in runs:
            duration = f"{run.duration_ms / 1000:.2f}s" if run.duration_ms else "-"
            style = {"completed": self.style.SUCCESS, "failed": self.style.ERROR}.get(run.status, self.style.WARNING)
            self.stdout.write(
                style(
                    f"{run.created_at:%Y-%m-%d %H:%M:%S} as_of={run.as_of} {run.status:<11} {duration:>8} "
                    f"mode={run.mode} source={run.data_source or '-'} id={run.pk}"
                )
            )
            jobs = list(batch_jobs_for_run(run_id=run.pk))
            counts: dict[str, int] = {}
            for job in jobs:
                counts[job.status] = counts.get(job.status, 0) + 1
            self.stdout.write("    jobs: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
            for job in jobs:
                if options["jobs"] or job.status in ("failed", "skipped"):
                    target = job.portfolio.name if job.portfolio else "all"
                    self.stdout.write(
                        f"    {job.step:<17} {step_label(job.step)[:28]:<28} {target[:40]:<40} {job.status:<10} "
                        f"{job.duration_ms or 0:>8.1f}ms rows={job.rows_written} {job.error_summary[:120]}"
                    )
