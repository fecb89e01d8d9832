"""``end_of_day``: the day's final reports, the dated archive of reports and logs, and (``--stop``) a clean stop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.archive import day_archive_write
from core.commands import date_option


class Command(BaseCommand):
    help = (
        "Close the day: write every portfolio's final reports for --date (default: the latest completed NYSE "
        "session, the day the batch computes), archive that date's reports and the log records from that date on into "
        "ARCHIVE_DIR/sigmasight_<date>.tar.gz (a rerun replaces it), and with --stop end the server and workers "
        "started on this machine (`manage.py stop`). Exits non-zero if a report failed or a process did not stop."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--date", metavar="YYYY-MM-DD", help="The day to close (default: latest completed session)."
        )
        parser.add_argument("--skip-reports", action="store_true", help="Archive the reports already written.")
        parser.add_argument("--stop", action="store_true", help="Then stop `serve` and `worker` (SIGTERM, pid files).")

    def handle(self, *args: Any, **options: Any) -> None:
        from analytics.models import RunStatus
        from analytics.selectors import batch_run_latest
        from marketdata.calendar import latest_completed_session

        day = date_option(options["date"]) or latest_completed_session()
        self.stdout.write(self.style.MIGRATE_HEADING(f"End of day {day}"))

        run = batch_run_latest()
        if run is None or run.as_of != day or run.status != RunStatus.COMPLETED:
            found = f"the latest batch is {run.status} for {run.as_of}" if run else "no batch has run"
            self.stdout.write(
                self.style.WARNING(
                    f"  {found}: the reports show the newest analytics on or before {day} "
                    f"(python manage.py run_batch --date {day})"
                )
            )

        failed = False
        if not options["skip_reports"]:
            try:
                call_command("generate_reports", date=day.isoformat(), stdout=self.stdout, stderr=self.stderr)
            except CommandError as exc:
                failed = True  # archive what was written all the same: the day's record matters most
                self.stderr.write(self.style.ERROR(f"  reports: {exc}"))

        archive = day_archive_write(
            day=day,
            reports_dir=Path(settings.REPORTS_DIR),
            log_dir=Path(settings.LOG_DIR),
            archive_dir=Path(settings.ARCHIVE_DIR),
        )
        logs = ", ".join(f"{name} {count}" for name, count in archive.log_lines.items()) or "none"
        self.stdout.write(
            self.style.SUCCESS(
                f"Archived {len(archive.report_folders)} report folder(s) and the log records since {day}"
            )
        )
        self.stdout.write(f"  {archive.path}")
        self.stdout.write(f"  log lines: {logs}")

        if options["stop"]:
            call_command("stop", stdout=self.stdout, stderr=self.stderr)
        if failed:
            raise CommandError("some reports failed (see above); the archive holds those that were written.")
