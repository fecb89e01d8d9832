"""``demo``: the whole demo day in one command, then serve it with daphne on 127.0.0.1:8000."""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from portfolios.demo import DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, demo_admin_ensure


class Command(BaseCommand):
    help = (
        "Migrate, seed the demo data, create the demo admin, then start daphne on 127.0.0.1:8000. "
        "--no-serve runs the same path without starting the server (CI)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-serve", action="store_true", help="Do everything but start the server.")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def step(self, title: str) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(f"==> {title}"))

    def handle(self, *args: Any, **options: Any) -> None:
        self.step("Applying migrations")
        call_command("migrate", interactive=False, verbosity=0)
        self.step("Seeding demo data")
        call_command("seed_demo", stdout=self.stdout)
        demo_admin_ensure()
        self.stdout.write(f"Demo admin: {DEMO_ADMIN_EMAIL} / {DEMO_ADMIN_PASSWORD}")
        call_command("check_database_content", stdout=self.stdout)
        self.step(f"Demo ready ({timezone.localdate():%Y-%m-%d})")
        if options["no_serve"]:
            self.stdout.write("Not starting the server (--no-serve).")
            return
        host, port = options["host"], options["port"]
        self.stdout.write(
            f"Serving on http://{host}:{port}/ — admin at http://{host}:{port}/admin/, "
            f"API docs at http://{host}:{port}/docs (Ctrl-C to stop)"
        )
        sys.stdout.flush()
        daphne = os.path.join(os.path.dirname(sys.executable), "daphne")
        os.execv(daphne, [daphne, "-b", host, "-p", str(port), "sigmasight.asgi:application"])  # noqa: S606
