"""``doctor``: the daily pre-flight checklist (database, migrations, demo data, prices, batch, keys, port)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.doctor import DEFAULT_HOST, DEFAULT_PORT, FAIL, OK, WARN, doctor_run, doctor_summary

LABELS = {OK: "[ OK ]", WARN: "[WARN]", FAIL: "[FAIL]"}


class Command(BaseCommand):
    help = (
        "Run the pre-flight checklist: database reachable, migrations applied, demo data present, market data "
        "fresh and complete, factor history sufficient, last batch status, provider/agent keys, port free or "
        "serving. One line per check with a hint when not OK; exits non-zero if any check FAILs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the results as JSON.")
        parser.add_argument("--host", default=DEFAULT_HOST, help=f"Host the server listens on ({DEFAULT_HOST}).")
        parser.add_argument(
            "--port", type=int, default=DEFAULT_PORT, help=f"Port the server listens on ({DEFAULT_PORT})."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        port = options["port"]
        if not 0 < port < 65536:
            raise CommandError(f"--port must be between 1 and 65535, got {port}.")
        results = doctor_run(host=options["host"], port=port)
        summary = doctor_summary(results)
        if options["json"]:
            self.stdout.write(json.dumps({"summary": summary, "checks": [r.as_dict() for r in results]}, indent=2))
        else:
            styles = {OK: self.style.SUCCESS, WARN: self.style.WARNING, FAIL: self.style.ERROR}
            for result in results:
                self.stdout.write(f"{styles[result.status](LABELS[result.status])} {result.name} — {result.detail}")
                if result.status != OK and result.hint:
                    self.stdout.write(f"  hint: {result.hint}")
            line = f"{summary['ok']} OK, {summary['warn']} WARN, {summary['fail']} FAIL"
            self.stdout.write(styles[summary["status"]](line))
        if summary["fail"]:
            raise CommandError(f"doctor: {summary['fail']} check(s) failed.")
