"""``generate_reports``: write Markdown, JSON, CSV and HTML reports from stored analytics."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.commands import date_option
from core.exceptions import ApplicationError
from reports.services import FORMATS, report_formats_parse, reports_generate_all


class Command(BaseCommand):
    help = (
        "Write portfolio reports (md, json, csv, html with charts) from the stored analytics into "
        "<REPORTS_DIR>/<portfolio-slug>_<date>/. Nothing is recomputed; sections never computed say so "
        "with the command that computes them. Exits non-zero if any report failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--portfolio", action="append", metavar="ID", help="Portfolio id (repeatable). Default: all."
        )
        parser.add_argument(
            "--date", metavar="YYYY-MM-DD", help="As-of date. Default: each portfolio's newest stored analytics."
        )
        parser.add_argument(
            "--format",
            default=",".join(FORMATS),
            help=f"Comma-separated formats from {','.join(FORMATS)} (default: all).",
        )
        parser.add_argument("--output-dir", metavar="DIR", help="Write here instead of REPORTS_DIR.")

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = date_option(options["date"])
        try:
            formats = report_formats_parse(formats=options["format"].split(","))
        except ApplicationError as exc:
            raise CommandError(f"--format: {exc.message}") from None
        portfolio_ids = None
        if options["portfolio"]:
            try:
                portfolio_ids = [uuid.UUID(value) for value in options["portfolio"]]
            except ValueError:
                raise CommandError(f"--portfolio must be a portfolio UUID, got {options['portfolio']}.") from None
        output_dir = Path(options["output_dir"]) if options["output_dir"] else None

        results = reports_generate_all(as_of=as_of, portfolio_ids=portfolio_ids, formats=formats, output_dir=output_dir)
        if not results:
            self.stdout.write(self.style.WARNING("No portfolios: nothing to report (python manage.py seed_demo)."))
            return
        failed = [r for r in results if not r.ok]
        for result in results:
            if not result.ok:
                self.stderr.write(
                    self.style.ERROR(f"FAILED {result.portfolio_name or result.portfolio_id}: {result.error}")
                )
                continue
            self.stdout.write(
                self.style.SUCCESS(
                    f"{result.portfolio_name} ({result.as_of}) — data source: {result.data_source or 'none'}"
                )
            )
            for path in result.paths.values():
                self.stdout.write(f"  wrote {path}")
            if result.missing_sections:
                self.stdout.write(self.style.WARNING(f"  not computed: {', '.join(result.missing_sections)}"))
        self.stdout.write(f"{len(results) - len(failed)} report(s) written, {len(failed)} failed.")
        if failed:
            raise CommandError(f"{len(failed)} report(s) failed.")
